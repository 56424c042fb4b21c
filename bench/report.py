"""Benchmark results: best-of-N selection, the printed table and the JSON file."""

from __future__ import annotations

import datetime
import json
import operator
import os
import platform
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.measure import Sample
from bench.tools import BASELINE_PREFIX


@dataclass
class Result:
    capture: str
    path: str
    packets: int
    wire_bytes: int
    tool: str
    argv: list[str]
    samples: list[Sample] = field(default_factory=list)
    error: str | None = None

    @property
    def best(self) -> Sample | None:
        """The fastest successful run: the least disturbed by whatever else the machine was doing."""
        ok = [s for s in self.samples if s.returncode == 0]
        return min(ok, key=lambda s: s.seconds) if ok and self.error is None else None

    @property
    def pps(self) -> float | None:
        best = self.best
        return self.packets / best.seconds if best else None

    @property
    def gbps(self) -> float | None:
        best = self.best
        return self.wire_bytes * 8 / best.seconds / 1e9 if best else None


OPS: dict[str, Callable[[float, float], bool]] = {">=": operator.ge, "<=": operator.le, "==": operator.eq}


@dataclass(frozen=True)
class Check:
    """A figure of the run held against a goal, such as the flood's rate against the flows capture's."""

    name: str
    value: float | None  # None: not measured
    op: str  # a key of OPS
    target: float
    unit: str = ""
    digits: int = 0  # decimals shown
    note: str = ""

    @property
    def ok(self) -> bool | None:
        return None if self.value is None else OPS[self.op](self.value, self.target)

    def show(self, value: float) -> str:
        return f"{value:,.{self.digits}f}" + (f" {self.unit}" if self.unit else "")


def fathom_result(results: list[Result], capture: str) -> Result | None:
    """The current fathom's result on capture (not a baseline's, not a peer's)."""
    return next((r for r in results if r.capture == capture and r.tool == "fathom"), None)


def _fathom_pps(results: list[Result], capture: str) -> float | None:
    result = fathom_result(results, capture)
    return result.pps if result else None


COLUMNS = (
    "capture",
    "packets",
    "MB",
    "tool",
    "seconds",
    "packets/s",
    "Gbit/s",
    "peak RSS MiB",
    "fathom/peer",
)


def at_floor(sample: Sample) -> bool:
    return sample.peak_rss_kib <= sample.rss_floor_kib * 1.02


def rss_cell(sample: Sample) -> str:
    # At the floor the real peak is unknown, only bounded: say so instead of printing the floor.
    prefix = "<=" if at_floor(sample) else ""
    return f"{prefix}{sample.peak_rss_kib / 1024:.1f}"


def table_rows(results: list[Result]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for r in results:
        best = r.best
        head = (r.capture, f"{r.packets:,}", f"{r.wire_bytes / 1e6:.1f}", r.tool)
        if best is None:
            rows.append((*head, "failed", "-", "-", "-", "-"))
            continue
        fathom = _fathom_pps(results, r.capture)
        ratio = "-" if r.tool == "fathom" or not fathom or not r.pps else f"{fathom / r.pps:.3f}"
        rss = rss_cell(best)
        rows.append((*head, f"{best.seconds:.3f}", f"{r.pps or 0:,.0f}", f"{r.gbps or 0:.3f}", rss, ratio))
    return rows


def align(rows: list[tuple[str, ...]], left: set[int]) -> list[str]:
    """rows[0] is the header, underlined; columns in left are text, the others right-aligned numbers."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        pairs = enumerate(zip(row, widths, strict=True))
        lines.append("  ".join(c.ljust(w) if i in left else c.rjust(w) for i, (c, w) in pairs).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return lines


def format_table(results: list[Result]) -> str:
    lines = align([COLUMNS, *table_rows(results)], left={0, 3})
    if any(r.best and at_floor(r.best) for r in results):
        lines.append("<=: peak RSS at or below the runner's own RSS at spawn, which is all wait4 can tell")
    for tool in dict.fromkeys(r.tool for r in results if r.tool.startswith(BASELINE_PREFIX)):
        lines.append(
            f"fathom/peer on {tool} rows: current/baseline packets/s (above 1: the current is faster)"
        )
    lines += [f"{r.tool} on {r.capture} failed: {r.error}" for r in results if r.error]
    return "\n".join(lines)


def check_row(check: Check) -> tuple[str, ...]:
    measured = "not measured" if check.value is None else check.show(check.value)
    result = {True: "ok", False: "FAIL", None: "-"}[check.ok]
    return (check.name, measured, f"{check.op} {check.show(check.target)}", result, check.note)


def format_checks(checks: list[Check]) -> str:
    return "\n".join(
        align([("check", "measured", "goal", "result", "note"), *map(check_row, checks)], {0, 3, 4})
    )


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def check_json(check: Check) -> dict[str, Any]:
    fields = asdict(check)
    del fields["digits"]  # display only
    return {**fields, "ok": check.ok}


def to_json(
    results: list[Result],
    repeat: int,
    checks: list[Check],
    baseline: dict[str, str] | None,
    ruleset: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "host": {
            "cpu": _cpu_model(),
            "cpus": os.cpu_count(),
            "kernel": platform.release(),
            "python": platform.python_version(),
        },
        "repeat": repeat,
        "results": [
            {
                "capture": r.capture,
                "path": r.path,
                "packets": r.packets,
                "bytes": r.wire_bytes,
                "tool": r.tool,
                "argv": r.argv,
                "error": r.error,
                "runs": [
                    {
                        "seconds": round(s.seconds, 4),
                        "peak_rss_kib": s.peak_rss_kib,
                        "rss_floor_kib": s.rss_floor_kib,
                        "returncode": s.returncode,
                    }
                    for s in r.samples
                ],
                "best_seconds": round(r.best.seconds, 4) if r.best else None,
                "packets_per_second": round(r.pps, 1) if r.pps else None,
                "gbit_per_second": round(r.gbps, 4) if r.gbps else None,
                "peak_rss_mib": round(r.best.peak_rss_kib / 1024, 1) if r.best else None,
                "fathom_to_peer_pps": _ratio(results, r),
            }
            for r in results
        ],
        # On the baseline's rows, fathom_to_peer_pps is current/baseline.
        "baseline": baseline,
        # With --rules: the ruleset, start-ups and steady-state rates.
        "ruleset": ruleset,
        "checks": [check_json(c) for c in checks],
    }


def _ratio(results: list[Result], r: Result) -> float | None:
    fathom = _fathom_pps(results, r.capture)
    if r.tool == "fathom" or not fathom or not r.pps:
        return None
    return round(fathom / r.pps, 4)


def write_json(
    path: str,
    results: list[Result],
    repeat: int,
    checks: list[Check] | None = None,
    baseline: dict[str, str] | None = None,
    ruleset: dict[str, Any] | None = None,
) -> None:
    document = to_json(results, repeat, checks or [], baseline, ruleset)
    Path(path).write_text(json.dumps(document, indent=2) + "\n")
