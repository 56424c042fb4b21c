"""The store, on SQLite and on a real PostgreSQL server alike: schema, ingestion and its ids,
every filter and paging, alert detail, histogram, applications, sensors, suppressions, retention."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from fathom.manager.models import SensorReport, SuppressionIn
from fathom.manager.rows import MAX_TEXT, event_id
from fathom.manager.schema import LATEST, TABLES
from fathom.manager.serve import open_store
from fathom.manager.store import DAY_US, AlertFilter, CursorError, FlowFilter, Store, StoreError
from fathom.manager.times import now_us, parse_us
from tests.manager import eve
from tests.manager.eve import T0, endpoint

T0_US = int(T0 * 1_000_000)


def us(text: str) -> int:
    value = parse_us(text)
    assert value is not None
    return value


def ids(store: Store, f: AlertFilter | None = None, limit: int = 1000) -> list[str]:
    return [a.id for a in store.alerts(f or AlertFilter(), limit).items]


def test_migrations_from_empty(store: Store, db_url: str) -> None:
    assert store.schema_version() == LATEST
    assert store.row_counts() == dict.fromkeys(TABLES, 0)
    # Opening it again applies nothing and loses nothing.
    store.ingest([eve.alert(1)])
    again = open_store(db_url)
    assert again.schema_version() == LATEST
    assert again.row_counts()["alerts"] == 1
    again.close()


def test_a_newer_schema_is_refused(store: Store, db_url: str) -> None:
    with store.backend.writing() as s:
        s.execute(
            "INSERT INTO schema_version (version, name, applied) VALUES (?, ?, ?)",
            (LATEST + 1, "future", "now"),
        )
    with pytest.raises(StoreError, match=f"schema version {LATEST + 1}"):
        open_store(db_url)


def test_a_batch_sent_twice_is_stored_once(store: Store) -> None:
    batch = [eve.alert(1), eve.alert(2, 1.0), eve.flow(2.0), eve.http(1.5)]
    first = store.ingest(batch)
    assert (first.accepted, first.duplicates, first.rejected, first.suppressed) == (4, 0, 0, 0)
    assert dict(first.by_type) == {"alert": 2, "flow": 1, "http": 1}
    again = store.ingest(batch)
    assert (again.accepted, again.duplicates) == (0, 4)
    assert store.row_counts() == {
        "alerts": 2,
        "flows": 1,
        "protocol_events": 1,
        "suppressions": 0,
        "sensors": 0,
    }
    # The id is the contract's: sha256 of the canonical JSON, 32 hex digits.
    assert sorted(ids(store)) == sorted([event_id(batch[0]), event_id(batch[1])])


def test_a_repeat_inside_one_batch_is_a_duplicate(store: Store) -> None:
    same = eve.alert(7)
    # Key order does not change the id.
    reordered = dict(reversed(list(same.items())))
    result = store.ingest([same, reordered, eve.alert(8)])
    assert (result.accepted, result.duplicates) == (2, 1)


def test_items_that_are_not_events_are_rejected_one_by_one(store: Store) -> None:
    deep: list[Any] = []
    node = deep
    for _ in range(300):  # past what orjson writes back
        node.append([])
        node = node[0]
    items: list[object] = [
        1,
        "alert",
        None,
        [eve.alert(1)],
        {"timestamp": eve.at(0)},
        {"event_type": 5},
        {"event_type": ""},
        {"event_type": "<script>"},
        {"event_type": "x" * 65},
        {"event_type": "alert", "deep": deep},
        eve.alert(1),
    ]
    result = store.ingest(items)
    assert (result.accepted, result.rejected, result.duplicates) == (1, 10, 0)


def test_hostile_values_are_stored_bounded_and_typed(store: Store) -> None:
    event = eve.alert(9, signature="sig\x00nul " + "x" * 5000)
    event["src_port"] = 2**64 - 5  # JSON can say it; BIGINT cannot hold it
    event["dest_port"] = "80"
    event["flow_id"] = 2**64 - 1  # orjson reads it; no BIGINT holds it
    event["alert"]["severity"] = True
    event["endpoint"] = {"namespace": ["not", "text"], "pod": "p\x00d", "labels": "none"}
    event["timestamp"] = "yesterday"
    before = int(datetime.now(UTC).timestamp() * 1_000_000)
    assert store.ingest([event]).accepted == 1
    (stored,) = store.alerts(AlertFilter(), 10).items
    # The event comes back as it was sent, NUL and all.
    assert stored.model_extra is not None
    assert stored.model_extra["alert"]["signature"] == event["alert"]["signature"]
    assert stored.model_extra["flow_id"] == 2**64 - 1
    with store.backend.reading() as s:
        ((signature, src_port, dest_port, flow_id, severity, namespace, pod, ts),) = s.execute(
            "SELECT signature, src_port, dest_port, flow_id, severity, namespace, pod, ts FROM alerts"
        )
    assert signature == ("sig\ufffdnul " + "x" * 5000)[:MAX_TEXT]
    assert (src_port, dest_port, flow_id, severity, namespace, pod) == (
        None,
        None,
        None,
        None,
        None,
        "p\ufffdd",
    )
    # No readable timestamp: stored at the time it came.
    assert before <= ts <= int(datetime.now(UTC).timestamp() * 1_000_000)


def _endpoint_alerts() -> list[dict[str, Any]]:
    return [
        eve.alert(100, 0, severity=1, endpoint=endpoint("red", "red1", {"app": "web"})),
        eve.alert(100, 10, severity=2, endpoint=endpoint("blue", "blue1"), src_ip="10.9.9.9"),
        eve.alert(
            200,
            20,
            severity=3,
            signature="ET POLICY Curl User-Agent",
            src_endpoint=endpoint("green", "green1"),
            dest_endpoint=endpoint("red", "red2"),
        ),
        eve.alert(300, 30, severity=1, signature="100% match_me"),
    ]


def test_every_alert_filter(store: Store) -> None:
    events = _endpoint_alerts()
    red1, blue1, green_to_red2, percent = (event_id(e) for e in events)
    store.ingest(events)
    assert ids(store) == [percent, green_to_red2, blue1, red1]  # newest first
    assert ids(store, AlertFilter(sids=(100,))) == [blue1, red1]
    assert ids(store, AlertFilter(sids=(100, 300))) == [percent, blue1, red1]
    assert ids(store, AlertFilter(severities=(1,))) == [percent, red1]
    assert ids(store, AlertFilter(severities=(2, 3))) == [green_to_red2, blue1]
    # A namespace or pod matches the inspected endpoint or either side.
    assert ids(store, AlertFilter(namespace="red")) == [green_to_red2, red1]
    assert ids(store, AlertFilter(namespace="green")) == [green_to_red2]
    assert ids(store, AlertFilter(pod="red2")) == [green_to_red2]
    assert ids(store, AlertFilter(pod="blue1")) == [blue1]
    assert ids(store, AlertFilter(pod="red")) == []  # a pod name, not a prefix
    # since is inclusive, until exclusive.
    assert ids(store, AlertFilter(since_us=T0_US + 10_000_000)) == [percent, green_to_red2, blue1]
    assert ids(store, AlertFilter(until_us=T0_US + 10_000_000)) == [red1]
    assert ids(store, AlertFilter(since_us=T0_US + 10_000_000, until_us=T0_US + 30_000_000)) == [
        green_to_red2,
        blue1,
    ]
    # Text: case-insensitive, in signature, addresses, pod names; LIKE's wildcards are literal.
    assert ids(store, AlertFilter(q="curl user")) == [green_to_red2]
    assert ids(store, AlertFilter(q="10.9.9")) == [blue1]
    assert ids(store, AlertFilter(q="GREEN1")) == [green_to_red2]
    assert ids(store, AlertFilter(q="100%")) == [percent]
    assert ids(store, AlertFilter(q="%")) == [percent]
    assert ids(store, AlertFilter(q="_")) == [percent]
    assert ids(store, AlertFilter(q="100_")) == []
    assert ids(store, AlertFilter(sids=(100,), namespace="blue", severities=(2,))) == [blue1]


def test_dismissed_alerts_are_hidden_unless_asked_for(store: Store) -> None:
    first, second = eve.alert(1), eve.alert(2, 1)
    store.ingest([first, second])
    dismissed = store.dismiss(event_id(first))
    assert dismissed is not None and dismissed.dismissed and dismissed.id == event_id(first)
    assert ids(store) == [event_id(second)]
    assert ids(store, AlertFilter(dismissed=True)) == [event_id(second), event_id(first)]
    assert store.dismiss("0" * 32) is None
    # Dismissed stays dismissed when the alert is sent again.
    store.ingest([first])
    assert ids(store) == [event_id(second)]


def test_paging_walks_every_alert_once_newest_first(store: Store) -> None:
    # Pairs of alerts share a timestamp: ties are ordered by id.
    events = [eve.alert(1000 + n, n // 2) for n in range(25)]
    store.ingest(events)
    expected = sorted(events, key=lambda e: (us(e["timestamp"]), event_id(e)), reverse=True)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = store.alerts(AlertFilter(), 10, cursor)
        seen += [a.id for a in page.items]
        pages += 1
        if page.next is None:
            break
        cursor = page.next
    assert pages == 3
    assert seen == [event_id(e) for e in expected]
    # A page that ends exactly at the last alert says there is no next.
    assert store.alerts(AlertFilter(), 25).next is None
    # Filters hold across pages.
    first = store.alerts(AlertFilter(since_us=T0_US + 5_000_000), 4)
    assert first.next is not None
    rest = store.alerts(AlertFilter(since_us=T0_US + 5_000_000), 100, first.next)
    assert len(first.items) + len(rest.items) == 15
    for bad in ("not-a-cursor!", "Zm9v", ""):
        with pytest.raises(CursorError):
            store.alerts(AlertFilter(), 10, bad or "=")


def test_alert_detail_has_the_flow_its_protocol_events_and_the_rule(store: Store) -> None:
    alert = eve.alert(21562, 1, flow_id=77, community_id="1:flow77=")
    other_alert = eve.alert(5, 1, flow_id=78, community_id="1:flow78=")
    events = [
        alert,
        other_alert,
        eve.http(0.5, flow_id=77, community_id="1:flow77=", url="/first"),
        eve.http(0.7, flow_id=77, community_id="1:flow77=", url="/second"),
        eve.http(0.6, flow_id=77, community_id="1:other=", url="/same-id-other-flow"),
        eve.http(0.6, flow_id=78, community_id="1:flow78=", url="/flow78"),
        eve.flow(2, flow_id=77, community_id="1:flow77="),
    ]
    store.ingest(events)
    rules = {(1, 21562): "alert tcp any any -> any any (sid:21562;)"}
    detail = store.alert_detail(event_id(alert), lambda gid, sid: rules.get((gid, sid)))
    assert detail is not None
    assert detail.alert.id == event_id(alert)
    assert detail.flow == events[-1]
    assert [c["http"]["url"] for c in detail.context] == ["/first", "/second"]
    assert detail.rule == "alert tcp any any -> any any (sid:21562;)"
    other = store.alert_detail(event_id(other_alert), lambda gid, sid: None)
    assert other is not None
    assert (other.flow, [c["http"]["url"] for c in other.context], other.rule) == (None, ["/flow78"], None)
    assert store.alert_detail("f" * 32, lambda gid, sid: None) is None


def test_histogram_counts_by_severity_per_bucket(store: Store) -> None:
    store.ingest(
        [
            eve.alert(1, 0, severity=1),
            eve.alert(2, 30, severity=1),
            eve.alert(3, 59.9, severity=3),
            eve.alert(4, 60, severity=4),
            eve.alert(5, 185, severity=2),
            eve.alert(6, 190, severity=9),  # no such severity: not charted
        ]
    )
    buckets = store.histogram(AlertFilter(), 60).buckets
    assert [(b.start, b.counts) for b in buckets] == [
        (eve.at(0), {"1": 2, "2": 0, "3": 1, "4": 0}),
        (eve.at(60), {"1": 0, "2": 0, "3": 0, "4": 1}),
        (eve.at(180), {"1": 0, "2": 1, "3": 0, "4": 0}),
    ]
    filtered = store.histogram(AlertFilter(since_us=T0_US + 60_000_000, severities=(2,)), 3600).buckets
    assert [(b.start, b.counts) for b in filtered] == [(eve.at(0), {"1": 0, "2": 1, "3": 0, "4": 0})]


def test_histogram_floors_times_before_1970(store: Store) -> None:
    event = eve.alert(1)
    event["timestamp"] = "1969-12-31T23:59:30.000000+0000"
    store.ingest([event])
    (bucket,) = store.histogram(AlertFilter(), 60).buckets
    assert bucket.start == "1969-12-31T23:59:00.000000+0000"


def test_flows_filters_and_paging(store: Store) -> None:
    flows = [
        eve.flow(0, flow_id=1, app_proto="http"),
        eve.flow(1, flow_id=2, app_proto="tls", protocol="TLS", application="youtube", src_ip="10.1.1.1"),
        eve.flow(2, flow_id=3, app_proto="dns", protocol="DNS", category="Network"),
    ]
    store.ingest(flows)
    page = store.flows(FlowFilter(), 2)
    assert [f.id for f in page.items] == [event_id(flows[2]), event_id(flows[1])]
    assert page.next is not None
    assert [f.id for f in store.flows(FlowFilter(), 2, page.next).items] == [event_id(flows[0])]
    assert [f.id for f in store.flows(FlowFilter(app_proto="tls"), 10).items] == [event_id(flows[1])]
    assert [f.id for f in store.flows(FlowFilter(q="YouTube"), 10).items] == [event_id(flows[1])]
    assert [f.id for f in store.flows(FlowFilter(q="10.1.1"), 10).items] == [event_id(flows[1])]
    assert [f.id for f in store.flows(FlowFilter(until_us=T0_US + 1), 10).items] == [event_id(flows[0])]
    item = store.flows(FlowFilter(app_proto="dns"), 10).items[0]
    assert item.model_dump() == {**flows[2], "id": event_id(flows[2])}


def test_applications_by_bytes(store: Store) -> None:
    store.ingest(
        [
            eve.flow(0, flow_id=1, app_proto="http", to_server=100, to_client=900),
            eve.flow(1, flow_id=2, app_proto="http", to_server=50, to_client=50),
            eve.flow(2, flow_id=3, app_proto="tls", protocol="TLS", application="youtube", to_server=10**12),
            eve.flow(
                3, flow_id=4, app_proto="dns", protocol="DNS", category="Network", to_server=60, to_client=40
            ),
            eve.flow(
                4,
                flow_id=5,
                app_proto="ssh",
                protocol="SSH",
                category="RemoteAccess",
                to_server=2**62,
                to_client=0,
            ),
            eve.flow(
                5,
                flow_id=6,
                app_proto="ssh",
                protocol="SSH",
                category="RemoteAccess",
                to_server=2**62,
                to_client=0,
            ),
        ]
    )
    result = store.applications(None, None)
    assert [(a.app_proto, a.application, a.category, a.flows, a.bytes) for a in result.applications] == [
        ("ssh", None, "RemoteAccess", 2, 2**63),  # summed past 64 bits without failing
        ("tls", "youtube", "Web", 1, 10**12 + 200),
        ("http", None, "Web", 2, 1100),
        ("dns", None, "Network", 1, 100),
    ]
    assert [(c.category, c.flows, c.bytes) for c in result.categories] == [
        ("RemoteAccess", 2, 2**63),
        ("Web", 3, 10**12 + 1300),
        ("Network", 1, 100),
    ]
    windowed = store.applications(T0_US + 1_000_000, T0_US + 3_000_000)
    assert [(a.app_proto, a.flows) for a in windowed.applications] == [("tls", 1), ("http", 1)]


def test_sensor_reports_and_status(store: Store) -> None:
    store.report_sensor(
        "node-b",
        SensorReport(
            interfaces={"cali1": "up", "cali2": "gone"},
            inspections={"red/dpi-all": ["red/red2", "red/red1"]},
            counters={"packets": 10, "alerts": 2},
            version="0.1.0",
        ),
    )
    store.report_sensor(
        "node-a",
        SensorReport(inspections={"red/dpi-all": [], "blue/dpi": ["blue/b1"]}, counters={"packets": 1}),
    )
    status = store.status()
    assert [(s.node, s.interfaces, s.counters, s.version) for s in status.sensors] == [
        ("node-a", {}, {"packets": 1}, ""),
        ("node-b", {"cali1": "up", "cali2": "gone"}, {"packets": 10, "alerts": 2}, "0.1.0"),
    ]
    assert [
        (i.namespace, i.name, {n: (v.active, v.pods) for n, v in i.nodes.items()}) for i in status.inspections
    ] == [
        ("blue", "dpi", {"node-a": (True, ["blue/b1"])}),
        ("red", "dpi-all", {"node-b": (True, ["red/red1", "red/red2"]), "node-a": (True, [])}),
    ]
    # A report replaces the last one; a sensor silent for over a minute is not applying anything.
    store.report_sensor("node-a", SensorReport(counters={"packets": 5}))
    later = store.status(now=us(store.status().sensors[1].last_seen) + 61_000_000)
    assert [s.counters for s in later.sensors] == [{"packets": 5}, {"packets": 10, "alerts": 2}]
    assert [(i.name, {n: v.active for n, v in i.nodes.items()}) for i in later.inspections] == [
        ("dpi-all", {"node-b": False})
    ]


def _suppress(
    store: Store,
    name: str,
    sids: list[int],
    selector: str = "",
    start: datetime | None = None,
    end: datetime | None = None,
) -> str:
    new = SuppressionIn(name=name, sids=sids, selector=selector, start=start, end=end)
    return store.add_suppression(new).id


def test_suppressions_apply_at_ingestion_and_are_counted(store: Store) -> None:
    red = _suppress(store, "red web", [100, 200], "namespace == 'red' && label.app == 'web'")
    by_ip = _suppress(store, "scanner", [300], "src_ip == '10.9.9.9'")
    events = [
        eve.alert(100, 0, endpoint=endpoint("red", "red1", {"app": "web"})),  # red
        eve.alert(100, 1, endpoint=endpoint("red", "red2", {"app": "db"})),  # label differs
        eve.alert(101, 2, endpoint=endpoint("red", "red1", {"app": "web"})),  # sid not listed
        eve.alert(200, 3, endpoint=endpoint("red", "red3", {"app": "web"})),  # red
        eve.alert(300, 4, src_ip="10.9.9.9"),  # by_ip
        eve.alert(300, 5, src_ip="10.9.9.8"),
        eve.alert(100, 6),  # no endpoint: namespace is absent
    ]
    result = store.ingest(events)
    assert (result.accepted, result.suppressed) == (7, 3)
    assert store.ingest(events).suppressed == 0  # duplicates are not counted again
    hidden = {event_id(events[i]) for i in (0, 3, 4)}
    assert set(ids(store)) == {event_id(e) for e in events} - hidden
    shown = store.alerts(AlertFilter(suppressed=True), 100).items
    assert {a.id: a.suppressed_by for a in shown if a.suppressed_by} == {
        event_id(events[0]): red,
        event_id(events[3]): red,
        event_id(events[4]): by_ip,
    }
    assert {s.name: s.suppressed for s in store.suppressions()} == {"red web": 2, "scanner": 1}


def test_a_suppression_window_bounds_it(store: Store) -> None:
    start = datetime.fromtimestamp(T0 + 10, UTC)
    end = datetime.fromtimestamp(T0 + 20, UTC)
    windowed = _suppress(store, "window", [1], start=start, end=end)
    opened = _suppress(store, "from 30 on", [2], start=datetime.fromtimestamp(T0 + 30, UTC))
    events = [eve.alert(1, s) for s in (9.999, 10, 19.999, 20)] + [eve.alert(2, s) for s in (29, 30, 10**6)]
    store.ingest(events)
    assert [a.suppressed_by for a in reversed(store.alerts(AlertFilter(suppressed=True), 100).items)] == [
        None,
        windowed,
        windowed,
        None,
        None,
        opened,
        opened,
    ]
    (listed_windowed, listed_opened) = store.suppressions()
    assert (listed_windowed.start, listed_windowed.end) == (eve.at(10), eve.at(20))
    assert (listed_opened.start, listed_opened.end, listed_opened.sids) == (eve.at(30), None, [2])


def test_a_new_suppression_covers_stored_alerts_and_deleting_it_shows_them_again(store: Store) -> None:
    events = [eve.alert(5, n, endpoint=endpoint("red" if n % 2 else "blue", f"p{n}")) for n in range(2500)]
    store.ingest(events)
    red_ids = {event_id(e) for n, e in enumerate(events) if n % 2}
    red = _suppress(store, "red", [5], "namespace == 'red'")
    assert {s.id: s.suppressed for s in store.suppressions()} == {red: 1250}
    with store.backend.reading() as s:
        held = {row[0] for row in s.execute("SELECT id FROM alerts WHERE suppressed_by = ?", (red,))}
    assert held == red_ids
    everything = _suppress(store, "all of sid 5", [5])
    # The second takes what the first left.
    assert {s.id: s.suppressed for s in store.suppressions()} == {red: 1250, everything: 1250}
    assert ids(store) == []
    assert store.delete_suppression(red)
    # What red held is matched again: the other suppression covers it.
    assert {s.id: s.suppressed for s in store.suppressions()} == {everything: 2500}
    assert ids(store) == []
    assert store.delete_suppression(everything)
    assert store.suppressions() == []
    assert len(store.alerts(AlertFilter(), 1000, None).items) == 1000
    assert store.row_counts()["alerts"] == 2500
    with store.backend.reading() as s:
        assert s.execute("SELECT COUNT(*) FROM alerts WHERE suppressed_by IS NULL") == [(2500,)]
    assert not store.delete_suppression(everything)


def test_retention_deletes_old_events_and_silent_sensors(store: Store) -> None:
    now = now_us()
    # The tests' clock is T0: events this many seconds after it are 35 days and 1 day old.
    old_s, recent_s = (now - 35 * DAY_US - T0_US) / 1e6, (now - DAY_US - T0_US) / 1e6
    old = [eve.alert(1, old_s), eve.flow(old_s), eve.http(old_s)]
    recent = [eve.alert(1, recent_s), eve.flow(recent_s), eve.http(recent_s)]
    store.ingest(old + recent)
    store.report_sensor("node1", SensorReport())
    assert store.retain(30) == 3
    assert store.row_counts() == {
        "alerts": 1,
        "flows": 1,
        "protocol_events": 1,
        "suppressions": 0,
        "sensors": 1,
    }
    assert ids(store) == [event_id(recent[0])]
    # 31 days on, the recent events are old, and the sensor has been silent past the retention.
    assert store.retain(30, now=now + 31 * DAY_US) == 3
    assert store.row_counts() == dict.fromkeys(TABLES, 0)


def test_retention_in_passes(store: Store) -> None:
    store.ingest([eve.alert(n, 0) for n in range(2345)])
    assert store.retain(1, now=T0_US + 2 * DAY_US) == 2345
    assert store.row_counts()["alerts"] == 0


def test_size_grows_with_what_is_stored(store: Store) -> None:
    before = store.size_bytes()
    store.ingest([eve.alert(n, signature="x" * 500) for n in range(3000)])
    assert store.size_bytes() > before > 0
