"""Run the client jobs of a mix and check that every request got its answer."""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass

from bench.traffic.mixes import Job, Step


class ClientFailed(RuntimeError):
    pass


@dataclass
class ClientTotals:
    http_transfers: int = 0
    tcp_connections: int = 0
    dns_queries: int = 0


def _check(job: Job, returncode: int, output: str, totals: ClientTotals) -> None:
    lines = output.splitlines()
    if job.kind == "curl":
        statuses = [line.split() for line in lines if line.strip()]
        bad = [s for s in statuses if s[0] != "200"]
        if returncode != 0 or len(statuses) != job.expected or bad:
            raise ClientFailed(
                f"{job.name}: curl exit {returncode}, {len(statuses)}/{job.expected} transfers, "
                f"{len(bad)} not 200"
            )
        totals.http_transfers += len(statuses)
        totals.tcp_connections += sum(int(s[1]) for s in statuses)
    else:
        # dig prints one ->>HEADER<<- line per response it got; a timeout prints none.
        answered = sum(1 for line in lines if "->>HEADER<<-" in line)
        if answered != job.expected:
            raise ClientFailed(f"{job.name}: dig exit {returncode}, {answered}/{job.expected} answered")
        totals.dns_queries += answered


def run_steps(steps: list[Step], totals: ClientTotals, timeout: float = 900) -> None:
    for step in steps:
        # Output to temp files, not pipes: a full pipe would stall curl mid-run.
        running = []
        for job in step:
            out = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed in the finally below
            proc = subprocess.Popen(job.argv, stdout=out, stderr=subprocess.STDOUT, text=True)
            running.append((job, proc, out))
        try:
            for job, proc, out in running:
                returncode = proc.wait(timeout=timeout)
                out.seek(0)
                _check(job, returncode, out.read(), totals)
        finally:
            for _job, proc, out in running:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                out.close()
