"""Rules for tests: option lists as the real parser splits them, and engines matching rules."""

from __future__ import annotations

from pathlib import Path

from fathom.engine import Engine
from fathom.rules.detect import detection
from fathom.rules.index import RuleIndex
from fathom.rules.loader import load_ruleset
from fathom.rules.parser import parse_rules
from tests.traffic import ListSink


def options_of(text: str) -> tuple[tuple[str, str | None], ...]:
    """The (keyword, argument) pairs of an option list written as in a rule: ``a:1; b;``."""
    rules, errors = parse_rules(f"alert ip any any -> any any ({text})\n", "test.rules")
    assert errors == [], errors
    (rule,) = rules
    return rule.options


def detecting_engine(tmp_path: Path, rules: str) -> tuple[Engine, ListSink]:
    """An engine matching ``rules`` (which must all load), with a sink collecting its events."""
    path = tmp_path / "test.rules"
    path.write_text(rules)
    ruleset = load_ruleset([str(path)])
    assert ruleset.rejected == []
    engine = Engine(layers=[detection(RuleIndex(ruleset))])
    sink = ListSink()
    engine.add_sink(sink)
    return engine, sink
