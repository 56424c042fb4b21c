"""``fathom rules update``: install a ruleset from a file or URL, only once it loads.

The new rules are read into memory (a download is bounded), indexed under their final path, which
fills the rule cache so that a sensor's reload is fast, and only then written next to the
destination and renamed over it: a reader sees the old file or the new one, never a part. When
the new rules load none, the previous file stays as it was.
"""

from __future__ import annotations

import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from fathom.notes import note
from fathom.rules.cache import default_cache_dir, index_sources
from fathom.rules.parser import RuleSource

# A ruleset larger than this is refused (the community ruleset is about 1.5 MB).
MAX_RULESET_BYTES = 64 * 1024 * 1024
DOWNLOAD_TIMEOUT = 60.0


class UpdateError(Exception):
    """The ruleset was not installed; the message is one line naming the source and why."""


def _fetch(source: str) -> bytes:
    if source.startswith(("http://", "https://")):
        try:
            with urllib.request.urlopen(source, timeout=DOWNLOAD_TIMEOUT) as response:
                data: bytes = response.read(MAX_RULESET_BYTES + 1)
        except urllib.error.HTTPError as exc:
            raise UpdateError(f"{source}: HTTP {exc.code} {exc.reason}") from None
        except OSError as exc:
            raise UpdateError(f"{source}: {getattr(exc, 'reason', None) or exc}") from None
    else:
        try:
            with open(source, "rb") as handle:
                data = handle.read(MAX_RULESET_BYTES + 1)
        except OSError as exc:
            raise UpdateError(f"{source}: {exc.strerror or exc}") from None
    if len(data) > MAX_RULESET_BYTES:
        raise UpdateError(f"{source}: larger than {MAX_RULESET_BYTES // (1024 * 1024)} MiB")
    return data


def update_rules(source: str, destination: str) -> int:
    """Install the rules at ``source`` as ``destination``; the number of rules loaded."""
    dest = Path(destination).resolve()
    if not source.startswith(("http://", "https://")) and Path(source).resolve() == dest:
        raise UpdateError(f"{source}: is the destination already")
    text = _fetch(source).decode("utf-8", "replace")
    index, _ = index_sources([RuleSource(str(dest), text)], [], cache_dir=default_cache_dir(), note=note)
    ruleset = index.ruleset
    if not ruleset.rules:
        problem = ruleset.rejected[0] if ruleset.rejected else None
        first = f" (first problem: {source}:{problem.line}: {problem.reason})" if problem else ""
        raise UpdateError(f"{source}: no rule loads{first}; {destination} is unchanged")
    if ruleset.rejected:
        note(f"{source}: {len(ruleset.rejected):,} rules not loaded; `fathom rules check` lists them")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, dest)
        except BaseException:
            os.unlink(temp)
            raise
    except OSError as exc:
        raise UpdateError(f"{destination}: {exc.strerror or exc}; it is unchanged") from None
    return len(ruleset.rules)
