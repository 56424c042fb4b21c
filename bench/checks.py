"""What the flood capture must show: fathom keeps most of its rate under a flood, stays within its
flow memcap, and writes exactly one EVE flow event for every flow it creates."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from bench.generate import FLOOD
from bench.report import Check, Result, fathom_result
from bench.tools import Tool

FLOWS = "flows"
FLOOD_TO_FLOWS_GOAL = 0.75  # flood packets/s over flows packets/s
RSS_HEADROOM_MIB = 100  # the interpreter, code and buffers on top of the flow table
FLOW_EVENT = b'"event_type":"flow"'
READ_SIZE = 16 * 1024 * 1024
MIB = 1024 * 1024
EVE_TIMEOUT = 3600.0


def rate_check(flood: Result, flows: Result) -> Check:
    ratio = flood.pps / flows.pps if flood.pps and flows.pps else None
    return Check("flood/flows packets/s (fathom)", ratio, ">=", FLOOD_TO_FLOWS_GOAL, digits=3)


def flow_memcap() -> int:
    # Imported only now, after every measurement: the runner's own RSS is the floor of each reading.
    from fathom.config import FlowConfig

    return FlowConfig().memcap


def rss_check(flood: Result) -> Check:
    memcap_mib = flow_memcap() / MIB
    peak = flood.best.peak_rss_kib / 1024 if flood.best else None
    note = f"flow memcap {memcap_mib:,.0f} MiB + {RSS_HEADROOM_MIB} MiB"
    return Check("peak RSS on flood (fathom)", peak, "<=", memcap_mib + RSS_HEADROOM_MIB, "MiB", 1, note)


def count_flow_events(eve: Path) -> int:
    """Occurrences of the flow event type, read in large blocks: one per flow event line."""
    count = 0
    tail = b""
    with eve.open("rb") as f:
        while block := f.read(READ_SIZE):
            data = tail + block
            count += data.count(FLOW_EVENT)
            # Keep what could be the start of a match cut by the block boundary, never a whole one.
            tail = data[-(len(FLOW_EVENT) - 1) :]
    return count


def flow_events_check(fathom: Tool, capture: Path, flows: int | None) -> Check:
    """One untimed run of fathom writing EVE to a temporary file: one flow event per flow?"""
    name = "EVE flow events on flood (fathom)"
    if flows is None:
        return Check(name, None, "==", 0, note="the manifest has no flow count for this capture")
    assert fathom.eve_command is not None
    with tempfile.TemporaryDirectory(prefix="fathom-bench-eve-") as tmp:
        eve = Path(tmp) / "eve.json"
        argv = fathom.eve_command(str(capture), str(eve))
        run = subprocess.run(argv, env=fathom.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True, timeout=EVE_TIMEOUT)  # fmt: skip
        if run.returncode != 0:
            last = run.stderr.strip().splitlines()[-1:] or [""]
            return Check(
                name, None, "==", flows, note=f"fathom --eve failed: exit {run.returncode}: {last[0]}"
            )
        return Check(name, count_flow_events(eve), "==", flows, note="flows in the manifest")


def flood_checks(results: list[Result], events: Check | None) -> list[Check]:
    """The checks that apply to this run: none without the flood, the rate only with flows too."""
    flood = fathom_result(results, FLOOD)
    if flood is None:
        return []
    flows = fathom_result(results, FLOWS)
    checks = [rate_check(flood, flows)] if flows else []
    checks.append(rss_check(flood))
    return checks + ([events] if events else [])
