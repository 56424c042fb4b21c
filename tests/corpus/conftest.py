"""Shared access to the vendored corpus (tests/data/corpus)."""

from __future__ import annotations

from pathlib import Path

CORPUS = Path(__file__).resolve().parent.parent / "data" / "corpus"
APPID_CAPTURES = sorted(p for p in (CORPUS / "appid").iterdir() if p.suffix in (".pcap", ".pcapng"))
SIG_CAPTURES = sorted((CORPUS / "sigs").glob("*/input.pcap"))
