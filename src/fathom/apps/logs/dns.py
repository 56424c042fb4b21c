"""EVE ``dns`` and ``mdns`` events: one per DNS message, as Suricata 8 writes them.

The wire format is RFC 1035's (section 4: header, question, resource records, name compression;
4.2.2: the two-byte length before each message over TCP), read as Suricata reads it
(``rust/src/dns/parser.rs``): the same name limits, the same records decoded, the same tolerance
of a bad authority or additional section. ``dns`` events follow Suricata's version 3 DNS log
(``rust/src/dns/log.rs``, both answer formats, "detailed" and "grouped", as by default); ``mdns``
events follow its mDNS log (``rust/src/mdns/log.rs``), which names each record's data by its type.

Suricata logs every record; here a section logs at most :data:`MAX_SECTION_RECORDS` records, and a
record at most :data:`MAX_RDATA_ITEMS` TXT strings or EDNS options. What a section leaves out is
counted in ``<section>_cut`` (e.g. ``"answers_cut": 36``), a member only written when non-zero.
"""

from __future__ import annotations

import struct
from typing import Any, NamedTuple

from fathom.apps.logs.base import LogBody, LogParser

_HEADER = struct.Struct("!6H")  # id, flags, question, answer, authority and additional counts
_U16 = struct.Struct("!H")
_QUESTION_TAIL = struct.Struct("!HH")  # type, class
_RECORD_TAIL = struct.Struct("!HHIH")  # type, class, TTL, data length
_SOA_TAIL = struct.Struct("!5I")  # serial, refresh, retry, expire, minimum
_SRV_HEAD = struct.Struct("!3H")  # priority, weight, port
_OPTION_HEAD = struct.Struct("!HH")  # code, length

# Suricata's bound on a name's text (dnsmasq's): a longer one is cut there and flagged truncated.
MAX_NAME_LEN = 1025
# Labels and pointers followed in one name: the bound on compression loops. Past it, a name that
# followed a pointer ends there (truncated); one that did not is malformed, as in Suricata.
MAX_NAME_STEPS = 255
# Records logged per section, and TXT strings or EDNS options logged per record.
MAX_SECTION_RECORDS = 64
MAX_RDATA_ITEMS = 64
# Over TCP a message is at most what its two-byte length can say: each direction holds at most a
# length and the message it says.
MAX_STREAM_HELD = 2 + 0xFFFF

_QR, _AA, _TC, _RD, _RA, _Z, _AD, _CD = 0x8000, 0x0400, 0x0200, 0x0100, 0x0080, 0x0040, 0x0020, 0x0010
# The header bits Suricata's DNS log writes as members, when set, in its order.
_DNS_FLAG_MEMBERS = (("qr", _QR), ("aa", _AA), ("tc", _TC), ("rd", _RD), ("ra", _RA), ("z", _Z))
# The header bits its mDNS log lists in "flags".
_MDNS_FLAG_NAMES = (("aa", _AA), ("tc", _TC), ("rd", _RD), ("ra", _RA), ("z", _Z), ("ad", _AD), ("cd", _CD))

