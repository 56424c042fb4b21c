"""Generate the benchmark captures: real kernel traffic between two network namespaces (root only),
and the synthetic flood (bench/flood.py, no root needed).

    .venv/bin/python -m bench.generate [--capture bytes|flows|small|flood|all] [--cache DIR]
                                       [--regenerate] [--flows N]

Captures are cached (default /var/cache/fathom-bench) and made again only when missing, made by
an older generator (or, for the flood, with another flow count), or when --regenerate is given.
manifest.json beside them records their counts.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if not __package__:  # run as a script: make `bench` importable from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import flood
from bench.paths import CACHE_ENV, DEFAULT_CACHE, cache_dir
from bench.pcapstats import capture_stats
from bench.traffic.capture import CaptureFailed, Tcpdump
from bench.traffic.clients import ClientTotals, run_steps
from bench.traffic.content import ensure_content
from bench.traffic.mixes import MIXES
from bench.traffic.servers_proc import start_servers, stop_servers
from bench.traffic.tls import ensure_certificate
from bench.traffic.topology import IF_CLIENT, NS_CLIENT, Topology

# Bump when a change to the mixes or topology should invalidate cached captures.
GENERATOR_VERSION = 1
RAW = argparse.RawDescriptionHelpFormatter
FLOOD = "flood"
CAPTURES = (*MIXES, FLOOD)
# The flood has its own version: changing it must not force the real captures (root) to be redone.
VERSIONS = {**dict.fromkeys(MIXES, GENERATOR_VERSION), FLOOD: flood.VERSION}
MANIFEST = "manifest.json"
# Counts shown after a capture is generated, when its manifest entry has them.
COUNTS = ("flows", "tcp_flows", "tcp_connections", "dns_queries")


def capture_path(cache: Path, name: str) -> Path:
    return cache / f"{name}.pcap"


def load_manifest(cache: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads((cache / MANIFEST).read_text())
    except (OSError, ValueError):
        data = {}
    data.setdefault("captures", {})
    return data


def save_manifest(cache: Path, manifest: dict[str, Any]) -> None:
    manifest["generator_version"] = GENERATOR_VERSION
    tmp = cache / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    tmp.replace(cache / MANIFEST)


def wanted(name: str, flows: int) -> dict[str, Any]:
    """The manifest fields a cached capture must have to be used as it is."""
    fields: dict[str, Any] = {"generator_version": VERSIONS[name]}
    if name == FLOOD:
        fields["flows"] = flows
    return fields


def is_current(cache: Path, manifest: dict[str, Any], name: str, flows: int) -> bool:
    entry = manifest["captures"].get(name)
    return (
        capture_path(cache, name).is_file()
        and isinstance(entry, dict)
        and all(entry.get(key) == value for key, value in wanted(name, flows).items())
    )


def record_mix(name: str, cache: Path, partial: Path) -> dict[str, Any]:
    """Record one real-traffic mix into partial; return its counts."""
    content = ensure_content(cache)
    cert, key = ensure_certificate(cache)
    totals = ClientTotals()
    with tempfile.TemporaryDirectory(dir=cache, prefix="work-") as work, Topology():
        steps = MIXES[name](content, Path(work))
        servers = start_servers(content, cert, key)
        try:
            with Tcpdump(NS_CLIENT, IF_CLIENT, partial) as dump:
                run_steps(steps, totals)
                time.sleep(0.5)  # let the last FINs and ACKs reach the capture
        finally:
            stop_servers(servers)
    if dump.dropped:
        raise CaptureFailed(f"{name}: tcpdump dropped {dump.dropped} packets: the capture has holes")
    stats = capture_stats(str(partial))
    if stats.packets == 0:
        raise CaptureFailed(f"{name}: tcpdump wrote no packets")
    return {
        "packets": stats.packets,
        "bytes": stats.wire_bytes,
        "max_caplen": stats.max_caplen,
        "http_transfers": totals.http_transfers,
        "tcp_connections": totals.tcp_connections,
        "dns_queries": totals.dns_queries,
    }


def record_flood(partial: Path, flows: int) -> dict[str, Any]:
    """Write the synthetic flood into partial; its counts are exact by construction."""
    stats = flood.write_flood(partial, flows)
    return {
        "packets": stats.packets,
        "bytes": stats.wire_bytes,
        "max_caplen": stats.max_caplen,
        "flows": stats.flows,
        "tcp_flows": stats.tcp_flows,
        "dns_queries": stats.flows - stats.tcp_flows,
        "seed": flood.SEED,
    }


def generate_capture(name: str, cache: Path, flows: int = flood.DEFAULT_FLOWS) -> dict[str, Any]:
    """Make cache/NAME.pcap; the file appears only once it is complete."""
    final = capture_path(cache, name)
    partial = final.with_suffix(".pcap.part")
    started = time.perf_counter()
    try:
        counts = record_flood(partial, flows) if name == FLOOD else record_mix(name, cache, partial)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    seconds = time.perf_counter() - started
    partial.replace(final)
    return {
        "file": final.name,
        "generator_version": VERSIONS[name],
        **counts,
        "file_bytes": final.stat().st_size,
        "generation_seconds": round(seconds, 1),
        "generated_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def describe(entry: dict[str, Any]) -> str:
    counts = ", ".join(f"{entry[key]} {key.replace('_', ' ')}" for key in COUNTS if key in entry)
    return (
        f"{entry['file']}: {entry['packets']} packets, {entry['bytes'] / 1e6:.1f} MB on the wire, "
        f"{counts}, {entry['generation_seconds']} s"
    )


def ensure_captures(
    names: list[str], cache: Path, regenerate: bool = False, flows: int = flood.DEFAULT_FLOWS
) -> dict[str, Any]:
    """Make sure each named capture exists and is current; return the manifest.

    flows sizes the flood; the real-traffic captures have fixed mixes.
    """
    cache.mkdir(parents=True, exist_ok=True)
    manifest = load_manifest(cache)
    todo = [n for n in names if regenerate or not is_current(cache, manifest, n, flows)]
    need_root = [n for n in todo if n in MIXES]
    if need_root and os.geteuid() != 0:
        raise SystemExit(f"generating {', '.join(need_root)} needs root (network namespaces and tcpdump)")
    for name in todo:
        print(f"generating {name}.pcap ...", file=sys.stderr, flush=True)
        entry = generate_capture(name, cache, flows)
        manifest["captures"][name] = entry
        save_manifest(cache, manifest)
        print(f"  {describe(entry)}", file=sys.stderr, flush=True)
    return manifest


def select(choice: str) -> list[str]:
    return list(CAPTURES) if choice == "all" else [choice]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=RAW)
    parser.add_argument("--capture", choices=[*CAPTURES, "all"], default="all")
    parser.add_argument("--cache", help=f"capture directory (default: ${CACHE_ENV} or {DEFAULT_CACHE})")
    parser.add_argument("--regenerate", action="store_true", help="make the captures again even if cached")
    parser.add_argument(
        "--flows",
        type=int,
        default=flood.DEFAULT_FLOWS,
        help=f"flows in the flood (default {flood.DEFAULT_FLOWS:,})",
    )
    args = parser.parse_args(argv)
    if args.flows < 1:
        parser.error("--flows must be at least 1")
    # SIGTERM would kill the process outright; as SystemExit it unwinds, and the topology is torn down.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    cache = cache_dir(args.cache)
    ensure_captures(select(args.capture), cache, args.regenerate, args.flows)
    print(json.dumps(load_manifest(cache), indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
