"""Where Fathom keeps its data on a host: the manager's database, the delivery spool."""

from __future__ import annotations

import os
from pathlib import Path


def data_dir() -> Path:
    """``$FATHOM_DATA_DIR``; else /var/lib/fathom for root, ~/.local/share/fathom for others."""
    base = os.environ.get("FATHOM_DATA_DIR")
    if base:
        return Path(base)
    if os.geteuid() == 0:
        return Path("/var/lib/fathom")
    return Path.home() / ".local" / "share" / "fathom"
