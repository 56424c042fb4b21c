"""Run the engine over a capture file and collect what it produced."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from fathom.apps.layer import AppLayer
from fathom.capture.pcapfile import open_capture
from fathom.config import EngineConfig
from fathom.engine import Engine
from fathom.flow.consumer import Layer
from fathom.host import LayerHost
from fathom.rules.detect import detection
from fathom.rules.index import RuleIndex
from tests.recording import RecordingLayer
from tests.traffic import ListSink


def analyze(
    path: Path, config: EngineConfig | None = None
) -> tuple[Engine, RecordingLayer, ListSink, str | None]:
    consumer = RecordingLayer()
    engine = Engine(config, [lambda host: consumer])
    sink = ListSink()
    engine.add_sink(sink)
    with open_capture(str(path)) as reader:
        engine.run(reader)
        engine.finish()
        return engine, consumer, sink, reader.error


def app_events(path: Path) -> list[dict[str, Any]]:
    """The EVE events of the application layer alone (identification and protocol logs) on the
    capture at ``path``."""
    engine = Engine(EngineConfig(), [AppLayer])
    sink = ListSink()
    engine.add_sink(sink)
    with open_capture(str(path)) as reader:
        engine.run(reader)
    engine.finish()
    return sink.events


L = TypeVar("L", bound=Layer)


def run_layer(path: Path, make: Callable[[LayerHost], L]) -> L:
    """Run the capture at ``path`` through an engine with the one layer ``make`` builds, to its
    end; return that layer."""
    made: list[L] = []

    def build(host: LayerHost) -> Layer:
        made.append(make(host))
        return made[-1]

    engine = Engine(layers=[build])
    with open_capture(str(path)) as reader:
        engine.run(reader)
    engine.finish()
    return made[0]


def alerts_of(path: Path, index: RuleIndex, config: EngineConfig | None = None) -> list[dict[str, Any]]:
    """The EVE alert events of the rules of ``index`` on the capture at ``path``."""
    config = config or EngineConfig()
    engine = Engine(config, [detection(index, config.detect)])
    sink = ListSink()
    engine.add_sink(sink)
    with open_capture(str(path)) as reader:
        engine.run(reader)
    engine.finish()
    return [event for event in sink.events if event["event_type"] == "alert"]
