"""What every protocol log parser is: sans-IO, bounded, and never raising on what packets hold.

A parser gets one direction's bytes at a time: each datagram of a UDP flow, or the next bytes of a
TCP stream in order (any cut; a parser keeps what it needs of an incomplete message, within its
own bound). It returns the bodies of the events those bytes completed, e.g. ``{"dns": {...}}``;
the app layer writes each as an EVE event of the parser's ``event_type``, from the packet that
brought the bytes. A malformed message or a bound reached ends the parser's work on the flow with
a reason (:meth:`LogParser.fail`), which the app layer counts as ``app.<event_type>.<reason>``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from fathom.events.schema import FlowScopedEvent
from fathom.flow.flow import Flow

# One event's members after the common header, e.g. {"dns": {...}}.
LogBody = dict[str, Any]


class ProtocolLogEvent(FlowScopedEvent):
    """One protocol log event: the common header, then the parser's body. Each parser class has its
    own subclass (``LogParser.log_event``), which names the event type."""

    __slots__ = ("event_body",)

    def __init__(self, flow: Flow, timestamp: float, pcap_cnt: int, to_server: bool, body: LogBody) -> None:
        super().__init__(flow, timestamp, pcap_cnt, to_server)
        self.event_body = body

    def body(self) -> LogBody:
        return self.event_body


class LogParser:
    """One flow's parser for one protocol's log. Subclasses set ``event_type`` and implement
    :meth:`feed`; ``done`` means it needs no more bytes of the flow."""

    __slots__ = ("done", "expected", "failure", "server_name", "service", "stream", "written")
    event_type: ClassVar[str]
    # Events of transactions written from the client, as Suricata writes them for ssh, ftp and
    # smtp (False: from the side whose bytes completed the event, as for dns).
    client_side: ClassVar[bool] = False
    # Events numbered with a ``tx_id`` in the order they are written, as Suricata's ftp and smtp.
    numbered: ClassVar[bool] = False
    # Whether what the parser reads names flows (``service``, ``expected``): it then reads the
    # flows whose log the policy does not write too, and only its events are left out.
    identifies: ClassVar[bool] = False
    # The event class of this parser's events, made for each subclass that names an event type.
    log_event: ClassVar[type[ProtocolLogEvent]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "event_type" in cls.__dict__:
            name = f"{cls.__name__}Event"
            cls.log_event = type(name, (ProtocolLogEvent,), {"__slots__": (), "event_type": cls.event_type})

    def __init__(self) -> None:
        self.done = False
        # Why the parser stopped before the flow ended, when it did: a counter's name.
        self.failure: str | None = None
        # Whether the flow is TCP (bytes of a stream, cut anywhere) rather than UDP (datagrams):
        # set by the app layer once, before the first feed, for protocols that run over both.
        self.stream = False
        # The host name the messages name (SNI, Host), once read: it may name the application.
        self.server_name: str | None = None
        # The service the messages showed, when the flow was named another (DTLS on a STUN flow,
        # RFC 7983): the app layer renames the flow, once.
        self.service: str | None = None
        # A connection the messages announced, as its server port and service (FTP's data
        # connections): the app layer names the next TCP flow between the same hosts to that port.
        self.expected: tuple[int, str] | None = None
        # Events written so far.
        self.written = 0

    def feed(self, to_server: bool, data: bytes) -> list[LogBody]:
        """The events completed by ``data``, the next bytes (or datagram) of one direction."""
        raise NotImplementedError

    def gap(self, to_server: bool, length: int) -> list[LogBody]:
        """``length`` bytes of a TCP stream are lost: a stream parser cannot find its next
        message, so by default its work ends."""
        return self.fail("gap")

    def end(self) -> list[LogBody]:
        """The flow ended: events for what is still open (e.g. a request without a response)."""
        return []

    def fail(self, reason: str) -> list[LogBody]:
        """End the parser's work on the flow, with ``reason``; returns no events."""
        self.done = True
        self.failure = reason
        return []