# Suricata's record type names (DNSRecordType); any other type is written as its number.
_RRTYPE_NAMES = {
    1: "A", 2: "NS", 3: "MD", 4: "MF", 5: "CNAME", 6: "SOA", 7: "MB", 8: "MG", 9: "MR", 10: "NULL",
    11: "WKS", 12: "PTR", 13: "HINFO", 14: "MINFO", 15: "MX", 16: "TXT", 17: "RP", 18: "AFSDB",
    19: "X25", 20: "ISDN", 21: "RT", 22: "NSAP", 23: "NSAPPTR", 24: "SIG", 25: "KEY", 26: "PX",
    27: "GPOS", 28: "AAAA", 29: "LOC", 30: "NXT", 33: "SRV", 34: "ATMA", 35: "NAPTR", 36: "KX",
    37: "CERT", 38: "A6", 39: "DNAME", 41: "OPT", 42: "APL", 43: "DS", 44: "SSHFP", 45: "IPSECKEY",
    46: "RRSIG", 47: "NSEC", 48: "DNSKEY", 49: "DHCID", 50: "NSEC3", 51: "NSEC3PARAM", 52: "TLSA",
    55: "HIP", 59: "CDS", 60: "CDNSKEY", 65: "HTTPS", 99: "SPF", 249: "TKEY", 250: "TSIG",
    254: "MAILA", 255: "ANY", 256: "URI",
}  # fmt: skip
# Its names of the header's four-bit response codes (DNSRcode); 11 to 15 are written as numbers.
_RCODE_NAMES = (
    "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET",
    "NXRRSET", "NOTAUTH", "NOTZONE",
)  # fmt: skip

_A, _NS, _CNAME, _SOA, _NULL, _PTR, _MX, _TXT, _AAAA, _SRV, _OPT, _SSHFP = (
    1, 2, 5, 6, 10, 12, 15, 16, 28, 33, 41, 44,
)  # fmt: skip


class Name(NamedTuple):
    text: str
    # Longer than MAX_NAME_LEN, or past MAX_NAME_STEPS after a pointer: Suricata's "_truncated".
    truncated: bool


class Query(NamedTuple):
    name: Name
    rrtype: int


class Record(NamedTuple):
    """A resource record, its data decoded as Suricata decodes it. ``kind`` says what ``value``
    is: "addr" (an address's text), "name" (a :class:`Name`), "txt" (its strings), "raw" (the
    data as text: NULL records, and the types Suricata does not decode), "soa", "srv", "sshfp"
    (the object Suricata writes) or "opt" (the EDNS options' objects)."""

    name: Name
    rrtype: int
    ttl: int
    kind: str
    value: Any


class Section(NamedTuple):
    records: list[Record]
    # Records past MAX_SECTION_RECORDS, and strings or options past MAX_RDATA_ITEMS, not kept.
    cut: int


class Message(NamedTuple):
    ident: int
    flags: int
    queries: list[Query]
    queries_cut: int
    answers: Section
    authorities: Section
    additionals: Section


_NO_RECORDS = Section([], 0)


def text(raw: bytes) -> str:
    """Bytes as Suricata's JSON builder writes them: UTF-8 when they are, else ASCII as is and
    every other byte as ``\\xhh``."""
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return "".join(chr(b) if b < 0x80 else f"\\x{b:02x}" for b in raw)


def read_name(msg: bytes, off: int, end: int) -> tuple[Name, int] | None:
    """The name at ``off``, read up to ``end`` (the end of the record data it is in, or of the
    message), and the offset after it; None when malformed. A pointer may lead anywhere in the
    message. As in Suricata, a name may end with the bytes it may be read from, without its
    terminating zero."""
    pos, limit = off, end
    after: int | None = None  # where the name ends in place, once a pointer was followed
    out = bytearray()
    truncated = False
    steps = 0
    while pos < limit:
        length = msg[pos]
        if length == 0:
            pos += 1
            break
        if length < 0x40:
            if pos + 1 + length > limit:
                return None
            if not truncated:
                if out:
                    out += b"."
                out += msg[pos + 1 : pos + 1 + length]
            pos += 1 + length
        elif length >= 0xC0:
            if pos + 2 > limit:
                return None
            target = _U16.unpack_from(msg, pos)[0] & 0x3FFF
            if target > len(msg):
                return None
            if target == pos and limit == len(msg):
                # A pointer to itself: the name ends here once it is known where it ends in place.
                if after is None:
                    return None
                break
            if after is None:
                after = pos + 2
            pos, limit = target, len(msg)
        else:
            return None  # the extended label types (0x40, 0x80) are not in use
        steps += 1
        if steps > MAX_NAME_STEPS:
            if after is None:
                return None
            truncated = True
            break
        if len(out) > MAX_NAME_LEN:
            del out[MAX_NAME_LEN:]
            truncated = True
            if after is not None:
                break
    return Name(text(bytes(out)), truncated), pos if after is None else after


