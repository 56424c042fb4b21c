"""isdataat, bufferlen, base64_decode and base64_data, as Snort 3's ``ips_isdataat.cc``,
``ips_bufferlen.cc`` and ``ips_base64.cc``."""

from __future__ import annotations

from collections.abc import Iterator

from fathom.rules.errors import RuleError
from fathom.rules.options.base import MatchState, PayloadOption, RuleBody, register
from fathom.rules.options.buffers import BASE64_BUFFER, StickyBuffer
from fathom.rules.options.byte import UsesVariables, VarRef, is_literal, key_value, parse_number, split_args
from fathom.rules.options.ranges import parse_range

# Snort's DECODE_BLEN: the most base64_decode produces.
DECODE_LIMIT = 65535
_B64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_B64_VALUES = {c: i for i, c in enumerate(_B64)} | {ord("="): 0}


class IsDataAt(UsesVariables):
    """isdataat:[!]n|var[, relative]: a byte exists n bytes past the buffer start (or cursor)."""

    def __init__(self, args: str | None) -> None:
        parts = split_args(args or "")
        text = parts[0]
        self.negated = text.startswith("!")
        if self.negated:
            text = text[1:].lstrip()
        if is_literal(text):
            if text.startswith("-") or not text.isdigit():
                raise RuleError(f"unable to parse as byte value {parts[0]}")
            if int(text) > 65535:
                raise RuleError("isdataat offset greater than max IPV4 packet size")
            self.offset = VarRef(int(text))
        elif text:
            self.offset = VarRef(name=text)
        else:
            raise RuleError("needs a length")
        self.relative = False
        for part in parts[1:]:
            if part != "relative":
                raise RuleError(f"unknown argument ({part})")
            self.relative = True

    def references(self) -> Iterator[tuple[str, VarRef]]:
        yield "isdataat offset", self.offset

    def matches(self, data: bytes, pos: int, state: MatchState) -> Iterator[int]:
        at = (pos if self.relative else 0) + self.offset.signed(state)
        if (0 <= at < len(data)) != self.negated:
            yield pos


class BufferLen(PayloadOption):
    """bufferlen:range[, relative]: the buffer's size (or what is left past the cursor)."""

    def __init__(self, args: str | None) -> None:
        parts = split_args(args or "")
        self.range = parse_range(parts[0], 0, 65535)
        self.relative = False
        for part in parts[1:]:
            if part != "relative":
                raise RuleError(f"unknown argument ({part})")
            self.relative = True

    def matches(self, data: bytes, pos: int, state: MatchState) -> Iterator[int]:
        if (len(data) - pos if self.relative else len(data)) in self.range:
            yield pos


class UriLen(BufferLen):
    """urilen:range[,norm|raw] (Snort 2): the length of the normalized or raw URI, which Snort 3
    writes as ``http_uri; bufferlen:range``. Unlike a sticky buffer it leaves the current buffer
    as is."""

    def __init__(self, args: str | None) -> None:
        parts = split_args(args or "")
        super().__init__(parts[0])
        kind = parts[1] if len(parts) > 1 else "norm"
        if kind not in ("norm", "raw") or len(parts) > 2:
            raise RuleError(f"unknown argument ({', '.join(parts[1:])}); use norm or raw")
        self.uri = "http_uri" if kind == "norm" else "http_raw_uri"

    def attach(self, body: RuleBody) -> None:
        self.buffer = self.uri
        body.payload.append(self)


class Base64Decode(PayloadOption):
    """base64_decode[:bytes n][, offset n][, relative]: decode for base64_data."""

    def __init__(self, args: str | None) -> None:
        self.limit = 0
        self.offset = 0
        self.relative = False
        for part in split_args(args or "") if args and args.strip() else ():
            key, value = key_value(part)
            if key == "bytes":
                self.limit = parse_number(value, "bytes", 1, 0xFFFFFFFF)
            elif key == "offset":
                self.offset = parse_number(value, "offset", 0, 0xFFFFFFFF)
            elif key == "relative" and not value:
                self.relative = True
            else:
                raise RuleError(f"unknown argument ({part})")

    def matches(self, data: bytes, pos: int, state: MatchState) -> Iterator[int]:
        state.base64 = None
        start = pos if self.relative else 0
        if self.offset >= len(data) - start:
            return
        encoded = unfold_header(data, start + self.offset)
        if self.limit:
            encoded = encoded[: self.limit]
        decoded = base64_decode(encoded)
        if decoded is not None:
            state.base64 = decoded
            yield pos


def unfold_header(data: bytes, start: int) -> bytes:
    """Snort's sf_unfold_header: drop folding (CR LF + space), stop at the end of the header."""
    out = bytearray()
    folding = 0
    for byte in memoryview(data)[start:]:
        if byte in (0x20, 0x09):
            if folding:
                folding = 0
            else:
                out.append(byte)
        elif byte == 0x0A and folding != 1:
            folding = 1
        elif byte == 0x0D and not folding:
            folding = 2
        elif not folding:
            out.append(byte)
        else:
            break
        if len(out) >= DECODE_LIMIT:
            break
    return bytes(out)


def base64_decode(encoded: bytes) -> bytes | None:
    """Snort's sf_base64decode: skip non-base64 bytes, stop at padding; None for bad padding."""
    out = bytearray()
    quad: list[int] = []
    for byte in encoded:
        if byte not in _B64_VALUES:
            continue
        quad.append(byte)
        if len(quad) < 4:
            continue
        if quad[0] == 0x3D or quad[1] == 0x3D:
            return None
        a, b, c, d = (_B64_VALUES[x] for x in quad)
        out.append(((a << 2) | (b >> 4)) & 0xFF)
        if quad[2] == 0x3D:
            break
        out.append(((b << 4) | (c >> 2)) & 0xFF)
        if quad[3] == 0x3D:
            break
        out.append(((c << 6) | d) & 0xFF)
        if len(out) >= DECODE_LIMIT:
            break
        quad.clear()
    return bytes(out[:DECODE_LIMIT])


class Base64Data(StickyBuffer):
    """base64_data: later options read what base64_decode produced."""

    def __init__(self, args: str | None) -> None:
        if args is not None and args.strip():
            raise RuleError("takes no argument")
        super().__init__(BASE64_BUFFER)

    def attach(self, body: RuleBody) -> None:
        if not any(isinstance(opt, Base64Decode) for opt in body.payload):
            raise RuleError("needs a base64_decode before it")
        super().attach(body)


register("isdataat", IsDataAt)
register("bufferlen", BufferLen)
register("urilen", UriLen)
register("base64_decode", Base64Decode)
register("base64_data", Base64Data)
