"""Where the benchmark finds the repository, the fathom binary and the cached captures."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CACHE = Path("/var/cache/fathom-bench")
CACHE_ENV = "FATHOM_BENCH_CACHE"


def cache_dir(override: str | None = None) -> Path:
    """The capture cache: --cache, else $FATHOM_BENCH_CACHE, else /var/cache/fathom-bench.

    It lives outside the repository so hundreds of MB of pcaps never end up in a commit.
    """
    if override:
        return Path(override)
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else DEFAULT_CACHE


def fathom_binary() -> str | None:
    """The venv console script of this checkout, else whatever `fathom` is on PATH."""
    local = REPO_ROOT / ".venv" / "bin" / "fathom"
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    return shutil.which("fathom")


def venv_python() -> str:
    """The venv interpreter of this checkout, else the one running the benchmark."""
    local = REPO_ROOT / ".venv" / "bin" / "python"
    return str(local) if local.is_file() else sys.executable
