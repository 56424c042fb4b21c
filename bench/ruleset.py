"""The full-ruleset benchmark: fathom, and Snort 3 with Hyperscan when it is installed, matching a
ruleset (the bundled community rules by default) on each capture.

Start-up is measured apart, as the wall time of a run on a capture with no packets: cold (fathom
with an empty rule cache: it parses the rules, compiles them and writes the cache) and warm (from
that cache). Start-ups run before the timed runs, so those start warm too. Steady-state packets/s
is the capture's packets over the timed run's wall time less the warm start-up. The goals come
from Snort 3 with Hyperscan on this machine class: 90,000 packets/s with start-up, 240,000
without, in about 130 MiB; fathom is to match the rates in at most 1.5 times that memory (or
Snort's own reading on the capture, when Snort ran).
"""

from __future__ import annotations

import dataclasses
import json
import os
import struct
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.measure import Sample, measure
from bench.report import Check, Result, align
from bench.tools import Tool, snort_command, snort_install

WHOLE_GOAL = 90_000
STEADY_GOAL = 240_000
SNORT_RSS_MIB = 130
RSS_FACTOR = 1.5
CACHE_ENV = "FATHOM_CACHE_DIR"
SNORT = "snort"
STARTUP_TIMEOUT = 600.0
# A pcap file header and no packet: a run on it is start-up and exit alone.
_EMPTY_PCAP = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
# Snort resolves the relative paths of an included file (snort_defaults.lua, file_magic.rules)
# against that file's directory, so a configuration in a temporary directory can build on the
# installed one. The search_engine table is amended, not replaced, to keep any site settings.
_SNORT_CONFIG = """\
include {stock}
ips.include = {rules}
search_engine = search_engine or {{ }}
search_engine.search_method = 'hyperscan'
"""


class RulesetError(Exception):
    pass


@dataclass(frozen=True)
class Startup:
    tool: str
    cold: Sample | None = None  # None: not measured (failed)
    warm: Sample | None = None
    error: str | None = None


def ruleset_path(spec: str) -> Path:
    """``community`` (the bundled Snort 3 community ruleset) or a rules file."""
    if spec == "community":
        from fathom.rules.loader import BUNDLED_RULES

        return BUNDLED_RULES
    path = Path(spec).resolve()
    if not path.is_file():
        raise RulesetError(f"{spec}: not a rules file")
    return path


def with_rule_cache(tool: Tool, directory: Path) -> Tool:
    """fathom keeping its rule cache in ``directory`` (empty at first), not in the user's cache."""
    base = tool.env if tool.env is not None else os.environ
    return dataclasses.replace(tool, env={**base, CACHE_ENV: str(directory)})


def _lua_path(path: Path) -> str:
    """A Lua string literal of the absolute path: JSON's escapes for quotes and backslashes are Lua's too."""
    return json.dumps(str(path.resolve()), ensure_ascii=False)


def snort_ruleset_tool(rules: Path, directory: Path) -> Tool | None:
    """Snort 3 with its installed configuration, ``rules`` in the default policy and Hyperscan as
    the search method; None (with a note) when it is not installed."""
    found = snort_install()
    if found is None:
        print("no Snort 3 on PATH: the ruleset is measured on fathom alone", file=sys.stderr)
        return None
    binary, stock = found
    config = directory / "snort-ruleset.lua"
    config.write_text(_SNORT_CONFIG.format(stock=_lua_path(Path(stock)), rules=_lua_path(rules)))
    return snort_command(binary, str(config))


def measure_startups(tools: list[Tool], directory: Path, repeat: int) -> list[Startup]:
    """Each tool on a capture with no packets, the fastest of ``repeat`` runs, cold and warm."""
    empty = directory / "empty.pcap"
    empty.write_bytes(_EMPTY_PCAP)
    found = []
    for tool in tools:
        try:
            startup = _startup(tool, str(empty), repeat)
        except RulesetError as exc:
            startup = Startup(tool.name, error=str(exc))
        print(f"  {tool.name:<16} start-up: {_describe(startup)}", file=sys.stderr, flush=True)
        found.append(startup)
    return found


def _describe(startup: Startup) -> str:
    if startup.cold is None or startup.warm is None:
        return startup.error or "not measured"
    return f"cold {startup.cold.seconds:.3f} s, warm {startup.warm.seconds:.3f} s"


def _startup(tool: Tool, capture: str, repeat: int) -> Startup:
    argv = tool.command(capture)
    env = tool.env or {}
    cache = env.get(CACHE_ENV)
    if cache is None:
        # No rule cache (Snort): every start parses and compiles, so one figure is both.
        once = _fastest(argv, [tool.env] * repeat)
        return Startup(tool.name, once, once)
    # Each cold run has a cache directory of its own that does not exist yet; the first one is the
    # tool's, which it leaves filled for the warm runs and the timed runs after them.
    fresh = [cache] + [f"{cache}-cold{n}" for n in range(1, repeat)]
    cold = _fastest(argv, [{**env, CACHE_ENV: path} for path in fresh])
    return Startup(tool.name, cold, _fastest(argv, [tool.env] * repeat))


