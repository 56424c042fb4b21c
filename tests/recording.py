"""A layer that records what the flow layer delivers, for assertions."""

from __future__ import annotations

from fathom.decode.packet import Buffer, Packet
from fathom.flow.consumer import Layer
from fathom.flow.flow import Flow


class RecordingLayer(Layer):
    def __init__(self) -> None:
        # (flow serial, to_server) -> list of ("data", bytes) / ("gap", length) in delivery order.
        self.events: dict[tuple[int, bool], list[tuple[str, bytes | int]]] = {}
        # (flow serial, to_server, pcap_cnt, payload) for every packet handed up.
        self.packets: list[tuple[int, bool, int, bytes]] = []
        self.ended: list[int] = []

    def on_packet(self, pkt: Packet, flow: Flow, to_server: bool) -> None:
        self.packets.append((flow.serial, to_server, pkt.pcap_cnt, bytes(pkt.payload())))

    def on_data(self, flow: Flow, to_server: bool, buf: Buffer, off: int, length: int) -> None:
        self.events.setdefault((flow.serial, to_server), []).append(("data", bytes(buf[off : off + length])))

    def on_gap(self, flow: Flow, to_server: bool, length: int) -> None:
        self.events.setdefault((flow.serial, to_server), []).append(("gap", length))

    def on_flow_end(self, flow: Flow) -> None:
        self.ended.append(flow.serial)

    def stream(self, serial: int, to_server: bool) -> bytes:
        """The delivered bytes of one direction, gaps left out."""
        return b"".join(item for kind, item in self.events.get((serial, to_server), []) if kind == "data")  # type: ignore[misc]
