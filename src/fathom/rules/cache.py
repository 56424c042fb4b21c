"""A disk cache of rule indexes, so that a start with a ruleset seen before skips parsing the rules
and compiling their Hyperscan databases.

An entry is keyed by a hash of everything the index depends on: the rules files (paths and text),
the variables, this engine's code, and the Python, Hyperscan and machine it runs on. A changed
rule or a new engine therefore gets a new key, and a stale entry is never found. An entry carries
a SHA-256 of its contents, checked before it is unpickled: a damaged or truncated entry is
reported in one line and rebuilt. Entries are pickles, so the cache is used only from a directory
that the current user owns and nobody else can write to. The newest few entries are kept.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import os
import pickle
import platform
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from importlib.metadata import version
from pathlib import Path

import fathom
from fathom.rules.index import RuleIndex
from fathom.rules.loader import build_ruleset
from fathom.rules.parser import RuleLoadError, RuleSource, read_rule_sources

_MAGIC = b"fathom rule index 1\n"
_SUFFIX = ".rule-index"
# Entries kept in the directory; older ones are removed when a new one is written.
_KEEP = 4

Note = Callable[[str], None]


def default_cache_dir() -> Path:
    """``$FATHOM_CACHE_DIR``, else ``$XDG_CACHE_HOME/fathom``, else ``~/.cache/fathom``; rule
    indexes go into its ``rules`` directory."""
    base = os.environ.get("FATHOM_CACHE_DIR")
    if base:
        return Path(base) / "rules"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "fathom" / "rules"


def load_index(
    paths: Sequence[str],
    variables: Mapping[str, str] | None = None,
    cache_dir: Path | None = None,
    note: Note | None = None,
) -> tuple[RuleIndex, bool]:
    """The index of the rules in ``paths``, and whether it came from the cache in ``cache_dir``
    (None: no cache). Cache problems are told to ``note`` and never stop the load."""
    sources, errors = read_rule_sources(paths)
    return index_sources(sources, errors, variables, cache_dir, note)


def index_sources(
    sources: Sequence[RuleSource],
    errors: Sequence[RuleLoadError],
    variables: Mapping[str, str] | None = None,
    cache_dir: Path | None = None,
    note: Note | None = None,
) -> tuple[RuleIndex, bool]:
    """:func:`load_index` for rules files already read (``errors``: those that could not be)."""
    tell = note or (lambda _message: None)
    entry = None
    if cache_dir is not None and _usable(cache_dir, tell):
        entry = cache_dir / (_cache_key(sources, errors, variables) + _SUFFIX)
        index = _read(entry, tell)
        if index is not None:
            return index, True
    index = RuleIndex(build_ruleset(sources, errors, variables))
    if entry is not None:
        _write(entry, index, tell)
    return index, False


def _cache_key(
    sources: Sequence[RuleSource], errors: Sequence[RuleLoadError], variables: Mapping[str, str] | None
) -> str:
    """The hash naming the index of these rules files, read errors and variables on this engine."""
    digest = hashlib.sha256(_engine_digest())
    parts: list[str] = []
    for source in sources:
        parts += ("file", source.path, source.text)
    for error in errors:
        parts += ("error", str(error))
    for name, value in sorted((variables or {}).items()):
        parts += ("var", name, value)
    for part in parts:
        data = part.encode("utf-8", "surrogatepass")
        digest.update(len(data).to_bytes(8, "little") + data)
    return digest.hexdigest()


@cache
def _engine_digest() -> bytes:
    """What an index's meaning and layout depend on besides the rules: this package's code, and
    the Python, Hyperscan and machine that built it."""
    digest = hashlib.sha256()
    versions = (fathom.__version__, sys.version, version("hyperscan"), platform.machine())
    digest.update(repr(versions).encode())
    package = Path(fathom.__file__).parent
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes())
    return digest.digest()


def _usable(directory: Path, note: Note) -> bool:
    """Create the directory if needed; True when it is ours alone (entries are pickles)."""
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        status = directory.stat()
    except OSError as exc:
        note(f"{directory}: rule cache not used: {exc.strerror or exc}")
        return False
    if status.st_uid != os.geteuid() or status.st_mode & 0o022:
        note(f"{directory}: rule cache not used: it must belong to this user and be writable by no one else")
        return False
    return True


def _read(entry: Path, note: Note) -> RuleIndex | None:
    try:
        data = entry.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        note(f"{entry}: rule cache entry not read, rebuilding: {exc.strerror or exc}")
        return None
    head = len(_MAGIC) + 32
    payload = memoryview(data)[head:]
    if data[: len(_MAGIC)] != _MAGIC or hashlib.sha256(payload).digest() != data[len(_MAGIC) : head]:
        note(f"{entry}: rule cache entry is damaged, rebuilding")
        return None
    # Unpickling makes many small objects that all live on: a collection midway is wasted work.
    collecting = gc.isenabled()
    gc.disable()
    try:
        index = pickle.loads(payload)
    except Exception as exc:  # a checksummed entry that still fails to load: rebuild, say why
        note(f"{entry}: rule cache entry does not load, rebuilding: {exc}")
        return None
    finally:
        if collecting:
            gc.enable()
    if not isinstance(index, RuleIndex):
        note(f"{entry}: rule cache entry holds no rule index, rebuilding")
        return None
    with contextlib.suppress(OSError):
        os.utime(entry)  # used now: the last to be pruned
    return index


def _write(entry: Path, index: RuleIndex, note: Note) -> None:
    """Write the entry whole or not at all (a new file renamed over), then drop the oldest."""
    try:
        payload = pickle.dumps(index, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        note(f"{entry}: rule cache entry not written: the rules cannot be stored ({exc})")
        return
    temporary = None
    try:
        with tempfile.NamedTemporaryFile(dir=entry.parent, suffix=".partial", delete=False) as handle:
            temporary = handle.name
            handle.write(_MAGIC + hashlib.sha256(payload).digest() + payload)
        os.replace(temporary, entry)
    except OSError as exc:
        note(f"{entry}: rule cache entry not written: {exc.strerror or exc}")
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)
        return
    _prune(entry.parent)


def _prune(directory: Path) -> None:
    entries = []
    for path in directory.glob("*" + _SUFFIX):
        try:
            entries.append((path.stat().st_mtime, path))
        except OSError:
            continue
    for _mtime, path in sorted(entries, reverse=True)[_KEEP:]:
        path.unlink(missing_ok=True)
