"""The ``fathom`` command."""

from __future__ import annotations

import argparse
import gc
import os
import signal
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from fathom import __version__
from fathom.capture.pcapfile import CaptureError, open_capture
from fathom.capture.source import PacketSource
from fathom.config import ConfigError, DetectConfig, load_config
from fathom.engine import Engine
from fathom.events.file_sink import STDOUT
from fathom.events.summary import FlowSummary
from fathom.events.writer import EveWriter
from fathom.host import LayerFactory
from fathom.hostport import split_host_port
from fathom.notes import note

if TYPE_CHECKING:
    from fathom.events.ipfix import IpfixExporter
    from fathom.rules.alert import AlertSummary

# Files smaller than this finish before a progress bar would help.
_PROGRESS_MIN_BYTES = 32 * 1024 * 1024


INTERRUPTED = 128 + signal.SIGINT  # the shell's status for a command stopped by Ctrl-C


def _error(message: str) -> int:
    print(f"fathom: error: {message}", file=sys.stderr)
    return 1


def _identity(path: str) -> tuple[int, int] | None:
    """(device, inode) of a file, following links; standard input for ``-``; None if there is none."""
    try:
        st = os.fstat(sys.stdin.fileno()) if path == STDOUT else os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


def _overwrites_input(output: str, inputs: Sequence[str]) -> str | None:
    """The input that writing ``output`` would destroy, if any: the same file under any name or link."""
    if output == STDOUT:
        return None
    target = _identity(output)
    if target is None:
        return None
    return next((path for path in inputs if _identity(path) == target), None)


def _run_with_progress(engine: Engine, source: PacketSource, label: str) -> None:
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn

    columns = (BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn())
    with Progress(
        "[progress.description]{task.description}", *columns, console=Console(stderr=True), transient=True
    ) as bar:
        task = bar.add_task(label, total=source.size)
        engine.run(source, lambda pos: bar.update(task, completed=pos))


def _detection(
    paths: Sequence[str], events: DetectConfig, quiet: bool, use_cache: bool
) -> tuple[list[LayerFactory], AlertSummary | None]:
    """The detect layer for the rules in ``paths`` and a sink counting its alerts; with no rules,
    the application layer alone, so that packets pay nothing for detection. Imported here: a run
    without rules does not load the rule machinery at all."""
    from fathom.rules.cache import default_cache_dir, load_index

    started = time.perf_counter()
    index, cached = load_index(paths, cache_dir=default_cache_dir() if use_cache else None, note=note)
    ruleset = index.ruleset
    if ruleset.rejected and not quiet:
        note(f"{len(ruleset.rejected):,} rules not loaded; `fathom rules check` lists them")
    if not ruleset.rules:
        from fathom.apps.layer import AppLayer

        return [AppLayer], None
    from fathom.rules.alert import AlertSummary
    from fathom.rules.detect import detection

    gc.freeze()  # the rules live as long as the run, as what main() froze does
    return [detection(index, events)], AlertSummary(len(ruleset.rules), cached, time.perf_counter() - started)


def _manager_token(args: argparse.Namespace) -> str | None:
    """The token ``--manager`` and ``--token-file`` give (checked before any work starts), or
    None. Raises ValueError with one line."""
    if not args.manager:
        if args.token_file:
            raise ValueError("--token-file: only with --manager")
        return None
    from fathom.manager.delivery import DeliveryError, check_manager

    try:
        return check_manager(args.manager, args.token_file)
    except DeliveryError as exc:
        raise ValueError(str(exc)) from None


