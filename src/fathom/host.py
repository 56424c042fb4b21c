"""What an upper layer may ask of the engine that runs it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

from fathom.config import EngineConfig
from fathom.decode.packet import Packet
from fathom.events.schema import Event
from fathom.flow.consumer import Layer
from fathom.flow.flow import Flow
from fathom.flow.slots import FlowSlot

T = TypeVar("T")


class LayerHost(Protocol):
    @property
    def config(self) -> EngineConfig:
        """The engine's settings."""

    def emit(self, event: Event) -> None:
        """Send ``event`` to every sink."""

    def bypass(self, flow: Flow) -> None:
        """Stop inspecting ``flow``: later packets only update its counters; its verdicts stay."""

    def release_data(self, flow: Flow) -> None:
        """The calling layer needs no more of ``flow``'s stream bytes. Reassembly stops unless
        another layer reads them; packets still reach every layer and the flow is not bypassed."""

    @property
    def current_packet(self) -> Packet:
        """The packet being processed: the one that carried the bytes a stream hook receives."""

    def damaged(self, pkt: Packet) -> bool:
        """Whether ``pkt`` (the packet being processed) has a wrong TCP/UDP/ICMP checksum, when
        the engine verifies them: rules must not see it, as in Snort."""

    def new_slot(self, name: str, kind: type[T]) -> FlowSlot[T]:
        """A per-flow state slot for the calling layer (only while the engine is being built)."""


# Builds a layer for the engine given as host; the engine calls the factories in chain order.
LayerFactory = Callable[[LayerHost], Layer]
