"""Run the engine over a capture file and collect what it produced."""

from __future__ import annotations

from pathlib import Path

from fathom.capture.pcapfile import open_capture
from fathom.config import EngineConfig
from fathom.engine import Engine
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
