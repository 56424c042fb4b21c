"""Why a rule cannot be used."""

from __future__ import annotations


class RuleError(Exception):
    """One rule (or one of its options) cannot be loaded. The message is the reason alone, one line;
    the loader adds the file and line."""
