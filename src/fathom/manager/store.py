"""The alert store: what the manager keeps and how it is queried, the same over SQLite and
PostgreSQL.

A :class:`Backend` gives sessions (one transaction each) on one database; :class:`Store` holds
every query, written once in the SQL both engines share with ``?`` placeholders. Ingestion is one
transaction per batch: multi-row ``INSERT ... ON CONFLICT (id) DO NOTHING RETURNING id`` tells the
events stored for the first time from the duplicates, so that resending a batch is always safe and
counted. Pages are keyset pages, newest first, on ``(ts, id)``: a cursor is the last row's key.
"""

from __future__ import annotations

import base64
import binascii
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from fathom.manager import rows as R
from fathom.manager.models import (
    INT64_MAX,
    INT64_MIN,
    Alert,
    AlertDetail,
    AlertPage,
    Application,
    Applications,
    Bucket,
    CategoryTotal,
    Flow,
    FlowPage,
    Histogram,
    Inspection,
    InspectionNode,
    Sensor,
    SensorReport,
    Status,
    Suppression,
    SuppressionIn,
)
from fathom.manager.schema import EVENT_TABLES, LATEST, MIGRATIONS, TABLES, VERSION_TABLE
from fathom.manager.suppression import Matcher, Rule, compile_rule
from fathom.manager.times import eve_time, now_us, to_us

DAY_US = 86_400 * 1_000_000
# A sensor that has not reported for this long no longer counts as applying its inspections.
SENSOR_FRESH_US = 60 * 1_000_000
# Suppressions are cached for ingestion; another manager on the same PostgreSQL database may change
# them, so the cache is read again at least this often.
SUPPRESSIONS_TTL_S = 5.0
# Rows read or changed per statement by the passes over many alerts (suppressions, retention).
PASS_ROWS = 1000
CONTEXT_MAX = 200
HISTOGRAM_MAX_BUCKETS = 10_000
APPLICATIONS_MAX = 100
SEVERITIES = ("1", "2", "3", "4")


class StoreError(Exception):
    """The database could not be reached, or could not take the change (locked, disk full): the
    request may succeed later."""


class CursorError(ValueError):
    """A paging cursor that this store did not write."""


