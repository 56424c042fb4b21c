"""The manager's Prometheus metrics, in a registry of its own: what was ingested (by event type,
alerts by severity), duplicates, rejects, suppressed alerts, the time each batch took, and the
store's size and rows, read at scrape time.

Label values come from senders, so they are bounded: event types outside the known EVE types and
severities outside 1 to 4 are counted as ``other``.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from fathom.manager.store import SEVERITIES, Ingested, Store, StoreError

EVENT_TYPES = frozenset(
    (
        "alert",
        "anomaly",
        "dhcp",
        "dns",
        "fileinfo",
        "flow",
        "ftp",
        "ftp_data",
        "http",
        "mdns",
        "netflow",
        "quic",
        "sip",
        "smb",
        "smtp",
        "ssh",
        "stats",
        "tls",
    )
)
OTHER = "other"


def severity_label(severity: int | None) -> str:
    label = str(severity)
    return label if label in SEVERITIES else OTHER


class _StoreCollector(Collector):
    """The store's size and rows, asked for at each scrape. A store that cannot answer leaves them
    out of that scrape rather than failing it."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def collect(self) -> Iterator[Metric]:
        try:
            size = self._store.size_bytes()
            rows = self._store.row_counts()
        except StoreError:
            return
        yield GaugeMetricFamily("fathom_manager_store_bytes", "Size of the store on disk.", value=size)
        family = GaugeMetricFamily(
            "fathom_manager_store_rows", "Rows in each table of the store.", labels=["table"]
        )
        for table, count in rows.items():
            family.add_metric([table], count)
        yield family


class ManagerMetrics:
    __slots__ = ("alerts", "duplicates", "ingest_seconds", "ingested", "registry", "rejected", "suppressed")

    def __init__(self, store: Store) -> None:
        self.registry = CollectorRegistry()
        self.ingested = Counter(
            "fathom_manager_events_ingested",
            "Events stored, by event type.",
            ["event_type"],
            registry=self.registry,
        )
        self.duplicates = Counter(
            "fathom_manager_duplicates", "Events received again and ignored.", registry=self.registry
        )
        self.rejected = Counter(
            "fathom_manager_rejected",
            "Items that were not events, refused one by one.",
            registry=self.registry,
        )
        self.alerts = Counter(
            "fathom_manager_alerts", "Alerts stored, by severity.", ["severity"], registry=self.registry
        )
        self.suppressed = Counter(
            "fathom_manager_suppressed", "Alerts stored as suppressed at ingestion.", registry=self.registry
        )
        self.ingest_seconds = Histogram(
            "fathom_manager_ingest_seconds",
            "Time to parse and store one batch of events.",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
            registry=self.registry,
        )
        for severity in SEVERITIES:
            self.alerts.labels(severity)
        self.registry.register(_StoreCollector(store))

    def record(self, result: Ingested, seconds: float) -> None:
        for event_type, count in result.by_type.items():
            self.ingested.labels(event_type if event_type in EVENT_TYPES else OTHER).inc(count)
        for severity, count in result.by_severity.items():
            self.alerts.labels(severity_label(severity)).inc(count)
        self.duplicates.inc(result.duplicates)
        self.rejected.inc(result.rejected)
        self.suppressed.inc(result.suppressed)
        self.ingest_seconds.observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
