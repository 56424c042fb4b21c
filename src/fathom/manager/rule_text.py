"""The text of each rule the manager knows, for the alert detail: read once at start with
Fathom's own rules parser, which keeps each rule's text, and looked up by gid:sid.

Only the rule headers and options are parsed (no option is built, nothing is compiled), so even
the whole community ruleset loads in well under a second. A gid:sid given twice keeps the higher
revision, as the engine does.
"""

from __future__ import annotations

from collections.abc import Sequence

from fathom.rules.parser import RuleText, load_rules


def _number(rule: RuleText, keyword: str, default: int) -> int:
    for key, value in rule.options:
        if key == keyword and value is not None and value.strip().isdigit():
            return int(value.strip())
    return default


class RuleTexts:
    """gid:sid -> the rule as written."""

    __slots__ = ("_texts",)

    def __init__(self, rules: Sequence[RuleText] = ()) -> None:
        texts: dict[tuple[int, int], tuple[int, str]] = {}
        for rule in rules:
            sid = _number(rule, "sid", 0)
            if not sid:
                continue
            key = (_number(rule, "gid", 1), sid)
            rev = _number(rule, "rev", 0)
            kept = texts.get(key)
            if kept is None or rev > kept[0]:
                texts[key] = (rev, rule.text)
        self._texts = {key: text for key, (_, text) in texts.items()}

    def __len__(self) -> int:
        return len(self._texts)

    def get(self, gid: int, sid: int) -> str | None:
        return self._texts.get((gid, sid))


def load_rule_texts(paths: Sequence[str]) -> tuple[RuleTexts, list[str]]:
    """The rules in ``paths`` and a line for each file or rule that could not be read."""
    rules, errors = load_rules(paths)
    return RuleTexts(rules), [str(error) for error in errors]
