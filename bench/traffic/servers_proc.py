"""Start and stop the server process inside the server namespace."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bench.paths import REPO_ROOT
from bench.traffic.content import Content
from bench.traffic.mixes import HOSTS, HTTP_PORTS, HTTPS_PORT
from bench.traffic.topology import NS_SERVER, in_ns


def start_servers(content: Content, cert: Path, key: Path) -> subprocess.Popen[str]:
    argv = [sys.executable, "-m", "bench.traffic.servers", "--root", str(content.root),
            "--cert", str(cert), "--key", str(key), "--https-port", str(HTTPS_PORT)]  # fmt: skip
    for port in HTTP_PORTS:
        argv += ["--http-port", str(port)]
    for name, addr in HOSTS.items():
        argv += ["--host", f"{name}={addr}"]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    cmd = in_ns(NS_SERVER, *argv)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env, cwd=REPO_ROOT)
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "ready":
        proc.kill()
        proc.wait()
        raise RuntimeError("benchmark servers failed to start")
    return proc


def stop_servers(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
