"""What the terminal report shows about flows: a sink that gathers it as flow events go by."""

from __future__ import annotations

from collections import Counter

from fathom.decode.packet import proto_name
from fathom.events.schema import Event, FlowEvent

# What a flow the app layer could not name is counted as, as nDPI shows it.
UNKNOWN = "Unknown"
# Bound on distinct addresses kept for the top-talkers table.
MAX_TALKERS = 65536


class FlowSummary:
    def __init__(self) -> None:
        self.by_proto: Counter[str] = Counter()
        # Flows and bytes by application (the one behind the protocol when known, else nDPI's
        # protocol name) and by category.
        self.app_flows: Counter[tuple[str, str]] = Counter()
        self.app_bytes: Counter[tuple[str, str]] = Counter()
        self.by_reason: Counter[str] = Counter()
        self.talker_bytes: Counter[bytes] = Counter()
        # Addresses left out of the top talkers once MAX_TALKERS were known.
        self.talkers_dropped = 0

    def emit(self, event: Event) -> None:
        if not isinstance(event, FlowEvent):
            return
        flow = event.flow
        self.by_proto[proto_name(flow.proto)] += 1
        self.by_reason[flow.end_reason] += 1
        total = flow.bytes_ts + flow.bytes_tc
        app = flow.app
        named = (UNKNOWN, UNKNOWN) if app is None else (app.application or app.protocol, app.category)
        self.app_flows[named] += 1
        self.app_bytes[named] += total
        talkers = self.talker_bytes
        for addr in (flow.src, flow.dst):
            if addr in talkers or len(talkers) < MAX_TALKERS:
                talkers[addr] += total
            else:
                self.talkers_dropped += 1

    @property
    def flows(self) -> int:
        return sum(self.by_proto.values())


def per_category(counts: Counter[tuple[str, str]]) -> Counter[str]:
    """Counts by (application, category), as FlowSummary keeps them, summed per category."""
    totals: Counter[str] = Counter()
    for (_, category), count in counts.items():
        totals[category] += count
    return totals
