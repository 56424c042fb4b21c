"""One worker process: an engine over AF_PACKET rings on the selected interfaces.

Workers share each interface through one PACKET_FANOUT_HASH group, so the kernel gives each worker
whole flows and nothing is passed between processes on the packet path. Between batches, a worker
reports its counters to the supervisor (about once a second) and applies a new plan:

- new rules are loaded in a thread (from the cache the supervisor filled) while packets go on,
  then swapped in between two batches: flows keep their state, later data meets the new rules;
- interfaces that were added are opened and those removed are closed, the others untouched, so
  no packet of a continuing interface is lost;
- a new selection names workloads in events from the next batch on.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from fathom.apps.layer import AppLayer
from fathom.capture.afpacket import AfPacketSource
from fathom.engine import Engine
from fathom.events.file_sink import EveFileSink
from fathom.flow.consumer import Layer, LayerChain
from fathom.host import LayerHost
from fathom.manager.delivery import ManagerSink
from fathom.notes import note
from fathom.rules.cache import load_index
from fathom.rules.detect import DetectLayer
from fathom.rules.index import RuleIndex
from fathom.sensor.attribution import Attribution
from fathom.sensor.counting import EventCounts
from fathom.sensor.metrics import Snapshot
from fathom.sensor.plan import WorkerPlan
from fathom.sensor.stages import StageSampler

# Seconds between two reports of a worker's counters, and between two tries of a missing interface.
REPORT_INTERVAL = 1.0
RETRY_INTERVAL = 1.0


def load_plan_rules(plan: WorkerPlan) -> RuleIndex:
    cache = Path(plan.rule_cache) if plan.rule_cache else None
    return load_index(plan.rules, cache_dir=cache, note=note)[0]


def open_eve_append(path: str) -> EveFileSink:
    """The EVE file every worker appends whole lines to (O_APPEND: their writes never overlap)."""
    if path == "-":
        return EveFileSink(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
    return EveFileSink(path, fd)


class Worker:
    def __init__(
        self, number: int, plan: WorkerPlan, conn: Connection, index: RuleIndex | None = None
    ) -> None:
        self.number = number
        self.plan = plan
        self.conn = conn
        self.index = index if index is not None else load_plan_rules(plan)
        self.detect: DetectLayer | None = None
        self.engine = Engine(plan.engine, [self._layers])
        self.attribution = Attribution(plan.selection)
        self.counts = EventCounts()
        # The attribution comes first: it names the workloads before any sink renders an event.
        self.engine.add_sink(self.attribution)
        self.engine.add_sink(self.counts)
        self.eve = open_eve_append(plan.eve) if plan.eve else None
        if self.eve is not None:
            self.engine.add_sink(self.eve)
        # Built here, after the fork: the sink's thread lives in this process. Workers share the
        # spool directory, each in a slot of its own.
        self.manager = ManagerSink(plan.manager, plan.token) if plan.manager else None
        if self.manager is not None:
            self.engine.add_sink(self.manager)
        # A missing interface is a status, not an error: it is opened once it appears.
        self.source = AfPacketSource(
            plan.interfaces, fanout_group=plan.fanout_group, retry_interval=RETRY_INTERVAL
        )
        self.source.open(missing_ok=True)
        self.engine.name_interfaces(self.source.interfaces)
        self.stages = StageSampler()
        # A ruleset being loaded for a new plan, and the plan it is for.
        self._loading: threading.Thread | None = None
        self._loaded: RuleIndex | None = None
        self._pending: WorkerPlan | None = None
        self.stopping = False
        self._eve_error_told = False

    def _layers(self, host: LayerHost) -> Layer:
        app = AppLayer(host)
        self.detect = DetectLayer(host, self.index, app, self.plan.engine.detect)
        return LayerChain([app, self.detect])

    def run(self) -> None:
        """Capture until told to stop; then end every flow and write their events."""
        engine = self.engine
        batches = self.source.batches()
        self.report()  # the rings are open: the supervisor may say the interfaces are captured
        next_report = time.monotonic() + REPORT_INTERVAL
        self.stages.start()
        try:
            while not self.stopping:
                batch = next(batches, None)
                if batch is None:
                    break
                engine.process(*batch)
                engine.tick(time.time())
                if self.eve is not None:
                    self.eve.flush()
                self._between_batches()
                if time.monotonic() >= next_report:
                    next_report = time.monotonic() + REPORT_INTERVAL
                    self.report()
        finally:
            self.stages.stop()
            self.source.close()
            engine.finish()
            if self.eve is not None:
                self.eve.close()
            if self.manager is not None:
                self.manager.close()
                if self.manager.lost or self.manager.pending:
                    note(f"worker {self.number}: {self.manager.report()}")
            self.report()

    def _between_batches(self) -> None:
        while self.conn.poll():
            message = self.conn.recv()
            if message == "stop":
                self.stopping = True
                return
            self._apply(message)
        if self._pending is not None and self._loading is not None and not self._loading.is_alive():
            self._swap(self._pending)

    def _apply(self, plan: WorkerPlan) -> None:
        """Start applying ``plan``: its rules load in a thread when they changed."""
        self._pending = plan
        if plan.rules_version == self.plan.rules_version and self._loading is None:
            self._swap(plan)
            return
        if self._loading is None:
            self._loading = threading.Thread(target=self._load, args=(plan,), daemon=True)
            self._loading.start()

    def _load(self, plan: WorkerPlan) -> None:
        self._loaded = load_plan_rules(plan)

    def _swap(self, plan: WorkerPlan) -> None:
        """Between two batches: the new rules, interfaces and selection take over at once."""
        if self._loaded is not None and self.detect is not None:
            self.index = self.detect.index = self._loaded
        self._loaded = None
        self._loading = None
        self._pending = None
        if plan.interfaces != self.plan.interfaces:
            self.source.set_interfaces(plan.interfaces)
        self.attribution.selection = plan.selection
        self.plan = plan
        self.report()

    def snapshot(self) -> Snapshot:
        snapshot = Snapshot(
            alerts=dict(self.counts.alerts),
            app_flows=dict(self.counts.app_flows),
            app_bytes=dict(self.counts.app_bytes),
            stage_seconds={(stage,): seconds for stage, seconds in self.stages.seconds.items()},
            engine=self.engine.counters(),
        )
        for name, stats in self.source.stats().items():
            key = (name,)
            snapshot.packets[key] = stats.read
            snapshot.bytes[key] = stats.bytes
            snapshot.drops[key] = stats.drops
            snapshot.freezes[key] = stats.freeze_q
        return snapshot

    def report(self) -> None:
        status: dict[str, Any] = {"interfaces": self.source.status(), "generation": self.plan.generation}
        if self.eve is not None and self.eve.error and not self._eve_error_told:
            self._eve_error_told = True
            status["eve_error"] = self.eve.error
        try:
            self.conn.send((self.number, self.snapshot(), status))
        except (BrokenPipeError, ConnectionResetError, EOFError):
            self.stopping = True  # the supervisor is gone


def worker_main(number: int, plan: WorkerPlan, conn: Connection, index: RuleIndex | None) -> None:
    """A worker process's entry point. The supervisor handles signals; it stops workers itself."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    worker = Worker(number, plan, conn, index)
    signal.signal(signal.SIGTERM, lambda *_: setattr(worker, "stopping", True))
    worker.run()
