"""Benchmark `fathom analyze` against the installed peers on the cached captures: with no rules, or
with a ruleset against Snort 3 (--rules).

    .venv/bin/python bench/run.py [--capture bytes|flows|small|flood|all ...] [--pcap PATH ...]
                                  [--repeat N] [--json PATH] [--cache DIR] [--generate-missing]
                                  [--regenerate] [--no-peers] [--baseline REF] [--rules community|PATH]

Each round runs every tool on every capture once; of --repeat rounds, the fastest run is reported.
--baseline REF also measures fathom as of that commit, right after the current one. --rules also
measures each tool's start-up, cold and warm, and the steady-state rate (bench/ruleset.py).
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

if not __package__:  # run as a script: make `bench` importable from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.baseline import Baseline, BaselineError, baseline
from bench.checks import flood_checks, flow_events_check
from bench.generate import CAPTURES, FLOOD, capture_path, load_manifest
from bench.measure import measure
from bench.paths import CACHE_ENV, DEFAULT_CACHE, REPO_ROOT, cache_dir
from bench.pcapstats import capture_stats
from bench.report import Check, Result, format_checks, format_table, write_json
from bench.ruleset import (
    RulesetError,
    Startup,
    format_startups,
    measure_startups,
    ruleset_checks,
    ruleset_json,
    ruleset_path,
    snort_ruleset_tool,
    with_rule_cache,
)
from bench.tools import Tool, fathom_tool, peer_tools
from fathom.capture.pcapfile import CaptureError

DEFAULT_CAPTURES = ("bytes", "flows")
RUN_TIMEOUT = 3600.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--capture",
        action="append",
        choices=[*CAPTURES, "all"],
        help="cached capture; may be repeated (default: bytes and flows)",
    )
    parser.add_argument("--pcap", action="append", default=[], help="any capture file; may be repeated")
    parser.add_argument("--repeat", type=int, default=3, help="runs per tool and capture (default 3)")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--cache", help=f"capture directory (default: ${CACHE_ENV} or {DEFAULT_CACHE})")
    parser.add_argument(
        "--generate-missing", action="store_true", help="generate missing captures (root, except the flood)"
    )
    parser.add_argument(
        "--regenerate",
        action="store_true",
        help="generate the chosen captures again (root, except the flood)",
    )
    parser.add_argument("--no-peers", action="store_true", help="run fathom only")
    parser.add_argument("--baseline", metavar="REF", help="also measure fathom as of this git commit")
    parser.add_argument(
        "--rules",
        metavar="community|PATH",
        help="match this ruleset (community: the bundled one), against Snort 3 with Hyperscan; "
        "start-up is measured cold and warm",
    )
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def generate(names: list[str], cache: Path, regenerate: bool) -> None:
    """Generate in a child process: building the served files bloats the generating process, and the
    runner's own RSS is the floor of every peak RSS it measures afterwards."""
    for name in names:
        cmd = [sys.executable, "-m", "bench.generate", "--capture", name, "--cache", str(cache)]
        if regenerate:
            cmd.append("--regenerate")
        if subprocess.run(cmd, cwd=REPO_ROOT, stdout=subprocess.DEVNULL).returncode != 0:
            sys.exit(f"generating {name}.pcap failed")


def targets(args: argparse.Namespace) -> list[tuple[str, Path]]:
    """(label, path) for every capture to measure, generating cached ones first when asked."""
    chosen: list[str] = []
    if args.capture:
        chosen = list(CAPTURES) if "all" in args.capture else list(dict.fromkeys(args.capture))
    elif not args.pcap:
        chosen = list(DEFAULT_CAPTURES)
    cache = cache_dir(args.cache)
    if chosen and (args.generate_missing or args.regenerate):
        generate(chosen, cache, args.regenerate)
    found = [(name, capture_path(cache, name)) for name in chosen]
    missing = [str(path) for _name, path in found if not path.is_file()]
    if missing:
        sys.exit(
            f"missing capture(s): {', '.join(missing)}; run `bash bench/run.sh` or bench/generate.py "
            "(as root, except for the flood)"
        )
    return found + [(Path(p).name, Path(p)) for p in args.pcap]


