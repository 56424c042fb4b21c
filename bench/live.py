"""The live-rate benchmark: the byte-heavy capture replayed into a veth pair at increasing rates,
with `fathom sensor` on the far end running the community rules, for 1 and for 2 workers.

    sudo .venv/bin/python -m bench.live [--capture bytes] [--rates 250,500,...] [--workers 1,2]

For each worker count, the rates go up until the sensor misses packets: a rate passes when the
kernel dropped nothing on the sensor's rings and the sensor read every packet tcpreplay sent. The
capture is replayed ``--loops`` times per trial, so that a trial lasts well beyond what the rings
(64 MiB per worker) can hold: the rate passed is sustained, not a burst.
It reports the highest rate that passed (Mbit/s on the wire and packets/s), for each worker count.
Needs root and tcpreplay (bench/setup.sh installs it).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from bench.generate import capture_path, ensure_captures
from bench.loopback import free_port, scrape
from bench.paths import cache_dir

SEND_IF = "fth-replay0"
CAPTURE_IF = "fth-replay1"
DEFAULT_RATES = (250, 500, 750, 1000, 1250, 1500, 2000, 2500, 3000)
# Seconds to let the sensor read what is still in its rings once tcpreplay is done.
SETTLE = 3.0
READY_TIMEOUT = 120.0


@dataclass(frozen=True)
class Trial:
    workers: int
    mbps: int
    sent: int
    read: int
    drops: int
    seconds: float

    @property
    def passed(self) -> bool:
        return self.drops == 0 and self.read >= self.sent

    @property
    def pps(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0


def run(cmd: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, check=check, text=True, capture_output=True)


def veth_up() -> None:
    veth_down()
    run(["ip", "link", "add", SEND_IF, "type", "veth", "peer", "name", CAPTURE_IF])
    for ifname in (SEND_IF, CAPTURE_IF):
        # Nothing but the replayed packets: no IPv6 neighbour discovery on the pair.
        run(["sysctl", "-qw", f"net.ipv6.conf.{ifname}.disable_ipv6=1"], check=False)
        run(["ip", "link", "set", ifname, "mtu", "9000", "up"])
        run(["ethtool", "-K", ifname, "gro", "off", "gso", "off", "tso", "off"], check=False)


def veth_down() -> None:
    run(["ip", "link", "del", SEND_IF], check=False)


def interface_counter(values: dict[str, float], metric: str) -> int:
    return int(values.get(f'{metric}{{interface="{CAPTURE_IF}"}}', 0))


def start_sensor(workers: int, port: int, eve: str) -> subprocess.Popen[bytes]:
    fathom = [sys.executable, "-m", "fathom.cli"]
    cmd = [*fathom, "sensor", "--interface", CAPTURE_IF, "--workers", str(workers),
           "--metrics", f"127.0.0.1:{port}", "--eve", eve]  # fmt: skip
    sensor = subprocess.Popen(cmd, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + READY_TIMEOUT
    pattern = re.compile(r"^fathom_interface_up\{.*\} 1\.0$", re.M)
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
                text = response.read().decode()
            if pattern.search(text) and f"fathom_workers {float(workers)}" in text:
                return sensor
        except OSError:
            pass
        time.sleep(0.2)
    sensor.kill()
    raise RuntimeError("the sensor did not start capturing")


def replay(capture: Path, mbps: int, loops: int) -> tuple[int, float]:
    """Packets tcpreplay sent and the seconds it took."""
    started = time.monotonic()
    done = run(["tcpreplay", "-q", "-i", SEND_IF, f"--mbps={mbps}", f"--loop={loops}", str(capture)])
    seconds = time.monotonic() - started
    found = re.search(r"Actual: (\d+) packets", done.stdout)
    return (int(found.group(1)) if found else 0), seconds


def trial(capture: Path, workers: int, mbps: int, loops: int) -> Trial:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="fathom-live-") as tmp:
        sensor = start_sensor(workers, port, os.path.join(tmp, "eve.json"))
        try:
            before = scrape(port)
            sent, seconds = replay(capture, mbps, loops)
            time.sleep(SETTLE)
            after = scrape(port)
        finally:
            sensor.send_signal(signal.SIGTERM)
            sensor.wait(60)
    read = interface_counter(after, "fathom_packets_total") - interface_counter(
        before, "fathom_packets_total"
    )
    drops = interface_counter(after, "fathom_kernel_drops_total") - interface_counter(
        before, "fathom_kernel_drops_total"
    )
    return Trial(workers, mbps, sent, read, drops, seconds)


def describe(result: Trial) -> str:
    verdict = "ok" if result.passed else "MISSED"
    return (
        f"workers={result.workers} {result.mbps:>5} Mbit/s: sent {result.sent:,}, read {result.read:,}, "
        f"kernel drops {result.drops:,} ({result.pps:,.0f} pkt/s) {verdict}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--capture", default="bytes", help="cached capture to replay (default bytes)")
    parser.add_argument(
        "--cache", help="capture cache (default $FATHOM_BENCH_CACHE or /var/cache/fathom-bench)"
    )
    parser.add_argument("--rates", default=",".join(map(str, DEFAULT_RATES)), help="Mbit/s, comma-separated")
    parser.add_argument("--workers", default="1,2", help="worker counts, comma-separated")
    parser.add_argument(
        "--loops",
        type=int,
        default=5,
        help="times the capture is replayed per trial (default 5: several times the rings)",
    )
    parser.add_argument("--json", type=Path, help="write the trials here")
    args = parser.parse_args(argv)
    if os.geteuid() != 0 or shutil.which("tcpreplay") is None:
        print("bench.live: needs root and tcpreplay (bash bench/setup.sh)", file=sys.stderr)
        return 1
    cache = cache_dir(args.cache)
    ensure_captures([args.capture], cache)
    capture = capture_path(cache, args.capture)
    trials: list[Trial] = []
    veth_up()
    try:
        for workers in map(int, args.workers.split(",")):
            for mbps in map(int, args.rates.split(",")):
                result = trial(capture, workers, mbps, args.loops)
                trials.append(result)
                print(describe(result), flush=True)
                if not result.passed:
                    break
    finally:
        veth_down()
    print("\nhighest rate with zero drops:")
    for workers in sorted({t.workers for t in trials}):
        passed = [t for t in trials if t.workers == workers and t.passed]
        best = max(passed, key=lambda t: t.mbps, default=None)
        shown = f"{best.mbps} Mbit/s ({best.pps:,.0f} pkt/s)" if best else "none of the rates tried"
        print(f"  {workers} worker{'s' if workers > 1 else ''}: {shown}")
    if args.json:
        args.json.write_text(json.dumps([t.__dict__ for t in trials], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
