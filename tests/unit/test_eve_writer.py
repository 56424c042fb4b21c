"""The EVE writer process writes exactly what the engine would write itself, in order, and says
what it could not write."""

from __future__ import annotations

import marshal
import os
from pathlib import Path

import orjson
import pytest

from fathom.capture.pcapfile import open_capture
from fathom.engine import Engine
from fathom.events.file_sink import EveFileSink
from fathom.events.schema import Event, FlowEvent, render_record
from fathom.events.writer import EveWriter
from fathom.flow.flow import Flow
from fathom.rules.cache import load_index
from fathom.rules.detect import detection
from fathom.rules.loader import BUNDLED_RULES
from tests.corpus.conftest import CORPUS

# Alerts, HTTP events and the flow events of TCP and UDP flows, interleaved.
MIXED = CORPUS / "parity" / "parity_calico_demo.pcap"


def flow_event(serial: int) -> FlowEvent:
    flow = Flow(serial, b"\x0a\x00\x00\x01", b"\x0a\x00\x00\x02", 40000 + serial, 53, 17, 4, 0, 0, 10.0, 1, 0)
    flow.pkts_ts = 1
    flow.end_reason = "timeout"
    return FlowEvent(flow, flow.last, serial)


def test_the_writer_process_writes_the_lines_the_engine_renders(tmp_path: Path) -> None:
    index, _ = load_index([str(BUNDLED_RULES)], cache_dir=tmp_path / "cache")
    engine = Engine(layers=[detection(index)])
    here = EveFileSink(str(tmp_path / "in-process.json"))
    there = EveWriter(str(tmp_path / "writer.json"))
    engine.add_sink(here)
    engine.add_sink(there)
    with open_capture(str(MIXED)) as reader:
        engine.run(reader)
    engine.finish()
    here.close()
    there.close()
    written = (tmp_path / "writer.json").read_bytes()
    assert written == (tmp_path / "in-process.json").read_bytes()
    kinds = {orjson.loads(line)["event_type"] for line in written.splitlines()}
    assert kinds == {"alert", "http", "flow"}
    assert (there.accepted, there.written, there.lost, there.error) == (here.written, here.written, 0, None)


def test_a_writer_killed_midway_is_one_error_with_the_count(tmp_path: Path) -> None:
    writer = EveWriter(str(tmp_path / "eve.json"))
    writer.emit(flow_event(1))
    writer._proc.kill()
    writer._proc.wait()
    for serial in range(2, 2000):
        writer.emit(flow_event(serial))
    writer.close()
    assert writer.error is not None
    assert writer.error.startswith(f"{tmp_path / 'eve.json'}: the EVE writer process")
    assert (writer.accepted, writer.written, writer.lost) == (1999, 0, 1999)


def test_the_writer_is_out_of_the_terminals_reach(tmp_path: Path) -> None:
    """Ctrl-C goes to the terminal's process group; the writer has one of its own."""
    writer = EveWriter(str(tmp_path / "eve.json"))
    try:
        assert os.getpgid(writer._proc.pid) == writer._proc.pid != os.getpgid(0)
    finally:
        writer.close()


def test_a_file_that_cannot_be_opened_fails_before_any_writer_starts(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError):
        EveWriter(str(tmp_path))


class _Collect:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def emit(self, event: Event) -> None:
        self.events.append(event)


def test_flow_and_http_events_cross_as_values_that_render_to_the_same_line(tmp_path: Path) -> None:
    """The bulk of the output is handed over unrendered: the writer makes the same line of it."""
    index, _ = load_index([str(BUNDLED_RULES)], cache_dir=tmp_path / "cache")
    engine = Engine(layers=[detection(index)])
    sink = _Collect()
    engine.add_sink(sink)
    with open_capture(str(MIXED)) as reader:
        engine.run(reader)
    engine.finish()
    by_kind: dict[str, int] = {}
    for event in sink.events:
        record = marshal.loads(marshal.dumps(event.record(), 4))
        assert render_record(record) == event.json()
        if isinstance(record, tuple):
            by_kind[event.event_type] = by_kind.get(event.event_type, 0) + 1
    assert set(by_kind) == {"flow", "http"}
