"""The rule buffers of one HTTP message section, by the names rule options read.

Snort 3 inspects an HTTP transaction section by section: the request headers, the request body,
the response headers, the response body. Each section offers the buffers known by then. Header
buffers are the request's in the request sections and the response's in the response ones.
"""

from __future__ import annotations

from collections.abc import Callable

from fathom.apps.http import Headers, Transaction
from fathom.apps.http_normalize import decode_percent

# The sections, in the order they complete.
REQUEST_HEADERS = "request_headers"
REQUEST_BODY = "request_body"
RESPONSE_HEADERS = "response_headers"
RESPONSE_BODY = "response_body"

# The section whose completion makes a buffer available (header buffers come with both).
BUFFER_SECTION = {
    "http_uri": REQUEST_HEADERS,
    "http_raw_uri": REQUEST_HEADERS,
    "http_method": REQUEST_HEADERS,
    "http_version": REQUEST_HEADERS,
    "http_true_ip": REQUEST_HEADERS,
    "http_header": REQUEST_HEADERS,
    "http_raw_header": REQUEST_HEADERS,
    "http_cookie": REQUEST_HEADERS,
    "http_raw_cookie": REQUEST_HEADERS,
    "http_client_body": REQUEST_BODY,
    "http_stat_code": RESPONSE_HEADERS,
    "http_stat_msg": RESPONSE_HEADERS,
    "file_data": RESPONSE_BODY,
}


def buffer_base(name: str) -> str:
    """``http_uri:path`` and ``http_header:user-agent`` read parts of ``http_uri``/``http_header``."""
    return name.partition(":")[0]


def section_buffers(tx: Transaction, section: str) -> Callable[[str], bytes | None]:
    """The buffer lookup for ``section`` of ``tx``; None for a buffer the section does not have."""
    response = section in (RESPONSE_HEADERS, RESPONSE_BODY)
    headers = tx.response_headers if response else tx.request_headers
    known = _request(tx) | (
        {"http_stat_code": str(tx.status_code or "").encode(), "http_stat_msg": tx.status_msg}
        if response
        else {}
    )
    known |= _headers(headers)
    # A body section is also packet data to the rules on it, as Snort's body PDUs are; the
    # header sections are not.
    if section == REQUEST_BODY:
        # file_data is the message body in either direction, as in Snort 3.
        known["file_data"] = known["pkt_data"] = known["raw_data"] = tx.client_body
        # Snort's http_client_body has its characters cleaned up, as the headers do.
        known["http_client_body"] = decode_percent(tx.client_body)
    if section == RESPONSE_BODY:
        known["file_data"] = known["pkt_data"] = known["raw_data"] = tx.file_data

    def lookup(name: str) -> bytes | None:
        found = known.get(name)
        if found is not None:
            return found
        base, _, part = name.partition(":")
        if base in ("http_header", "http_raw_header") and part:
            return headers.get(part.encode())
        if base in ("http_uri", "http_raw_uri") and part and tx.uri_parts is not None:
            value: bytes | None = getattr(tx.uri_parts, part, None)
            return value
        return None

    return lookup


def _request(tx: Transaction) -> dict[str, bytes]:
    found = {
        "http_uri": tx.uri,
        "http_raw_uri": tx.uri_raw,
        "http_method": tx.method,
        "http_version": tx.version,
    }
    true_ip = tx.true_ip
    if true_ip is not None:
        found["http_true_ip"] = true_ip
    return found


def _headers(headers: Headers) -> dict[str, bytes]:
    return {
        "http_header": headers.normalized,
        "http_raw_header": headers.raw,
        "http_cookie": headers.cookie,
        "http_raw_cookie": headers.cookie_raw,
    }
