"""Where events go: every sink receives every event the engine emits."""

from __future__ import annotations

from typing import Protocol

from fathom.events.schema import Event


class EventSink(Protocol):
    def emit(self, event: Event) -> None: ...
