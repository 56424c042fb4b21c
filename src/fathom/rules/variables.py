"""Rule header variables and the address and port sets they stand for.

Syntax as Snort 3 (``parse_ip.cc``, ``parse_ports.cc``) and Snort 2 read it: ``any``; an IPv4 or
IPv6 address or CIDR block; a port, a range ``a:b``, ``:b`` or ``a:``; a list ``[a,b,...]``
(commas or spaces between items, lists nest); negation ``!x`` and ``![...]``; a variable ``$X``.
In a list, the set is every non-negated item (or everything, when all items are negated) less
every negated item.

Sets compile to sorted, disjoint intervals per address family, so a membership test is one
binary search, and ``is_any`` is a plain flag.
"""

from __future__ import annotations

import ipaddress
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping

from fathom.rules.errors import RuleError

_HTTP_PORTS = (
    "80 81 311 383 591 593 901 1220 1414 1741 1830 2301 2381 2809 3037 3128 3702 4343 4848 5250 6988 "
    "7000 7001 7144 7145 7510 7777 7779 8000 8008 8014 8028 8080 8085 8088 8090 8118 8123 8180 8181 "
    "8243 8280 8300 8800 8888 8899 9000 9060 9080 9090 9091 9443 9999 11371 34443 34444 41080 50002 "
    "55555"
)

# Snort 3's lua/snort_defaults.lua, plus the Snort 2 snort.conf variables it dropped
# (SHELLCODE_PORTS, GTP_PORTS) that older rules still use.
DEFAULT_VARIABLES: Mapping[str, str] = {
    "HOME_NET": "any",
    "EXTERNAL_NET": "any",
    **{
        f"{name}_SERVERS": "$HOME_NET"
        for name in ("DNS", "FTP", "HTTP", "SIP", "SMTP", "SQL", "SSH", "TELNET")
    },
    "HTTP_PORTS": "[" + _HTTP_PORTS.replace(" ", ",") + "]",
    "FTP_PORTS": "[21,2100,3535]",
    "MAIL_PORTS": "[110,143]",
    "ORACLE_PORTS": "1024:",
    "SIP_PORTS": "[5060,5061,5600]",
    "SSH_PORTS": "22",
    "FILE_DATA_PORTS": "[$HTTP_PORTS,110,143]",
    "SHELLCODE_PORTS": "!80",
    "GTP_PORTS": "[2123,2152,3386]",
}

# Closed intervals (low, high), sorted and disjoint.
Intervals = tuple[tuple[int, int], ...]

_MAX_V4 = (1 << 32) - 1
_MAX_V6 = (1 << 128) - 1
_MAX_PORT = 65535


def _normalize(intervals: Iterable[tuple[int, int]]) -> Intervals:
    merged: list[tuple[int, int]] = []
    for low, high in sorted(intervals):
        if merged and low <= merged[-1][1] + 1:
            if high > merged[-1][1]:
                merged[-1] = (merged[-1][0], high)
        else:
            merged.append((low, high))
    return tuple(merged)


def _complement(intervals: Intervals, top: int) -> Intervals:
    gaps: list[tuple[int, int]] = []
    start = 0
    for low, high in intervals:
        if low > start:
            gaps.append((start, low - 1))
        start = high + 1
    if start <= top:
        gaps.append((start, top))
    return tuple(gaps)


def _combine(included: list[Intervals] | None, excluded: list[Intervals], top: int) -> Intervals:
    """The union of ``included`` (everything when None) less the union of ``excluded``."""
    base = ((0, top),) if included is None else _normalize(iv for part in included for iv in part)
    if not excluded:
        return base
    removed = _normalize(iv for part in excluded for iv in part)
    # A less B is the complement of (not A, or B).
    return _complement(_normalize((*_complement(base, top), *removed)), top)


def _contains(intervals: Intervals, lows: tuple[int, ...], value: int) -> bool:
    index = bisect_right(lows, value) - 1
    return index >= 0 and value <= intervals[index][1]


class AddressSet:
    """A compiled set of IPv4 and IPv6 addresses."""

    __slots__ = ("_v4", "_v4_lows", "_v6", "_v6_lows", "is_any")

    def __init__(self, v4: Intervals, v6: Intervals) -> None:
        self._v4, self._v6 = v4, v6
        self._v4_lows = tuple(low for low, _ in v4)
        self._v6_lows = tuple(low for low, _ in v6)
        self.is_any = v4 == ((0, _MAX_V4),) and v6 == ((0, _MAX_V6),)

    def contains(self, addr: bytes) -> bool:
        """Whether a packed address (4 bytes IPv4, 16 bytes IPv6) is in the set."""
        if self.is_any:
            return True
        value = int.from_bytes(addr, "big")
        if len(addr) == 4:
            return _contains(self._v4, self._v4_lows, value)
        return _contains(self._v6, self._v6_lows, value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AddressSet) and (self._v4, self._v6) == (other._v4, other._v6)

    def __hash__(self) -> int:
        return hash((self._v4, self._v6))

    def __repr__(self) -> str:
        return "AddressSet(any)" if self.is_any else f"AddressSet(v4={self._v4}, v6={self._v6})"


class PortSet:
    """A compiled set of TCP/UDP ports."""

    __slots__ = ("_intervals", "_lows", "is_any")

    def __init__(self, intervals: Intervals) -> None:
        self._intervals = intervals
        self._lows = tuple(low for low, _ in intervals)
        self.is_any = intervals == ((0, _MAX_PORT),)

    def contains(self, port: int) -> bool:
        return self.is_any or _contains(self._intervals, self._lows, port)

    def listed(self, limit: int) -> list[int] | None:
        """Every port of the set, or None when there are more than ``limit``."""
        if sum(high - low + 1 for low, high in self._intervals) > limit:
            return None
        return [port for low, high in self._intervals for port in range(low, high + 1)]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PortSet) and self._intervals == other._intervals

    def __hash__(self) -> int:
        return hash(self._intervals)

    def __repr__(self) -> str:
        return "PortSet(any)" if self.is_any else f"PortSet({self._intervals})"


