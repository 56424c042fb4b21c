"""One line on standard error about something in the input that was left out: the run goes on."""

from __future__ import annotations

import sys


def note(message: str) -> None:
    print(f"fathom: note: {message}", file=sys.stderr)
