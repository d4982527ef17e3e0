//! A bounded walk over a JPEG file's marker segments, without decoding pixels.
//!
//! The pipeline uses it before anything else: to find the EXIF block, to read the declared
//! dimensions (so limits are checked before any allocation), and to refuse a file that ends
//! before its end-of-image marker (a truncated photo is not whole evidence). Tests use it to
//! prove that processed photos carry no metadata segments.

use std::ops::Range;

/// Most marker segments a file may have before it is refused as hostile.
const MAX_SEGMENTS: usize = 16_384;

/// One marker segment that has a length field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// The marker's second byte (`0xE1` for APP1).
    pub marker: u8,
    /// Byte offset of the marker's `0xFF`.
    pub offset: usize,
    /// The segment's payload (after the length field).
    pub data: Range<usize>,
}

/// The structure of a well-formed JPEG file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JpegLayout {
    pub segments: Vec<Segment>,
    pub width: u16,
    pub height: u16,
    pub components: u8,
    /// The frame marker (`0xC0` baseline, `0xC2` progressive, ...).
    pub frame_marker: u8,
    pub scans: usize,
    /// Offset just past the end-of-image marker; bytes after it are ignored.
    pub end: usize,
}

impl JpegLayout {
    /// The TIFF data of the first `Exif\0\0` APP1 segment.
    pub fn exif<'a>(&self, bytes: &'a [u8]) -> Option<&'a [u8]> {
        self.segments.iter().filter(|s| s.marker == 0xE1).find_map(|s| {
            let d = bytes.get(s.data.clone())?;
            d.strip_prefix(b"Exif\0\0")
        })
    }
    /// Segments that carry metadata: APP1–APP15 (EXIF, XMP, ICC, MPF, vendor blocks) and COM.
    /// APP0 (JFIF: only the pixel density) is not counted.
    pub fn metadata_segments(&self) -> impl Iterator<Item = &Segment> {
        self.segments.iter().filter(|s| (0xE1..=0xEF).contains(&s.marker) || s.marker == 0xFE)
    }
}

