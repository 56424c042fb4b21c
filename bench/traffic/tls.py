"""The self-signed certificate the HTTPS server presents (clients run with -k)."""

from __future__ import annotations

import subprocess
from pathlib import Path

COMMON_NAME = "bench.fathom.test"


def ensure_certificate(cache: Path) -> tuple[Path, Path]:
    """Return (cert, key), creating them once: handshakes then differ only in their random values."""
    tls_dir = cache / "tls"
    cert, key = tls_dir / "cert.pem", tls_dir / "key.pem"
    if not (cert.is_file() and key.is_file()):
        tls_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
             "-subj", f"/CN={COMMON_NAME}", "-addext", f"subjectAltName=DNS:*.{COMMON_NAME}",
             "-keyout", str(key), "-out", str(cert)],
            check=True, capture_output=True,
        )  # fmt: skip
    return cert, key
