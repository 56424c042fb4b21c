"""HTTP field normalization as Snort 3's http_inspect does it with its default settings.

URIs: every ``%hh`` is decoded, ``%%`` becomes ``%``, 2- and 3-byte UTF-8 sequences that were
percent-encoded reduce to one byte (0xFF when the code point is above 0xFF), a ``%`` that decoding
produced is decoded once more (``iis_double_decode``), backslash becomes slash, plus becomes space,
and the path alone is simplified (``//``, ``/./``, ``/../``). Headers: folded lines are unfolded and
values trimmed; Cookie and Set-Cookie stay out of the header buffer and get their own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_HEX = rb"[0-9A-Fa-f]"
_CONT = rb"%([89AaBb]" + _HEX + rb")"
_PERCENT = re.compile(
    rb"%([CcDd]"
    + _HEX
    + rb")"
    + _CONT  # two-byte UTF-8
    + rb"|%([Ee]"
    + _HEX
    + rb")"
    + _CONT
    + _CONT  # three-byte UTF-8
    + rb"|%("
    + _HEX
    + rb"{2})"
    + rb"|%%"
)
_SECOND_PASS = re.compile(rb"%(" + _HEX + rb"{2})")
_SUBSTITUTE = bytes.maketrans(b"\\+", b"/ ")
_FOLD = re.compile(rb"\r?\n[ \t]+")
_WS = b" \t"


def _reduce(code_point: int) -> bytes:
    return bytes((code_point if code_point <= 0xFF else 0xFF,))


def _decode_one(m: re.Match[bytes]) -> bytes:
    if m.group(6) is not None:
        return bytes((int(m.group(6), 16),))
    if m.group(1) is not None:
        return _reduce(((int(m.group(1), 16) & 0x1F) << 6) | (int(m.group(2), 16) & 0x3F))
    if m.group(3) is not None:
        hi, mid, lo = (int(m.group(i), 16) for i in (3, 4, 5))
        return _reduce(((hi & 0x0F) << 12) | ((mid & 0x3F) << 6) | (lo & 0x3F))
    return b"%"


def _hex_byte(m: re.Match[bytes]) -> bytes:
    return bytes((int(m.group(1), 16),))


def decode_percent(data: bytes) -> bytes:
    """Snort's character clean-up: percent, UTF-8 and double decoding."""
    if b"%" not in data:
        return data
    once = _PERCENT.sub(_decode_one, data)
    return _SECOND_PASS.sub(_hex_byte, once) if b"%" in once else once


def clean_path(path: bytes) -> bytes:
    """Simplify a path that starts with ``/``: drop empty and ``.`` segments, let ``..`` remove the
    previous directory, and keep a ``..`` that climbs above the root (``/..`` becomes ``/../``)."""
    segments = path[1:].split(b"/")
    out: list[bytes] = []
    for seg in segments:
        if seg in (b"", b"."):
            continue
        if seg == b".." and out and out[-1] != b"..":
            out.pop()
        else:
            out.append(seg)
    trailing = segments[-1] in (b"", b".", b"..")
    return b"/" + b"/".join(out) + (b"/" if trailing and out else b"")


def normalize_component(data: bytes, is_path: bool) -> bytes:
    """One URI part as Snort's UriNormalizer leaves it."""
    cleaned = decode_percent(data).translate(_SUBSTITUTE)
    if is_path and cleaned.startswith(b"/"):
        return clean_path(cleaned)
    return cleaned


@dataclass(frozen=True, slots=True)
class Uri:
    """A request target split into Snort's URI parts, each part normalized; ``None`` when absent.
    ``classic`` is Snort's ``http_uri`` buffer: path, ``?query`` and ``#fragment``."""

    scheme: bytes | None
    host: bytes | None
    port: bytes | None
    path: bytes | None
    query: bytes | None
    fragment: bytes | None
    classic: bytes


def _split_authority(authority: bytes) -> tuple[bytes, bytes | None]:
    colon = authority.rfind(b":")
    if colon < 0 or authority.rfind(b"]") > colon:
        return authority, None
    return authority[:colon], authority[colon + 1 :]


def parse_uri(raw: bytes) -> Uri:
    """Split ``raw`` the way Snort does: ``*``, absolute path, absolute URI or authority form."""
    scheme = host = port = None
    rest = raw
    if not raw.startswith(b"/"):
        sep = raw.find(b"://")
        if sep > 0:
            scheme = raw[:sep]
            after = raw[sep + 3 :]
            slash = after.find(b"/")
            authority, rest = (after, b"") if slash < 0 else (after[:slash], after[slash:])
            host, port = _split_authority(authority)
        elif raw != b"*":
            host, port = _split_authority(raw)
            rest = b""
        else:
            return Uri(None, None, None, None, None, None, raw)
    path = rest
    query: bytes | None = None
    fragment: bytes | None = None
    hash_at = rest.find(b"#")
    if hash_at >= 0:
        path, fragment = rest[:hash_at], rest[hash_at + 1 :]
    q_at = path.find(b"?")
    if q_at >= 0:
        path, query = path[:q_at], path[q_at + 1 :]
    norm_path = normalize_component(path, True) if path else None
    norm_query = normalize_component(query, False) if query is not None else None
    norm_fragment = normalize_component(fragment, False) if fragment is not None else None
    parts = [norm_path or b""]
    if norm_query is not None:
        parts.append(b"?" + norm_query)
    if norm_fragment is not None:
        parts.append(b"#" + norm_fragment)
    classic = b"".join(parts) or raw
    norm_host = decode_percent(host) if host is not None else None
    return Uri(scheme, norm_host, port, norm_path, norm_query, norm_fragment, classic)


def header_value(raw: bytes) -> bytes:
    """A field value with folded continuation lines unfolded and outer whitespace trimmed."""
    if b"\n" in raw:
        raw = _FOLD.sub(b" ", raw)
    return raw.strip(_WS)


def true_ip(fields: list[tuple[bytes, bytes]]) -> bytes | None:
    """Snort's http_true_ip: X-Forwarded-For, else True-Client-IP; the last address of the list."""
    for wanted in (b"x-forwarded-for", b"true-client-ip"):
        for name, value in fields:
            if name.lower() == wanted:
                last = re.split(rb"[ ,]", header_value(value))[-1]
                return last or None
    return None
