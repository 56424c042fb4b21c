"""The sensor's status, reported to the manager every few seconds (``POST /api/v1/sensors/NODE``),
from a thread of the supervisor: a manager that is away delays nothing, and is told once."""

from __future__ import annotations

import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

import orjson

from fathom.notes import note

REPORT_INTERVAL = 5.0
TIMEOUT = 5.0


class StatusReporter:
    __slots__ = ("_failing", "_report", "_stop", "_thread", "_token", "_url", "sent")

    def __init__(self, manager: str, token: str | None, report: Callable[[], dict[str, Any]]) -> None:
        self._url = manager.rstrip("/")
        self._token = token
        self._report = report
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fathom-status", daemon=True)
        self._failing = False
        self.sent = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(TIMEOUT + 1)

    def _run(self) -> None:
        while True:
            self.send(self._report())
            if self._stop.wait(REPORT_INTERVAL):
                return

    def send(self, report: dict[str, Any]) -> None:
        node = urllib.parse.quote(report["node"], safe="")
        request = urllib.request.Request(
            f"{self._url}/api/v1/sensors/{node}", data=orjson.dumps(report), method="POST"
        )
        request.add_header("Content-Type", "application/json")
        if self._token:
            request.add_header("Authorization", f"Bearer {self._token}")
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                response.read()
        except (OSError, ValueError) as exc:
            if not self._failing:
                self._failing = True
                reason = f"HTTP {exc.code}" if isinstance(exc, urllib.error.HTTPError) else str(exc)
                note(f"--manager {self._url}: status not reported ({reason}); trying again every few seconds")
            return
        if self._failing:
            note(f"--manager {self._url}: status reported again")
        self._failing = False
        self.sent += 1
