"""A bidirectional flow: counters, state and the two TCP stream directions."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from fathom.flow.stream import StreamDirection

# Table key: (src, dst, sport, dport, proto, vlan, interface), the lower endpoint first.
FlowKey = tuple[bytes, bytes, int, int, int, int, int]

# Flow states, ordered so that "at least established" is a comparison.
STATE_NEW = 0
STATE_ESTABLISHED = 1
STATE_CLOSING = 2
STATE_CLOSED = 3
STATE_NAMES = ("new", "established", "established", "closed")

# TCP connection states, named as Suricata's EVE ``tcp.state``.
TCP_NONE = 0
TCP_SYN_SENT = 1
TCP_SYN_RECV = 2
TCP_ESTABLISHED = 3
TCP_FIN_WAIT = 4
TCP_CLOSED = 5
TCP_STATE_NAMES = ("none", "syn_sent", "syn_recv", "established", "fin_wait1", "closed")

# Why a flow ended, as Suricata writes ``flow.reason``.
END_TIMEOUT = "timeout"
END_FORCED = "forced"
END_SHUTDOWN = "shutdown"
END_TCP_REUSE = "tcp_reuse"

_NO_SLOTS: list[object] = []


class AppName(NamedTuple):
    """What a flow speaks, as each output names it: EVE's ``app_proto`` (Suricata's name), and
    nDPI's protocol name and category for the flow event's ``app`` object; ``application`` is the
    service behind the protocol (GitHub behind TLS), when a host name told it."""

    app_proto: str
    protocol: str
    category: str
    application: str | None = None


class Flow:
    """One conversation. ``src``/``sport`` is the client: the side that opened it, or that the
    first packet came from when the capture starts mid-stream."""

    __slots__ = (
        "alerted",
        "app",
        "bypassed",
        "bytes_tc",
        "bytes_ts",
        "client_low",
        "dport",
        "dst",
        "end_reason",
        "first_seq_tc",
        "first_seq_ts",
        "icmp_code",
        "icmp_type",
        "idle_class",
        "idle_key",
        "iface",
        "ip_version",
        "key",
        "last",
        "last_pcap_cnt",
        "midstream",
        "pkts_tc",
        "pkts_ts",
        "proto",
        "reassemble",
        "serial",
        "slots",
        "sport",
        "src",
        "start",
        "state",
        "stream_tc",
        "stream_ts",
        "tcp_flags_tc",
        "tcp_flags_ts",
        "tcp_state",
        "timeout",
        "vlan",
    )

    def __init__(
        self,
        serial: int,
        src: bytes,
        dst: bytes,
        sport: int,
        dport: int,
        proto: int,
        ip_version: int,
        vlan: int,
        iface: int,
        ts: float,
        pcap_cnt: int,
        slot_count: int,
    ) -> None:
        # Creation order within this engine: makes flow ids unique and deterministic.
        self.serial = serial
        self.src = src
        self.dst = dst
        self.sport = sport
        self.dport = dport
        self.proto = proto
        self.ip_version = ip_version
        self.vlan = vlan
        self.iface = iface
        self.start = ts
        self.last = ts
        self.last_pcap_cnt = pcap_cnt
        self.pkts_ts = 0
        self.pkts_tc = 0
        self.bytes_ts = 0
        self.bytes_tc = 0
        self.state = STATE_NEW
        self.tcp_state = TCP_NONE
        self.tcp_flags_ts = 0
        self.tcp_flags_tc = 0
        self.midstream = False
        # Seconds of idleness after which the flow ends; follows the state.
        self.timeout = 0.0
        # Both directions reached their inspection depth: only counters are kept up.
        self.bypassed = False
        # Reassembly per direction, made on the direction's first data; until then, where its
        # byte stream starts when a SYN told us (-1 when unknown).
        self.stream_ts: StreamDirection | None = None
        self.stream_tc: StreamDirection | None = None
        self.first_seq_ts = -1
        self.first_seq_tc = -1
        self.icmp_type = -1
        self.icmp_code = -1
        # Published by the application layer: what the flow speaks.
        self.app: AppName | None = None
        self.alerted = False
        # Whether some layer still reads the flow's stream bytes (see TcpTracker.release).
        self.reassemble = True
        # Per-layer state (see fathom.flow.slots); empty when no layer keeps any.
        self.slots: list[object] = [None] * slot_count if slot_count else _NO_SLOTS
        # Where the expiry index filed the flow: its idle timeout then, and the second of its last packet.
        self.idle_class = 0.0
        self.idle_key = 0
        self.end_reason = ""
        # The table key under which this flow is filed (None once it ended), and whether the client
        # is the key's first endpoint.
        self.key: FlowKey | None = None
        self.client_low = True

    @property
    def app_proto(self) -> str | None:
        """What the flow speaks, as Suricata names it."""
        app = self.app
        return None if app is None else app.app_proto

    @property
    def state_name(self) -> str:
        return STATE_NAMES[self.state]
