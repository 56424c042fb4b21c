"""The manager's schema, as numbered migrations that run the same on SQLite and PostgreSQL.

Each migration is applied once, in order, and recorded in ``schema_version``; a store opened on
an older database brings it up to date, and one opened on a newer database (written by a later
Fathom) refuses it rather than guess. The SQL sticks to what both engines accept alike: TEXT,
INTEGER and BIGINT columns, times as BIGINT microseconds since the epoch (UTC) so that ranges,
ordering and histogram buckets are integer arithmetic everywhere, and flags as 0/1 integers.
Whole events are kept as JSON text: PostgreSQL's JSONB refuses ``\\u0000``, which packets can put
in any string.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


VERSION_TABLE = """CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied TEXT NOT NULL
)"""

# The columns every stored event shares, first in each event table.
_EVENT_COLUMNS = """
    id TEXT PRIMARY KEY,
    ts BIGINT NOT NULL,
    src_ip TEXT,
    src_port BIGINT,
    dest_ip TEXT,
    dest_port BIGINT,
    proto TEXT,
    flow_id BIGINT,
    community_id TEXT,
    app_proto TEXT,
    namespace TEXT,
    pod TEXT,
    node TEXT,
    src_namespace TEXT,
    src_pod TEXT,
    dest_namespace TEXT,
    dest_pod TEXT,"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "alerts, flows, protocol events, suppressions, sensors",
        (
            f"""CREATE TABLE alerts ({_EVENT_COLUMNS}
    gid BIGINT,
    sid BIGINT,
    rev BIGINT,
    severity BIGINT,
    signature TEXT,
    category TEXT,
    dismissed INTEGER NOT NULL DEFAULT 0,
    suppressed_by TEXT,
    event TEXT NOT NULL
)""",
            "CREATE INDEX alerts_ts ON alerts (ts, id)",
            "CREATE INDEX alerts_sid ON alerts (sid, ts)",
            "CREATE INDEX alerts_flow ON alerts (flow_id)",
            "CREATE INDEX alerts_suppressed_by ON alerts (suppressed_by)",
            f"""CREATE TABLE flows ({_EVENT_COLUMNS}
    protocol TEXT,
    application TEXT,
    category TEXT,
    pkts_toserver BIGINT,
    pkts_toclient BIGINT,
    bytes_toserver BIGINT,
    bytes_toclient BIGINT,
    bytes BIGINT NOT NULL DEFAULT 0,
    start_ts BIGINT,
    state TEXT,
    alerted INTEGER NOT NULL DEFAULT 0,
    event TEXT NOT NULL
)""",
            "CREATE INDEX flows_ts ON flows (ts, id)",
            "CREATE INDEX flows_flow ON flows (flow_id)",
            """CREATE TABLE protocol_events (
    id TEXT PRIMARY KEY,
    ts BIGINT NOT NULL,
    event_type TEXT NOT NULL,
    flow_id BIGINT,
    community_id TEXT,
    event TEXT NOT NULL
)""",
            "CREATE INDEX protocol_events_flow ON protocol_events (flow_id, ts)",
            "CREATE INDEX protocol_events_ts ON protocol_events (ts)",
            """CREATE TABLE suppressions (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    selector TEXT NOT NULL,
    sids TEXT NOT NULL,
    start_ts BIGINT,
    end_ts BIGINT,
    created_ts BIGINT NOT NULL,
    suppressed BIGINT NOT NULL DEFAULT 0
)""",
            """CREATE TABLE sensors (
    node TEXT PRIMARY KEY,
    last_seen_ts BIGINT NOT NULL,
    report TEXT NOT NULL
)""",
        ),
    ),
)

LATEST = MIGRATIONS[-1].version

# Tables whose rows a retention pass deletes by age, and the tables /metrics counts.
EVENT_TABLES = ("alerts", "flows", "protocol_events")
TABLES = (*EVENT_TABLES, "suppressions", "sensors")
