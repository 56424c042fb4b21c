"""The EVE ``http`` event: one per HTTP transaction, with Suricata's field names, written when
its response completes, or at the end of the flow for a request that got none."""

from __future__ import annotations

from typing import Any

from fathom.apps.http import Transaction, split_host
from fathom.events.eve import FlowIdentity, flow_identity, header_json
from fathom.events.schema import FlowScopedEvent, event_line
from fathom.events.timefmt import eve_timestamp
from fathom.flow.flow import Flow


def _text(value: bytes) -> str:
    # Attacker-controlled bytes: kept as they are where they are UTF-8, escaped where not.
    return value.decode("utf-8", "backslashreplace")


HTTP_RENDERER = "fathom.apps.http_log:render_http"
# An http event as plain values: its renderer, the flow's identity, time, interface name, packet
# number and direction, then the transaction's index, host, URI, user agent, content type,
# referrer, method, version, status, redirect and response body length; the sensor's context.
HttpRecord = tuple[
    str, FlowIdentity, float, str | None, int, bool,
    int, bytes | None, bytes, bytes | None, bytes | None, bytes | None, bytes, bytes, int | None,
    bytes | None, int, dict[str, Any] | None,
]  # fmt: skip


class HttpLogEvent(FlowScopedEvent):
    __slots__ = ("transaction",)
    event_type = "http"

    def __init__(self, flow: Flow, timestamp: float, pcap_cnt: int, transaction: Transaction) -> None:
        super().__init__(flow, timestamp, pcap_cnt)
        self.transaction = transaction

    def record(self) -> HttpRecord:
        tx = self.transaction
        status = tx.status_code
        return (
            HTTP_RENDERER,
            flow_identity(self.flow),
            self.timestamp,
            self.in_iface,
            self.pcap_cnt,
            self.to_server,
            tx.index,
            tx.host,
            tx.uri_raw,
            tx.user_agent,
            tx.content_type,
            tx.request_headers.get(b"referer"),
            tx.method,
            tx.version,
            status,
            None if status is None else tx.response_headers.get(b"location"),
            tx.response_body_len,
            self.context,
        )

    def render(self) -> bytes:
        return render_http(self.record())


def render_http(record: HttpRecord) -> bytes:
    """The EVE line of an http event, with Suricata's fields."""
    (
        _, ident, timestamp, in_iface, pcap_cnt, to_server, tx_id, host, url, user_agent, content_type,
        referer, method, version, status, location, length, context,
    ) = record  # fmt: skip
    http: dict[str, Any] = {}
    host = (host or b"").lower()  # as libhtp normalizes it for Suricata
    if host:
        name, port = split_host(host)
        http["hostname"] = _text(name)
        if port is not None:
            http["http_port"] = port
    http["url"] = _text(url)
    optional = (("http_user_agent", user_agent), ("http_content_type", content_type), ("http_refer", referer))
    http |= {key: _text(value) for key, value in optional if value is not None}
    http["http_method"] = _text(method)
    if version:
        http["protocol"] = _text(version)
    if status is not None:
        http["status"] = status
        if location is not None:
            http["redirect"] = _text(location)
    http["length"] = length
    header = header_json(ident, eve_timestamp(timestamp), "http", in_iface, pcap_cnt, to_server)
    body = {"tx_id": tx_id, "http": http}
    return event_line(header, body | context if context else body)
