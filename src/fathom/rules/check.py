"""``fathom rules check``: what a ruleset would load, rule by rule."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

from fathom.rules.loader import Ruleset, load_ruleset


def report(ruleset: Ruleset, out: TextIO) -> None:
    """One line per rule rejected or loaded in part, naming file and line; then the counts."""
    for error in ruleset.rejected:
        print(f"{error}", file=out)
    for rule in ruleset.partial:
        header = rule.header
        reasons = "; ".join(rule.body.partial)
        print(
            f"{header.file}:{header.line}: sid {rule.body.gid}:{rule.body.sid} loads in part: {reasons}",
            file=out,
        )
    partial = len(ruleset.partial)
    full = len(ruleset.rules) - partial
    total = len(ruleset.rules) + len(ruleset.rejected)
    noun = "rule" if total == 1 else "rules"
    print(
        f"{total:,} {noun}: {full:,} loaded, {partial:,} loaded in part, {len(ruleset.rejected):,} rejected",
        file=out,
    )


def check(paths: Sequence[str], out: TextIO) -> int:
    """Report on the rules in ``paths``; exit status 1 when any rule was rejected."""
    ruleset = load_ruleset(paths)
    report(ruleset, out)
    return 1 if ruleset.rejected else 0
