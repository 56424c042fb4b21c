"""A stream consumer that records what the flow layer delivers, for assertions."""

from __future__ import annotations

from fathom.decode.packet import Buffer
from fathom.flow.flow import Flow


class RecordingConsumer:
    def __init__(self) -> None:
        # (flow serial, to_server) -> list of ("data", bytes) / ("gap", length) in delivery order.
        self.events: dict[tuple[int, bool], list[tuple[str, bytes | int]]] = {}
        self.datagrams: list[tuple[int, bool, bytes]] = []
        self.ended: list[int] = []

    def on_data(self, flow: Flow, to_server: bool, buf: Buffer, off: int, length: int) -> None:
        self.events.setdefault((flow.serial, to_server), []).append(("data", bytes(buf[off : off + length])))

    def on_gap(self, flow: Flow, to_server: bool, length: int) -> None:
        self.events.setdefault((flow.serial, to_server), []).append(("gap", length))

    def on_datagram(self, flow: Flow, to_server: bool, buf: Buffer, off: int, length: int) -> None:
        self.datagrams.append((flow.serial, to_server, bytes(buf[off : off + length])))

    def on_flow_end(self, flow: Flow) -> None:
        self.ended.append(flow.serial)

    def stream(self, serial: int, to_server: bool) -> bytes:
        """The delivered bytes of one direction, gaps left out."""
        return b"".join(item for kind, item in self.events.get((serial, to_server), []) if kind == "data")  # type: ignore[misc]
