"""Which application a host name belongs to: a list of domains, each with an application and a
category in nDPI's names. The bundled list (``data/applications.txt``) comes first; users' files
in the same format add to it and override it. A domain covers its subdomains, and the longest
match wins. A bad line is reported with its file and line number and left out."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

BUNDLED = Path(__file__).parent / "data" / "applications.txt"
# Labels of a host name looked at, from the right: deeper names are not in any list.
_MAX_LABELS = 8


class Applications:
    """Host name -> (application, category)."""

    __slots__ = ("_by_domain",)

    def __init__(self, entries: dict[str, tuple[str, str]]) -> None:
        self._by_domain = entries

    @classmethod
    def load(
        cls, paths: Iterable[str | Path] = (), note: Callable[[str], None] | None = None
    ) -> Applications:
        """The bundled list, then each file of ``paths``; problems go to ``note``, one line each."""
        entries: dict[str, tuple[str, str]] = {}
        for path in (BUNDLED, *paths):
            try:
                text = Path(path).read_text(encoding="utf-8", errors="replace")
            except OSError as exc:
                if note is not None:
                    note(f"{path}: {exc.strerror}; its applications are not used")
                continue
            for number, line in enumerate(text.splitlines(), 1):
                fields = line.split("#", 1)[0].split()
                if not fields:
                    continue
                if len(fields) != 3:
                    if note is not None:
                        note(f"{path}:{number}: want a domain, an application and a category")
                    continue
                domain, application, category = fields
                entries[domain.lower().strip(".")] = (application, category)
        return cls(entries)

    def lookup(self, host: str) -> tuple[str, str] | None:
        """The application and category of ``host`` (a name, without port), or None."""
        name = host.lower().rstrip(".")
        if name.count(".") >= _MAX_LABELS:
            name = ".".join(name.split(".")[-_MAX_LABELS:])
        while name:
            found = self._by_domain.get(name)
            if found is not None:
                return found
            name = name.partition(".")[2]
        return None