def cmd_analyze(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        return _error(str(exc))
    from fathom.rules.loader import BUNDLED_RULES

    rules = args.rules or [str(BUNDLED_RULES)]
    for path in rules:
        if not os.path.exists(path):
            return _error(f"{path}: rules file not found")
    if args.eve:
        inputs = [args.capture, *rules, *([args.config] if args.config else [])]
        clash = _overwrites_input(args.eve, inputs)
        if clash is not None:
            return _error(f"{args.eve}: is the input {clash}; refusing to write events over it")
    try:
        token = _manager_token(args)
    except ValueError as exc:
        return _error(str(exc))
    try:
        source = open_capture(args.capture)
    except CaptureError as exc:
        return _error(str(exc))
    detect, alerts = _detection(rules, config.engine.detect, args.quiet, not args.no_rule_cache)
    engine = Engine(config.engine, detect)
    summary = FlowSummary()
    if not args.quiet:
        engine.add_sink(summary)
        if alerts is not None:
            engine.add_sink(alerts)
    exporter = None
    if args.ipfix:
        try:
            exporter = _ipfix_exporter(args.ipfix)
        except (ValueError, OSError) as exc:
            source.close()
            return _error(f"--ipfix {args.ipfix}: {exc}")
        engine.add_sink(exporter)
    writer = None
    if args.eve:
        try:
            writer = EveWriter(args.eve)
        except OSError as exc:
            source.close()
            if exporter is not None:
                exporter.close()
            return _error(f"{args.eve}: {exc.strerror}")
        engine.add_sink(writer)
    manager = None
    if args.manager:
        from fathom.manager.delivery import DeliveryError, ManagerSink

        try:
            manager = ManagerSink(args.manager, token)
        except DeliveryError as exc:
            source.close()
            if exporter is not None:
                exporter.close()
            if writer is not None:
                writer.close()
            return _error(str(exc))
        engine.add_sink(manager)
    started = time.perf_counter()
    interrupted = False
    try:
        with source:
            try:
                if not args.quiet and source.size >= _PROGRESS_MIN_BYTES and sys.stderr.isatty():
                    _run_with_progress(engine, source, os.path.basename(args.capture))
                else:
                    engine.run(source)
            except KeyboardInterrupt:
                # Stop reading, as Suricata does, but end the flows seen so far and write their events.
                interrupted = True
            engine.finish()
            damage = source.error
    finally:
        if writer is not None:
            writer.close()
        if exporter is not None:
            exporter.close()
        if manager is not None:
            manager.close()
    seconds = time.perf_counter() - started
    if not args.quiet:
        from fathom.report import print_summary

        print_summary(engine, summary, alerts, args.capture, seconds, writer.written if writer else 0)
    status = 0
    if damage:
        status = _error(damage)
    if writer is not None and writer.error:
        status = _error(f"{writer.error}; {writer.written:,} events written, {writer.lost:,} not written")
    if exporter is not None and exporter.send_errors:
        lost = exporter.send_errors
        status = _error(f"--ipfix {args.ipfix}: {lost:,} of {exporter.messages:,} messages could not be sent")
    if manager is not None and manager.lost:
        status = _error(manager.report())
    elif manager is not None and manager.pending:
        note(manager.report())
    if interrupted:
        _error(f"interrupted after {engine.packets:,} packets")
        return INTERRUPTED
    return status


def _ipfix_exporter(spec: str) -> IpfixExporter:
    """The exporter to ``HOST:PORT`` (``[ADDRESS]:PORT`` for IPv6)."""
    from fathom.events.ipfix import IpfixExporter

    try:
        host, port = split_host_port(spec)
    except ValueError:
        raise ValueError("want HOST:PORT") from None
    return IpfixExporter(host, port)


# Where `fathom rules update` installs a ruleset unless told otherwise.
DEFAULT_RULES_PATH = "/var/lib/fathom/rules/fathom.rules"


def cmd_rules_check(args: argparse.Namespace) -> int:
    from fathom.rules.check import check

    return check(args.files, sys.stdout)


def _listen_address(spec: str) -> tuple[str, int] | None:
    """``HOST:PORT`` (``[ADDRESS]:PORT`` for IPv6), or None for ``off``. Raises ValueError."""
    if spec == "off":
        return None
    try:
        return split_host_port(spec, default_host="0.0.0.0")
    except ValueError:
        raise ValueError(f"{spec}: want HOST:PORT or off") from None


def cmd_sensor(args: argparse.Namespace) -> int:
    from fathom.sensor.supervisor import SensorSettings, Supervisor

    if bool(args.config) == bool(args.interface):
        return _error("sensor: give --config FILE or --interface IF (not both)")
    if args.workers < 1:
        return _error("--workers: at least 1")
    try:
        token = _manager_token(args)
    except ValueError as exc:
        return _error(str(exc))
    try:
        metrics = _listen_address(args.metrics)
    except ValueError as exc:
        return _error(f"--metrics {exc}")
    settings = SensorSettings(
        config=args.config,
        interfaces=tuple(args.interface or ()),
        rules=tuple(args.rules or ()),
        eve=args.eve,
        workers=args.workers,
        metrics=metrics,
        use_rule_cache=not args.no_rule_cache,
        manager=args.manager,
        token=token,
    )
    try:
        return Supervisor(settings).run()
    except ConfigError as exc:
        return _error(str(exc))


def cmd_rules_update(args: argparse.Namespace) -> int:
    from fathom.rules.update import UpdateError, update_rules

    try:
        loaded = update_rules(args.source, args.to)
    except UpdateError as exc:
        return _error(str(exc))
    print(f"{args.to}: {loaded:,} rules installed")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from fathom.demo import run_demo
    from fathom.lab import LabError

    try:
        return run_demo()
    except LabError as exc:
        return _error(str(exc))


def cmd_serve(args: argparse.Namespace) -> int:
    from fathom.manager.serve import ServeError, ServeSettings, serve

    settings = ServeSettings(args.listen, args.db, args.tokens, tuple(args.rules or ()), args.retention)
    try:
        return serve(settings)
    except ServeError as exc:
        return _error(f"serve: {exc}")


def _add_manager_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--manager",
        metavar="URL",
        help=f"deliver {what} to the Fathom manager at URL (at least once: spooled while it is away)",
    )
    parser.add_argument(
        "--token-file", metavar="FILE", help="token for --manager: the first line of FILE, else $FATHOM_TOKEN"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fathom", description="Deep packet inspection for Kubernetes and Linux"
    )
    parser.add_argument("--version", action="version", version=f"fathom {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    analyze = sub.add_parser("analyze", help="analyze a pcap or pcapng file")
    analyze.add_argument("capture", help="pcap or pcapng file ('-' for standard input)")
    analyze.add_argument("--rules", action="append", metavar="FILE", help="Snort 3 rules file (repeatable)")
    analyze.add_argument("--eve", metavar="PATH", help="write EVE JSON lines here ('-' for stdout)")
    analyze.add_argument(
        "--ipfix", metavar="HOST:PORT", help="send each flow as an IPFIX record to this UDP collector"
    )
    _add_manager_arguments(analyze, "the events")
    analyze.add_argument("--config", metavar="FILE", help="YAML configuration")
    analyze.add_argument("-q", "--quiet", action="store_true", help="no terminal summary")
    analyze.add_argument(
        "--no-rule-cache",
        action="store_true",
        help="parse and compile the rules afresh, without reading or writing the rule cache",
    )
    analyze.set_defaults(func=cmd_analyze)
    rules = sub.add_parser("rules", help="work with rulesets").add_subparsers(
        dest="rules_command", required=True
    )
    check = rules.add_parser("check", help="report each rule that a ruleset would reject or load in part")
    check.add_argument("files", nargs="+", metavar="FILE", help="rules file or directory")
    check.set_defaults(func=cmd_rules_check)
    update = rules.add_parser(
        "update", help="install a ruleset from a file or URL, once it loads (a sensor picks it up)"
    )
    update.add_argument("source", metavar="FILE|URL", help="rules file, or http(s) URL of one")
    update.add_argument(
        "--to",
        metavar="PATH",
        default=DEFAULT_RULES_PATH,
        help=f"where to install it (default {DEFAULT_RULES_PATH})",
    )
    update.set_defaults(func=cmd_rules_update)
    sensor = sub.add_parser("sensor", help="inspect live traffic on AF_PACKET interfaces")
    sensor.add_argument(
        "--interface", action="append", metavar="IF", help="interface to inspect (repeatable)"
    )
    sensor.add_argument("--config", metavar="FILE", help="host-mode YAML: endpoints, inspections, rules, eve")
    sensor.add_argument("--rules", action="append", metavar="FILE", help="Snort 3 rules file (repeatable)")
    sensor.add_argument("--eve", metavar="PATH", help="append EVE JSON lines here ('-' for stdout)")
    sensor.add_argument("--workers", type=int, default=1, metavar="N", help="worker processes (default 1)")
    sensor.add_argument(
        "--metrics", default="0.0.0.0:8080", metavar="HOST:PORT", help="Prometheus /metrics address, or off"
    )
    sensor.add_argument("--no-rule-cache", action="store_true", help="compile the rules afresh")
    _add_manager_arguments(sensor, "events and status")
    sensor.set_defaults(func=cmd_sensor)
    demo = sub.add_parser("demo", help="run the Calico DPI lab here (root): pods, a sensor, alerts")
    demo.set_defaults(func=cmd_demo)
    serve = sub.add_parser("serve", help="run the manager: alert store, API and web UI")
    serve.add_argument(
        "--listen", default="127.0.0.1:8765", metavar="HOST:PORT", help="default 127.0.0.1:8765"
    )
    serve.add_argument(
        "--db",
        metavar="URL",
        help="sqlite:///PATH or postgresql://... (default: manager.db in the data directory)",
    )
    serve.add_argument("--tokens", metavar="FILE", help="API tokens: lines admin:TOKEN / read:TOKEN, or YAML")
    serve.add_argument(
        "--rules",
        action="append",
        metavar="FILE",
        help="rules whose text alerts show (default: the bundled set)",
    )
    serve.add_argument(
        "--retention",
        type=float,
        default=30.0,
        metavar="DAYS",
        help="keep events this long (default 30; 0: forever)",
    )
    serve.set_defaults(func=cmd_serve)
    return parser


def _tune_gc() -> None:
    """Flows hold no reference cycles once they end, so memory comes back by reference counting.
    The cycle collector's default pace (a pass every 700 allocations, full passes over every live
    flow) cost a third of the time on flow-heavy traffic; run it far less often instead. What was
    loaded at start-up is never garbage: keep it out of every pass."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def main(argv: Sequence[str] | None = None) -> int:
    _tune_gc()
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return INTERRUPTED


def run() -> None:
    """The console script: :func:`main`, then an exit that skips freeing every object one by one
    (a large flow table takes a noticeable part of a second to tear down, for nothing)."""
    status = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except OSError:  # a reader that went away (`| head`): nothing more can reach it
            status = status or 1
    os._exit(status)


if __name__ == "__main__":
    run()
