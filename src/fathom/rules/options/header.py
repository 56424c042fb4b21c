"""Tests on packet headers and flow state: flow, dsize, flags, fragbits, ttl, tos, id, seq, ack,
window, itype, icode, icmp_id, icmp_seq and ip_proto, as Snort 3's ``ips_*.cc`` evaluate them.

Numeric tests share Snort's range syntax (:mod:`fathom.rules.options.ranges`).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from fathom.decode.packet import PROTO_ICMP, PROTO_ICMPV6, PROTO_NAMES, PROTO_TCP
from fathom.flow.flow import STATE_CLOSED, STATE_CLOSING, STATE_ESTABLISHED
from fathom.rules.errors import RuleError
from fathom.rules.options.base import RuleBody, Test, register
from fathom.rules.options.ranges import parse_number, parse_range

if TYPE_CHECKING:
    from fathom.decode.packet import Packet
    from fathom.flow.flow import Flow

MAX32 = 0xFFFFFFFF

# ---------------------------------------------------------------------------------------------
# numeric header fields

_U16 = struct.Struct("!H")
# ICMP(v6) echo request and reply: the only types whose header carries an id and a sequence.
_ECHO_TYPES = {PROTO_ICMP: (0, 8), PROTO_ICMPV6: (128, 129)}


def _tcp(read: Callable[[Packet], int]) -> Callable[[Packet], int | None]:
    return lambda pkt: read(pkt) if pkt.proto == PROTO_TCP else None


def _icmp(pkt: Packet) -> bool:
    return pkt.proto == PROTO_ICMP or pkt.proto == PROTO_ICMPV6


def _echo_field(offset: int) -> Callable[[Packet], int | None]:
    """The id (offset 0) or sequence (offset 2) after the ICMP type, code and checksum, which is
    where the decoder puts the payload."""

    def read(pkt: Packet) -> int | None:
        if not _icmp(pkt) or pkt.icmp_type not in _ECHO_TYPES[pkt.proto] or pkt.payload_len < 4:
            return None
        return int(_U16.unpack_from(pkt.buf, pkt.payload_off + offset)[0])

    return read


@dataclass(frozen=True)
class _Field:
    high: int
    read: Callable[[Packet], int | None]


# Each keyword's largest value and how to read it; None when the packet lacks the header.
FIELDS: dict[str, _Field] = {
    "dsize": _Field(0xFFFF, lambda pkt: pkt.payload_len),
    "ttl": _Field(0xFF, lambda pkt: pkt.ttl),
    "tos": _Field(0xFF, lambda pkt: pkt.ip_tos),
    "id": _Field(0xFFFF, lambda pkt: pkt.ip_id),
    "seq": _Field(MAX32, _tcp(lambda pkt: pkt.seq)),
    "ack": _Field(MAX32, _tcp(lambda pkt: pkt.ack)),
    "window": _Field(0xFFFF, _tcp(lambda pkt: pkt.window)),
    "itype": _Field(0xFF, lambda pkt: pkt.icmp_type if _icmp(pkt) else None),
    "icode": _Field(0xFF, lambda pkt: pkt.icmp_code if _icmp(pkt) else None),
    "icmp_id": _Field(0xFFFF, _echo_field(0)),
    "icmp_seq": _Field(0xFFFF, _echo_field(2)),
}


class RangeTest(Test):
    """A header field compared with a range (dsize:<56, ttl:>220, itype:8, ...)."""

    def __init__(self, keyword: str, text: str | None) -> None:
        field = FIELDS[keyword]
        if not text or not text.strip():
            raise RuleError("needs a value or range")
        self.keyword = keyword
        self.range = parse_range(text, 0, field.high)
        self._read = field.read

    # The reader is found again by keyword: functions do not go into a rule cache.
    def __getstate__(self) -> dict[str, object]:
        return {"keyword": self.keyword, "range": self.range}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._read = FIELDS[self.keyword].read

    def test(self, pkt: Packet, flow: Flow, to_server: bool) -> bool:
        value = self._read(pkt)
        return value is not None and value in self.range


# ---------------------------------------------------------------------------------------------
# flags and fragbits

_TCP_FLAG_BITS = {"F": 0x01, "S": 0x02, "R": 0x04, "P": 0x08, "A": 0x10, "U": 0x20, "C": 0x80, "1": 0x80}
_TCP_FLAG_BITS |= {"E": 0x40, "2": 0x40}


class FlagsTest(Test):
    """``flags:[!|*|+]<FSRPAUCE12 or 0>[,<mask>]``. Without a modifier exactly these flags are set
    (the masked ones ignored); ``+`` all of them, ``*`` any of them, ``!`` none of them. ``1`` and
    ``2`` are the old names of CWR and ECE; ``0`` means no flag."""

    def __init__(self, text: str | None) -> None:
        test, comma, mask = (text or "").partition(",")
        test = test.strip()
        if not test:
            raise RuleError("flags missing")
        self.mode = ""
        self.flags = 0
        for char in test:
            if char in "!*+":
                self.mode = char
            elif char == "0":
                self.flags = 0
            else:
                self.flags |= self._bit(char)
        if comma and not mask.strip():
            raise RuleError("mask flags missing")
        mask_bits = 0
        for char in mask.strip():
            mask_bits |= self._bit(char)
        self.keep = 0xFF ^ mask_bits

    @staticmethod
    def _bit(char: str) -> int:
        bit = _TCP_FLAG_BITS.get(char.upper())
        if bit is None:
            raise RuleError(f"bad TCP flag {char!r}; use FSRPAUCE12, 0, and the modifiers ! * +")
        return bit

    def test(self, pkt: Packet, flow: Flow, to_server: bool) -> bool:
        if pkt.proto != PROTO_TCP:
            return False
        present = pkt.tcp_flags & self.keep
        if self.mode == "+":
            return present & self.flags == self.flags
        if self.mode == "*":
            return bool(present & self.flags)
        if self.mode == "!":
            return not present & self.flags
        return present == self.flags


_FRAG_BITS = {"R": 0x8000, "D": 0x4000, "M": 0x2000}


class FragbitsTest(Test):
    """``fragbits:[!|*|+]<DMR>``: the IP reserved, don't-fragment and more-fragments bits. Without a
    modifier exactly these bits are set; ``!`` none of them. As in Snort 3's ips_fragbits.cc, ``+``
    and ``*`` both match when any of them is set."""

    def __init__(self, text: str | None) -> None:
        self.mode = ""
        self.bits = 0
        for char in (text or "").replace(" ", ""):
            if char in "!*+":
                self.mode = char
            elif char.upper() in _FRAG_BITS:
                self.bits |= _FRAG_BITS[char.upper()]
            else:
                raise RuleError(f"bad fragbit {char!r}; use RDM and the modifiers ! * +")
        if not text or not text.strip():
            raise RuleError("no fragment bits given")

    def test(self, pkt: Packet, flow: Flow, to_server: bool) -> bool:
        present = pkt.ip_frag & 0xE000
        if self.mode == "!":
            return not present & self.bits
        if self.mode:
            return bool(present & self.bits)
        return present == self.bits


# ---------------------------------------------------------------------------------------------
# ip_proto

_PROTO_NUMBERS = {name.lower(): number for number, name in PROTO_NAMES.items()}
_PROTO_NUMBERS |= {"ip": 0, "ipv6-icmp": PROTO_ICMPV6, "icmp6": PROTO_ICMPV6, "ipip": 4, "ipv6": 41}


class IpProtoTest(Test):
    """``ip_proto:[!|<|>]<number or name>``: the protocol after the IP headers (and extension
    headers), compared as Snort 3's ips_ip_proto.cc does."""

    def __init__(self, text: str | None) -> None:
        text = (text or "").strip()
        self.op = text[:1] if text[:1] in ("!", "<", ">") else "="
        name = (text[1:] if self.op != "=" else text).strip()
        if not name:
            raise RuleError("needs a protocol")
        if name.isdigit():
            self.proto = parse_number(name, 0, 255)
        elif name.lower() in _PROTO_NUMBERS:
            self.proto = _PROTO_NUMBERS[name.lower()]
        else:
            raise RuleError(f"unknown protocol {name!r}")

    def test(self, pkt: Packet, flow: Flow, to_server: bool) -> bool:
        if self.op == "!":
            return pkt.proto != self.proto
        if self.op == "<":
            return pkt.proto < self.proto
        if self.op == ">":
            return pkt.proto > self.proto
        return pkt.proto == self.proto


