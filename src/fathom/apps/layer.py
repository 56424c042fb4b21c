"""The ``app`` layer: which service a flow speaks, and the protocol data units rules inspect.

The service comes from the payload (:mod:`fathom.apps.wizard`) and is published as the flow's
``app`` (Suricata's ``app_proto``, nDPI's protocol and category). Without rules, a flow whose
first payload confirms what its server port suggests is named at once and keeps no state here,
and a flow that is named and that no parser still reads is released from reassembly
(``host.release_data``). HTTP flows are parsed for their ``http`` log events either way, and
TLS flows until both hellos are read, for their ``tls`` event (:mod:`fathom.apps.tls_log`). A
protocol log parser may find that a flow speaks another service than the one it was named: DTLS
on a STUN flow (:mod:`fathom.apps.logs.dtls`) renames the flow.

With rules, they see a TCP flow as Snort 3 shows it to them:

- until the flow has a service inspector, rules inspect its segments one by one (the detect
  layer's ``on_packet``);
- once it has one (the wizard named a service Snort inspects, or the server port is one Snort's
  binder gives an inspector to), its segments are no longer inspected one by one
  (:meth:`AppLayer.inspected`): its streams are cut into PDUs, each handed to the PDU handler when
  the receiver acknowledges its last byte, as Snort's reassembly flushes in IDS mode. The
  acknowledging packet is the one alerts name.

HTTP is cut into message sections by its parser, which reads every TCP flow's streams until the
wizard names another service or the parser gives up, so that no HTTP byte is missed while the
service is still unknown. The other services are cut by :mod:`fathom.apps.splitter`. Data of a
stream whose start is unknown (picked up mid-stream) goes at once. A flow's remaining data is
flushed when the sender's FIN is acknowledged and when the flow ends.

A TLS flow's PDUs also carry what Snort's SSL inspector would have found
(:mod:`fathom.apps.tls_state`). A packet with a wrong checksum (when the engine verifies them)
acknowledges nothing and its data is a hole in the PDUs, as Snort's stream never holds it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from fathom.apps.catalog import app_name
from fathom.apps.domains import Applications
from fathom.apps.http import (
    DEFAULT_LIMITS,
    LOG_LIMITS,
    HttpConnection,
    HttpEvent,
    RequestBody,
    RequestHeaders,
    ResponseBody,
    split_host,
)
from fathom.apps.http_buffers import (
    REQUEST_BODY,
    REQUEST_HEADERS,
    RESPONSE_BODY,
    RESPONSE_HEADERS,
    section_buffers,
)
from fathom.apps.http_log import HttpLogEvent
from fathom.apps.logs.base import LogBody, LogParser
from fathom.apps.logs.policy import LogPolicy
from fathom.apps.logs.registry import PARSERS
from fathom.apps.sip import sip_buffers
from fathom.apps.splitter import CUTTERS, MAX_PDU, PORT_BOUND, Cutter
from fathom.apps.tls_log import TlsHellos, TlsLogEvent
from fathom.apps.tls_state import SSL_FLAGS_BUFFER, session_flags
from fathom.apps.wizard import SNORT_SERVICES, ServiceWizard, WizardState
from fathom.decode.packet import PROTO_TCP, PROTO_UDP, TH_ACK, TH_SYN, Buffer, Packet
from fathom.flow.consumer import Layer
from fathom.flow.flow import Flow
from fathom.host import LayerHost
from fathom.notes import note

# The section name of a PDU that is not an HTTP message section.
STREAM_PDU = "stream"

# A buffer lookup: a buffer's bytes by rule-option name, or None when the PDU has no such buffer.
Buffers = Callable[[str], bytes | None]
# Receives one PDU: the flow, the direction of its data, its section name and its buffers. A
# PDU's ``pkt_data`` is its data, when rules on packet data inspect it.
PduHandler = Callable[[Flow, bool, str, Buffers], None]

# Stream bytes kept per direction while waiting for an acknowledgement, or for the wizard.
MAX_UNFLUSHED = 4 * MAX_PDU
# Connections announced by protocol logs (FTP's data connections) and not yet seen; past this many
# the oldest is forgotten.
MAX_EXPECTED = 1024

# An announced connection: the two hosts and its server port.
_Expected = tuple[frozenset[bytes], int]

# A completed HTTP section waiting for its acknowledgement: direction, stream offset after its
# last byte, the section and its buffers.
_Pending = tuple[bool, int, str, Buffers]


class _Unflushed:
    """One direction's stream bytes not yet flushed, from stream offset ``base``; ``last_flush``
    says whether what is left when the stream ends is flushed."""

    __slots__ = ("base", "data", "last_flush")

    def __init__(self) -> None:
        self.base = 0
        self.data = bytearray()
        self.last_flush = True


class AppState:
    __slots__ = ("cutter", "http", "pending", "service", "streams", "tls", "wizard")

    def __init__(self, tcp: bool, keep_streams: bool, http_counters: Counter[str]) -> None:
        # The wizard's search, once the flow's payload needs one.
        self.wizard: WizardState | None = None
        # A TCP flow's HTTP parser: with rules, it fills their buffers; else only the log's fields.
        self.http: HttpConnection | None = (
            HttpConnection(DEFAULT_LIMITS if keep_streams else LOG_LIMITS, http_counters) if tcp else None
        )
        self.pending: list[_Pending] = []
        # The service rules are gated by, once the wizard named one Snort's wizard names too.
        self.service: str | None = None
        # How the streams are cut, once an inspector other than HTTP's has the flow.
        self.cutter: Cutter | None = None
        # To the client, to the server; None once no stream PDU can come from the flow.
        self.streams: tuple[_Unflushed, _Unflushed] | None = (
            (_Unflushed(), _Unflushed()) if keep_streams else None
        )
        # What the SSL inspector has seen of a TLS flow (tls_state flags).
        self.tls = 0


class AppStats:
    """PDUs flushed, and those cut short by the bound on unacknowledged bytes; TLS hellos that
    could not be read (malformed, or past their bound)."""

    __slots__ = ("forced", "hellos_unread", "pdus", "sections")

    def __init__(self) -> None:
        self.pdus = 0
        self.sections = 0
        self.forced = 0
        self.hellos_unread = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "pdus": self.pdus,
            "http_sections": self.sections,
            "pdus_forced": self.forced,
            "tls_hellos_unread": self.hellos_unread,
        }


def _section(event: HttpEvent) -> str:
    if isinstance(event, RequestHeaders):
        return REQUEST_HEADERS
    if isinstance(event, RequestBody):
        return REQUEST_BODY
    if isinstance(event, ResponseBody):
        return RESPONSE_BODY
    return RESPONSE_HEADERS


class AppLayer(Layer):
    def __init__(self, host: LayerHost) -> None:
        self.host = host
        self.slot = host.new_slot("app", AppState)
        self.hellos = host.new_slot("tls", TlsHellos)
        # The flow's protocol log parser (fathom.apps.logs), once named with a service that has one.
        self.logs = host.new_slot("logs", LogParser)
        self.policy = LogPolicy(host.config.app)
        # Why protocol log parsers stopped early, as "<event_type>.<reason>".
        self.log_counters: Counter[str] = Counter()
        self.applications = Applications.load(host.config.app.domains, note=note)
        self.wizard = ServiceWizard()
        # Connections protocol logs announced: the service, and the flow that announced it.
        self.expected: dict[_Expected, tuple[str, Flow]] = {}
        # Who inspects the flows' PDUs; with nobody, none are cut and no stream bytes are kept.
        self.on_pdu: PduHandler | None = None
        self.stats = AppStats()
        # What the HTTP parsers of all flows met: malformed messages, bounds reached (http.py).
        self.http_counters: Counter[str] = Counter()

    def counters(self) -> dict[str, int]:
        http = {f"app.http.{reason}": count for reason, count in sorted(self.http_counters.items())}
        logs = {f"app.{reason}": count for reason, count in sorted(self.log_counters.items())}
        return {f"app.{name}": count for name, count in self.stats.as_dict().items()} | http | logs

    def service(self, flow: Flow) -> str | None:
        """The flow's service in Snort's names, as rules' ``service`` options gate on."""
        state = self.slot.get(flow)
        return PORT_BOUND.get((flow.proto, flow.dport)) if state is None else state.service

    def findings(self, flow: Flow, service: str | None, data: bytes, rebuilt: bool) -> dict[str, bytes]:
        """The buffers the flow's service inspector gives rule options for ``data`` (a packet's
        payload, or a PDU when ``rebuilt``): a SIP message's parts; for a TLS PDU, the SSL
        inspector's flags (its options test PDUs only, as Snort's do)."""
        if service == "sip":
            return sip_buffers(data)
        state = self.slot.get(flow)
        if service == "ssl" and rebuilt and state is not None:
            return {SSL_FLAGS_BUFFER: state.tls.to_bytes(4, "big")}
        return {}

    def inspected(self, flow: Flow) -> bool:
        """Whether a service inspector has the flow: its TCP data then reaches rules as PDUs."""
        state = self.slot.get(flow)
        if state is None:
            # Before its first data, only a port-bound inspector has the flow.
            return flow.proto == PROTO_TCP and (PROTO_TCP, flow.dport) in PORT_BOUND
        return state.cutter is not None or state.service == "http"

    def _state(self, flow: Flow) -> AppState:
        state = self.slot.get(flow)
        return self._new_state(flow) if state is None else state

    def _new_state(self, flow: Flow) -> AppState:
        tcp = flow.proto == PROTO_TCP
        inspected = tcp and self.on_pdu is not None
        state = AppState(tcp, inspected, self.http_counters)
        state.service = PORT_BOUND.get((flow.proto, flow.dport))
        if inspected and state.service is not None:
            state.cutter = CUTTERS[state.service]
        self.slot.set(flow, state)
        return state

    def on_packet(self, pkt: Packet, flow: Flow, to_server: bool) -> None:
        if pkt.proto != PROTO_TCP:
            # Datagrams are searched; other protocols are named by their number at the flow's end.
            if pkt.proto == PROTO_UDP and pkt.payload_len:
                data = pkt.payload()
                if flow.app is None and not self._named_at_first_look(flow, to_server, data, pkt.proto):
                    self._identify(flow, self._state(flow), to_server, data, pkt.proto)
                parser = self.logs.get(flow)
                if parser is not None and not parser.done:
                    self._feed_log(flow, parser, to_server, bytes(data))
            return
        if self.on_pdu is None:
            return  # packets only pace PDUs, and nobody inspects any
        # A SYN-ACK flushes nothing, even when it acknowledges data sent with the SYN (TCP Fast
        # Open): Snort flushes on the acknowledgements of an established session.
        if pkt.tcp_flags & (TH_ACK | TH_SYN) == TH_ACK:
            state = self.slot.get(flow)
            if state is not None:
                if state.pending:
                    self._acknowledged(flow, state, not to_server, pkt)
                if state.cutter is not None and state.streams is not None:
                    self._flush(flow, state, not to_server, pkt)

    def on_data(self, flow: Flow, to_server: bool, buf: Buffer, off: int, length: int) -> None:
        data = memoryview(buf)[off : off + length]
        state = self.slot.get(flow)
        if state is None:
            if self.on_pdu is None:
                if flow.app is None:
                    self._named_at_first_look(flow, to_server, data, PROTO_TCP)
                # Named at first look: no state; of the parsers, only HTTP's and the TLS hellos read on.
                app = flow.app
                if app is not None and app.app_proto != "http":
                    logging = self._log_data(flow, to_server, data)
                    reading = app.app_proto == "tls" and self._read_hellos(flow, to_server, data)
                    if not (logging or reading):
                        self.host.release_data(flow)
                    return
            state = self._new_state(flow)
        streams = state.streams
        if streams is not None:
            first = flow.first_seq_ts if to_server else flow.first_seq_tc
            if self.host.damaged(self.host.current_packet):
                # Snort's stream never holds a segment with a wrong checksum: a hole to rules.
                self._hole(flow, state, to_server, length)
            elif first < 0 and state.cutter is not None:
                self._emit(flow, to_server, bytes(data))
            else:
                self._keep(flow, state, streams[to_server], to_server, data)
        if flow.app is None:
            self._identify(flow, state, to_server, data, PROTO_TCP)
        http = state.http
        if http is not None:
            for event in http.feed(to_server, data):
                self._deliver(flow, event)
            if http.finished:
                self._end_http(flow, state)
        app = flow.app
        reading = app is not None and app.app_proto == "tls" and self._read_hellos(flow, to_server, data)
        logging = app is not None and self._log_data(flow, to_server, data)
        decided = app is not None or (state.wizard is not None and state.wizard.done)
        if decided and not (reading or logging) and state.http is None and state.streams is None:
            self.host.release_data(flow)  # decided, no parser left, no PDUs to cut

    def _read_hellos(self, flow: Flow, to_server: bool, data: memoryview) -> bool:
        """Read a TLS flow's hellos for its ``tls`` event; whether they still need its bytes."""
        hellos = self.hellos.get(flow)
        if hellos is None:
            hellos = TlsHellos()
            self.hellos.set(flow, hellos)
        elif hellos.logged:
            return False
        hellos.feed(to_server, data)
        if hellos.client is not None and hellos.client.server_name:
            self._name_application(flow, hellos.client.server_name)
        if not hellos.finished:
            return True
        self._log_tls(flow, hellos)
        return False

    def _start_log(self, flow: Flow, service: str, proto: int) -> LogParser | None:
        """The flow's protocol log parser, when its service has one that the policy writes or
        that names flows."""
        parser_class = PARSERS.get(service)
        app = flow.app
        if parser_class is None or app is None:
            return None
        if not (parser_class.identifies or self.policy.logs(flow, app.app_proto)):
            return None
        parser = parser_class()
        parser.stream = proto == PROTO_TCP
        self.logs.set(flow, parser)
        return parser

    def _log_data(self, flow: Flow, to_server: bool, data: memoryview) -> bool:
        """Feed a TCP flow's next bytes to its log parser; whether it still needs the stream."""
        parser = self.logs.get(flow)
        if parser is None or parser.done:
            return False
        self._feed_log(flow, parser, to_server, bytes(data))
        return not parser.done

    def _feed_log(self, flow: Flow, parser: LogParser, to_server: bool, data: bytes) -> None:
        try:
            bodies = parser.feed(to_server, data)
        except Exception as exc:  # a parser's bug: it ends that parser's work, not the flow's
            note(f"{parser.event_type} log: {type(exc).__name__}: {exc}")
            bodies = parser.fail("internal_error")
        self._write_logs(flow, parser, to_server, bodies)

    def _write_logs(
        self, flow: Flow, parser: LogParser, to_server: bool, bodies: list[LogBody], ended: bool = False
    ) -> None:
        """Write what a log parser returned, from the current packet (the flow's last one when it
        ended), and count why it stopped, once. The policy chose the other parsers' flows; a
        parser that names flows reads them all, and its events follow the flow's protocol now
        (DTLS's, once found on a STUN flow)."""
        if parser.service is not None:
            self._rename(flow, parser.service)
            parser.service = None
        if parser.expected is not None:
            self._expect(flow, *parser.expected)
            parser.expected = None
        if parser.server_name is not None:
            self._name_application(flow, parser.server_name)
        app = flow.app
        writes = not parser.identifies or (app is not None and self.policy.logs(flow, app.app_proto))
        if bodies and writes:
            pkt = self.host.current_packet
            ts, pcap_cnt = (flow.last, flow.last_pcap_cnt) if ended else (pkt.ts, pkt.pcap_cnt)
            direction = to_server or parser.client_side
            for body in bodies:
                if parser.numbered:
                    body = {"tx_id": parser.written, **body}
                parser.written += 1
                self.host.emit(parser.log_event(flow, ts, pcap_cnt, direction, body))
        if parser.failure is not None and parser.done:
            self.log_counters[f"{parser.event_type}.{parser.failure}"] += 1
            parser.failure = None

    def _end_log(self, flow: Flow) -> None:
        parser = self.logs.get(flow)
        if parser is not None and not parser.done:
            bodies = parser.end()
            parser.done = True
            self._write_logs(flow, parser, True, bodies, ended=True)

    def _expect(self, flow: Flow, port: int, service: str) -> None:
        """``flow``'s messages announced a connection between its two hosts to ``port``."""
        if len(self.expected) >= MAX_EXPECTED:
            del self.expected[next(iter(self.expected))]
        self.expected[(frozenset((flow.src, flow.dst)), port)] = (service, flow)

    def _announced(self, flow: Flow) -> str | None:
        """The service of a new TCP flow that a protocol log announced, once, while the flow that
        announced it is still open (FTP's control connection outlives its data connections)."""
        if not self.expected or flow.proto != PROTO_TCP:
            return None
        found = self.expected.pop((frozenset((flow.src, flow.dst)), flow.dport), None)
        return None if found is None or found[1].key is None else found[0]

    @staticmethod
    def _rename(flow: Flow, service: str) -> None:
        """The flow's messages showed ``service`` after it was named another: its protocol is
        that one; its application and category stay, as nDPI keeps those of a STUN flow it finds
        DTLS on."""
        app, renamed = flow.app, app_name(service)
        if app is not None:
            renamed = renamed._replace(application=app.application, category=app.category)
        flow.app = renamed

    def _name_application(self, flow: Flow, host: str) -> None:
        """Name the application behind the flow's protocol from a host name (SNI, Host), once."""
        app = flow.app
        if app is None or app.application is not None:
            return
        found = self.applications.lookup(host)
        if found is not None:
            flow.app = app._replace(application=found[0], category=found[1])

    def _log_tls(self, flow: Flow, hellos: TlsHellos) -> None:
        hellos.logged = True
        self.stats.hellos_unread += hellos.unread
        if hellos.certificate_failure is not None:
            self.log_counters[f"tls.{hellos.certificate_failure}"] += 1
        if (hellos.client is not None or hellos.server is not None) and self.policy.logs(flow, "tls"):
            pkt = self.host.current_packet
            self.host.emit(TlsLogEvent(flow, pkt.ts, pkt.pcap_cnt, hellos))

    def _named_at_first_look(self, flow: Flow, to_server: bool, data: memoryview, proto: int) -> bool:
        """Without rules, a flow whose payload confirms what its port suggests is named at once and
        needs no state here (rules need the state: it decides what their services are)."""
        if self.on_pdu is not None:
            return False
        service = self._announced(flow) or self.wizard.first_look(
            to_server, data, proto, flow.sport, flow.dport
        )
        if service is None:
            return False
        self._publish(flow, service)
        self._start_log(flow, service, proto)
        return True

    def on_gap(self, flow: Flow, to_server: bool, length: int) -> None:
        hellos = self.hellos.get(flow)
        if hellos is not None and not hellos.logged:
            hellos.gap(to_server)
        parser = self.logs.get(flow)
        if parser is not None and not parser.done:
            self._write_logs(flow, parser, to_server, parser.gap(to_server, length))
        state = self.slot.get(flow)
        if state is None:
            return
        if state.http is not None:
            for event in state.http.gap(to_server, length):
                self._deliver(flow, event)
        if state.streams is not None:
            self._hole(flow, state, to_server, length)

    def _hole(self, flow: Flow, state: AppState, to_server: bool, length: int) -> None:
        """``length`` bytes of a direction are missing for PDUs: what came before them is flushed
        now, as it can no longer be acknowledged in order."""
        assert state.streams is not None
        stream = state.streams[to_server]
        if state.cutter is not None and stream.data:
            self._emit(flow, to_server, bytes(stream.data))
        stream.base += len(stream.data) + length
        stream.data.clear()

    def on_flow_end(self, flow: Flow) -> None:
        app = flow.app
        if app is not None and app.app_proto == "tls":
            hellos = self.hellos.get(flow)
            if hellos is not None and not hellos.logged:
                self._log_tls(flow, hellos)  # with what the flow brought: one hello, or none
        self._end_log(flow)
        state = self.slot.get(flow)
        if state is None:
            if flow.app is None:  # no payload at all: its port may name it, as nDPI guesses
                self._publish(flow, self.wizard.finish(None, flow.proto, flow.sport, flow.dport))
            return
        if state.http is not None:
            for event in state.http.end():
                self._deliver(flow, event)
            self._end_http(flow, state)
        for to_server, _, section, buffers in state.pending:
            self._section(flow, to_server, section, buffers)
        state.pending.clear()
        if state.cutter is not None and state.streams is not None:
            for to_server in (True, False):
                stream = state.streams[to_server]
                if stream.data and stream.last_flush:
                    self._emit(flow, to_server, bytes(stream.data))
                stream.data.clear()
        if flow.app is None:
            self._publish(flow, self.wizard.finish(state.wizard, flow.proto, flow.sport, flow.dport))

    def _keep(
        self, flow: Flow, state: AppState, stream: _Unflushed, to_server: bool, data: memoryview
    ) -> None:
        """Keep a direction's new bytes until they are acknowledged (or the wizard decides);
        past the bound, an inspected stream flushes its oldest bytes now and a searching one
        drops them."""
        stream.data += data
        excess = len(stream.data) - MAX_UNFLUSHED
        if excess <= 0:
            return
        if state.cutter is not None:
            self.stats.forced += 1
            self._emit(flow, to_server, bytes(stream.data[:excess]))
        del stream.data[:excess]
        stream.base += excess

    def _identify(self, flow: Flow, state: AppState, to_server: bool, data: memoryview, proto: int) -> None:
        wizard = state.wizard
        if wizard is None:
            wizard = state.wizard = WizardState()
        side, other = (wizard.client, wizard.server) if to_server else (wizard.server, wizard.client)
        # What the wizard holds of each direction before these bytes: the log parser starts there.
        held = (side.buf, len(side.buf), side.seen, other.buf, other.seen)
        service = self._announced(flow) or self.wizard.observe(
            wizard, to_server, data, proto, flow.sport, flow.dport
        )
        if service is None:
            if wizard.client.done and wizard.server.done and state.cutter is None:
                state.streams = None
            return
        self._publish(flow, service)
        parser = self._start_log(flow, service, proto)
        if parser is not None and proto == PROTO_TCP:
            self._replay_held(flow, parser, to_server, held)
        # A service Snort's wizard names gives the flow an inspector; a port-bound inspector
        # keeps the flow (and its service).
        if state.service is None and service in SNORT_SERVICES:
            state.service = service
            state.cutter = CUTTERS.get(service)
            if state.streams is not None:
                # As with Snort's splitters, a direction the wizard already searched has no last
                # flush at its end: only what its new splitter cuts is inspected.
                state.streams[True].last_flush = not wizard.client.seen
                state.streams[False].last_flush = not wizard.server.seen
        if service != "http":
            state.http = None
        if state.cutter is None:
            state.streams = None

    def _replay_held(
        self, flow: Flow, parser: LogParser, to_server: bool, held: tuple[bytearray, int, int, bytearray, int]
    ) -> None:
        """Give a new TCP log parser the bytes the wizard searched before naming the flow: the
        other direction's, then this one's before the current bytes. What the wizard did not keep
        (past its depth, or after it gave up on a direction) is a gap to the parser."""
        buf, length, seen, other_buf, other_seen = held
        sides = ((not to_server, other_buf, other_seen), (to_server, buf[:length], seen))
        for direction, data, total in sides:
            if not total or parser.done:
                continue
            self._feed_log(flow, parser, direction, bytes(data))
            if total > len(data) and not parser.done:
                self._write_logs(flow, parser, direction, parser.gap(direction, total - len(data)))

    @staticmethod
    def _publish(flow: Flow, service: str | None) -> None:
        if service is not None:
            flow.app = app_name(service)

    def _end_http(self, flow: Flow, state: AppState) -> None:
        """HTTP is over on the flow: the requests that got no response are logged now."""
        assert state.http is not None
        if self.policy.logs(flow, "http"):
            for tx in state.http.unanswered():
                self.host.emit(HttpLogEvent(flow, flow.last, flow.last_pcap_cnt, tx))
        state.http = None

    def _deliver(self, flow: Flow, event: HttpEvent) -> None:
        tx = event.transaction
        if isinstance(event, RequestHeaders) and tx.host:
            self._name_application(flow, split_host(tx.host)[0].decode("ascii", "replace"))
        if isinstance(event, ResponseBody) and self.policy.logs(flow, "http"):
            pkt = self.host.current_packet
            self.host.emit(HttpLogEvent(flow, pkt.ts, pkt.pcap_cnt, tx))
        if self.on_pdu is None:
            return
        if isinstance(event, RequestBody | ResponseBody) and not (
            tx.client_body if event.to_server else tx.file_data
        ):
            return  # a message without a body has no body section, as in Snort
        section = _section(event)
        buffers = section_buffers(tx, section)
        first = flow.first_seq_ts if event.to_server else flow.first_seq_tc
        state = self.slot.get(flow)
        if first < 0 or state is None:
            self._section(flow, event.to_server, section, buffers)
        else:
            state.pending.append((event.to_server, event.offset, section, buffers))

    def _section(self, flow: Flow, to_server: bool, section: str, buffers: Buffers) -> None:
        """An HTTP section is inspected only on a flow the HTTP inspector has."""
        state = self.slot.get(flow)
        if state is not None and state.service == "http" and self.on_pdu is not None:
            self.stats.sections += 1
            self.on_pdu(flow, to_server, section, buffers)

    def _acknowledged(self, flow: Flow, state: AppState, sender_to_server: bool, pkt: Packet) -> None:
        """The receiver acknowledged the sender's stream up to ``pkt.ack``: deliver the sections it
        covers, in order. A packet with a wrong checksum acknowledges nothing (Snort's stream
        never sees it)."""
        first = flow.first_seq_ts if sender_to_server else flow.first_seq_tc
        acked = (pkt.ack - first) & 0xFFFFFFFF
        due = [p for p in state.pending if p[0] == sender_to_server and p[1] <= acked]
        if not due or self.host.damaged(pkt):
            return
        state.pending = [p for p in state.pending if p[0] != sender_to_server or p[1] > acked]
        for to_server, _, section, buffers in due:
            self._section(flow, to_server, section, buffers)

    def _flush(self, flow: Flow, state: AppState, sender_to_server: bool, pkt: Packet) -> None:
        """Flush the PDUs the receiver's acknowledgement in ``pkt`` completes; all that was
        acknowledged once it reaches past the data (the sender's FIN). A packet with a wrong
        checksum flushes nothing."""
        assert state.streams is not None and state.cutter is not None
        stream = state.streams[sender_to_server]
        first = flow.first_seq_ts if sender_to_server else flow.first_seq_tc
        if first < 0 or not stream.data:
            return
        acked = ((pkt.ack - first) & 0xFFFFFFFF) - stream.base
        ready = min(acked, len(stream.data))
        if ready <= 0 or self.host.damaged(pkt):
            return
        ended = acked > len(stream.data) and stream.last_flush
        cutter = state.cutter
        off = 0
        while off < ready:
            window = bytes(stream.data[off : min(ready, off + MAX_PDU)])
            size = cutter(window) or (len(window) if ended or len(window) == MAX_PDU else 0)
            if not size:
                break
            self._emit(flow, sender_to_server, window[:size])
            off += size
        del stream.data[:off]
        stream.base += off

    def _emit(self, flow: Flow, to_server: bool, data: bytes) -> None:
        if self.on_pdu is None:
            return
        self.stats.pdus += 1
        state = self.slot.get(flow)
        if state is not None and state.service == "ssl":
            state.tls = session_flags(state.tls, data, not to_server)
        self.on_pdu(flow, to_server, STREAM_PDU, {"pkt_data": data, "raw_data": data}.get)
