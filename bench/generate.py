"""Generate the benchmark captures from real kernel traffic between two network namespaces (root only).

    .venv/bin/python -m bench.generate [--capture bytes|flows|small|all] [--cache DIR] [--regenerate]

Captures are cached (default /var/cache/fathom-bench) and made again only when missing, made by
an older generator, or when --regenerate is given. manifest.json beside them records their counts.
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
CAPTURES = tuple(MIXES)
MANIFEST = "manifest.json"


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


def is_current(cache: Path, manifest: dict[str, Any], name: str) -> bool:
    entry = manifest["captures"].get(name)
    return (
        capture_path(cache, name).is_file()
        and isinstance(entry, dict)
        and entry.get("generator_version") == GENERATOR_VERSION
    )


def generate_capture(name: str, cache: Path) -> dict[str, Any]:
    """Record one mix into cache/NAME.pcap; the file appears only once it is complete."""
    content = ensure_content(cache)
    cert, key = ensure_certificate(cache)
    final = capture_path(cache, name)
    partial = final.with_suffix(".pcap.part")
    totals = ClientTotals()
    started = time.perf_counter()
    try:
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
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    seconds = time.perf_counter() - started
    partial.replace(final)
    return {
        "file": final.name,
        "generator_version": GENERATOR_VERSION,
        "packets": stats.packets,
        "bytes": stats.wire_bytes,
        "file_bytes": final.stat().st_size,
        "max_caplen": stats.max_caplen,
        "http_transfers": totals.http_transfers,
        "tcp_connections": totals.tcp_connections,
        "dns_queries": totals.dns_queries,
        "generation_seconds": round(seconds, 1),
        "generated_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def ensure_captures(names: list[str], cache: Path, regenerate: bool = False) -> dict[str, Any]:
    """Make sure each named capture exists and is current; return the manifest."""
    cache.mkdir(parents=True, exist_ok=True)
    manifest = load_manifest(cache)
    todo = [n for n in names if regenerate or not is_current(cache, manifest, n)]
    if todo and os.geteuid() != 0:
        raise SystemExit(f"generating {', '.join(todo)} needs root (network namespaces and tcpdump)")
    for name in todo:
        print(f"generating {name}.pcap ...", file=sys.stderr, flush=True)
        entry = generate_capture(name, cache)
        manifest["captures"][name] = entry
        save_manifest(cache, manifest)
        print(
            f"  {entry['file']}: {entry['packets']} packets, {entry['bytes'] / 1e6:.1f} MB on the wire, "
            f"{entry['tcp_connections']} TCP connections, {entry['dns_queries']} DNS queries, "
            f"{entry['generation_seconds']} s",
            file=sys.stderr,
            flush=True,
        )
    return manifest


def select(choice: str) -> list[str]:
    return list(CAPTURES) if choice == "all" else [choice]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=RAW)
    parser.add_argument("--capture", choices=[*CAPTURES, "all"], default="all")
    parser.add_argument("--cache", help=f"capture directory (default: ${CACHE_ENV} or {DEFAULT_CACHE})")
    parser.add_argument("--regenerate", action="store_true", help="make the captures again even if cached")
    args = parser.parse_args(argv)
    # SIGTERM would kill the process outright; as SystemExit it unwinds, and the topology is torn down.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    cache = cache_dir(args.cache)
    ensure_captures(select(args.capture), cache, args.regenerate)
    print(json.dumps(load_manifest(cache), indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
