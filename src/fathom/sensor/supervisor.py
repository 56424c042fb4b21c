"""The sensor process: it turns the config into a plan, runs the workers, restarts those that die,
applies changes without a restart, and serves the metrics.

A change comes from SIGHUP or from a change to the config file or to a rules file (``fathom rules
update`` replaces one). The new config and rules are checked here first: a config that does not
load, or rules that load none, leave the running plan as it is, with one line saying why. A plan
that passes goes to every worker, which swaps it in between two batches (:mod:`.worker`).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from multiprocessing.context import ForkProcess
from pathlib import Path
from typing import Any

from fathom import __version__
from fathom.config import ConfigError, FathomConfig, load_config
from fathom.notes import note
from fathom.rules.cache import default_cache_dir, load_index
from fathom.rules.index import RuleIndex
from fathom.sensor.metrics import SensorCollector, Snapshot
from fathom.sensor.plan import WorkerPlan
from fathom.sensor.reporting import StatusReporter
from fathom.sensor.workloads import Selection, select

# Seconds between two looks at the workers, the config file and the rules files.
POLL_INTERVAL = 0.2
# A worker that dies sooner than this after its start waits this long before the next one.
RESTART_BACKOFF = 1.0


@dataclass(frozen=True, slots=True)
class SensorSettings:
    """What the command line asks for: a config file (host mode), or interfaces to inspect whole."""

    config: str | None
    interfaces: tuple[str, ...]
    rules: tuple[str, ...]
    eve: str | None
    workers: int
    metrics: tuple[str, int] | None
    use_rule_cache: bool = True
    # The manager events and status reports go to, and its token.
    manager: str | None = None
    token: str | None = None


@dataclass(slots=True)
class _Running:
    process: ForkProcess
    conn: Connection
    started: float


def _files_state(paths: Sequence[str]) -> tuple[tuple[str, float, int], ...]:
    """What changes when a file (or a directory's rules files) is written or replaced."""
    seen = []
    for path in paths:
        p = Path(path)
        files = sorted(p.glob("*.rules")) if p.is_dir() else [p]
        for file in files:
            try:
                st = file.stat()
            except OSError:
                seen.append((str(file), -1.0, -1))
                continue
            seen.append((str(file), st.st_mtime, st.st_ino))
    return tuple(seen)


class Supervisor:
    def __init__(self, settings: SensorSettings) -> None:
        self.settings = settings
        self.collector = SensorCollector()
        self.workers: dict[int, _Running] = {}
        self.generation = 0
        self.rules_version = 0
        self.plan: WorkerPlan | None = None
        self.index: RuleIndex | None = None
        self.reload_requested = False
        self.stopping = False
        self._watched: tuple[tuple[str, float, int], ...] = ()
        # The rules files the loaded index was made of, and their state then.
        self._rules_state: tuple[tuple[str, ...], tuple[tuple[str, float, int], ...]] | None = None
        self._last_death = 0.0
        # Per worker: the status it last reported (its interfaces, the generation it runs).
        self.status: dict[int, dict[str, Any]] = {}
        self._ctx = multiprocessing.get_context("fork")
        self.reporter: StatusReporter | None = None

    # -- building plans

    def _config(self) -> FathomConfig:
        s = self.settings
        config = load_config(s.config) if s.config else FathomConfig()
        rules = s.rules or config.rules
        eve = s.eve if s.eve is not None else config.eve
        return replace(config, rules=tuple(rules), eve=eve)

    def _selection(self, config: FathomConfig) -> Selection:
        if self.settings.interfaces:
            return Selection(
                interfaces=tuple(self.settings.interfaces), node=config.node or socket.gethostname()
            )
        return select(config)

    def _rule_paths(self, config: FathomConfig) -> tuple[str, ...]:
        from fathom.rules.loader import BUNDLED_RULES

        return config.rules or (str(BUNDLED_RULES),)

    def build_plan(self) -> tuple[WorkerPlan, RuleIndex]:
        """The plan the config and rules declare now, with its rules loaded (and cached, for the
        workers). Raises ConfigError, with one line, when they cannot be used."""
        config = self._config()
        selection = self._selection(config)
        rules = self._rule_paths(config)
        cache = default_cache_dir() if self.settings.use_rule_cache else None
        rules_state = (rules, _files_state(rules))
        if self.index is not None and rules_state == self._rules_state:
            index = self.index  # a change of selection only: the rules stay loaded
        else:
            index, _ = load_index(rules, cache_dir=cache, note=note)
            ruleset = index.ruleset
            self.collector.rule_load_errors += len(ruleset.rejected)
            if not ruleset.rules:
                first = f": {ruleset.rejected[0]}" if ruleset.rejected else ""
                raise ConfigError(f"{', '.join(rules)}: no rule loaded{first}")
            self.collector.rules_loaded = len(ruleset.rules)
            self._rules_state = rules_state
            self.rules_version += 1
        self.generation += 1
        plan = WorkerPlan(
            generation=self.generation,
            interfaces=selection.interfaces,
            rules=rules,
            rules_version=self.rules_version,
            # Packets a local pod sends reach the capture before their checksum is filled in
            # (checksum offload on veths): as Suricata's "auto", do not hold them against traffic.
            engine=replace(config.engine, verify_checksums=False),
            selection=selection,
            eve=config.eve,
            fanout_group=os.getpid() & 0xFFFF,
            rule_cache=str(cache) if cache is not None else None,
            manager=self.settings.manager,
            token=self.settings.token,
        )
        self._watched = _files_state(self._watch_paths(plan))
        return plan, index

    def _watch_paths(self, plan: WorkerPlan) -> list[str]:
        return [*([self.settings.config] if self.settings.config else []), *plan.rules]

    # -- workers

    def _spawn(self, number: int) -> None:
        from fathom.sensor.worker import worker_main

        assert self.plan is not None
        parent, child = self._ctx.Pipe()
        process = self._ctx.Process(
            target=worker_main, args=(number, self.plan, child, self.index), name=f"fathom-worker-{number}"
        )
        process.start()
        child.close()
        self.workers[number] = _Running(process, parent, time.monotonic())

    def _reap(self) -> None:
        """Restart workers that died (not those told to stop), and count them."""
        for number, running in list(self.workers.items()):
            if running.process.is_alive():
                continue
            running.process.join()
            self._drain(number, running)
            self.collector.retire(number)
            self.status.pop(number, None)
            del self.workers[number]
            if not self.status:
                # Nothing captures until the new worker opens its rings and says so.
                self.collector.interfaces_up = {}
            if self.stopping:
                continue
            note(f"worker {number} died (exit {running.process.exitcode}); restarting it")
            self.collector.worker_restarts += 1
            if time.monotonic() - running.started < RESTART_BACKOFF:
                time.sleep(RESTART_BACKOFF)
            self._spawn(number)

    def _drain(self, number: int, running: _Running) -> None:
        """Read every message a worker sent: its counters and status."""
        try:
            while running.conn.poll():
                self._received(running.conn.recv())
        except (EOFError, OSError):
            pass

    def _received(self, message: tuple[int, Snapshot, dict[str, Any]]) -> None:
        number, snapshot, status = message
        self.collector.update(number, snapshot)
        eve_error = status.pop("eve_error", None)
        if eve_error:
            note(f"worker {number}: {eve_error}")
        # The interfaces a worker captures count once it runs the current plan.
        if status.get("generation") == self.generation:
            self._interface_changes(status.get("interfaces", {}))
        self.status[number] = status
        self.collector.applied_generation = min(seen.get("generation", 0) for seen in self.status.values())

    def _interface_changes(self, interfaces: dict[str, str]) -> None:
        """The interfaces captured now; say once when one goes missing or comes back."""
        known = self.collector.interfaces_up
        for name, state in interfaces.items():
            up = 1 if state == "up" else 0
            before = known.get(name)
            if before != up and (before is not None or not up):
                note(f"interface {name}: {state}")
        self.collector.interfaces_up = {name: 1 if state == "up" else 0 for name, state in interfaces.items()}

    # -- changes

    def _changed(self) -> bool:
        assert self.plan is not None
        return _files_state(self._watch_paths(self.plan)) != self._watched

    def reload(self) -> None:
        """Check the new config and rules; send the plan to the workers when they pass."""
        try:
            plan, index = self.build_plan()
        except ConfigError as exc:
            note(f"reload: {exc}; the running config stays")
            self.collector.reloads["failed"] += 1
            assert self.plan is not None
            self._watched = _files_state(self._watch_paths(self.plan))
            return
        self.plan, self.index = plan, index
        self.collector.generation = plan.generation
        for running in self.workers.values():
            with contextlib.suppress(OSError):  # a dying worker: it restarts with the new plan
                running.conn.send(plan)
        self.collector.reloads["applied"] += 1

    # -- running

    def _serve_metrics(self) -> None:
        if self.settings.metrics is None:
            return
        from prometheus_client import start_http_server
        from prometheus_client.registry import CollectorRegistry

        registry = CollectorRegistry(auto_describe=False)
        registry.register(self.collector)
        host, port = self.settings.metrics
        start_http_server(port, addr=host, registry=registry)

    def run(self) -> int:
        """Run until SIGINT or SIGTERM. Raises ConfigError, with one line, when the first plan
        cannot be built."""
        self.plan, self.index = self.build_plan()
        self.collector.generation = self.plan.generation
        for number in range(self.settings.workers):
            self._spawn(number)
        # Threads start after the first workers are forked: a fork copies only the calling thread.
        self._serve_metrics()
        if self.settings.manager:
            self.reporter = StatusReporter(self.settings.manager, self.settings.token, self._status_report)
            self.reporter.start()
        signal.signal(signal.SIGHUP, lambda *_: setattr(self, "reload_requested", True))
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: setattr(self, "stopping", True))
        while not self.stopping:
            self.step()
            time.sleep(POLL_INTERVAL)
        self.stop()
        return 0

    def step(self) -> None:
        for number, running in list(self.workers.items()):
            self._drain(number, running)
        self._reap()
        if self.reload_requested or self._changed():
            self.reload_requested = False
            self.reload()

    def _status_report(self) -> dict[str, Any]:
        """What the manager's Inspections page shows of this node: the interfaces captured, the
        pods each inspection selects here, and the counters."""
        assert self.plan is not None
        total = self.collector.total()
        counters = {name: int(count) for name, count in total.engine.items()}
        for attribute in ("packets", "drops"):
            counters[f"capture.{attribute}"] = int(sum(getattr(total, attribute).values()))
        counters["alerts"] = int(sum(total.alerts.values()))
        counters["worker_restarts"] = self.collector.worker_restarts
        interfaces = {name: "up" if up else "gone" for name, up in self.collector.interfaces_up.items()}
        return {
            "node": self.plan.selection.node,
            "interfaces": interfaces,
            "inspections": {name: list(pods) for name, pods in self.plan.selection.inspections.items()},
            "counters": counters,
            "version": __version__,
        }

    def stop(self) -> None:
        """Tell every worker to stop, wait for their last events and counters."""
        self.stopping = True
        if self.reporter is not None:
            self.reporter.stop()
        for running in self.workers.values():
            with contextlib.suppress(OSError):
                running.conn.send("stop")
        deadline = time.monotonic() + 10
        for number, running in list(self.workers.items()):
            while running.process.is_alive() and time.monotonic() < deadline:
                self._drain(number, running)
                running.process.join(0.1)
            if running.process.is_alive():
                running.process.kill()
                running.process.join()
            self._drain(number, running)
        self._reap()