ANY_ADDRESS = AddressSet(((0, _MAX_V4),), ((0, _MAX_V6),))
ANY_PORT = PortSet(((0, _MAX_PORT),))


def _split_items(text: str) -> list[str]:
    """Split a list body at top-level commas and spaces."""
    items: list[str] = []
    depth = 0
    start = 0
    for index, char in enumerate(text):
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
            if depth < 0:
                raise RuleError(f"unbalanced ']' in {text!r}")
        elif depth == 0 and (char == "," or char.isspace()):
            items.append(text[start:index])
            start = index + 1
    if depth:
        raise RuleError(f"unbalanced '[' in {text!r}")
    items.append(text[start:])
    return [item for item in items if item]


# An address set per family, or a port set: a tuple of interval tuples.
_Value = tuple[Intervals, ...]


class Variables:
    """Variable definitions, and the sets that header text stands for under them. Compiled sets
    are cached, so a rule header repeating ``$HOME_NET`` costs one dictionary look-up."""

    def __init__(self, overrides: Mapping[str, str] | None = None) -> None:
        self._values = dict(DEFAULT_VARIABLES)
        self._values.update(overrides or {})
        self._addresses: dict[str, AddressSet] = {}
        self._ports: dict[str, PortSet] = {}

    def define(self, name: str, value: str) -> None:
        """Set a variable for everything parsed afterwards."""
        self._values[name] = value
        self._addresses.clear()
        self._ports.clear()

    def addresses(self, text: str) -> AddressSet:
        """The address set ``text`` denotes. Raises RuleError with the reason."""
        found = self._addresses.get(text)
        if found is None:
            v4, v6 = _SetParser(self._values, _parse_address, (_MAX_V4, _MAX_V6), "address").parse(text)
            found = self._addresses[text] = AddressSet(v4, v6)
        return found

    def ports(self, text: str) -> PortSet:
        """The port set ``text`` denotes. Raises RuleError with the reason."""
        found = self._ports.get(text)
        if found is None:
            (intervals,) = _SetParser(self._values, _parse_port_range, (_MAX_PORT,), "port").parse(text)
            found = self._ports[text] = PortSet(intervals)
        return found


class _SetParser:
    """Evaluates set syntax into intervals, per family (two for addresses, one for ports)."""

    def __init__(
        self,
        values: Mapping[str, str],
        parse_leaf: Callable[[str], _Value],
        tops: tuple[int, ...],
        kind: str,
    ) -> None:
        self._values = values
        self._parse_leaf = parse_leaf
        self._tops = tops
        self._kind = kind
        self._resolving: list[str] = []

    def parse(self, text: str) -> _Value:
        value = self._expression(text.strip())
        if not any(value):
            raise RuleError(f"{self._kind} set {text!r} is empty")
        return value

    def _expression(self, text: str) -> _Value:
        items = _split_items(text)
        if len(items) != 1:
            return self._list(items)
        return self._item(items[0])

    def _item(self, text: str) -> _Value:
        if text.startswith("!"):
            negated = self._expression(_negated(text))
            return tuple(_complement(part, top) for part, top in zip(negated, self._tops, strict=True))
        if text.startswith("[") and text.endswith("]"):
            return self._list(_split_items(text[1:-1]))
        if text.startswith("$"):
            return self._variable(text[1:])
        if text == "any":
            return tuple(((0, top),) for top in self._tops)
        return self._parse_leaf(text)

    def _list(self, items: list[str]) -> _Value:
        if not items:
            raise RuleError(f"empty {self._kind} list")
        included = [self._item(item) for item in items if not item.startswith("!")]
        excluded = [self._expression(_negated(item)) for item in items if item.startswith("!")]
        return tuple(
            _combine([v[family] for v in included] if included else None, [v[family] for v in excluded], top)
            for family, top in enumerate(self._tops)
        )

    def _variable(self, name: str) -> _Value:
        if name not in self._values:
            raise RuleError(f"unknown variable ${name}")
        if name in self._resolving:
            cycle = " -> ".join(f"${n}" for n in (*self._resolving[self._resolving.index(name) :], name))
            raise RuleError(f"variable cycle {cycle}")
        self._resolving.append(name)
        try:
            return self._expression(self._values[name].strip())
        finally:
            self._resolving.pop()


def _negated(text: str) -> str:
    """What ``!x`` negates."""
    inner = text[1:]
    if inner == "any":
        raise RuleError("!any is not allowed")
    return inner


def _parse_address(text: str) -> _Value:
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise RuleError(f"bad address {text!r}") from None
    interval = ((int(network.network_address), int(network.broadcast_address)),)
    return (interval, ()) if network.version == 4 else ((), interval)


def _port_number(text: str, whole: str) -> int:
    if not text.isdigit() or int(text) > _MAX_PORT:
        raise RuleError(f"bad port range {whole}")
    return int(text)


def _parse_port_range(text: str) -> _Value:
    low_text, colon, high_text = text.partition(":")
    if not colon:
        port = _port_number(text, text)
        return (((port, port),),)
    low = _port_number(low_text, text) if low_text else 0
    high = _port_number(high_text, text) if high_text else _MAX_PORT
    if low > high:
        raise RuleError(f"bad port range {text}")
    return (((low, high),),)
