"""Alerts and protocol events name the workloads they concern, as DESIGN.md's EVE contract says:
``endpoint`` is the inspected workload whose interface carried the packet, ``src_endpoint`` and
``dest_endpoint`` each side that is a known workload."""

from __future__ import annotations

from typing import Any

from fathom.events.schema import Event, FlowEvent, FlowScopedEvent
from fathom.sensor.workloads import Selection


class Attribution:
    """The first sink of a sensor's engine: it adds the endpoints to each event before any other
    sink renders it. Flow events, one per flow, are left as they are."""

    __slots__ = ("selection",)

    def __init__(self, selection: Selection) -> None:
        self.selection = selection

    def emit(self, event: Event) -> None:
        if not isinstance(event, FlowScopedEvent) or isinstance(event, FlowEvent):
            return
        context: dict[str, Any] = {}
        inspected = self.selection.inspected.get(event.in_iface or "")
        if inspected is not None:
            context["endpoint"] = inspected.as_json()
        flow = event.flow
        src, dst = (flow.src, flow.dst) if event.to_server else (flow.dst, flow.src)
        for key, address in (("src_endpoint", src), ("dest_endpoint", dst)):
            workload = self.selection.by_address.get(address)
            if workload is not None:
                context[key] = workload.as_json()
        event.context = context or None
