#!/usr/bin/env python3
"""Rebuild the small photo fixtures in this folder from the original public corpora.

Usage: python3 make-small.py SOURCE_DIR
SOURCE_DIR holds the originals as camera/, odd/ and orientation/ (README.md names where each
comes from). Needs Pillow. The outputs are committed; this script records how they were made.

Why "small": the tests need the odd metadata and the orientation tags, not millions of pixels.
A "graft" keeps every original segment before the image data (APP0..APP15, COM: the EXIF blocks
under test, byte for byte) and replaces the pixels with the same picture downscaled 4x.
"""
import io
import shutil
import struct
import sys
from pathlib import Path

from PIL import Image

HERE = Path(__file__).resolve().parent


def header_segments(b: bytes) -> bytes:
    """Every APPn and COM segment from SOI to the first other marker."""
    out, i = b"", 2
    while i + 4 <= len(b) and b[i] == 0xFF:
        m = b[i + 1]
        if not (0xE0 <= m <= 0xEF or m == 0xFE):
            break
        n = struct.unpack(">H", b[i + 2 : i + 4])[0]
        out += b[i : i + 2 + n]
        i += 2 + n
    return out


def strip_app_segments(b: bytes) -> bytes:
    """Pillow's JPEG without its SOI and its own APPn segments."""
    i = 2
    while b[i] == 0xFF and 0xE0 <= b[i + 1] <= 0xEF:
        i += 2 + struct.unpack(">H", b[i + 2 : i + 4])[0]
    return b[i:]


def graft(src: Path, dst: Path, scale: int = 4) -> None:
    raw = src.read_bytes()
    im = Image.open(io.BytesIO(raw))
    size = (im.width // scale, im.height // scale)
    im.draft("RGB", size)
    im = im.convert("RGB").resize(size, Image.LANCZOS)
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=85)
    dst.write_bytes(b"\xff\xd8" + header_segments(raw) + strip_app_segments(buf.getvalue()))


def head(src: Path, dst: Path, keep: int) -> None:
    """The first `keep` bytes of the original, then EOI."""
    dst.write_bytes(src.read_bytes()[:keep] + b"\xff\xd9")


def main(source: Path) -> None:
    for sub in ("camera", "odd", "orientation"):
        (HERE / sub).mkdir(exist_ok=True)
    for name in ("DSCN0010.jpg", "DSCN0012.jpg", "jolla.jpg"):
        shutil.copyfile(source / "camera" / name, HERE / "camera" / name)
    graft(source / "camera/HMD_Nokia_8.3_5G.jpg", HERE / "camera/HMD_Nokia_8.3_5G.small.jpg")
    for name in ("image00971.jpg", "image01088.jpg", "image01137.jpg", "not-an-image.jpg", "empty.jpg"):
        shutil.copyfile(source / "odd" / name, HERE / "odd" / name)
    graft(source / "odd/35-empty.jpg", HERE / "odd/35-empty.small.jpg")
    graft(source / "odd/36-memory_error.jpg", HERE / "odd/36-memory_error.small.jpg")
    # The damage (a run of 0xFF bytes inside the scan, then no marker where one must be) ends
    # before byte 296,000.
    head(source / "odd/corrupted.jpg", HERE / "odd/corrupted.head.jpg", 296_000)
    (HERE / "odd/iphone_13_pro_max.head.HEIC").write_bytes(
        (source / "odd/iphone_13_pro_max.HEIC").read_bytes()[:4096])
    shutil.copyfile(source / "orientation/LICENSE", HERE / "orientation/LICENSE")
    for group in ("Landscape", "Portrait"):
        for i in range(9):
            name = f"{group}_{i}.jpg"
            graft(source / "orientation" / name, HERE / "orientation" / name)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: make-small.py SOURCE_DIR")
    main(Path(sys.argv[1]))
