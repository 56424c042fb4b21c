"""Typed per-flow state slots: each layer keeps its own state on the flow, created lazily.

The engine hands out slots before the first flow exists; each flow then carries one list entry
per slot. A layer reads only its own slot; other layers see its published flow fields.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from fathom.flow.flow import Flow

T = TypeVar("T")


class FlowSlot(Generic[T]):
    """One layer's state on every flow: None until the layer sets it."""

    __slots__ = ("index", "name")

    def __init__(self, name: str, index: int) -> None:
        self.name = name
        self.index = index

    def get(self, flow: Flow) -> T | None:
        # Only set() fills the entry, with a T; no runtime cast (a call) on this path.
        return flow.slots[self.index]  # type: ignore[return-value]

    def set(self, flow: Flow, state: T) -> None:
        flow.slots[self.index] = state


class SlotRegistry:
    """Hands out slot indices; closed once flows exist, because existing flows have no room for more."""

    __slots__ = ("closed", "names")

    def __init__(self) -> None:
        self.names: list[str] = []
        self.closed = False

    def new(self, name: str, kind: type[T]) -> FlowSlot[T]:
        """A slot holding ``kind`` (the type is for the type checker; values are not checked)."""
        if self.closed:
            raise RuntimeError(f"flow slot {name!r} requested after flows were created")
        if name in self.names:
            raise ValueError(f"flow slot {name!r} already exists")
        self.names.append(name)
        return FlowSlot(name, len(self.names) - 1)

    def __len__(self) -> int:
        return len(self.names)
