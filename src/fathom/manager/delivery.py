"""Delivery of events to the Fathom manager, at least once.

:class:`ManagerSink` is an event sink. On the engine's thread it only appends each event's EVE
line to a batch; a batch is sealed at 500 events or 1 MiB, or by the sink's own thread 1 s after
its first event, and that thread POSTs it, as a JSON array, to ``URL/api/v1/events`` with the
bearer token. So the packet path never waits on the network.

A batch leaves the sender only on a 2xx answer. While the manager cannot be reached, or answers
5xx, 429, 401, 403, 404, 408 or a redirect (its load, or this sender's configuration: nothing
wrong with the batch), batches go to the on-disk :class:`~fathom.manager.spool.Spool`. They are
sent again oldest first, joined into larger requests, with exponential backoff (0.5 s doubling
to 30 s, jittered, or the ``Retry-After`` the manager asks for). Any other 4xx refuses the batch
itself: it is counted, told in one line and not sent again. What is in the spool when the process
stops is sent by the next sender to open it. Resending is always safe: the manager knows each
event by a hash of its content and stores it once.

Batches waiting in memory are bounded too: past 16 MiB (a manager slower than the events) the
thread that seals a batch moves them to the spool, so memory stays bounded and nothing is lost.
"""

from __future__ import annotations

import http.client
import itertools
import os
import random
import re
import socket
import ssl
import threading
import time
import urllib.parse
from collections import deque
from pathlib import Path

import orjson

from fathom import __version__
from fathom.events.schema import Event
from fathom.manager.spool import DEFAULT_MAX_BYTES, Note, Spool, default_spool_dir
from fathom.notes import note as stderr_note

EVENTS_PATH = "/api/v1/events"
TOKEN_ENV = "FATHOM_TOKEN"
BATCH_EVENTS = 500
BATCH_BYTES = 1 << 20
LINGER = 1.0
MEMORY_BYTES = 16 << 20
# A request of spooled batches joins several, well within the manager's bounds (10,000 events, 10 MiB).
POST_EVENTS = 2000
POST_BYTES = 4 << 20
BACKOFF_MIN = 0.5
BACKOFF_MAX = 30.0
TIMEOUT = 10.0
FLUSH_TIMEOUT = 10.0
# Answers that say nothing against the batch: it is kept and sent again.
_RETRY_STATUS = frozenset({401, 403, 404, 408, 429})
# Of a refusal's explanation, this much goes into the line that reports it.
_DETAIL_CHARS = 200
_TOKEN = re.compile(r"[\x21-\x7e]+")
_UNPRINTABLE = re.compile(r"[^\x20-\x7e]")

_OK, _RETRY, _REFUSED = 0, 1, 2


class DeliveryError(Exception):
    """A manager URL, token or spool that cannot be used, in one line."""


