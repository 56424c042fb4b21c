"""The human summary printed on the terminal after an analysis."""

from __future__ import annotations

import sys
from collections import Counter
from typing import TYPE_CHECKING, TypeVar

from rich.console import Console
from rich.table import Table

from fathom.engine import Engine
from fathom.events.eve import ip_text
from fathom.events.summary import FlowSummary, per_category
from fathom.events.timefmt import eve_timestamp

if TYPE_CHECKING:
    from fathom.rules.alert import AlertSummary

_TOP = 10
K = TypeVar("K", str, tuple[str, str])
# Width for a stderr that is not a terminal (a log file, a pipe): wide enough that no line wraps.
_UNWRAPPED_WIDTH = 10_000


def _counter_table(title: str, counts: Counter[str], label: str, limit: int = _TOP) -> Table:
    table = Table(title=title, title_justify="left", show_edge=False)
    table.add_column(label)
    table.add_column("count", justify="right")
    for name, count in counts.most_common(limit):
        table.add_row(name, f"{count:,}")
    return table


def _flows_and_bytes(title: str, flows: Counter[K], nbytes: Counter[K], labels: tuple[str, ...]) -> Table:
    """Flows and bytes per key, most bytes first; a key is one label's value, or a tuple of them."""
    table = Table(title=title, title_justify="left", show_edge=False)
    for label in labels:
        table.add_column(label)
    table.add_column("flows", justify="right")
    table.add_column("bytes", justify="right")
    for key, total in sorted(nbytes.items(), key=lambda item: (-item[1], str(item[0])))[:_TOP]:
        names = key if isinstance(key, tuple) else (key,)
        table.add_row(*names, f"{flows[key]:,}", f"{total:,}")
    return table


def _alert_table(alerts: AlertSummary) -> Table:
    table = Table(title=f"Alerts ({alerts.total:,})", title_justify="left", show_edge=False)
    for column in ("gid:sid", "severity", "signature"):
        table.add_column(column)
    table.add_column("count", justify="right")
    ranked = sorted(alerts.by_rule.items(), key=lambda item: (-item[1][2], item[0]))
    for (gid, sid), (msg, severity, count) in ranked[:_TOP]:
        table.add_row(f"{gid}:{sid}", str(severity), msg, f"{count:,}")
    return table


def summary_console() -> Console:
    """Standard error: a terminal wraps at its width, anything else gets whole lines."""
    if sys.stderr.isatty():
        return Console(stderr=True)
    return Console(stderr=True, width=_UNWRAPPED_WIDTH, soft_wrap=True)


def print_summary(
    engine: Engine,
    summary: FlowSummary,
    alerts: AlertSummary | None,
    source: str,
    seconds: float,
    eve_events: int,
) -> None:
    console = summary_console()
    counters = engine.counters()
    flows = summary.flows
    pps = engine.packets / seconds if seconds > 0 else 0.0
    console.print(
        f"[bold]{source}[/]: {engine.packets:,} packets ({engine.bytes / 1e6:,.1f} MB), {flows:,} flows, "
        f"{eve_events:,} EVE events"
    )
    if engine.packets:
        span = engine.last_ts - engine.first_ts
        console.print(f"Capture starts {eve_timestamp(engine.first_ts)} and spans {span:,.1f} s")
    console.print(f"Analyzed in {seconds:.2f} s: {pps:,.0f} packets/s")
    if alerts is None:
        console.print("Alerts: no rules loaded")
    else:
        how = "from the rule cache" if alerts.from_cache else "parsed and compiled"
        console.print(f"Rules: {alerts.rules:,} loaded in {alerts.load_seconds:.2f} s, {how}")
        console.print(_alert_table(alerts) if alerts.total else "Alerts: none")
    if flows:
        console.print(_counter_table("Flows by protocol", summary.by_proto, "protocol"))
        columns = ("application", "category")
        console.print(_flows_and_bytes("Applications", summary.app_flows, summary.app_bytes, columns))
        console.print(
            _flows_and_bytes(
                "Categories",
                per_category(summary.app_flows),
                per_category(summary.app_bytes),
                ("category",),
            )
        )
    if summary.talker_bytes:
        talkers = Table(title="Top talkers", title_justify="left", show_edge=False)
        talkers.add_column("address")
        talkers.add_column("bytes", justify="right")
        for addr, nbytes in summary.talker_bytes.most_common(_TOP):
            talkers.add_row(ip_text(addr), f"{nbytes:,}")
        console.print(talkers)
    errors = Counter(
        {k.removeprefix("decoder.error."): v for k, v in counters.items() if "decoder.error." in k}
    )
    if errors:
        console.print(_counter_table("Decode errors", errors, "reason", limit=50))
    else:
        console.print("Decode errors: none")
    bad = engine.bad_checksums.total()
    if bad:
        console.print(
            f"Checksums: {bad:,} packets with a wrong TCP/UDP/ICMP checksum were counted but not "
            "inspected, as Snort does (captured on a host that offloads checksums? set "
            "engine.verify_checksums: false)"
        )
    limits = {
        "flows evicted (memcap)": counters["flow.evicted"],
        "stream gaps": counters["stream.gaps"],
        "stream memcap drops": counters["stream.memcap_drops"],
        "streams at depth": counters["stream.depth_reached"],
        "fragment trackers evicted": counters.get("defrag.evicted", 0),
        "addresses left out of top talkers": summary.talkers_dropped,
    }
    hit = {k: v for k, v in limits.items() if v}
    if hit:
        console.print("Limits reached: " + ", ".join(f"{k} {v:,}" for k, v in hit.items()))
    if engine.failures:
        console.print(
            f"[red]Internal errors on {engine.failures:,} packets[/]; first: {engine.first_failure}"
        )
