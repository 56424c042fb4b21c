"""Options whose evaluation needs a service inspector Fathom does not have yet: DCE/RPC
(``dce_iface``, ``dce_opnum``), BER (``ber_data``, ``ber_skip``), and ``tag`` (logging packets
after an alert). Their arguments are checked as Snort checks them; the rule then loads in part
(it does not alert until its inspector exists), and ``fathom rules check`` says which inspector
it waits for.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from fathom.rules.errors import RuleError
from fathom.rules.options.base import RuleBody, Test, register

if TYPE_CHECKING:
    from fathom.decode.packet import Packet
    from fathom.flow.flow import Flow

_NUMBER_RANGE = re.compile(r"\d+(-\d+)?")
_TAG_TYPES = ("session", "host_src", "host_dst")
_TAG_METRICS = ("packets", "seconds", "bytes")


def _dce_iface(args: str) -> None:
    words = args.replace(",", " ").split()
    if len(words) < 2 or words[0] != "uuid":
        raise RuleError("expected 'uuid UUID' [version] [any_frag]")
    try:
        uuid.UUID(words[1])
    except ValueError:
        raise RuleError(f"bad uuid {words[1]!r}") from None


def _dce_opnum(args: str) -> None:
    # Snort 3 writes the list quoted (dce_opnum:"1-2"), Snort 2 bare.
    for item in args.strip('"').split(","):
        if not _NUMBER_RANGE.fullmatch(item.strip()):
            raise RuleError(f"bad opnum {item.strip()!r}")


def _ber_type(args: str) -> None:
    words = args.replace(",", " ").split()
    if not words or len(words) > 2 or (len(words) == 2 and words[1] != "optional"):
        raise RuleError("expected TYPE [optional]")
    try:
        value = int(words[0], 0)
    except ValueError:
        raise RuleError(f"bad BER type {words[0]!r}") from None
    if not 0 <= value <= 255:
        raise RuleError(f"BER type {value} out of range 0-255")


def _tag(args: str) -> None:
    parts = [part.strip() for part in args.split(",")]
    if parts[0] not in _TAG_TYPES:
        raise RuleError(f"unknown tag type {parts[0]!r}; use {', '.join(_TAG_TYPES)}")
    for part in parts[1:]:
        words = part.split()
        if len(words) != 2 or words[0] not in _TAG_METRICS or not words[1].isdigit():
            raise RuleError(f"bad tag limit {part!r}; use packets|seconds|bytes N")


class NeedsInspector(Test):
    """A checked option that waits for ``inspector``; its rule is marked as loaded in part. A
    condition that cannot be checked yet never holds, so that its rule cannot alert on what it
    did not verify; ``tag``, which only asks for more packets to be logged, does not hold its
    rule back."""

    def __init__(self, keyword: str, inspector: str) -> None:
        self.keyword = keyword
        self.inspector = inspector
        self.holds = keyword == "tag"

    def attach(self, body: RuleBody) -> None:
        super().attach(body)
        body.partial.append(f"{self.keyword}: needs the {self.inspector}")

    def test(self, pkt: Packet, flow: Flow, to_server: bool) -> bool:
        return self.holds


def _factory(keyword: str, inspector: str, check: Callable[[str], None]) -> Callable[[str | None], Test]:
    def build(args: str | None) -> Test:
        if not args or not args.strip():
            raise RuleError("needs an argument")
        check(args.strip())
        return NeedsInspector(keyword, inspector)

    return build


for _keyword, _inspector, _check in (
    ("dce_iface", "DCE/RPC inspector", _dce_iface),
    ("dce_opnum", "DCE/RPC inspector", _dce_opnum),
    ("ber_data", "BER decoder", _ber_type),
    ("ber_skip", "BER decoder", _ber_type),
    ("tag", "packet logger", _tag),
):
    register(_keyword, _factory(_keyword, _inspector, _check))