/// Why a byte string is not a whole JPEG file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JpegError {
    #[error("not a JPEG file (no start-of-image marker)")]
    NotJpeg,
    #[error("truncated at byte {offset}: {what}")]
    Truncated { offset: usize, what: &'static str },
    #[error("corrupt at byte {offset}: {what}")]
    Corrupt { offset: usize, what: &'static str },
}

fn is_frame_marker(m: u8) -> bool {
    (0xC0..=0xCF).contains(&m) && !matches!(m, 0xC4 | 0xC8 | 0xCC)
}

/// Walk the file's markers from start-of-image to end-of-image.
pub fn parse(bytes: &[u8]) -> Result<JpegLayout, JpegError> {
    if bytes.len() < 3 || bytes[0] != 0xFF || bytes[1] != 0xD8 || bytes[2] != 0xFF {
        return Err(JpegError::NotJpeg);
    }
    let len = bytes.len();
    let mut pos = 2;
    let mut segments = Vec::new();
    let mut frame: Option<(u8, u16, u16, u8)> = None;
    let mut scans = 0usize;
    loop {
        if pos >= len {
            return Err(JpegError::Truncated { offset: pos, what: "no end-of-image marker" });
        }
        if bytes[pos] != 0xFF {
            return Err(JpegError::Corrupt { offset: pos, what: "expected a marker" });
        }
        let offset = pos;
        while pos < len && bytes[pos] == 0xFF {
            pos += 1;
        }
        let Some(&marker) = bytes.get(pos) else {
            return Err(JpegError::Truncated { offset: pos, what: "no end-of-image marker" });
        };
        pos += 1;
        match marker {
            0xD9 => {
                if scans == 0 {
                    return Err(JpegError::Corrupt {
                        offset,
                        what: "end of image before any scan",
                    });
                }
                let (frame_marker, height, width, components) =
                    frame.ok_or(JpegError::Corrupt { offset, what: "no frame header" })?;
                return Ok(JpegLayout {
                    segments,
                    width,
                    height,
                    components,
                    frame_marker,
                    scans,
                    end: pos,
                });
            }
            0xD8 => {
                return Err(JpegError::Corrupt { offset, what: "second start-of-image marker" });
            }
            0x00 => return Err(JpegError::Corrupt { offset, what: "stuffed byte outside a scan" }),
            0x01 | 0xD0..=0xD7 => continue,
            _ => {}
        }
        if pos + 2 > len {
            return Err(JpegError::Truncated { offset: pos, what: "segment length cut off" });
        }
        let seg_len = usize::from(u16::from_be_bytes([bytes[pos], bytes[pos + 1]]));
        if seg_len < 2 {
            return Err(JpegError::Corrupt { offset: pos, what: "segment length below 2" });
        }
        let data = pos + 2..pos + seg_len;
        if data.end > len {
            return Err(JpegError::Truncated { offset: pos, what: "segment runs past the end" });
        }
        if segments.len() >= MAX_SEGMENTS {
            return Err(JpegError::Corrupt { offset, what: "too many segments" });
        }
        if is_frame_marker(marker) {
            if frame.is_some() {
                return Err(JpegError::Corrupt { offset, what: "second frame header" });
            }
            let d = &bytes[data.clone()];
            if d.len() < 6 {
                return Err(JpegError::Corrupt { offset, what: "frame header too short" });
            }
            let height = u16::from_be_bytes([d[1], d[2]]);
            let width = u16::from_be_bytes([d[3], d[4]]);
            if width == 0 || height == 0 {
                return Err(JpegError::Corrupt { offset, what: "zero image dimension" });
            }
            frame = Some((marker, height, width, d[5]));
        }
        segments.push(Segment { marker, offset, data: data.clone() });
        pos = data.end;
        if marker == 0xDA {
            if frame.is_none() {
                return Err(JpegError::Corrupt { offset, what: "scan before the frame header" });
            }
            scans += 1;
            pos = skip_entropy_coded(bytes, pos)?;
        }
    }
}

/// From the start of entropy-coded data, the offset of the next real marker.
fn skip_entropy_coded(bytes: &[u8], mut pos: usize) -> Result<usize, JpegError> {
    loop {
        let Some(i) = bytes[pos..].iter().position(|&b| b == 0xFF) else {
            return Err(JpegError::Truncated { offset: bytes.len(), what: "scan data cut off" });
        };
        let at = pos + i;
        match bytes.get(at + 1) {
            None => return Err(JpegError::Truncated { offset: at, what: "scan data cut off" }),
            // Stuffed zero and restart markers belong to the scan.
            Some(0x00 | 0xD0..=0xD7) => pos = at + 2,
            // Fill bytes before a marker: the marker starts at the first 0xFF.
            Some(_) => return Ok(at),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn tiny() -> Vec<u8> {
        let mut v = vec![0xFF, 0xD8];
        v.extend([0xFF, 0xE1, 0x00, 0x0A]);
        v.extend(b"Exif\0\0II");
        v.extend([0xFF, 0xC0, 0x00, 0x0B, 8, 0, 2, 0, 3, 1, 1, 0x11, 0]);
        v.extend([0xFF, 0xDA, 0x00, 0x08, 1, 1, 0, 0, 63, 0]);
        v.extend([0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD0, 0x56, 0xFF, 0xFF, 0xD9]);
        v
    }

    #[test]
    fn walks_segments_and_finds_exif() {
        let v = tiny();
        let l = parse(&v).unwrap();
        assert_eq!((l.width, l.height, l.components, l.scans), (3, 2, 1, 1));
        assert_eq!(l.end, v.len());
        assert_eq!(l.exif(&v), Some(&b"II"[..]));
        assert_eq!(l.metadata_segments().count(), 1);
    }

    #[test]
    fn every_truncation_is_refused() {
        let v = tiny();
        for cut in 0..v.len() {
            let r = parse(&v[..cut]);
            assert!(
                matches!(r, Err(JpegError::Truncated { .. } | JpegError::NotJpeg)),
                "cut {cut}: {r:?}"
            );
        }
    }

    #[test]
    fn corrupt_structure_is_refused() {
        let mut v = tiny();
        // APP1 length 1: below the two bytes of the length field itself.
        v[4] = 0x00;
        v[5] = 0x01;
        assert!(matches!(parse(&v), Err(JpegError::Corrupt { .. })));
        assert_eq!(parse(b"GIF89a"), Err(JpegError::NotJpeg));
        let no_scan = [0xFF, 0xD8, 0xFF, 0xD9];
        assert!(matches!(parse(&no_scan), Err(JpegError::Corrupt { .. })));
    }
}
