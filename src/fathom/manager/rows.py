"""From EVE events, as posted, to table rows.

Everything here comes from packets or from whoever holds a token, so nothing is trusted: a value of
the wrong type becomes NULL, integers outside 64 bits become NULL, text columns are cut to
:data:`MAX_TEXT` characters with NUL replaced (PostgreSQL's TEXT refuses it). The whole event is
kept as it came, as JSON text, and served from there.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

import orjson

from fathom.manager.models import INT64_MAX, INT64_MIN
from fathom.manager.times import parse_us

MAX_TEXT = 1024
# Suricata's event types are short lowercase words (http, fileinfo, bittorrent_dht, ...).
_EVENT_TYPE = re.compile(r"[A-Za-z0-9_.-]{1,64}\Z")

Row = tuple[object, ...]

# The columns every event table shares (schema._EVENT_COLUMNS), in that order.
COMMON_COLUMNS = (
    "id",
    "ts",
    "src_ip",
    "src_port",
    "dest_ip",
    "dest_port",
    "proto",
    "flow_id",
    "community_id",
    "app_proto",
    "namespace",
    "pod",
    "node",
    "src_namespace",
    "src_pod",
    "dest_namespace",
    "dest_pod",
)
ALERT_COLUMNS = (
    *COMMON_COLUMNS,
    "gid",
    "sid",
    "rev",
    "severity",
    "signature",
    "category",
    "suppressed_by",
    "event",
)
FLOW_COLUMNS = (
    *COMMON_COLUMNS,
    "protocol",
    "application",
    "category",
    "pkts_toserver",
    "pkts_toclient",
    "bytes_toserver",
    "bytes_toclient",
    "bytes",
    "start_ts",
    "state",
    "alerted",
    "event",
)
PROTOCOL_COLUMNS = ("id", "ts", "event_type", "flow_id", "community_id", "event")


class Prepared:
    """One accepted item: its id, type, time and JSON text."""

    __slots__ = ("event", "event_type", "id", "text", "ts")

    def __init__(self, event: dict[str, Any], event_type: str, event_id: str, ts: int, text: str) -> None:
        self.event = event
        self.event_type = event_type
        self.id = event_id
        self.ts = ts
        self.text = text


def event_id(event: object) -> str:
    """The contract's id: sha256 of the canonical JSON (sorted keys), first 32 hex digits. Raises
    TypeError for what orjson cannot write (nesting past its limit)."""
    return hashlib.sha256(orjson.dumps(event, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]


def prepare(item: object, received_us: int) -> Prepared | None:
    """The item as an event to store, or None when it is to be rejected. An event without a
    readable timestamp is kept, at the time it was received."""
    if not isinstance(item, dict):
        return None
    event_type = item.get("event_type")
    if not isinstance(event_type, str) or _EVENT_TYPE.match(event_type) is None:
        return None
    try:
        eid = event_id(item)
        text = orjson.dumps(item).decode()
    except TypeError:
        return None
    ts = parse_us(item.get("timestamp"))
    return Prepared(item, event_type, eid, received_us if ts is None else ts, text)


def text(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    return value[:MAX_TEXT].replace("\x00", "\ufffd")


def integer(value: object) -> int | None:
    # bool is an int to Python, not to JSON.
    if type(value) is not int or not INT64_MIN <= value <= INT64_MAX:
        return None
    return value


def _object(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def common_row(p: Prepared) -> Row:
    event = p.event
    endpoint = _object(event.get("endpoint"))
    src = _object(event.get("src_endpoint"))
    dest = _object(event.get("dest_endpoint"))
    return (
        p.id,
        p.ts,
        text(event.get("src_ip")),
        integer(event.get("src_port")),
        text(event.get("dest_ip")),
        integer(event.get("dest_port")),
        text(event.get("proto")),
        integer(event.get("flow_id")),
        text(event.get("community_id")),
        text(event.get("app_proto")),
        text(endpoint.get("namespace")),
        text(endpoint.get("pod")),
        text(endpoint.get("node")),
        text(src.get("namespace")),
        text(src.get("pod")),
        text(dest.get("namespace")),
        text(dest.get("pod")),
    )


def alert_value(event: Mapping[str, Any], key: str) -> int | None:
    """An integer field of the event's ``alert`` object (``signature_id``, ``severity``)."""
    return integer(_object(event.get("alert")).get(key))


def alert_row(p: Prepared, suppressed_by: str | None) -> Row:
    alert = _object(p.event.get("alert"))
    return (
        *common_row(p),
        integer(alert.get("gid")),
        integer(alert.get("signature_id")),
        integer(alert.get("rev")),
        integer(alert.get("severity")),
        text(alert.get("signature")),
        text(alert.get("category")),
        suppressed_by,
        p.text,
    )


def flow_row(p: Prepared) -> Row:
    app = _object(p.event.get("app"))
    flow = _object(p.event.get("flow"))
    to_server = integer(flow.get("bytes_toserver"))
    to_client = integer(flow.get("bytes_toclient"))
    return (
        *common_row(p),
        text(app.get("protocol")),
        text(app.get("application")),
        text(app.get("category")),
        integer(flow.get("pkts_toserver")),
        integer(flow.get("pkts_toclient")),
        to_server,
        to_client,
        max(INT64_MIN, min(INT64_MAX, (to_server or 0) + (to_client or 0))),
        parse_us(flow.get("start")),
        text(flow.get("state")),
        1 if flow.get("alerted") is True else 0,
        p.text,
    )


def protocol_row(p: Prepared) -> Row:
    event = p.event
    return (
        p.id,
        p.ts,
        p.event_type,
        integer(event.get("flow_id")),
        text(event.get("community_id")),
        p.text,
    )