class _Endpoint:
    """Where the events go: ``URL/api/v1/events``, over one kept-alive connection."""

    __slots__ = ("_conn", "_headers", "host", "https", "path", "port", "url")

    def __init__(self, url: str, token: str | None) -> None:
        parts = urllib.parse.urlsplit(url)
        try:
            port = parts.port
        except ValueError:
            port = -1
        if (
            parts.scheme not in ("http", "https")
            or not parts.hostname
            or port == -1
            or parts.query
            or parts.fragment
            or parts.username is not None
        ):
            raise DeliveryError(f"--manager {url}: want http(s)://HOST[:PORT][/PATH]")
        self.url = url
        self.https = parts.scheme == "https"
        self.host = parts.hostname
        self.port = port or (443 if self.https else 80)
        self.path = parts.path.rstrip("/") + EVENTS_PATH
        self._headers = {"Content-Type": "application/json", "User-Agent": f"fathom/{__version__}"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._conn: http.client.HTTPConnection | None = None

    def post(self, body: bytes, timeout: float) -> tuple[int, str, bytes, str | None]:
        """POST ``body``: (status, reason, the answer's first bytes, Retry-After). Raises OSError
        or http.client.HTTPException."""
        reused = self._conn is not None
        try:
            return self._exchange(body, timeout)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            if not reused:
                raise
        # The manager closed the kept-alive connection while it was idle: once more, on a new one.
        return self._exchange(body, timeout)

    def _exchange(self, body: bytes, timeout: float) -> tuple[int, str, bytes, str | None]:
        conn = self._conn
        if conn is None:
            if self.https:
                conn = http.client.HTTPSConnection(
                    self.host, self.port, timeout=timeout, context=ssl.create_default_context()
                )
            else:
                conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
            self._conn = conn
        elif conn.sock is not None:
            conn.sock.settimeout(timeout)
        try:
            if conn.sock is None:
                _connect(conn)
            conn.request("POST", self.path, body, self._headers)
            response = conn.getresponse()
            answer = response.read(64 << 10)
            if not response.isclosed() or response.will_close:
                # An answer too long to read whole, or the manager closing: start afresh.
                self.close()
        except BaseException:
            self.close()
            raise
        return response.status, response.reason, answer, response.getheader("Retry-After")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _connect(conn: http.client.HTTPConnection) -> None:
    conn.connect()
    # http.client writes the headers and the body apart: without this, Nagle holds the body back
    # until the manager's delayed ACK of the headers, 40 ms a request.
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def read_token(token_file: str | None) -> str | None:
    """The bearer token: the first line of ``token_file``, else ``$FATHOM_TOKEN``; None when
    neither gives one. Raises DeliveryError."""
    if token_file is not None:
        where = f"--token-file {token_file}"
        try:
            with open(token_file, "rb") as file:
                first = file.readline(4096).decode("utf-8", "replace").strip()
        except OSError as exc:
            raise DeliveryError(f"{where}: {exc.strerror or exc}") from exc
        if not first:
            raise DeliveryError(f"{where}: no token on its first line")
    else:
        first = os.environ.get(TOKEN_ENV, "").strip()
        where = f"${TOKEN_ENV}"
        if not first:
            return None
    if not _TOKEN.fullmatch(first):
        raise DeliveryError(f"{where}: a token is printable ASCII without spaces")
    return first


def check_manager(url: str, token_file: str | None) -> str | None:
    """What ``--manager URL`` and ``--token-file FILE`` give, checked before any work starts:
    the token, or None. Raises DeliveryError."""
    _Endpoint(url, None)
    return read_token(token_file)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _retry_after(value: str | None) -> float | None:
    if value is None or not value.strip().isdigit():
        return None  # an HTTP date is rare enough to fall back on the backoff
    return min(float(value), BACKOFF_MAX)


class ManagerSink:
    """An event sink delivering to the manager at ``url`` (``http(s)://HOST[:PORT][/PATH]``) with
    ``token`` (None: no Authorization, as on loopback), spooling to ``spool_dir`` (default
    :func:`~fathom.manager.spool.default_spool_dir`) up to ``spool_bytes``.

    Counters: :attr:`accepted` events emitted; :attr:`delivered` acknowledged by the manager
    (:attr:`duplicates` of them it already had); :attr:`refused` in batches the manager refused;
    :attr:`spooled`, :attr:`dropped` and :attr:`resumed` (found from an earlier run) from the
    spool; :attr:`pending` waiting; :attr:`lost` = refused + dropped. Always
    ``accepted + resumed == delivered + refused + dropped + pending`` once closed (while it runs,
    the batch being handed over between memory and the spool may be missing from :attr:`pending`).

    Construction raises DeliveryError (the URL, or a spool that cannot be made or locked). Build
    it in the process that emits: its thread does not survive a fork."""

    __slots__ = (
        "_backoff", "_batch", "_batch_bytes", "_batch_events", "_batch_started", "_closing", "_cond",
        "_deadline", "_endpoint", "_failing", "_flush_timeout", "_linger", "_memory_bytes", "_note",
        "_queue", "_queued_bytes", "_queued_events", "_retry_at", "_seqs", "_spool", "_thread", "_timeout",
        "_told", "accepted", "delivered", "duplicates", "refused",
    )  # fmt: skip

    def __init__(
        self,
        url: str,
        token: str | None = None,
        spool_dir: Path | None = None,
        *,
        spool_bytes: int = DEFAULT_MAX_BYTES,
        batch_events: int = BATCH_EVENTS,
        linger: float = LINGER,
        memory_bytes: int = MEMORY_BYTES,
        timeout: float = TIMEOUT,
        flush_timeout: float = FLUSH_TIMEOUT,
        note: Note = stderr_note,
    ) -> None:
        self._endpoint = _Endpoint(url, token)
        self._note = note
        directory = spool_dir or default_spool_dir()
        try:
            self._spool = Spool(directory, spool_bytes, note)
        except OSError as exc:
            where = exc.filename or directory
            raise DeliveryError(f"--manager {url}: spool {where}: {exc.strerror or exc}") from exc
        self._batch_events = batch_events
        self._linger = linger
        self._memory_bytes = memory_bytes
        self._timeout = timeout
        self._flush_timeout = flush_timeout
        # Numbers for batches, in the order they are sealed: the spool keeps that order.
        self._seqs = itertools.count(self._spool.next_seq)
        self._cond = threading.Condition(threading.Lock())
        self._batch: list[bytes] = []
        self._batch_bytes = 0
        self._batch_started = 0.0
        # Sealed batches waiting in memory, oldest first: (sequence number, JSON array, events).
        self._queue: deque[tuple[int, bytes, int]] = deque()
        self._queued_bytes = 0
        self._queued_events = 0
        # After a failure: when to try again, and the current backoff.
        self._failing = False
        self._retry_at = 0.0
        self._backoff = 0.0
        # The kind of problem last told in a line, until the next delivery.
        self._told: str | None = None
        self._closing = False
        self._deadline = 0.0
        self.accepted = 0
        self.delivered = 0
        self.duplicates = 0
        self.refused = 0
        self._thread = threading.Thread(target=self._run, name="fathom-manager", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return self._endpoint.url

    @property
    def spool_path(self) -> Path:
        """This sender's slot in the spool directory."""
        return self._spool.path

    @property
    def spooled(self) -> int:
        return self._spool.spooled

    @property
    def dropped(self) -> int:
        return self._spool.dropped

    @property
    def resumed(self) -> int:
        return self._spool.resumed

    @property
    def pending(self) -> int:
        """Events not yet delivered: in memory and in the spool."""
        return len(self._batch) + self._queued_events + self._spool.events

    @property
    def lost(self) -> int:
        return self.refused + self.dropped

    def emit(self, event: Event) -> None:
        line = event.json()
        with self._cond:
            self.accepted += 1
            batch = self._batch
            if not batch:
                self._batch_started = time.monotonic()
                # The thread seals the batch after the linger, if nothing else does first.
                self._cond.notify()
            batch.append(line)
            self._batch_bytes += len(line)
            if len(batch) < self._batch_events and self._batch_bytes < BATCH_BYTES:
                return
            self._seal()
            self._cond.notify()
            if self._queued_bytes <= self._memory_bytes:
                return
            overflow = self._take_queue()
        self._spill(overflow)

    def _seal(self) -> None:
        """Close the current batch into the queue. Called with the lock held."""
        body = b"[" + b",".join(self._batch) + b"]"
        self._queue.append((next(self._seqs), body, len(self._batch)))
        self._queued_bytes += len(body)
        self._queued_events += len(self._batch)
        self._batch = []
        self._batch_bytes = 0

    def _take_queue(self) -> list[tuple[int, bytes, int]]:
        """Empty the queue. Called with the lock held; the caller spools what it took."""
        taken = list(self._queue)
        self._queue.clear()
        self._queued_bytes = self._queued_events = 0
        return taken

    def _spill(self, batches: list[tuple[int, bytes, int]]) -> None:
        for seq, body, events in batches:
            self._spool.append(seq, body, events)

    def _run(self) -> None:
        try:
            self._deliver()
        except Exception as exc:
            # A fault of this code, not of the manager: say so, and keep what is left on disk.
            self._note(f"manager {self.url}: delivery stopped: {exc!r}")
        finally:
            with self._cond:
                if self._batch:
                    self._seal()
                rest = self._take_queue()
            self._spill(rest)

    def _deliver(self) -> None:
        """Send batches until closed: from the spool while it holds any, else from memory."""
        while True:
            with self._cond:
                now = time.monotonic()
                if self._batch and (self._closing or now >= self._batch_started + self._linger):
                    self._seal()
                # While the manager is away, batches wait on disk, not in memory.
                spill = self._take_queue() if self._failing else []
                job = None
                if not spill:
                    if self._closing and (now >= self._deadline or not (self._queue or self._spool.events)):
                        break
                    if now < self._retry_at or not (self._queue or self._spool.events):
                        self._cond.wait(self._wait(now))
                        continue
                    # Spooled batches are older than any in memory.
                    if not self._spool.events:
                        job = self._queue.popleft()
                        self._queued_bytes -= len(job[1])
                        self._queued_events -= job[2]
            if spill:
                self._spill(spill)
            elif job is not None:
                self._send_batch(*job)
            else:
                self._send_spooled()

    def _wait(self, now: float) -> float | None:
        """Seconds until the thread has something to do, or None (until an event is emitted)."""
        times: list[float] = []
        if self._batch:
            times.append(self._batch_started + self._linger)
        if self._queue or self._spool.events:
            times.append(self._retry_at)
        if self._closing:
            times.append(self._deadline)
        return max(0.0, min(times) - now) if times else None

    def _send_batch(self, seq: int, body: bytes, events: int) -> None:
        if self._post(body, events) == _RETRY:
            self._spool.append(seq, body, events)

    def _send_spooled(self) -> None:
        lease = self._spool.lease(POST_EVENTS, POST_BYTES)
        if lease is not None and self._post(lease.body, lease.events) != _RETRY:
            self._spool.ack(lease)

    def _post(self, body: bytes, events: int) -> int:
        """Send one request; count its outcome and set the next try's time."""
        timeout = self._timeout
        if self._closing:
            timeout = max(0.5, min(timeout, self._deadline - time.monotonic()))
        try:
            status, reason, answer, retry_after = self._endpoint.post(body, timeout)
        except (OSError, http.client.HTTPException) as exc:
            self._failed(f"unreachable ({_reason(exc)})", None)
            return _RETRY
        if 200 <= status < 300:
            self._delivered(events, answer)
            return _OK
        if status >= 500 or status in _RETRY_STATUS or status < 400:
            self._failed(f"answered {status} {reason}", _retry_after(retry_after))
            return _RETRY
        self.refused += events
        detail = _UNPRINTABLE.sub("?", answer[:_DETAIL_CHARS].decode("utf-8", "replace"))
        self._tell(
            "refused", f"refused {events:,} events ({status} {reason}: {detail}); they are not sent again"
        )
        return _REFUSED

    def _delivered(self, events: int, answer: bytes) -> None:
        self.delivered += events
        try:
            counts = orjson.loads(answer)
            duplicates = counts.get("duplicates", 0) if isinstance(counts, dict) else 0
        except orjson.JSONDecodeError:
            duplicates = 0
        if isinstance(duplicates, int):
            self.duplicates += duplicates
        if self._failing:
            self._note(
                f"manager {self.url}: reachable again; sending the {self._spool.events:,} events spooled"
            )
        self._failing = False
        self._told = None
        self._backoff = self._retry_at = 0.0

    def _tell(self, kind: str, line: str) -> None:
        """One line about a problem, unless it was just told: until the next delivery, a line
        per change of problem, not per batch."""
        if self._told != kind:
            self._note(f"manager {self.url}: {line}")
            self._told = kind

    def _failed(self, why: str, wait: float | None) -> None:
        self._tell("failing", f"{why}; spooling events in {self._spool.path} and trying again")
        self._failing = True
        self._backoff = min(BACKOFF_MAX, max(BACKOFF_MIN, self._backoff * 2))
        if wait is None:
            # Jittered, so that many senders that lost the manager together do not return in step.
            wait = self._backoff * random.uniform(0.5, 1.0)
        self._retry_at = time.monotonic() + wait

    def close(self, timeout: float | None = None) -> None:
        """Deliver what is waiting for at most ``timeout`` seconds (default the ``flush_timeout``),
        then leave the rest in the spool for the next run. A Ctrl-C cuts the wait short."""
        with self._cond:
            self._closing = True
            self._deadline = time.monotonic() + (self._flush_timeout if timeout is None else timeout)
            self._cond.notify()
        try:
            self._thread.join()
        except KeyboardInterrupt:
            with self._cond:
                self._deadline = time.monotonic()
                self._cond.notify()
            self._thread.join()
            raise
        finally:
            self._endpoint.close()
            self._spool.close()

    def report(self) -> str:
        """One line: what was delivered, what waits in the spool, what was lost."""
        parts = [f"manager {self.url}: {self.delivered:,} events delivered"]
        if self.pending:
            parts.append(f"{self.pending:,} left in {self._spool.path} for the next run")
        if self.dropped:
            parts.append(f"{self.dropped:,} dropped from the full spool")
        if self.refused:
            parts.append(f"{self.refused:,} refused by the manager")
        return ", ".join(parts)