def bench_rounds(captures: list[tuple[str, Path]], tools: list[Tool], repeat: int) -> list[Result]:
    """Every tool on every capture once per round, for ``repeat`` rounds: the machine's speed drifts
    over minutes, and rounds spread that drift over all captures and tools alike, so figures taken
    in the same run compare fairly."""
    results: list[Result] = []
    for label, path in captures:
        try:
            stats = capture_stats(str(path))
        except CaptureError as exc:
            sys.exit(str(exc))
        print(f"{label}: {stats.packets:,} packets, {stats.wire_bytes / 1e6:.1f} MB", file=sys.stderr)
        results += [
            Result(label, str(path), stats.packets, stats.wire_bytes, tool.name, tool.command(str(path)))
            for tool in tools
        ]
    env = {tool.name: tool.env for tool in tools}
    for _ in range(repeat):
        for result in results:
            if result.error:
                continue  # a failing tool would fail the same way again
            sample = measure(result.argv, timeout=RUN_TIMEOUT, env=env[result.tool])
            result.samples.append(sample)
            if sample.failure:
                result.error = sample.failure
                continue
            line = f"  {result.tool:<16} {result.capture}: {sample.seconds:.3f} s"
            print(line, file=sys.stderr, flush=True)
    return results


def manifest_flows(cache: Path, name: str) -> int | None:
    flows = load_manifest(cache)["captures"].get(name, {}).get("flows")
    return flows if isinstance(flows, int) else None


def bench_all(
    captures: list[tuple[str, Path]], tools: list[Tool], fathom: Tool | None, args: argparse.Namespace
) -> tuple[list[Result], list[Check]]:
    """Measure every capture; after the timed runs on the flood, count fathom's flow events on it."""
    results = bench_rounds(captures, tools, args.repeat)
    events: Check | None = None
    for label, path in captures:
        if label == FLOOD and fathom is not None:
            print(f"  {fathom.name:<16} {label}: counting EVE flow events", file=sys.stderr, flush=True)
            events = flow_events_check(fathom, path, manifest_flows(cache_dir(args.cache), label))
    return results, flood_checks(results, events)


def select_tools(fathom: Tool | None, earlier: Baseline | None, peers: list[Tool]) -> list[Tool]:
    """fathom, then its baseline right after it, then the peers."""
    if fathom is None:
        print("fathom not found (no .venv/bin/fathom, none on PATH): measuring peers only", file=sys.stderr)
    tools = [t for t in (fathom, earlier.tool if earlier else None) if t is not None] + peers
    if not tools:
        sys.exit("no tool to measure")
    return tools


def rules_file(spec: str | None, scratch: Path) -> Path:
    """The ruleset --rules names, else an empty rules file: no rules."""
    if spec is None:
        empty = scratch / "empty.rules"
        empty.touch()
        return empty
    try:
        return ruleset_path(spec)
    except RulesetError as exc:
        sys.exit(f"--rules: {exc}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    captures = targets(args)
    startups: list[Startup] = []
    with contextlib.ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="fathom-bench-")))
        rules = rules_file(args.rules, scratch)
        try:
            earlier = stack.enter_context(baseline(args.baseline, str(rules))) if args.baseline else None
        except BaselineError as exc:
            sys.exit(f"--baseline: {exc}")
        fathom = fathom_tool(str(rules))
        if args.rules:
            # Each fathom version gets a rule cache of its own, empty until its first start-up run fills it.
            fathom = with_rule_cache(fathom, scratch / "cache-fathom") if fathom else None
            if earlier:
                earlier = replace(earlier, tool=with_rule_cache(earlier.tool, scratch / "cache-baseline"))
            # nDPI matches no rules; only Snort compares.
            snort = None if args.no_peers else snort_ruleset_tool(rules, scratch)
            tools = select_tools(fathom, earlier, [snort] if snort else [])
            # Before the timed runs, which then start from the rule cache the cold start-up wrote.
            startups = measure_startups(tools, scratch, args.repeat)
        else:
            tools = select_tools(fathom, earlier, [] if args.no_peers else peer_tools())
        results, checks = bench_all(captures, tools, fathom, args)
    print(format_table(results))
    if args.rules:
        print(f"\n{format_startups(results, startups)}\n")
        checks += ruleset_checks(results, startups)
    if checks:
        print(format_checks(checks))
    if args.json:
        described = earlier.describe() if earlier else None
        ruleset = ruleset_json(rules, results, startups) if args.rules else None
        write_json(args.json, results, args.repeat, checks, described, ruleset)
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
