"""Upload one evidence file to safehome-server with tuspy, the tus project's Python client.

The interoperability test (server/tests/tus_interop.rs) runs this script: the upload itself is
done by tuspy, unmodified. The only addition is SafeHome's request signing
(docs/protocol.md, "Request signing"), added to every request tuspy makes by wrapping
`requests.Session.request`, which all of tuspy's requests go through.

Prints one JSON line: {"url": <upload URL>, "offset": <bytes the server holds>}.
"""

import argparse
import hashlib
import json
import os
import sys
import time
from urllib.parse import urlsplit

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tusclient import client as tus_client
from tusclient.uploader import Uploader


def install_signing(device_id: str, seed: bytes, clock_offset_ms: int) -> None:
    key = Ed25519PrivateKey.from_private_bytes(seed)
    original = requests.sessions.Session.request

    def signed(self, method, url, **kwargs):
        body = kwargs.get("data") or b""
        if isinstance(body, str):
            body = body.encode()
        parts = urlsplit(url)
        path = parts.path + ("?" + parts.query if parts.query else "")
        now = int(time.time() * 1000) + clock_offset_ms
        nonce = os.urandom(16).hex()
        content = hashlib.sha256(body).hexdigest()
        message = "\n".join(
            ["safehome-request-v1", method.upper(), path, device_id, str(now), nonce, content]
        ).encode()
        headers = dict(kwargs.pop("headers", None) or {})
        headers.update(
            {
                "SafeHome-Device": device_id,
                "SafeHome-Time": str(now),
                "SafeHome-Nonce": nonce,
                "SafeHome-Content-SHA256": content,
                "SafeHome-Signature": key.sign(message).hex(),
            }
        )
        return original(self, method, url, headers=headers, **kwargs)

    requests.sessions.Session.request = signed


class Sha256Uploader(Uploader):
    # The server announces `Tus-Checksum-Algorithm: sha256`; tuspy's default is sha1.
    CHECKSUM_ALGORITHM_PAIR = ("sha256", hashlib.sha256)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--endpoint", required=True, help="http://127.0.0.1:PORT/v1/evidence/")
    p.add_argument("--device-id", required=True)
    p.add_argument("--seed-hex", required=True)
    p.add_argument("--file", required=True)
    p.add_argument("--record-id", required=True)
    p.add_argument("--evidence-id", required=True)
    p.add_argument("--chunk-size", type=int, default=64 * 1024)
    p.add_argument("--stop-at", type=int, default=None, help="stop after this many bytes")
    p.add_argument("--resume-url", default=None, help="resume this upload instead of creating one")
    p.add_argument("--clock-offset-ms", type=int, default=0)
    a = p.parse_args()

    install_signing(a.device_id, bytes.fromhex(a.seed_hex), a.clock_offset_ms)
    with open(a.file, "rb") as f:
        sha256 = hashlib.sha256(f.read()).hexdigest()
    c = tus_client.TusClient(a.endpoint)
    uploader = Sha256Uploader(
        file_path=a.file,
        client=c,
        url=a.resume_url,
        chunk_size=a.chunk_size,
        metadata={"record_id": a.record_id, "evidence_id": a.evidence_id, "sha256": sha256},
        upload_checksum=True,
    )
    uploader.upload(stop_at=a.stop_at)
    print(json.dumps({"url": uploader.url, "offset": uploader.offset}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
