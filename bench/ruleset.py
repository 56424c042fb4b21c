"""The full-ruleset benchmark: fathom, and Snort 3 with Hyperscan when it is installed, matching a
ruleset (the bundled community rules by default) on each capture.

Start-up is measured apart, as the wall time of a run on a capture with no packets: cold (fathom
parses and compiles the rules: ``--no-rule-cache``) and warm (from its rule cache, which the
timed runs fill first). Steady-state packets/s is the capture's packets over the timed run's wall
time less the warm start-up. The goals come from Snort 3 with Hyperscan on this machine class:
90,000 packets/s with start-up, 240,000 without, in about 130 MiB; fathom is to match the rates
in at most 1.5 times that memory (or Snort's own reading, when Snort ran).
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

from bench.measure import Sample, measure
from bench.report import Check, Result, align
from bench.tools import Tool, fathom_analyzer, snort_binary, snort_config

WHOLE_GOAL = 90_000
STEADY_GOAL = 240_000
SNORT_RSS_MIB = 130
RSS_FACTOR = 1.5
HYPERSCAN = "search_engine = { search_method = 'hyperscan' }"
STARTUP_TIMEOUT = 600.0
# A pcap file header and no packet: a run on it is start-up and exit alone.
_EMPTY_PCAP = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)


@dataclass(frozen=True)
class Startup:
    tool: str
    cold: Sample | None
    warm: Sample


def ruleset_path(spec: str) -> Path:
    """``community`` (the bundled Snort 3 community ruleset) or a rules file or directory."""
    if spec == "community":
        from fathom.rules.loader import BUNDLED_RULES

        return BUNDLED_RULES
    return Path(spec).resolve()


def fathom_ruleset_tool(binary: str, rules: Path, cache: Path) -> Tool:
    """fathom with ``rules``, its rule cache in ``cache`` (empty at first: the first run is cold)."""
    return fathom_analyzer("fathom", [binary], str(rules), dict(os.environ, FATHOM_CACHE_DIR=str(cache)))


def snort_ruleset_tool(rules: Path) -> Tool | None:
    """Snort 3 with the same rules, searching with Hyperscan; None when it is not installed."""
    binary = snort_binary()
    config = snort_config(binary) if binary else None
    if binary is None or config is None:
        return None

    def command(pcap: str) -> list[str]:
        return [binary, "-q", "-c", config, "-R", str(rules), "--lua", HYPERSCAN, "-r", pcap]

    return Tool("snort", command, binary)


def measure_startups(tools: list[Tool], directory: Path, repeat: int) -> list[Startup]:
    """Each tool on a capture with no packets, the fastest of ``repeat`` runs: cold for fathom
    (without its rule cache), and warm."""
    empty = directory / "empty.pcap"
    empty.write_bytes(_EMPTY_PCAP)
    found = []
    for tool in tools:
        argv = tool.command(str(empty))
        cold = None
        if tool.name == "fathom":
            cold = _fastest([*argv, "--no-rule-cache"], tool, repeat)
        found.append(Startup(tool.name, cold, _fastest(argv, tool, repeat)))
    return found


def _fastest(argv: list[str], tool: Tool, repeat: int) -> Sample:
    samples = [measure(argv, timeout=STARTUP_TIMEOUT, env=tool.env) for _ in range(repeat)]
    return min(samples, key=lambda s: s.seconds)


def steady_pps(result: Result, startup: Startup) -> float | None:
    """Packets/s once started: the timed run's wall time less the warm start-up."""
    best = result.best
    if best is None or best.seconds <= startup.warm.seconds:
        return None
    return result.packets / (best.seconds - startup.warm.seconds)


def format_startups(results: list[Result], startups: list[Startup]) -> str:
    rows: list[tuple[str, ...]] = [
        ("tool", "capture", "start-up cold s", "start-up warm s", "packets/s", "steady packets/s")
    ]
    by_tool = {s.tool: s for s in startups}
    for result in results:
        startup = by_tool.get(result.tool)
        if startup is None:
            continue
        steady = steady_pps(result, startup)
        rows.append(
            (
                result.tool,
                result.capture,
                f"{startup.cold.seconds:.2f}" if startup.cold else "-",
                f"{startup.warm.seconds:.2f}",
                f"{result.pps:,.0f}" if result.pps else "-",
                f"{steady:,.0f}" if steady else "-",
            )
        )
    return "\n".join(align(rows, {0, 1}))


def ruleset_checks(results: list[Result], startups: list[Startup]) -> list[Check]:
    """fathom's rates and memory on each capture against Snort's."""
    by_tool = {s.tool: s for s in startups}
    snort_rss = [r.best.peak_rss_kib / 1024 for r in results if r.tool == "snort" and r.best]
    rss_limit = RSS_FACTOR * (max(snort_rss) if snort_rss else SNORT_RSS_MIB)
    rss_note = f"{RSS_FACTOR} x {'Snort measured' if snort_rss else f'{SNORT_RSS_MIB} MiB (Snort)'}"
    checks = []
    for result in results:
        if result.tool != "fathom" or "fathom" not in by_tool:
            continue
        label = result.capture
        peak = result.best.peak_rss_kib / 1024 if result.best else None
        steady = steady_pps(result, by_tool["fathom"])
        checks += [
            Check(f"{label} packets/s with start-up (fathom)", result.pps, ">=", WHOLE_GOAL),
            Check(f"{label} steady packets/s (fathom)", steady, ">=", STEADY_GOAL),
            Check(f"{label} peak RSS (fathom)", peak, "<=", rss_limit, "MiB", 1, rss_note),
        ]
    return checks
