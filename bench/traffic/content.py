"""Deterministic files for the servers to serve: same seed, same bytes, every run."""

from __future__ import annotations

import random
import shutil
from dataclasses import dataclass
from pathlib import Path

SEED = 0xFA7403
CONTENT_VERSION = 1
MIB = 1024 * 1024

# Bulk downloads for the byte-heavy capture: each one is a long single-flow transfer.
BULK_MIB = (4, 8, 12, 16, 24, 32, 48)
MEDIUM_COUNT = 64  # 2 KB .. 512 KB, fetched over keep-alive connections
SMALL_COUNT = 256  # 150 B .. 3 KB HTML pages, one per short HTTP/1.0 connection

_WORDS = ("packet", "flow", "stream", "header", "payload", "kernel", "socket", "buffer", "window",
          "segment", "route", "bridge", "namespace", "veth", "capture", "filter", "decode", "inspect",
          "signature", "alert", "tunnel", "record", "frame")  # fmt: skip


@dataclass(frozen=True)
class Content:
    root: Path
    bulk: tuple[str, ...]  # URL paths, e.g. "/bulk/bulk-0.bin"
    medium: tuple[str, ...]
    small: tuple[str, ...]


def _html(rng: random.Random, size: int, title: str) -> bytes:
    words: list[str] = []
    length = 0
    while length < size:
        word = rng.choice(_WORDS)
        words.append(word)
        length += len(word) + 1
    body = " ".join(words)[:size]
    head = f"<!doctype html><html><head><title>{title}</title></head>"
    return f"{head}<body><p>{body}</p></body></html>\n".encode()


def _layout() -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    bulk = tuple(f"/bulk/bulk-{i}.bin" for i in range(len(BULK_MIB)))
    medium = tuple(f"/media/m-{i:03d}.bin" for i in range(MEDIUM_COUNT))
    small = tuple(f"/s/p-{i:03d}.html" for i in range(SMALL_COUNT))
    return bulk, medium, small


def _write_all(root: Path) -> None:
    rng = random.Random(SEED)
    bulk, medium, small = _layout()
    for path, mib in zip(bulk, BULK_MIB, strict=True):
        _put(root, path, rng.randbytes(mib * MIB))
    for path in medium:
        # Log-uniform sizes: mostly small-ish objects with a tail of large ones, like web assets.
        size = int(2048 * 256 ** rng.random())
        _put(root, path, rng.randbytes(size))
    for i, path in enumerate(small):
        _put(root, path, _html(rng, rng.randint(150, 3000), f"page {i}"))
    _put(root, "/index.html", _html(rng, 1200, "fathom bench"))


def _put(root: Path, url_path: str, data: bytes) -> None:
    target = root / url_path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


def ensure_content(cache: Path) -> Content:
    """Create the served tree under cache/content unless a tree of this version is already there."""
    root = cache / "content"
    stamp = root / ".stamp"
    expected = f"{CONTENT_VERSION}:{SEED}"
    if not (stamp.is_file() and stamp.read_text() == expected):
        shutil.rmtree(root, ignore_errors=True)
        _write_all(root)
        stamp.write_text(expected)
    bulk, medium, small = _layout()
    return Content(root, bulk, medium, small)
