"""``flowbits``: named boolean flags kept per flow, set by one rule and tested by others (Snort's
ips_flowbits.cc, with Snort 2's groups).

- ``set,a[&b][,group]``, ``setx,a[&b],group`` (clear the group first), ``unset,a[&b]`` or
  ``unset,all,group``, ``toggle,a[&b]`` or ``toggle,all,group``: actions, run once the rule matched;
- ``isset``/``isnotset`` with ``a``, ``a&b`` (all), ``a|b`` (any) or ``all,group``/``any,group``:
  tests;
- ``noalert``: the rule runs its actions but never alerts.

A group is every bit that some set, setx, unset or toggle named with that group, in any rule of
the ruleset. The options are parsed on their own; the loader then binds every flowbits option of a
ruleset to that ruleset's :class:`FlowBits` (:func:`bind_flowbits`), so that two rulesets (two
engines) never share bits or groups.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from fathom.rules.errors import RuleError
from fathom.rules.options.base import Action, Option, RuleBody, Test, register

if TYPE_CHECKING:
    from fathom.decode.packet import Packet
    from fathom.flow.flow import Flow

_NAME = re.compile(r"[A-Za-z0-9._-]+")


class FlowBits:
    """The bits set on each flow, and the ruleset's groups.

    :meth:`bits` gives the set of bit names of the flow passed to it; :meth:`forget` drops it when
    the flow ends. The sets are filed by the flow's serial here; once layers own per-flow slots the
    set moves into the flow's slot and this class keeps only the groups.
    """

    def __init__(self) -> None:
        self._flows: dict[int, set[str]] = {}
        self.groups: dict[str, set[str]] = {}

    def bits(self, flow: Flow) -> set[str]:
        bits = self._flows.get(flow.serial)
        if bits is None:
            bits = self._flows[flow.serial] = set()
        return bits

    def forget(self, flow: Flow) -> None:
        self._flows.pop(flow.serial, None)

    def group(self, name: str) -> set[str]:
        return self.groups.setdefault(name, set())


class _Bound:
    """A flowbits option's store: a private one until the loader binds the ruleset's."""

    store: FlowBits

    def bind(self, store: FlowBits) -> None:
        self.store = store


class IsSet(_Bound, Test):
    """isset / isnotset: ``names`` with ``all`` (a&b) or any (a|b), or a group's bits."""

    def __init__(self, negate: bool, names: frozenset[str], all_of: bool, group: str) -> None:
        self.store = FlowBits()
        self.negate = negate
        self.names = names
        self.all_of = all_of
        self.group = group

    def test(self, pkt: Packet, flow: Flow, to_server: bool) -> bool:
        names = self.store.groups.get(self.group, set()) if self.group else self.names
        bits = self.store.bits(flow)
        found = names <= bits if self.all_of else not names.isdisjoint(bits)
        return found != self.negate


class Change(_Bound, Action):
    """set, setx, unset, toggle. ``group`` is the group whose bits setx clears and the ``all``
    forms of unset and toggle act on."""

    def __init__(self, op: str, names: frozenset[str], group: str) -> None:
        self.store = FlowBits()
        self.op = op
        self.names = names
        self.group = group

    def bind(self, store: FlowBits) -> None:
        super().bind(store)
        if self.group and self.names:
            store.group(self.group).update(self.names)

    def apply(self, flow: Flow) -> None:
        bits = self.store.bits(flow)
        names = self.names if self.names else self.store.groups.get(self.group, set())
        if self.op == "setx":
            bits -= self.store.groups.get(self.group, set())
        if self.op in ("set", "setx"):
            bits |= names
        elif self.op == "unset":
            bits -= names
        else:
            bits ^= names


class NoAlert(Option):
    def attach(self, body: RuleBody) -> None:
        body.noalert = True


_SYNTAX = {
    "set": "set,bit[&bit][,group]",
    "setx": "setx,bit[&bit],group",
    "unset": "unset,bit[&bit] or unset,all,group",
    "toggle": "toggle,bit[&bit] or toggle,all,group",
    "isset": "isset,bit[&bit], isset,bit[|bit], isset,all,group or isset,any,group",
    "isnotset": "isnotset,bit[&bit], isnotset,bit[|bit], isnotset,all,group or isnotset,any,group",
}


def _names(text: str, sep: str) -> frozenset[str]:
    names = [name.strip() for name in text.split(sep)]
    for name in names:
        if not _NAME.fullmatch(name):
            raise RuleError(f"bad flowbit name {name!r}: use letters, digits and .-_")
    return frozenset(names)


def parse_flowbits(text: str | None) -> Option:
    """Build the option for ``flowbits:<text>``; bind it to a store before use."""
    parts = [part.strip() for part in (text or "").split(",")]
    op = parts[0].lower()
    if op == "noalert":
        if len(parts) > 1:
            raise RuleError("noalert takes no bit names")
        return NoAlert()
    if op not in _SYNTAX:
        raise RuleError(f"unknown operation {parts[0]!r}" if op else "needs an operation")
    if len(parts) > 3:
        raise RuleError("too many arguments")
    if len(parts) < 2 or not parts[1]:
        raise RuleError(f"{op} needs bit names")
    target, group = parts[1], parts[2] if len(parts) == 3 else ""
    if group and not _NAME.fullmatch(group):
        raise RuleError(f"bad flowbits group {group!r}: use letters, digits and .-_")
    if "|" in target and "&" in target:
        raise RuleError("'|' and '&' used together")
    whole_group = target.lower() in ("all", "any")
    any_of = "|" in target or target.lower() == "any"
    names = frozenset() if whole_group else _names(target, "|" if any_of else "&")
    testing = op in ("isset", "isnotset")
    # What Snort accepts: names with no group, or all/any with a group; set and setx add names to
    # a group, and only the tests may use any or '|'.
    valid = (
        (bool(names) and op != "setx" and (not group or op == "set") and (testing or not any_of))
        or (op == "setx" and bool(names) and bool(group) and not any_of)
        or (
            whole_group and bool(group) and (testing or target.lower() == "all") and op not in ("set", "setx")
        )
    )
    if not valid:
        raise RuleError(f"{op} uses the syntax flowbits:{_SYNTAX[op]}")
    if testing:
        return IsSet(op == "isnotset", names, not any_of, group if whole_group else "")
    return Change(op, names, group)


def bind_flowbits(body: RuleBody, store: FlowBits) -> None:
    """Make the flowbits options of one rule use ``store``: its ruleset's bits and groups."""
    for option in (*body.tests, *body.actions):
        if isinstance(option, _Bound):
            option.bind(store)


register("flowbits", parse_flowbits)
