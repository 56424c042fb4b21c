"""The ``fathom`` command."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence

from fathom import __version__
from fathom.capture.pcapfile import CaptureError, CaptureReader, open_capture
from fathom.config import ConfigError, load_config
from fathom.engine import Engine
from fathom.events.eve import EveWriter

# Files smaller than this finish before a progress bar would help.
_PROGRESS_MIN_BYTES = 32 * 1024 * 1024


def _error(message: str) -> int:
    print(f"fathom: error: {message}", file=sys.stderr)
    return 1


def _count_rules(paths: Sequence[str]) -> int:
    count = 0
    for path in paths:
        with open(path, encoding="utf-8", errors="replace") as f:
            count += sum(1 for line in f if line.strip() and not line.lstrip().startswith("#"))
    return count


def _note(message: str) -> None:
    print(f"fathom: note: {message}", file=sys.stderr)


def _run_with_progress(engine: Engine, reader: CaptureReader, label: str) -> None:
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn

    columns = (BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn())
    with Progress(
        "[progress.description]{task.description}", *columns, console=Console(stderr=True), transient=True
    ) as bar:
        task = bar.add_task(label, total=reader.size)
        engine.run(reader, lambda pos: bar.update(task, completed=pos))


def cmd_analyze(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        return _error(str(exc))
    for path in args.rules or []:
        if not os.path.isfile(path):
            return _error(f"{path}: rules file not found")
    if args.rules and _count_rules(args.rules) and not args.quiet:
        _note("rule matching is not available in this version; rules are not loaded")
    try:
        reader = open_capture(args.capture)
    except CaptureError as exc:
        return _error(str(exc))
    engine = Engine(config)
    writer = None
    if args.eve:
        try:
            writer = EveWriter(args.eve)
        except OSError as exc:
            reader.close()
            return _error(f"{args.eve}: {exc.strerror}")
        engine.add_sink(writer)
    started = time.perf_counter()
    with reader:
        if not args.quiet and reader.size >= _PROGRESS_MIN_BYTES and sys.stderr.isatty():
            _run_with_progress(engine, reader, os.path.basename(args.capture))
        else:
            engine.run(reader)
        engine.finish()
        damage = reader.error
    seconds = time.perf_counter() - started
    if writer is not None:
        writer.close()
    if not args.quiet:
        from rich.console import Console

        from fathom.report import print_summary

        print_summary(Console(stderr=True), engine, args.capture, seconds, writer.count if writer else 0)
    if damage:
        return _error(damage)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fathom", description="Deep packet inspection for Kubernetes and Linux"
    )
    parser.add_argument("--version", action="version", version=f"fathom {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    analyze = sub.add_parser("analyze", help="analyze a pcap or pcapng file")
    analyze.add_argument("capture", help="pcap or pcapng file")
    analyze.add_argument("--rules", action="append", metavar="FILE", help="Snort 3 rules file (repeatable)")
    analyze.add_argument("--eve", metavar="PATH", help="write EVE JSON lines here ('-' for stdout)")
    analyze.add_argument("--config", metavar="FILE", help="YAML configuration")
    analyze.add_argument("-q", "--quiet", action="store_true", help="no terminal summary")
    analyze.set_defaults(func=cmd_analyze)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