class Session(Protocol):
    """One transaction on the database."""

    def execute(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        """Run ``sql`` (``?`` placeholders) and return its rows (none for a statement without)."""
        ...


class Backend(Protocol):
    """Sessions on one database. A session commits when its block ends and rolls back when the
    block raises; a backend raises :class:`StoreError` when the database is unavailable."""

    dialect: str
    # The most placeholders one statement may have.
    max_params: int
    # A statement that serializes migrations between processes, or None where a write session
    # already does.
    migration_lock: str | None

    def reading(self) -> AbstractContextManager[Session]: ...

    def writing(self) -> AbstractContextManager[Session]: ...

    def size_bytes(self) -> int: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class AlertFilter:
    """``dismissed`` and ``suppressed`` include those alerts too; by default they are hidden."""

    sids: tuple[int, ...] = ()
    severities: tuple[int, ...] = ()
    namespace: str | None = None
    pod: str | None = None
    since_us: int | None = None
    until_us: int | None = None
    q: str | None = None
    dismissed: bool = False
    suppressed: bool = False


@dataclass(frozen=True, slots=True)
class FlowFilter:
    namespace: str | None = None
    pod: str | None = None
    since_us: int | None = None
    until_us: int | None = None
    q: str | None = None
    app_proto: str | None = None


@dataclass(slots=True)
class Ingested:
    """What one batch did, with the counts /metrics breaks down."""

    accepted: int = 0
    duplicates: int = 0
    suppressed: int = 0
    rejected: int = 0
    by_type: Counter[str] = field(default_factory=Counter)
    by_severity: Counter[int | None] = field(default_factory=Counter)


def encode_cursor(ts: int, row_id: str) -> str:
    return base64.urlsafe_b64encode(f"{ts}:{row_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        ts, colon, row_id = raw.partition(":")
        if colon and INT64_MIN <= int(ts) <= INT64_MAX:
            return int(ts), row_id
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise CursorError("not a cursor from this API")


class _Where:
    """A WHERE clause built a condition at a time, with its parameters."""

    __slots__ = ("clauses", "params")

    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.params: list[object] = []

    def add(self, clause: str, *params: object) -> None:
        self.clauses.append(clause)
        # Stored text had NUL replaced (rows.text); a filter value is treated alike.
        self.params.extend(p.replace("\x00", "\ufffd") if isinstance(p, str) else p for p in params)

    def any_of(self, columns: Sequence[str], value: object) -> None:
        self.add("(" + " OR ".join(f"{c} = ?" for c in columns) + ")", *([value] * len(columns)))

    def one_of(self, column: str, values: Sequence[object]) -> None:
        self.add(f"{column} IN ({', '.join('?' * len(values))})", *values)

    def contains(self, columns: Sequence[str], needle: str) -> None:
        escaped = needle.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        tests = " OR ".join(f"LOWER({c}) LIKE ? ESCAPE '\\'" for c in columns)
        self.add(f"({tests})", *([pattern] * len(columns)))

    def window(self, since_us: int | None, until_us: int | None) -> None:
        if since_us is not None:
            self.add("ts >= ?", since_us)
        if until_us is not None:
            self.add("ts < ?", until_us)

    def before(self, cursor: str | None) -> None:
        if cursor is not None:
            self.add("(ts, id) < (?, ?)", *decode_cursor(cursor))

    def copy(self) -> _Where:
        other = _Where()
        other.clauses.extend(self.clauses)
        other.params.extend(self.params)
        return other

    def sql(self) -> str:
        return " WHERE " + " AND ".join(self.clauses) if self.clauses else ""


_NAMESPACES = ("namespace", "src_namespace", "dest_namespace")
_PODS = ("pod", "src_pod", "dest_pod")
_ALERT_TEXT = ("signature", "src_ip", "dest_ip", *_PODS)
_FLOW_TEXT = ("src_ip", "dest_ip", "app_proto", "application", *_PODS)


def _alert_where(f: AlertFilter) -> _Where:
    where = _Where()
    if f.sids:
        where.one_of("sid", f.sids)
    if f.severities:
        where.one_of("severity", f.severities)
    if f.namespace is not None:
        where.any_of(_NAMESPACES, f.namespace)
    if f.pod is not None:
        where.any_of(_PODS, f.pod)
    where.window(f.since_us, f.until_us)
    if f.q:
        where.contains(_ALERT_TEXT, f.q)
    if not f.dismissed:
        where.add("dismissed = 0")
    if not f.suppressed:
        where.add("suppressed_by IS NULL")
    return where


def _flow_where(f: FlowFilter) -> _Where:
    where = _Where()
    if f.namespace is not None:
        where.any_of(_NAMESPACES, f.namespace)
    if f.pod is not None:
        where.any_of(_PODS, f.pod)
    if f.app_proto is not None:
        where.add("app_proto = ?", f.app_proto)
    where.window(f.since_us, f.until_us)
    if f.q:
        where.contains(_FLOW_TEXT, f.q)
    return where


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _alert(row: Sequence[Any]) -> Alert:
    """An alert from ``id, dismissed, suppressed_by, event``."""
    row_id, dismissed, suppressed_by, event = row
    return Alert.model_validate(
        {**orjson.loads(event), "id": row_id, "dismissed": bool(dismissed), "suppressed_by": suppressed_by}
    )


_ALERT_FIELDS = "id, dismissed, suppressed_by, event"


def _suppression(row: Sequence[Any]) -> Suppression:
    row_id, name, description, selector, sids, start_ts, end_ts, created_ts, suppressed = row
    return Suppression(
        id=row_id,
        name=name,
        description=description,
        selector=selector,
        sids=orjson.loads(sids),
        start=None if start_ts is None else eve_time(start_ts),
        end=None if end_ts is None else eve_time(end_ts),
        created=eve_time(created_ts),
        suppressed=suppressed,
    )


_SUPPRESSION_FIELDS = "id, name, description, selector, sids, start_ts, end_ts, created_ts, suppressed"


class Store:
    """Every operation of the manager on its database."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._matcher: Matcher | None = None
        self._matcher_loaded = 0.0
        self._insert_sql: dict[tuple[str, int], str] = {}

    # ---------------------------------------------------------------- schema and upkeep

    def migrate(self) -> int:
        """Apply the migrations this database lacks; return the schema version."""
        with self.backend.writing() as s:
            if self.backend.migration_lock is not None:
                s.execute(self.backend.migration_lock)
            s.execute(VERSION_TABLE)
            current = s.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version")[0][0]
            if current > LATEST:
                raise StoreError(f"the database has schema version {current}; this Fathom knows {LATEST}")
            for migration in MIGRATIONS:
                if migration.version <= current:
                    continue
                for statement in migration.statements:
                    s.execute(statement)
                s.execute(
                    "INSERT INTO schema_version (version, name, applied) VALUES (?, ?, ?)",
                    (migration.version, migration.name, eve_time(now_us())),
                )
        return LATEST

    def schema_version(self) -> int:
        with self.backend.reading() as s:
            return int(s.execute("SELECT MAX(version) FROM schema_version")[0][0])

    def retain(self, days: float, now: int | None = None) -> int:
        """Delete events older than ``days`` days, and sensors not heard from in that time; return
        the number of events deleted. Runs in short transactions so that ingestion goes on."""
        cutoff = (now_us() if now is None else now) - int(days * DAY_US)
        deleted = 0
        for table in EVENT_TABLES:
            while True:
                with self.backend.writing() as s:
                    gone = s.execute(
                        f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE ts < ? LIMIT ?) "
                        "RETURNING id",
                        (cutoff, PASS_ROWS),
                    )
                deleted += len(gone)
                if len(gone) < PASS_ROWS:
                    break
        with self.backend.writing() as s:
            s.execute("DELETE FROM sensors WHERE last_seen_ts < ?", (cutoff,))
        return deleted

    def size_bytes(self) -> int:
        return self.backend.size_bytes()

    def row_counts(self) -> dict[str, int]:
        with self.backend.reading() as s:
            return {table: int(s.execute(f"SELECT COUNT(*) FROM {table}")[0][0]) for table in TABLES}

    def close(self) -> None:
        self.backend.close()

    # ---------------------------------------------------------------- ingestion

    def ingest(self, items: Sequence[object]) -> Ingested:
        """Store a batch of posted items in one transaction. Items that are not events are
        rejected one by one; duplicates (already stored, or repeated in the batch) are counted;
        alerts a suppression matches are stored marked with its id."""
        received = now_us()
        result = Ingested()
        batch: dict[str, R.Prepared] = {}
        for item in items:
            prepared = R.prepare(item, received)
            if prepared is None:
                result.rejected += 1
            elif prepared.id in batch:
                result.duplicates += 1
            else:
                batch[prepared.id] = prepared
        matcher = self._current_matcher()
        alerts: list[R.Row] = []
        flows: list[R.Row] = []
        others: list[R.Row] = []
        suppressed_by: dict[str, str] = {}
        # In id order: concurrent batches (PostgreSQL) then lock the rows they share in one order,
        # and cannot deadlock on them.
        for _, p in sorted(batch.items()):
            if p.event_type == "alert":
                by = matcher.match(R.alert_value(p.event, "signature_id"), p.ts, p.event)
                if by is not None:
                    suppressed_by[p.id] = by
                alerts.append(R.alert_row(p, by))
            elif p.event_type == "flow":
                flows.append(R.flow_row(p))
            else:
                others.append(R.protocol_row(p))
        with self.backend.writing() as s:
            stored = self._insert(s, "alerts", R.ALERT_COLUMNS, alerts)
            stored |= self._insert(s, "flows", R.FLOW_COLUMNS, flows)
            stored |= self._insert(s, "protocol_events", R.PROTOCOL_COLUMNS, others)
            counts = Counter(by for eid, by in suppressed_by.items() if eid in stored)
            for suppression_id, count in sorted(counts.items()):
                s.execute(
                    "UPDATE suppressions SET suppressed = suppressed + ? WHERE id = ?",
                    (count, suppression_id),
                )
        result.accepted = len(stored)
        result.duplicates += len(batch) - len(stored)
        result.suppressed = sum(counts.values())
        for eid in stored:
            p = batch[eid]
            result.by_type[p.event_type] += 1
            if p.event_type == "alert":
                result.by_severity[R.alert_value(p.event, "severity")] += 1
        return result

    def _insert(self, s: Session, table: str, columns: Sequence[str], rows: Sequence[R.Row]) -> set[str]:
        """Insert the rows that are new; return their ids."""
        stored: set[str] = set()
        per_statement = max(1, self.backend.max_params // len(columns))
        for chunk in _chunks(rows, per_statement):
            sql = self._insert_statement(table, columns, len(chunk))
            params = [value for row in chunk for value in row]
            stored.update(row[0] for row in s.execute(sql, params))
        return stored

    def _insert_statement(self, table: str, columns: Sequence[str], count: int) -> str:
        sql = self._insert_sql.get((table, count))
        if sql is None:
            values = "(" + ", ".join("?" * len(columns)) + ")"
            sql = (
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join([values] * count)} "
                "ON CONFLICT (id) DO NOTHING RETURNING id"
            )
            if len(self._insert_sql) < 64:  # a few chunk sizes recur: the full one, and the last
                self._insert_sql[(table, count)] = sql
        return sql

    # ---------------------------------------------------------------- alerts

    def alerts(self, f: AlertFilter, limit: int, cursor: str | None = None) -> AlertPage:
        where = _alert_where(f)
        where.before(cursor)
        with self.backend.reading() as s:
            found = s.execute(
                f"SELECT ts, {_ALERT_FIELDS} FROM alerts{where.sql()} ORDER BY ts DESC, id DESC LIMIT ?",
                [*where.params, limit + 1],
            )
        page = found[:limit]
        more = len(found) > limit
        return AlertPage(
            items=[_alert(row[1:]) for row in page],
            next=encode_cursor(page[-1][0], page[-1][1]) if more else None,
        )

    def alert(self, alert_id: str) -> Alert | None:
        with self.backend.reading() as s:
            found = s.execute(f"SELECT {_ALERT_FIELDS} FROM alerts WHERE id = ?", (alert_id,))
        return _alert(found[0]) if found else None

    def alert_detail(self, alert_id: str, rule_text: Callable[[int, int], str | None]) -> AlertDetail | None:
        """The alert, its flow's flow event (the latest, if the flow was reported more than once),
        the protocol events of the flow, and the rule's text from ``rule_text(gid, sid)``."""
        with self.backend.reading() as s:
            found = s.execute(
                f"SELECT {_ALERT_FIELDS}, flow_id, community_id, gid, sid FROM alerts WHERE id = ?",
                (alert_id,),
            )
            if not found:
                return None
            flow_id, community_id, gid, sid = found[0][4:]
            flow: dict[str, Any] | None = None
            context: list[dict[str, Any]] = []
            if flow_id is not None:
                same = _Where()
                same.add("flow_id = ?", flow_id)
                if community_id is not None:
                    same.add("community_id = ?", community_id)
                flows = s.execute(
                    f"SELECT event FROM flows{same.sql()} ORDER BY ts DESC LIMIT 1", same.params
                )
                flow = orjson.loads(flows[0][0]) if flows else None
                context = [
                    orjson.loads(row[0])
                    for row in s.execute(
                        f"SELECT event FROM protocol_events{same.sql()} ORDER BY ts, id LIMIT ?",
                        [*same.params, CONTEXT_MAX],
                    )
                ]
        rule = rule_text(1 if gid is None else gid, sid) if sid is not None else None
        return AlertDetail(alert=_alert(found[0][:4]), flow=flow, context=context, rule=rule)

    def dismiss(self, alert_id: str) -> Alert | None:
        with self.backend.writing() as s:
            found = s.execute(
                f"UPDATE alerts SET dismissed = 1 WHERE id = ? RETURNING {_ALERT_FIELDS}", (alert_id,)
            )
        return _alert(found[0]) if found else None

    def histogram(self, f: AlertFilter, bucket_s: int) -> Histogram:
        """Alerts by severity (1 to 4) per bucket of ``bucket_s`` seconds, the buckets that have
        any, oldest first; the latest :data:`HISTOGRAM_MAX_BUCKETS` of them."""
        where = _alert_where(f)
        where.add("severity BETWEEN 1 AND 4")
        width = bucket_s * 1_000_000
        with self.backend.reading() as s:
            # Both engines' % truncates towards zero: the double remainder floors a ts before 1970 too.
            found = s.execute(
                f"SELECT ts - ((ts % ?) + ?) % ? AS bucket, severity, COUNT(*) FROM alerts{where.sql()} "
                "GROUP BY bucket, severity ORDER BY bucket DESC LIMIT ?",
                [width, width, width, *where.params, HISTOGRAM_MAX_BUCKETS * len(SEVERITIES)],
            )
        buckets: dict[int, dict[str, int]] = {}
        for start, severity, count in found:
            buckets.setdefault(start, dict.fromkeys(SEVERITIES, 0))[str(severity)] += int(count)
        return Histogram(
            buckets=[
                Bucket(start=eve_time(start), counts=counts) for start, counts in sorted(buckets.items())
            ]
        )

    # ---------------------------------------------------------------- flows and applications

    def flows(self, f: FlowFilter, limit: int, cursor: str | None = None) -> FlowPage:
        where = _flow_where(f)
        where.before(cursor)
        with self.backend.reading() as s:
            found = s.execute(
                f"SELECT ts, id, event FROM flows{where.sql()} ORDER BY ts DESC, id DESC LIMIT ?",
                [*where.params, limit + 1],
            )
        page = found[:limit]
        return FlowPage(
            items=[Flow.model_validate({**orjson.loads(event), "id": row_id}) for _, row_id, event in page],
            next=encode_cursor(page[-1][0], page[-1][1]) if len(found) > limit else None,
        )

    def applications(self, since_us: int | None, until_us: int | None) -> Applications:
        """Flows and bytes by application and by category, most bytes first. Bytes are summed as
        doubles: a 64-bit integer sum of what senders report could overflow (SQLite refuses)."""
        where = _Where()
        where.window(since_us, until_us)
        # Ties in the order are broken by the names, NULL first in both engines.
        total = "COUNT(*), SUM(CAST(bytes AS DOUBLE PRECISION))"
        app_names = "app_proto, protocol, application, category"
        with self.backend.reading() as s:
            apps = s.execute(
                f"SELECT {total}, {app_names} FROM flows{where.sql()} GROUP BY {app_names} "
                "ORDER BY 2 DESC, 1 DESC, 3 NULLS FIRST, 4 NULLS FIRST, 5 NULLS FIRST, 6 NULLS FIRST LIMIT ?",
                [*where.params, APPLICATIONS_MAX],
            )
            categories = s.execute(
                f"SELECT {total}, category FROM flows{where.sql()} GROUP BY category "
                "ORDER BY 2 DESC, 1 DESC, 3 NULLS FIRST LIMIT ?",
                [*where.params, APPLICATIONS_MAX],
            )
        return Applications(
            applications=[
                Application(
                    app_proto=app_proto,
                    protocol=protocol,
                    application=application,
                    category=category,
                    flows=int(flows),
                    bytes=int(total_bytes or 0),
                )
                for flows, total_bytes, app_proto, protocol, application, category in apps
            ],
            categories=[
                CategoryTotal(category=category, flows=int(flows), bytes=int(total_bytes or 0))
                for flows, total_bytes, category in categories
            ],
        )

    # ---------------------------------------------------------------- sensors

    def report_sensor(self, node: str, report: SensorReport) -> Sensor:
        seen = now_us()
        stored = report.model_copy(update={"node": node})
        with self.backend.writing() as s:
            s.execute(
                "INSERT INTO sensors (node, last_seen_ts, report) VALUES (?, ?, ?) ON CONFLICT (node) "
                "DO UPDATE SET last_seen_ts = excluded.last_seen_ts, report = excluded.report",
                (node, seen, stored.model_dump_json()),
            )
        return _sensor(node, seen, stored)

    def status(self, now: int | None = None) -> Status:
        """Every sensor's latest report, and each inspection with the nodes that apply it."""
        fresh_after = (now_us() if now is None else now) - SENSOR_FRESH_US
        with self.backend.reading() as s:
            found = s.execute("SELECT node, last_seen_ts, report FROM sensors ORDER BY node")
        sensors: list[Sensor] = []
        inspections: dict[tuple[str, str], Inspection] = {}
        for node, seen, text in found:
            report = SensorReport.model_validate_json(text)
            sensors.append(_sensor(node, seen, report))
            for key, pods in report.inspections.items():
                namespace, _, name = key.rpartition("/")
                inspection = inspections.setdefault(
                    (namespace, name), Inspection(namespace=namespace, name=name, nodes={})
                )
                inspection.nodes[node] = InspectionNode(active=seen >= fresh_after, pods=sorted(pods))
        return Status(sensors=sensors, inspections=[inspections[key] for key in sorted(inspections)])

    # ---------------------------------------------------------------- suppressions

    def suppressions(self) -> list[Suppression]:
        with self.backend.reading() as s:
            found = s.execute(f"SELECT {_SUPPRESSION_FIELDS} FROM suppressions ORDER BY created_ts, id")
        return [_suppression(row) for row in found]

    def add_suppression(self, new: SuppressionIn) -> Suppression:
        """Store a suppression, and apply it to the stored alerts it covers that no suppression
        holds yet: from now on it applies at ingestion."""
        suppression_id = uuid.uuid4().hex
        start = None if new.start is None else to_us(new.start)
        end = None if new.end is None else to_us(new.end)
        sids = sorted(set(new.sids))
        rule = compile_rule(suppression_id, new.selector, sids, start, end)
        with self.backend.writing() as s:
            s.execute(
                f"INSERT INTO suppressions ({_SUPPRESSION_FIELDS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)",
                (
                    suppression_id,
                    new.name,
                    new.description,
                    new.selector,
                    orjson.dumps(sids).decode(),
                    start,
                    end,
                    now_us(),
                ),
            )
            uncovered = _Where()
            uncovered.add("suppressed_by IS NULL")
            uncovered.one_of("sid", sids)
            uncovered.window(start, end)
            self._resuppress(s, uncovered, Matcher([rule]))
            found = s.execute(
                f"SELECT {_SUPPRESSION_FIELDS} FROM suppressions WHERE id = ?", (suppression_id,)
            )
        self._matcher = None
        return _suppression(found[0])

    def delete_suppression(self, suppression_id: str) -> bool:
        """Delete a suppression. The alerts it held are matched again against the others: those
        no other suppression covers are shown again."""
        with self.backend.writing() as s:
            if not s.execute("DELETE FROM suppressions WHERE id = ? RETURNING id", (suppression_id,)):
                return False
            held = _Where()
            held.add("suppressed_by = ?", suppression_id)
            self._resuppress(s, held, Matcher(self._load_rules(s)))
        self._matcher = None
        return True

    @staticmethod
    def _resuppress(s: Session, where: _Where, matcher: Matcher) -> None:
        """Set ``suppressed_by`` anew, by ``matcher``, on the alerts that ``where`` selects, a page
        at a time; count the alerts each suppression gains."""
        after: tuple[int, str] | None = None
        while True:
            page = where.copy()
            if after is not None:
                page.add("(ts, id) > (?, ?)", *after)
            found = s.execute(
                f"SELECT ts, id, sid, event, suppressed_by FROM alerts{page.sql()} ORDER BY ts, id LIMIT ?",
                [*page.params, PASS_ROWS],
            )
            moved: dict[str | None, list[str]] = {}
            for ts, row_id, sid, event, held_by in found:
                by = matcher.match(sid, ts, orjson.loads(event))
                if by != held_by:
                    moved.setdefault(by, []).append(row_id)
            for by, ids in moved.items():
                s.execute(
                    f"UPDATE alerts SET suppressed_by = ? WHERE id IN ({', '.join('?' * len(ids))})",
                    [by, *ids],
                )
                if by is not None:
                    s.execute(
                        "UPDATE suppressions SET suppressed = suppressed + ? WHERE id = ?", (len(ids), by)
                    )
            if len(found) < PASS_ROWS:
                return
            after = (found[-1][0], found[-1][1])

    def _load_rules(self, s: Session) -> list[Rule]:
        found = s.execute(
            "SELECT id, selector, sids, start_ts, end_ts FROM suppressions ORDER BY created_ts, id"
        )
        return [
            compile_rule(row_id, sel, orjson.loads(sids), start, end)
            for row_id, sel, sids, start, end in found
        ]

    def _current_matcher(self) -> Matcher:
        matcher = self._matcher
        if matcher is None or time.monotonic() - self._matcher_loaded > SUPPRESSIONS_TTL_S:
            with self.backend.reading() as s:
                matcher = Matcher(self._load_rules(s))
            self._matcher, self._matcher_loaded = matcher, time.monotonic()
        return matcher


def _sensor(node: str, seen_us: int, report: SensorReport) -> Sensor:
    return Sensor(
        node=node,
        last_seen=eve_time(seen_us),
        interfaces=dict(report.interfaces),
        counters=dict(report.counters),
        version=report.version,
    )