# A record's data decoded: its kind (see Record), its value, and how many TXT strings or EDNS
# options it holds past MAX_RDATA_ITEMS.
_Rdata = tuple[str, Any, int]


def _address(msg: bytes, off: int, end: int) -> _Rdata:
    """An A or AAAA record's address as Suricata writes it: an IPv6 one as eight groups of four
    hex digits, uncompressed; data of another length as the empty string."""
    raw = msg[off:end]
    if len(raw) == 4:
        return "addr", ".".join(map(str, raw)), 0
    if len(raw) == 16:
        return "addr", ":".join(raw[i : i + 2].hex() for i in range(0, 16, 2)), 0
    return "addr", "", 0


def _host(msg: bytes, off: int, end: int) -> _Rdata | None:
    """The name of a CNAME, NS or PTR record."""
    name = read_name(msg, off, end)
    return None if name is None else ("name", name[0], 0)


def _exchange(msg: bytes, off: int, end: int) -> _Rdata | None:
    """An MX record's name, after the preference Suricata does not log."""
    return None if off + 2 > end else _host(msg, off + 2, end)


def _txt(msg: bytes, off: int, end: int) -> _Rdata | None:
    """A TXT record's character-strings."""
    strings: list[str] = []
    more = 0
    while off < end:
        length = msg[off]
        if off + 1 + length > end:
            return None
        if len(strings) < MAX_RDATA_ITEMS:
            strings.append(text(msg[off + 1 : off + 1 + length]))
        else:
            more += 1
        off += 1 + length
    return "txt", strings, more


def _options(msg: bytes, off: int, end: int) -> _Rdata | None:
    """An OPT record's options, each its code and its data in hex."""
    options: list[dict[str, Any]] = []
    more = 0
    while off < end:
        if off + _OPTION_HEAD.size > end:
            return None
        code, length = _OPTION_HEAD.unpack_from(msg, off)
        off += _OPTION_HEAD.size
        if off + length > end:
            return None
        if len(options) < MAX_RDATA_ITEMS:
            options.append({"code": code, "data": msg[off : off + length].hex()})
        else:
            more += 1
        off += length
    return "opt", options, more


def _soa(msg: bytes, off: int, end: int) -> _Rdata | None:
    mname = read_name(msg, off, end)
    if mname is None:
        return None
    rname = read_name(msg, mname[1], end)
    if rname is None or rname[1] + _SOA_TAIL.size > end:
        return None
    serial, refresh, retry, expire, minimum = _SOA_TAIL.unpack_from(msg, rname[1])
    soa: dict[str, Any] = {"mname": mname[0].text}
    if mname[0].truncated:
        soa["mname_truncated"] = True
    soa["rname"] = rname[0].text
    if rname[0].truncated:
        soa["rname_truncated"] = True
    soa |= {"serial": serial, "refresh": refresh, "retry": retry, "expire": expire, "minimum": minimum}
    return "soa", soa, 0


def _srv(msg: bytes, off: int, end: int) -> _Rdata | None:
    if off + _SRV_HEAD.size > end:
        return None
    priority, weight, port = _SRV_HEAD.unpack_from(msg, off)
    target = read_name(msg, off + _SRV_HEAD.size, end)
    if target is None:
        return None
    return "srv", {"priority": priority, "weight": weight, "port": port, "name": target[0].text}, 0


def _sshfp(msg: bytes, off: int, end: int) -> _Rdata | None:
    if off + 2 > end:
        return None
    fingerprint = ":".join(f"{b:02x}" for b in msg[off + 2 : end])
    return "sshfp", {"fingerprint": fingerprint, "algo": msg[off], "type": msg[off + 1]}, 0


