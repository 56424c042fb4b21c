"""The EVE ``http`` event: one per HTTP transaction, with Suricata's field names, written when
its response completes, or at the end of the flow for a request that got none."""

from __future__ import annotations

from typing import Any

from fathom.apps.http import Transaction
from fathom.events.schema import FlowScopedEvent
from fathom.flow.flow import Flow


def _text(value: bytes) -> str:
    # Attacker-controlled bytes: kept as they are where they are UTF-8, escaped where not.
    return value.decode("utf-8", "backslashreplace")


class HttpLogEvent(FlowScopedEvent):
    __slots__ = ("transaction",)
    event_type = "http"

    def __init__(self, flow: Flow, timestamp: float, pcap_cnt: int, transaction: Transaction) -> None:
        super().__init__(flow, timestamp, pcap_cnt)
        self.transaction = transaction

    def body(self) -> dict[str, Any]:
        tx = self.transaction
        http: dict[str, Any] = {}
        host = (tx.host or b"").lower()  # as libhtp normalizes it for Suricata
        if host:
            name, colon, port = host.rpartition(b":") if not host.endswith(b"]") else (b"", b"", b"")
            if colon and port.isdigit() and name:
                http["hostname"], http["http_port"] = _text(name), int(port)
            else:
                http["hostname"] = _text(host)
        http["url"] = _text(tx.uri_raw)
        optional = (
            ("http_user_agent", tx.user_agent),
            ("http_content_type", tx.content_type),
            ("http_refer", tx.request_headers.get(b"referer")),
        )
        http |= {key: _text(value) for key, value in optional if value is not None}
        http["http_method"] = _text(tx.method)
        if tx.version:
            http["protocol"] = _text(tx.version)
        if tx.status_code is not None:
            http["status"] = tx.status_code
            location = tx.response_headers.get(b"location")
            if location is not None:
                http["redirect"] = _text(location)
        http["length"] = tx.response_body_len
        return {"tx_id": tx.index, "http": http}
