"""The seam where upper layers (application identification, detection, tests) attach to the flow layer.

A layer sees, for each flow: every packet with its decoded headers (``on_packet``, once per packet
after flow accounting and before stream delivery), each direction's reassembled TCP bytes in order
(``on_data``), the size of every hole in them (``on_gap``) and the end of the flow (``on_flow_end``).
Bytes are only valid during the call: a layer that needs them later copies what it needs, bounded.
Packets of a bypassed flow reach no layer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fathom.decode.packet import Buffer, Packet
    from fathom.flow.flow import Flow

PacketHook = Callable[["Packet", "Flow", bool], None]
EndHook = Callable[["Flow"], None]


class Layer:
    """Base class of upper layers: every hook does nothing until a subclass overrides it."""

    __slots__ = ()

    def on_packet(self, pkt: Packet, flow: Flow, to_server: bool) -> None:
        pass

    def on_data(self, flow: Flow, to_server: bool, buf: Buffer, off: int, length: int) -> None:
        pass

    def on_gap(self, flow: Flow, to_server: bool, length: int) -> None:
        pass

    def on_flow_end(self, flow: Flow) -> None:
        pass

    def counters(self) -> dict[str, int]:
        """The layer's counters by dotted name, for the engine's report."""
        return {}


_HOOKS = ("on_packet", "on_data", "on_gap", "on_flow_end")


def overrides(layer: Layer, hook: str) -> bool:
    """Whether ``layer`` does something in ``hook``: hooks nobody overrides are never called."""
    return getattr(type(layer), hook) is not getattr(Layer, hook)


class LayerChain(Layer):
    """Several layers, called in order for each hook that they override. A layer that bypasses the
    flow stops the packet there: the layers after it never see it."""

    __slots__ = ("_data", "_end", "_gap", "_packet", "hooked", "layers")

    def __init__(self, layers: Sequence[Layer]) -> None:
        self.layers = tuple(layers)
        self._packet = tuple(layer.on_packet for layer in layers if overrides(layer, "on_packet"))
        self._data = tuple(layer.on_data for layer in layers if overrides(layer, "on_data"))
        self._gap = tuple(layer.on_gap for layer in layers if overrides(layer, "on_gap"))
        self._end = tuple(layer.on_flow_end for layer in layers if overrides(layer, "on_flow_end"))
        # The hooks that some layer of the chain overrides.
        self.hooked = frozenset(hook for hook in _HOOKS if any(overrides(layer, hook) for layer in layers))

    def on_packet(self, pkt: Packet, flow: Flow, to_server: bool) -> None:
        for hook in self._packet:
            hook(pkt, flow, to_server)
            if flow.bypassed:
                return

    def on_data(self, flow: Flow, to_server: bool, buf: Buffer, off: int, length: int) -> None:
        for hook in self._data:
            hook(flow, to_server, buf, off, length)
            if flow.bypassed:
                return

    def on_gap(self, flow: Flow, to_server: bool, length: int) -> None:
        for hook in self._gap:
            hook(flow, to_server, length)

    def on_flow_end(self, flow: Flow) -> None:
        for hook in self._end:
            hook(flow)

    def counters(self) -> dict[str, int]:
        return {name: count for layer in self.layers for name, count in layer.counters().items()}


def chain(layers: Sequence[Layer]) -> Layer:
    """One layer standing for ``layers``: the layer itself when there is one, so the common case costs
    no extra call."""
    if len(layers) == 1:
        return layers[0]
    return LayerChain(layers)


def _active(layer: Layer, hook: str) -> bool:
    return hook in layer.hooked if isinstance(layer, LayerChain) else overrides(layer, hook)


def data_readers(layer: Layer) -> int:
    """How many layers read stream bytes (override ``on_data``)."""
    if isinstance(layer, LayerChain):
        return len(layer._data)
    return int(overrides(layer, "on_data"))


def packet_hook(layer: Layer) -> PacketHook | None:
    """The per-packet hook to call, or None when no layer looks at packets (the cheapest path)."""
    return layer.on_packet if _active(layer, "on_packet") else None


def end_hook(layer: Layer) -> EndHook | None:
    """The flow-end hook to call, or None when no layer wants to know."""
    return layer.on_flow_end if _active(layer, "on_flow_end") else None