# The types whose data Suricata decodes (dns_parse_rdata); any other's is kept as text ("raw").
_DECODERS = {
    _A: _address, _AAAA: _address, _CNAME: _host, _NS: _host, _PTR: _host, _MX: _exchange,
    _TXT: _txt, _OPT: _options, _SOA: _soa, _SRV: _srv, _SSHFP: _sshfp,
}  # fmt: skip


def _rdata(msg: bytes, rrtype: int, off: int, end: int) -> _Rdata | None:
    """The data at ``off`` up to ``end`` of a record of type ``rrtype``; None when malformed."""
    decode = _DECODERS.get(rrtype)
    return ("raw", text(msg[off:end]), 0) if decode is None else decode(msg, off, end)


def _questions(msg: bytes, off: int, count: int) -> tuple[list[Query], int] | None:
    """The first MAX_SECTION_RECORDS of ``count`` questions at ``off``, and the offset after them."""
    queries: list[Query] = []
    for _ in range(count):
        name = read_name(msg, off, len(msg))
        if name is None or name[1] + _QUESTION_TAIL.size > len(msg):
            return None
        off = name[1]
        rrtype = _U16.unpack_from(msg, off)[0]
        off += _QUESTION_TAIL.size
        if len(queries) < MAX_SECTION_RECORDS:
            queries.append(Query(name[0], rrtype))
    return queries, off


def _records(msg: bytes, off: int, count: int) -> tuple[Section, int] | None:
    """A section of ``count`` records at ``off`` and the offset after it; None when malformed.
    Every record is decoded, kept or not: as in Suricata, one bad record makes the section bad."""
    records: list[Record] = []
    cut = 0
    for _ in range(count):
        name = read_name(msg, off, len(msg))
        if name is None or name[1] + _RECORD_TAIL.size > len(msg):
            return None
        rrtype, _, ttl, length = _RECORD_TAIL.unpack_from(msg, name[1])
        start = name[1] + _RECORD_TAIL.size
        off = start + length
        if off > len(msg):
            return None
        data = _rdata(msg, rrtype, start, off)
        if data is None:
            return None
        kind, value, more = data
        if len(records) < MAX_SECTION_RECORDS:
            records.append(Record(name[0], rrtype, ttl, kind, value))
            cut += more
        else:
            cut += 1
    return Section(records, cut), off


def _valid_header(flags: int, counts: tuple[int, int, int, int], length: int) -> bool:
    """Suricata's check of a header against the message's length (probe_header_validity)."""
    records = sum(counts)
    if 2 * records > length or (records == 0 and length > _HEADER.size):
        return False
    return bool(flags & _QR) or counts[0] > 0


def parse_message(msg: bytes) -> Message | str:
    """The message, or why it cannot be logged. As in Suricata, a bad authority section drops it
    and the additional one, and a bad additional section drops that one only."""
    if len(msg) < _HEADER.size:
        return "malformed_header"
    ident, flags, questions, answers, authorities, additionals = _HEADER.unpack_from(msg)
    if not _valid_header(flags, (questions, answers, authorities, additionals), len(msg)):
        return "malformed_header"
    read = _questions(msg, _HEADER.size, questions)
    if read is None:
        return "malformed_question"
    queries, off = read
    section = _records(msg, off, answers)
    if section is None:
        return "malformed_answer"
    answered, off = section
    authority = _records(msg, off, authorities)
    additional = None if authority is None else _records(msg, authority[1], additionals)
    return Message(
        ident,
        flags,
        queries,
        questions - len(queries),
        answered,
        _NO_RECORDS if authority is None else authority[0],
        _NO_RECORDS if additional is None else additional[0],
    )


def rrtype_name(rrtype: int) -> str:
    return _RRTYPE_NAMES.get(rrtype) or str(rrtype)


