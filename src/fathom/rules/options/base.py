"""What every rule option is, and the rule body that options build.

As in Snort 3's ``ips_options``, each option keyword is one small class that parses its own
arguments and knows its place in a rule: it attaches itself to the :class:`RuleBody` being built.
The engine knows nothing of specific options. An unknown keyword, or arguments an option rejects,
is a :class:`~fathom.rules.errors.RuleError` for that rule alone.

Option families:

- meta options (msg, sid, classtype, reference, ...) set fields of the body;
- tests (flow, flags, ttl, dsize, flowbits:isset, ...) look at the packet and the flow;
- payload options (content, pcre, byte_test, ...) match inside a buffer, in order, each from the
  cursor the previous one left; sticky buffers (http_uri, file_data, ...) choose the buffer;
- actions (flowbits:set, ...) run after the rule matched;
- filters (detection_filter, threshold) decide whether a match alerts.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fathom.decode.packet import Packet
    from fathom.flow.flow import Flow

DEFAULT_BUFFER = "pkt_data"


class MatchState:
    """What payload options share while one rule is evaluated: variables from byte_extract and
    byte_math, and the data base64_decode produced."""

    __slots__ = ("base64", "variables")

    def __init__(self) -> None:
        self.variables: dict[str, int] = {}
        self.base64: bytes | None = None


class Option(ABC):
    """One option of a rule, built from its argument text by the factory registered for its
    keyword (see :func:`register`)."""

    @abstractmethod
    def attach(self, body: RuleBody) -> None:
        """Take this option's place in the rule being built. Raises RuleError when it cannot
        (e.g. a content modifier with no content before it)."""


class CompiledOnUse:
    """For options whose compiled patterns are ``cached_property`` values: they are pickled
    without them. A rule cache then loads without compiling every pattern, and each is compiled
    again when traffic first reaches it."""

    def __getstate__(self) -> dict[str, object]:
        cls = type(self)
        compiled = {k for k in self.__dict__ if isinstance(getattr(cls, k, None), cached_property)}
        return {k: v for k, v in self.__dict__.items() if k not in compiled}


class Test(Option):
    """An option that looks at the packet and the flow, not at payload bytes."""

    @abstractmethod
    def test(self, pkt: Packet, flow: Flow, to_server: bool) -> bool: ...

    def attach(self, body: RuleBody) -> None:
        body.tests.append(self)


class PayloadOption(Option):
    """An option that matches inside a buffer, from a cursor.

    :meth:`matches` yields every cursor position the option leaves for the next option, in the
    order Snort would try them: a content yields each occurrence that satisfies its constraints, so
    that the evaluator can retry an earlier content when a later option fails (Snort's retries).
    Options that cannot be retried yield at most once.
    """

    # The buffer this option reads, chosen by the sticky buffer in force when it was attached.
    buffer: str = DEFAULT_BUFFER
    # True for an option that reads a buffer of its own, which is no sticky buffer for the others.
    fixed_buffer = False
    # True when a sticky buffer keyword chose ``buffer`` (``pkt_data`` included).
    buffer_named = False
    # Reads from the cursor the option before it left (``relative``), and whether it then reads
    # that option's buffer when no sticky buffer was named (Snort 2: isdataat, byte_* and pcre
    # after a uricontent or a moved content; not a content, which modifiers move themselves).
    relative = False
    relative_follows_buffer = True

    @abstractmethod
    def matches(self, data: bytes, pos: int, state: MatchState) -> Iterator[int]: ...

    def attach(self, body: RuleBody) -> None:
        self.buffer = body.buffer
        self.buffer_named = body.buffer_named
        if self.relative and self.relative_follows_buffer and not body.buffer_named and body.payload:
            self.buffer = body.payload[-1].buffer
        body.payload.append(self)


class InspectorCheck(PayloadOption):
    """A test on what a service inspector found in the data (the SIP method, the TLS handshake
    state, ...), given as a buffer of its own: it reads that buffer whatever the sticky buffer,
    holds or not, and leaves the cursor where it was. Without the buffer (another service, or no
    inspector for the data) it fails, as Snort's inspector options do."""

    fixed_buffer = True

    def __init__(self, buffer: str) -> None:
        self.own_buffer = buffer

    def attach(self, body: RuleBody) -> None:
        body.payload.append(self)
        self.buffer = self.own_buffer

    def matches(self, data: bytes, pos: int, state: MatchState) -> Iterator[int]:
        if self.holds(data):
            yield pos

    @abstractmethod
    def holds(self, data: bytes) -> bool: ...


class Action(Option):
    """An option that changes flow state once the whole rule matched (flowbits:set, ...)."""

    @abstractmethod
    def apply(self, flow: Flow) -> None: ...

    def attach(self, body: RuleBody) -> None:
        body.actions.append(self)


@dataclass
class RuleBody:
    """Everything a rule's options say, built by attaching each option in order."""

    msg: str = ""
    sid: int = 0
    gid: int = 1
    rev: int = 1
    classtype: str = ""
    # From priority:, else from the classtype; None until one of them is known.
    priority: int | None = None
    references: list[tuple[str, str]] = field(default_factory=list)
    metadata: list[str] = field(default_factory=list)
    # From service: (or the rule header's service, e.g. ``alert http``); empty when any.
    services: list[str] = field(default_factory=list)
    tests: list[Test] = field(default_factory=list)
    payload: list[PayloadOption] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    # flowbits:noalert: the rule's actions run but it never alerts.
    noalert: bool = False
    # detection_filter / threshold / event_filter, decided after a match.
    filters: list[Option] = field(default_factory=list)
    # The sticky buffer in force for the next payload option, and whether a keyword named it.
    buffer: str = DEFAULT_BUFFER
    buffer_named: bool = False
    # Options accepted but not evaluated, with why: the rule loads only in part.
    partial: list[str] = field(default_factory=list)


# Builds an option from its argument text (None when the keyword has none); raises RuleError.
OptionFactory = Callable[[str | None], Option]
REGISTRY: dict[str, OptionFactory] = {}


def register(keyword: str, factory: OptionFactory) -> None:
    """Make ``keyword`` known. Spellings of one option (``http_uri``, ``http.uri``) register the
    same factory under each keyword."""
    if keyword in REGISTRY:
        raise ValueError(f"rule option {keyword!r} registered twice")
    REGISTRY[keyword] = factory
