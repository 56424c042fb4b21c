"""The EVE ``alert`` event: the rule that matched and the packet that completed the match."""

from __future__ import annotations

from typing import Any

from fathom.events.schema import Event, FlowScopedEvent
from fathom.flow.flow import Flow
from fathom.rules.classification import CLASSTYPES
from fathom.rules.loader import Rule


class AlertEvent(FlowScopedEvent):
    __slots__ = ("rule",)
    event_type = "alert"

    def __init__(self, flow: Flow, timestamp: float, pcap_cnt: int, to_server: bool, rule: Rule) -> None:
        super().__init__(flow, timestamp, pcap_cnt, to_server)
        self.rule = rule

    def body(self) -> dict[str, Any]:
        body = self.rule.body
        classtype = CLASSTYPES.get(body.classtype)
        alert = {
            "action": "allowed",
            "gid": body.gid,
            "signature_id": body.sid,
            "rev": body.rev,
            "signature": body.msg,
            "category": classtype.text if classtype is not None else "",
            "severity": self.rule.priority,
        }
        out: dict[str, Any] = {"alert": alert}
        if self.flow.app_proto:
            out["app_proto"] = self.flow.app_proto
        return out


class AlertSummary:
    """A sink counting alerts by signature, for the terminal report, which also says how the
    rules were loaded."""

    def __init__(self, rules: int = 0, from_cache: bool = False, load_seconds: float = 0.0) -> None:
        self.rules, self.from_cache, self.load_seconds = rules, from_cache, load_seconds
        # (gid, sid) -> [message, severity, count]
        self.by_rule: dict[tuple[int, int], tuple[str, int, int]] = {}

    def emit(self, event: Event) -> None:
        if not isinstance(event, AlertEvent):
            return
        key = event.rule.key
        msg, severity, count = self.by_rule.get(key, (event.rule.body.msg, event.rule.priority, 0))
        self.by_rule[key] = (msg, severity, count + 1)

    @property
    def total(self) -> int:
        return sum(count for _, _, count in self.by_rule.values())
