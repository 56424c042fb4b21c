"""Rule options as the real parser splits them, for option tests."""

from __future__ import annotations

from fathom.rules.parser import parse_rules


def options_of(text: str) -> tuple[tuple[str, str | None], ...]:
    """The (keyword, argument) pairs of an option list written as in a rule: ``a:1; b;``."""
    rules, errors = parse_rules(f"alert ip any any -> any any ({text})\n", "test.rules")
    assert errors == [], errors
    (rule,) = rules
    return rule.options
