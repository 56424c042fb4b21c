"""Which services have a protocol log, and their parsers: adding a log is one entry here.

Keys are the wizard's service names (Snort's, as in :mod:`fathom.apps.catalog`)."""

from __future__ import annotations

from fathom.apps.logs.base import LogParser

PARSERS: dict[str, type[LogParser]] = {}
