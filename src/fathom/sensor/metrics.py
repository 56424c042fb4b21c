"""The sensor's Prometheus metrics, from the snapshots its workers send.

Each worker sends a :class:`Snapshot` of its cumulative counters about once a second; the
collector sums the workers' latest snapshots at scrape time. A worker that is restarted starts
from zero, so the last snapshot of each worker that ended is kept in the totals: counters never go
down. Nothing here runs on the packet path.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

# A snapshot's labelled counters: the label values, in the order the metric declares its labels.
Labelled = dict[tuple[str, ...], float]


@dataclass(slots=True)
class Snapshot:
    """One worker's cumulative counters."""

    # Per capture interface: packets and bytes read, kernel drops, ring freezes.
    packets: Labelled = field(default_factory=dict)
    bytes: Labelled = field(default_factory=dict)
    drops: Labelled = field(default_factory=dict)
    freezes: Labelled = field(default_factory=dict)
    # (gid, sid, severity) -> alerts.
    alerts: Labelled = field(default_factory=dict)
    # (application protocol, category) -> flows ended, and their bytes.
    app_flows: Labelled = field(default_factory=dict)
    app_bytes: Labelled = field(default_factory=dict)
    # (stage,) -> seconds spent in it.
    stage_seconds: Labelled = field(default_factory=dict)
    # Every engine counter by its dotted name (flows, evictions, memcap hits, bounds reached, ...).
    engine: dict[str, int] = field(default_factory=dict)

    def add(self, other: Snapshot) -> None:
        for name in _LABELLED:
            mine: Labelled = getattr(self, name)
            for key, value in getattr(other, name).items():
                mine[key] = mine.get(key, 0) + value
        for key, count in other.engine.items():
            self.engine[key] = self.engine.get(key, 0) + count


_LABELLED = ("packets", "bytes", "drops", "freezes", "alerts", "app_flows", "app_bytes", "stage_seconds")

# (metric, help, snapshot field, label names)
_COUNTERS = (
    ("fathom_packets", "Packets captured, by interface.", "packets", ("interface",)),
    ("fathom_bytes", "Bytes captured, by interface.", "bytes", ("interface",)),
    ("fathom_kernel_drops", "Packets the kernel dropped because the ring was full.", "drops", ("interface",)),
    ("fathom_ring_freezes", "Times the ring's queue froze (all blocks in use).", "freezes", ("interface",)),
    ("fathom_alerts", "Alerts, by signature and severity.", "alerts", ("gid", "sid", "severity")),
    ("fathom_app_flows", "Flows ended, by application protocol.", "app_flows", ("app_proto", "category")),
    ("fathom_app_bytes", "Bytes of ended flows, by application.", "app_bytes", ("app_proto", "category")),
    ("fathom_stage_seconds", "Processor seconds per pipeline stage (sampled).", "stage_seconds", ("stage",)),
)  # fmt: skip

# Engine counters with a metric of their own; the rest are fathom_engine_events{counter=...}.
_ENGINE_METRICS = {
    "flow.created": ("fathom_flows", "Flows created."),
    "flow.ended": ("fathom_flows_ended", "Flows ended."),
    # A new flow that finds the flow memcap reached evicts the longest-idle one.
    "flow.evicted": ("fathom_flow_evictions", "Flows evicted because the flow memcap was reached."),
    "stream.memcap_drops": (
        "fathom_stream_memcap_drops",
        "Out-of-order segments dropped at the stream memcap.",
    ),
    "defrag.evicted": ("fathom_defrag_evictions", "Fragment trackers evicted at the defragmenter memcap."),
}


class SensorCollector(Collector):
    """Sums the workers' snapshots for each scrape, with the sensor's own state."""

    def __init__(self) -> None:
        self.latest: dict[int, Snapshot] = {}
        self.retired = Snapshot()
        self.worker_restarts = 0
        self.rule_load_errors = 0
        self.rules_loaded = 0
        self.rules_rejected = 0
        self.reloads: Counter[str] = Counter()
        # Interface -> 1 when captured, 0 when selected but missing (as the workers running the
        # current config report them).
        self.interfaces_up: dict[str, int] = {}
        # The config (rules and selection) the supervisor built last, and the oldest one a
        # worker still runs: equal once every worker applied the change.
        self.generation = 0
        self.applied_generation = 0

    def update(self, worker: int, snapshot: Snapshot) -> None:
        self.latest[worker] = snapshot

    def retire(self, worker: int) -> None:
        """The worker ended: its last counters stay in the totals."""
        snapshot = self.latest.pop(worker, None)
        if snapshot is not None:
            self.retired.add(snapshot)

    def total(self) -> Snapshot:
        total = Snapshot()
        total.add(self.retired)
        for snapshot in self.latest.values():
            total.add(snapshot)
        return total

    def collect(self) -> Iterator[Metric]:
        total = self.total()
        for name, text, attribute, labels in _COUNTERS:
            family = CounterMetricFamily(name, text, labels=labels)
            for key, value in sorted(getattr(total, attribute).items()):
                family.add_metric(list(key), value)
            yield family
        for key, (name, text) in _ENGINE_METRICS.items():
            yield CounterMetricFamily(name, text, value=total.engine.get(key, 0))
        others = CounterMetricFamily("fathom_engine_events", "Engine counters by name.", labels=("counter",))
        for key, count in sorted(total.engine.items()):
            if key not in _ENGINE_METRICS:
                others.add_metric([key], count)
        yield others
        yield CounterMetricFamily(
            "fathom_worker_restarts", "Workers restarted after they died.", value=self.worker_restarts
        )
        yield CounterMetricFamily(
            "fathom_rule_load_errors",
            "Rules that failed to load, over all loads.",
            value=self.rule_load_errors,
        )
        yield GaugeMetricFamily(
            "fathom_rules_loaded", "Rules in the running ruleset.", value=self.rules_loaded
        )
        yield GaugeMetricFamily("fathom_workers", "Worker processes running.", value=len(self.latest))
        reloads = CounterMetricFamily(
            "fathom_reloads", "Reloads of rules and selection, by result.", labels=("result",)
        )
        for result, count in sorted(self.reloads.items()):
            reloads.add_metric([result], count)
        yield reloads
        config = GaugeMetricFamily(
            "fathom_config_generation", "Config built, and applied by every worker.", labels=("state",)
        )
        config.add_metric(["built"], self.generation)
        config.add_metric(["applied"], self.applied_generation)
        yield config
        up = GaugeMetricFamily(
            "fathom_interface_up", "Selected interfaces: 1 captured, 0 missing.", labels=("interface",)
        )
        for interface, state in sorted(self.interfaces_up.items()):
            up.add_metric([interface], state)
        yield up
