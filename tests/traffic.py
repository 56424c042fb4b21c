"""Build packet sequences with scapy and feed them to an engine, as a capture would."""

from __future__ import annotations

from typing import Any

import orjson
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether

from fathom.config import EngineConfig
from fathom.engine import Engine
from fathom.events.schema import Event
from tests.recording import RecordingLayer

CLIENT = "10.0.0.1"
SERVER = "10.0.0.2"


class ListSink:
    """Keeps each event as the EVE object a reader of the EVE file would see."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def emit(self, event: Event) -> None:
        self.events.append(orjson.loads(event.json()))


def make_engine(config: EngineConfig | None = None) -> tuple[Engine, RecordingLayer, ListSink]:
    layer = RecordingLayer()
    engine = Engine(config, [lambda host: layer])
    sink = ListSink()
    engine.add_sink(sink)
    return engine, layer, sink


def feed(engine: Engine, packets: list[tuple[float, Any]]) -> None:
    for ts, pkt in packets:
        raw = bytes(pkt)
        engine.feed(raw, 0, len(raw), len(raw), ts, 1)


class TcpConversation:
    """Tracks sequence numbers so tests can write a TCP exchange line by line."""

    def __init__(
        self,
        client: str = CLIENT,
        server: str = SERVER,
        sport: int = 40000,
        dport: int = 80,
        ts: float = 1000.0,
    ) -> None:
        self.client, self.server, self.sport, self.dport = client, server, sport, dport
        self.cseq = 100
        self.sseq = 5000
        self.ts = ts
        self.packets: list[tuple[float, Any]] = []

    def _add(self, from_client: bool, flags: str, payload: bytes = b"", seq: int | None = None) -> None:
        self.ts += 0.001
        src, dst, sport, dport = (self.client, self.server, self.sport, self.dport)
        own, peer = self.cseq, self.sseq
        if not from_client:
            src, dst, sport, dport = dst, src, dport, sport
            own, peer = peer, own
        tcp = TCP(
            sport=sport,
            dport=dport,
            flags=flags,
            seq=own if seq is None else seq,
            ack=peer if "A" in flags else 0,
        )
        pkt = Ether() / IP(src=src, dst=dst) / tcp
        self.packets.append((self.ts, pkt / payload if payload else pkt))

    def handshake(self) -> TcpConversation:
        self._add(True, "S")
        self.cseq += 1
        self._add(False, "SA")
        self.sseq += 1
        self._add(True, "A")
        return self

    def fast_open(self, data: bytes) -> TcpConversation:
        """A handshake whose SYN carries ``data`` (TCP Fast Open), acknowledged by the SYN-ACK."""
        self._add(True, "S", data)
        self.cseq += 1 + len(data)
        self._add(False, "SA")
        self.sseq += 1
        self._add(True, "A")
        return self

    def client_sends(self, data: bytes, seq: int | None = None) -> TcpConversation:
        self._add(True, "PA", data, seq)
        if seq is None:
            self.cseq += len(data)
        return self

    def server_sends(self, data: bytes, seq: int | None = None) -> TcpConversation:
        self._add(False, "PA", data, seq)
        if seq is None:
            self.sseq += len(data)
        return self

    def client_acks(self) -> TcpConversation:
        self._add(True, "A")
        return self

    def server_acks(self) -> TcpConversation:
        self._add(False, "A")
        return self

    def close(self) -> TcpConversation:
        self._add(True, "FA")
        self.cseq += 1
        self._add(False, "FA")
        self.sseq += 1
        self._add(True, "A")
        return self

    def reset(self, from_client: bool = True) -> TcpConversation:
        self._add(from_client, "R")
        return self


def udp(ts: float, src: str, dst: str, sport: int, dport: int, payload: bytes = b"x") -> tuple[float, Any]:
    return ts, Ether() / IP(src=src, dst=dst) / UDP(sport=sport, dport=dport) / payload
