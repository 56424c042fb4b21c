"""Suppressions, after Calico's AlertException: a selector, one or more sids and a time window.

An alert is suppressed when its sid is listed, its timestamp falls in the window (start included,
end excluded, either open) and the selector matches the alert's attributes, taken as labels:
``namespace``, ``pod`` and ``node`` of the inspected ``endpoint``; ``src_namespace``,
``src_pod``, ``dest_namespace`` and ``dest_pod`` of the endpoints on either side; ``src_ip``,
``dest_ip``, ``proto`` and ``app_proto``; and each label of the inspected endpoint as
``label.<key>``. Attributes the alert lacks are absent labels (so ``has(pod)`` tells them apart).
A suppressed alert is stored all the same, marked with the suppression's id, and counted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from fathom.selector import Selector, parse_selector

# (label, event field, key inside it); a key of None reads the field itself.
_ATTRIBUTES = (
    ("namespace", "endpoint", "namespace"),
    ("pod", "endpoint", "pod"),
    ("node", "endpoint", "node"),
    ("src_namespace", "src_endpoint", "namespace"),
    ("src_pod", "src_endpoint", "pod"),
    ("dest_namespace", "dest_endpoint", "namespace"),
    ("dest_pod", "dest_endpoint", "pod"),
    ("src_ip", "src_ip", None),
    ("dest_ip", "dest_ip", None),
    ("proto", "proto", None),
    ("app_proto", "app_proto", None),
)


def alert_labels(event: Mapping[str, Any]) -> dict[str, str]:
    """The labels a suppression's selector sees for this alert."""
    labels: dict[str, str] = {}
    for label, field, key in _ATTRIBUTES:
        value = event.get(field)
        if key is not None:
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, str):
            labels[label] = value
    endpoint = event.get("endpoint")
    own = endpoint.get("labels") if isinstance(endpoint, dict) else None
    if isinstance(own, dict):
        for key, value in own.items():
            if isinstance(value, str):
                labels[f"label.{key}"] = value
    return labels


@dataclass(frozen=True, slots=True)
class Rule:
    """A stored suppression, as matching needs it."""

    id: str
    selector: Selector
    sids: frozenset[int]
    start_us: int | None
    end_us: int | None

    def covers(self, ts: int) -> bool:
        return (self.start_us is None or self.start_us <= ts) and (self.end_us is None or ts < self.end_us)


def compile_rule(
    suppression_id: str, selector: str, sids: Iterable[int], start_us: int | None, end_us: int | None
) -> Rule:
    return Rule(suppression_id, parse_selector(selector), frozenset(sids), start_us, end_us)


class Matcher:
    """The suppressions in force, indexed by sid, so that an alert no suppression lists costs one
    dict look-up. Of several that match, the oldest (first given) wins."""

    __slots__ = ("_by_sid",)

    def __init__(self, rules: Iterable[Rule] = ()) -> None:
        self._by_sid: dict[int, list[Rule]] = {}
        for rule in rules:
            for sid in rule.sids:
                self._by_sid.setdefault(sid, []).append(rule)

    def match(self, sid: int | None, ts: int, event: Mapping[str, Any]) -> str | None:
        """The id of the suppression this alert falls under, or None."""
        candidates = self._by_sid.get(sid) if sid is not None else None
        if not candidates:
            return None
        labels: dict[str, str] | None = None
        for rule in candidates:
            if not rule.covers(ts):
                continue
            if labels is None:
                labels = alert_labels(event)
            if rule.selector.matches(labels):
                return rule.id
        return None