# ---------------------------------------------------------------------------------------------
# flow

_FLOW_WORDS = frozenset(
    (
        "to_server",
        "from_client",
        "to_client",
        "from_server",
        "established",
        "not_established",
        "stateless",
        "no_stream",
        "only_stream",
        "no_frag",
        "only_frag",
    )
)
# Pairs that cannot be combined, with Snort's reason.
_FLOW_CONFLICTS = (
    ("to_server", "to_client", "can't use both to_server and to_client"),
    ("no_stream", "only_stream", "can't use no_stream and only_stream"),
    ("no_frag", "only_frag", "can't use no_frag and only_frag"),
    ("stateless", "to_server", "can't use stateless with a direction"),
    ("stateless", "to_client", "can't use stateless with a direction"),
    ("stateless", "established", "can't use established and stateless"),
    ("stateless", "not_established", "can't use not_established and stateless"),
    ("established", "not_established", "can't use established and not_established"),
)
_SYNONYMS = {"from_client": "to_server", "from_server": "to_client"}


class FlowTest(Test):
    """``flow:`` direction, session state and reassembly.

    ``established`` is Snort's PKT_STREAM_EST: the flow reached fathom's established state (TCP:
    the three-way handshake completed, or both sides talked after a SYN; other protocols: the
    server answered) and has not been reset or fully closed. A TCP flow picked up mid-stream is
    established from its first packet, as with Snort's default (stream_tcp ``require_3whs`` off)
    and Suricata's ``stream.midstream``. ``not_established`` is the opposite.

    A PDU of reassembled stream data (``pkt.rebuilt``) is established once its flow was: Snort
    flushes a stream's last PDU when the FIN that closes it is acknowledged. ``only_stream`` holds
    for PDUs only and ``no_stream`` for packets from the wire only. ``only_frag``/``no_frag`` look
    at whether the packet was reassembled from IP fragments.
    """

    def __init__(self, text: str | None) -> None:
        words = [word.strip() for word in (text or "").split(",")]
        for word in words:
            if word not in _FLOW_WORDS:
                raise RuleError(f"unknown flow option {word!r}")
        self.words = frozenset(_SYNONYMS.get(word, word) for word in words)
        for first, second, reason in _FLOW_CONFLICTS:
            if first in self.words and second in self.words:
                raise RuleError(reason)

    def attach(self, body: RuleBody) -> None:
        super().attach(body)

    @staticmethod
    def established(pkt: Packet, flow: Flow) -> bool:
        return STATE_ESTABLISHED <= flow.state <= (STATE_CLOSED if pkt.rebuilt else STATE_CLOSING)

    def test(self, pkt: Packet, flow: Flow, to_server: bool) -> bool:
        words = self.words
        if "established" in words and not self.established(pkt, flow):
            return False
        if "not_established" in words and self.established(pkt, flow):
            return False
        if "only_stream" in words and not pkt.rebuilt:
            return False
        if "no_stream" in words and pkt.rebuilt:
            return False
        if "to_server" in words and not to_server:
            return False
        if "to_client" in words and to_server:
            return False
        defragged = bool(pkt.ip_frag & 0x3FFF)
        if "only_frag" in words and not defragged:
            return False
        return not ("no_frag" in words and defragged)


register("flow", FlowTest)
register("flags", FlagsTest)
register("fragbits", FragbitsTest)
register("ip_proto", IpProtoTest)
for _keyword in FIELDS:
    register(_keyword, partial(RangeTest, _keyword))
