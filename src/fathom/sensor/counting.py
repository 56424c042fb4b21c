"""A sink counting what the metrics show of events: alerts by signature and severity, and the
flows and bytes of each application protocol as flows end."""

from __future__ import annotations

from fathom.events.schema import Event, FlowEvent
from fathom.rules.alert import AlertEvent
from fathom.sensor.metrics import Labelled

_UNKNOWN = ("unknown", "Unspecified")


class EventCounts:
    __slots__ = ("alerts", "app_bytes", "app_flows")

    def __init__(self) -> None:
        self.alerts: Labelled = {}
        self.app_flows: Labelled = {}
        self.app_bytes: Labelled = {}

    def emit(self, event: Event) -> None:
        if isinstance(event, FlowEvent):
            flow = event.flow
            app = flow.app
            key = _UNKNOWN if app is None else (app.app_proto, app.category)
            self.app_flows[key] = self.app_flows.get(key, 0) + 1
            self.app_bytes[key] = self.app_bytes.get(key, 0) + flow.bytes_ts + flow.bytes_tc
        elif isinstance(event, AlertEvent):
            rule = event.rule
            signature = (str(rule.body.gid), str(rule.body.sid), str(rule.priority))
            self.alerts[signature] = self.alerts.get(signature, 0) + 1
