"""A real ``fathom serve`` in a subprocess, on 127.0.0.1 and a free port, with its own SQLite file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from bench.loopback import free_port

from fathom.rules.loader import BUNDLED_RULES

START_TIMEOUT = 60.0
BATCH = 1000


class Manager:
    """``fathom serve --rules BUNDLED --rules EXTRA``; ``post``/``get`` talk to its API."""

    def __init__(self, directory: Path, rules: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = directory / "serve.log"
        command = [
            sys.executable, "-m", "fathom.cli", "serve",
            "--listen", f"127.0.0.1:{self.port}",
            "--db", f"sqlite:///{directory / 'manager.db'}",
            "--rules", str(BUNDLED_RULES),
            "--rules", str(rules),
        ]  # fmt: skip
        env = {**os.environ, "FATHOM_DATA_DIR": str(directory)}
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"fathom serve exited {self.process.returncode}: {self.log.read_text()}")
            try:
                self.get("/api/v1/openapi.json")
                return
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"fathom serve did not answer within {START_TIMEOUT} s: {self.log.read_text()}")

    def _call(self, method: str, path: str, body: object = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")

    def get(self, path: str) -> Any:
        return self._call("GET", path)

    def post(self, path: str, body: object) -> Any:
        return self._call("POST", path, body)

    def report(self, node: str, **fields: Any) -> None:
        """A sensor's status report, as ``fathom sensor`` sends it every few seconds."""
        self.post(f"/api/v1/sensors/{node}", {"node": node, "version": "0.1.0", **fields})

    def feed(self, events: list[dict[str, Any]]) -> int:
        """POST events in batches as a sender does; the number the manager accepted."""
        accepted = 0
        for start in range(0, len(events), BATCH):
            result = self.post("/api/v1/events", events[start : start + BATCH])
            assert result["rejected"] == 0, result
            accepted += int(result["accepted"])
        return accepted

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