def _fastest(argv: list[str], envs: list[dict[str, str] | None]) -> Sample:
    samples = []
    for env in envs:
        sample = measure(argv, timeout=STARTUP_TIMEOUT, env=env)
        if sample.failure:
            raise RulesetError(f"start-up failed: {sample.failure}")
        samples.append(sample)
    return min(samples, key=lambda s: s.seconds)


def steady_pps(result: Result, startup: Startup) -> float | None:
    """Packets/s once started: the timed run's wall time less the warm start-up."""
    best = result.best
    if best is None or startup.warm is None or best.seconds <= startup.warm.seconds:
        return None
    return result.packets / (best.seconds - startup.warm.seconds)


def _seconds(sample: Sample | None) -> str:
    return f"{sample.seconds:.2f}" if sample else "-"


def _rate(pps: float | None) -> str:
    return f"{pps:,.0f}" if pps else "-"


def format_startups(results: list[Result], startups: list[Startup]) -> str:
    rows: list[tuple[str, ...]] = [
        ("capture", "tool", "start-up cold s", "start-up warm s", "packets/s", "steady packets/s")
    ]
    by_tool = {s.tool: s for s in startups}
    for result in results:
        startup = by_tool[result.tool]
        steady = steady_pps(result, startup)
        cells = (_seconds(startup.cold), _seconds(startup.warm), _rate(result.pps), _rate(steady))
        rows.append((result.capture, result.tool, *cells))
    lines = align(rows, {0, 1})
    lines.append("steady packets/s: packets / (seconds - warm start-up)")
    if SNORT in by_tool:
        lines.append("snort keeps no rule cache: every start-up is cold, and its one figure is shown as both")
    lines += [f"{s.tool} start-up: {s.error}" for s in startups if s.error]
    return "\n".join(lines)


def _on(results: list[Result], tool: str, capture: str) -> Result | None:
    return next((r for r in results if r.tool == tool and r.capture == capture and r.best), None)


def ruleset_checks(results: list[Result], startups: list[Startup]) -> list[Check]:
    """fathom's rates and memory on each capture against Snort's."""
    by_tool = {s.tool: s for s in startups}
    checks = []
    for result in results:
        if result.tool != "fathom":
            continue
        label = result.capture
        steady = steady_pps(result, by_tool["fathom"])
        snort = _on(results, SNORT, label)
        if snort and snort.best:
            snort_steady = steady_pps(snort, by_tool[SNORT])
            whole_note, steady_note = f"snort {_rate(snort.pps)}", f"snort {_rate(snort_steady)}"
            snort_rss = snort.best.peak_rss_kib / 1024
            rss_note = f"{RSS_FACTOR} x snort's {snort_rss:,.1f} MiB"
        else:
            whole_note, steady_note = "Snort 3 + Hyperscan: 90-110k", "Snort 3 + Hyperscan: 240-280k"
            snort_rss = SNORT_RSS_MIB
            rss_note = f"{RSS_FACTOR} x Snort 3's ~{SNORT_RSS_MIB} MiB"
        peak = result.best.peak_rss_kib / 1024 if result.best else None
        checks += [
            Check(f"{label} packets/s with start-up (fathom)", result.pps, ">=", WHOLE_GOAL, note=whole_note),
            Check(f"{label} steady packets/s (fathom)", steady, ">=", STEADY_GOAL, note=steady_note),
            Check(f"{label} peak RSS (fathom)", peak, "<=", RSS_FACTOR * snort_rss, "MiB", 1, rss_note),
        ]
    return checks


def _sample_json(sample: Sample | None) -> dict[str, Any] | None:
    if sample is None:
        return None
    return {"seconds": round(sample.seconds, 4), "peak_rss_kib": sample.peak_rss_kib}


def _steady_json(result: Result, startup: Startup) -> dict[str, Any]:
    steady = steady_pps(result, startup)
    return {"tool": result.tool, "capture": result.capture, "value": round(steady, 1) if steady else None}


def ruleset_json(rules: Path, results: list[Result], startups: list[Startup]) -> dict[str, Any]:
    """The ruleset, each tool's start-ups and each result's steady-state rate, for the JSON file."""
    by_tool = {s.tool: s for s in startups}
    return {
        "rules": str(rules),
        "startups": [
            {"tool": s.tool, "cold": _sample_json(s.cold), "warm": _sample_json(s.warm), "error": s.error}
            for s in startups
        ],
        "steady_packets_per_second": [_steady_json(r, by_tool[r.tool]) for r in results],
    }