def rcode_name(flags: int) -> str:
    rcode = flags & 0xF
    return _RCODE_NAMES[rcode] if rcode < len(_RCODE_NAMES) else str(rcode)


def _sections(message: Message) -> tuple[tuple[str, Section], ...]:
    return (
        ("answers", message.answers),
        ("authorities", message.authorities),
        ("additionals", message.additionals),
    )


def _logged(section: str, records: list[Record]) -> list[Record]:
    """The records a log writes of a section: of the additional one, all but the OPT records
    without options (the usual EDNS header), which Suricata leaves out."""
    if section != "additionals":
        return records
    return [record for record in records if not (record.kind == "opt" and not record.value)]


def _query_entry(name: Name, rrtype: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"rrname": name.text, "rrtype": rrtype}
    if name.truncated:
        entry["rrname_truncated"] = True
    return entry


def _dns_entries(record: Record) -> list[dict[str, Any]]:
    """A record's entries in a DNS log section: one, or one per string of a TXT record."""
    entry: dict[str, Any] = {"rrname": record.name.text}
    if record.name.truncated:
        entry["rrname_truncated"] = True
    entry |= {"rrtype": rrtype_name(record.rrtype), "ttl": record.ttl}
    kind, value = record.kind, record.value
    if kind == "txt":
        return [entry | {"rdata": string} for string in value]
    if kind == "addr" or (kind == "raw" and record.rrtype == _NULL):
        entry["rdata"] = value
    elif kind == "name":
        entry["rdata"] = value.text
        if value.truncated:
            entry["rdata_truncated"] = True
    elif kind in ("soa", "srv", "sshfp", "opt"):
        entry[kind] = value
    return [entry]


def _grouped(records: list[Record]) -> dict[str, list[Any]]:
    """The DNS log's "grouped" answers: each type's data, for the types Suricata groups."""
    grouped: dict[str, list[Any]] = {}
    for record in records:
        kind, value = record.kind, record.value
        if kind == "opt" or (kind == "raw" and record.rrtype != _NULL):
            continue
        values = grouped.setdefault(rrtype_name(record.rrtype), [])
        if kind == "txt":
            values.extend(value)
        else:
            values.append(value.text if kind == "name" else value)
    return grouped


def dns_body(message: Message, response: bool, tx_id: int) -> LogBody:
    """A ``dns`` event's body (Suricata's log_json, version 3)."""
    flags = message.flags
    dns: dict[str, Any] = {
        "version": 3,
        "type": "response" if response else "request",
        "tx_id": tx_id,
        "id": message.ident,
        "flags": f"{flags:x}",
    }
    for member, bit in _DNS_FLAG_MEMBERS:
        if flags & bit:
            dns[member] = True
    dns["opcode"] = (flags >> 11) & 0xF
    dns["rcode"] = rcode_name(flags)
    if message.queries:
        dns["queries"] = [_query_entry(query.name, rrtype_name(query.rrtype)) for query in message.queries]
    if message.queries_cut:
        dns["queries_cut"] = message.queries_cut
    for name, section in _sections(message):
        records = _logged(name, section.records)
        if records:
            dns[name] = [entry for record in records for entry in _dns_entries(record)]
            if name == "answers":
                dns["grouped"] = _grouped(records)
        if section.cut:
            dns[f"{name}_cut"] = section.cut
    return {"dns": dns}


def _mdns_entry(record: Record) -> dict[str, Any]:
    """A record in an mDNS log section: its data under its type's name, in lower case."""
    entry: dict[str, Any] = {"rrname": record.name.text}
    if record.name.truncated:
        entry["rrname_truncated"] = True
    key = rrtype_name(record.rrtype).lower()
    if record.kind == "name":
        entry[key] = record.value.text
        if record.value.truncated:
            entry["rdata_truncated"] = True
    else:
        entry[key] = record.value
    return entry


def mdns_body(message: Message) -> LogBody:
    """An ``mdns`` event's body (Suricata's mDNS log_json): its type is the header's."""
    flags = message.flags
    mdns: dict[str, Any] = {"type": "response" if flags & _QR else "request", "id": message.ident}
    set_flags = [name for name, bit in _MDNS_FLAG_NAMES if flags & bit]
    if set_flags:
        mdns["flags"] = set_flags
    mdns["opcode"] = (flags >> 11) & 0xF
    mdns["rcode"] = flags & 0xF
    if message.queries:
        mdns["queries"] = [_query_entry(q.name, rrtype_name(q.rrtype).lower()) for q in message.queries]
    if message.queries_cut:
        mdns["queries_cut"] = message.queries_cut
    for name, section in _sections(message):
        records = _logged(name, section.records)
        if records:
            mdns[name] = [_mdns_entry(record) for record in records]
        if section.cut:
            mdns[f"{name}_cut"] = section.cut
    return {"mdns": mdns}


class DnsLog(LogParser):
    """A DNS flow's ``dns`` events: one per message, a request or a response by the direction it
    went. As Suricata's detection does, the first message says which direction is the client's:
    a response first makes its direction the server's. A message the client sends must be a
    query. Over TCP (``stream``) each message follows its two-byte length; one of length zero is
    skipped, as Suricata skips it."""

    __slots__ = ("_held", "_request_side", "_tx_id")
    event_type = "dns"

    def __init__(self) -> None:
        super().__init__()
        # Over TCP, each direction's bytes of an incomplete message (at most MAX_STREAM_HELD): to
        # the client, to the server.
        self._held = (bytearray(), bytearray())
        # The direction (its to_server) the client's messages go, once the first message said.
        self._request_side: bool | None = None
        # Suricata's transaction id: messages logged so far, both directions.
        self._tx_id = 0

    def feed(self, to_server: bool, data: bytes) -> list[LogBody]:
        if self.done:
            return []
        if not self.stream:
            return self._message(to_server, data)
        held = self._held[to_server]
        bodies: list[LogBody] = []
        while data and not self.done:
            room = MAX_STREAM_HELD - len(held)
            held += data[:room]
            data = data[room:]
            bodies += self._framed(to_server, held)
        return bodies

    def _framed(self, to_server: bool, held: bytearray) -> list[LogBody]:
        """Log the complete messages at the start of ``held`` and drop them: what it keeps is
        shorter than a length and the message it says, so less than MAX_STREAM_HELD."""
        bodies: list[LogBody] = []
        off = 0
        while len(held) - off >= 2:
            end = off + 2 + _U16.unpack_from(held, off)[0]
            if end > len(held):
                break
            if end > off + 2:
                bodies += self._message(to_server, bytes(held[off + 2 : end]))
                if self.done:
                    break
            off = end
        del held[:off]
        return bodies

    def _message(self, to_server: bool, msg: bytes) -> list[LogBody]:
        message = parse_message(msg)
        if isinstance(message, str):
            return self.fail(message)
        if self._request_side is None:
            # A query goes to the server, a response to the client.
            self._request_side = to_server != bool(message.flags & _QR)
        response = to_server != self._request_side
        if not response and message.flags & _QR:
            return self.fail("not_request")
        body = dns_body(message, response, self._tx_id)
        self._tx_id += 1
        return [body]

    def end(self) -> list[LogBody]:
        if not self.done and any(self._held):
            return self.fail("truncated_message")
        return []


class MdnsLog(LogParser):
    """An mDNS flow's ``mdns`` events: one per datagram's message, whichever way it went (mDNS
    runs over UDP only)."""

    __slots__ = ()
    event_type = "mdns"

    def feed(self, to_server: bool, data: bytes) -> list[LogBody]:
        if self.done:
            return []
        message = parse_message(data)
        if isinstance(message, str):
            return self.fail(message)
        return [mdns_body(message)]
