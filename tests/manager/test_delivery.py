"""Delivery to the manager: batches over HTTP, the spool while the manager is away, at least once.

A real HTTP server on loopback stands in for the manager: it records every batch it accepts and
answers as a test tells it to. The end-to-end tests run the real manager (``fathom serve``).
"""

from __future__ import annotations

import datetime
import hashlib
import http.server
import ipaddress
import json
import os
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from bench.loopback import free_port
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from fathom.events.schema import Event
from fathom.manager import delivery
from fathom.manager.delivery import DeliveryError, ManagerSink, check_manager, read_token
from fathom.manager.spool import Spool

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "samples" / "demo.pcap"
ALERTS_PCAP = ROOT / "tests" / "data" / "corpus" / "parity" / "parity_p03.pcap"


class Numbered(Event):
    """An event whose line says only its number."""

    __slots__ = ("number",)
    event_type = "alert"

    def __init__(self, number: int, pad: int = 0) -> None:
        super().__init__()
        self.number = number
        self._json = orjson.dumps({"event_type": "alert", "n": number, "pad": "x" * pad}) + b"\n"


# An answer of the stand-in manager: keep the batch, then hang up without a word (a manager
# that died between storing a batch and saying so).
HANG_UP = -1


class Recorder:
    """A stand-in manager on 127.0.0.1: records the batches it accepts (2xx and HANG_UP), answers
    each POST with the next status of :attr:`answers` (200 when none is left), after
    :attr:`delay` seconds."""

    def __init__(self, port: int = 0, tls: ssl.SSLContext | None = None) -> None:
        self.batches: list[list[dict[str, Any]]] = []
        self.requests: list[tuple[int, dict[str, str], list[dict[str, Any]]]] = []
        self.answers: deque[int] = deque()
        self.retry_after: str | None = None
        self.delay = 0.0
        # Hang up after each answer, without saying so, as a server whose keep-alive timed out.
        self.hang_up_after = False
        self.lock = threading.Lock()
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if recorder.delay:
                    time.sleep(recorder.delay)
                events = json.loads(body)
                with recorder.lock:
                    status = recorder.answers.popleft() if recorder.answers else 200
                    recorder.requests.append((status, dict(self.headers), events))
                    if 200 <= status < 300 or status == HANG_UP:
                        recorder.batches.append(events)
                if status == HANG_UP:
                    self.close_connection = True
                    return
                answer = json.dumps({"accepted": len(events), "duplicates": 0}).encode()
                if status >= 300:
                    answer = b'{"detail": "no\\u001b[31m thanks"}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                if recorder.retry_after is not None:
                    self.send_header("Retry-After", recorder.retry_after)
                self.end_headers()
                self.wfile.write(answer)
                if recorder.hang_up_after:
                    self.close_connection = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def numbers(self) -> list[int]:
        with self.lock:
            return [event["n"] for batch in self.batches for event in batch]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    server = Recorder()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(delivery, "BACKOFF_MIN", 0.05)
    monkeypatch.setattr(delivery, "BACKOFF_MAX", 0.2)


class Notes(list[str]):
    def __call__(self, line: str) -> None:
        self.append(line)


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def segments(spool_dir: Path) -> list[Path]:
    return sorted(spool_dir.glob("*/*.seg"))


def balanced(sink: ManagerSink) -> bool:
    return sink.accepted + sink.resumed == sink.delivered + sink.refused + sink.dropped + sink.pending


def test_events_arrive_in_order_in_batches_with_the_token(recorder: Recorder, tmp_path: Path) -> None:
    notes = Notes()
    sink = ManagerSink(recorder.url, "s3cret", tmp_path / "spool", batch_events=100, note=notes)
    for n in range(1234):
        sink.emit(Numbered(n))
    sink.close()
    assert recorder.numbers() == list(range(1234))
    assert [len(batch) for batch in recorder.batches] == [100] * 12 + [34]
    _, headers, _ = recorder.requests[0]
    assert headers["Authorization"] == "Bearer s3cret"
    assert headers["Content-Type"] == "application/json"
    assert (sink.accepted, sink.delivered, sink.pending, sink.spooled, sink.lost) == (1234, 1234, 0, 0, 0)
    assert notes == []
    assert segments(tmp_path / "spool") == []
    assert sink.report() == f"manager {recorder.url}: 1,234 events delivered"


def test_no_token_means_no_authorization_header(recorder: Recorder, tmp_path: Path) -> None:
    sink = ManagerSink(recorder.url, None, tmp_path / "spool")
    sink.emit(Numbered(1))
    sink.close()
    assert "Authorization" not in recorder.requests[0][1]


def test_a_base_path_in_the_url_is_kept(tmp_path: Path) -> None:
    paths: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            paths.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        sink = ManagerSink(f"http://127.0.0.1:{server.server_address[1]}/fathom/", None, tmp_path / "s")
        sink.emit(Numbered(1))
        sink.close()
    finally:
        server.shutdown()
        server.server_close()
    assert paths == ["/fathom/api/v1/events"]


def test_https_with_the_certificate_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "manager.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    pem = tmp_path / "cert.pem"
    pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_pem = tmp_path / "key.pem"
    key_pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(pem, key_pem)
    server = Recorder(tls=tls)
    try:
        # Not trusted: the batch waits in the spool.
        notes = Notes()
        untrusted = ManagerSink(server.url, "t", tmp_path / "spool", note=notes)
        untrusted.emit(Numbered(1))
        untrusted.close(timeout=0.3)
        assert (untrusted.delivered, untrusted.pending) == (0, 1)
        assert "CERTIFICATE_VERIFY_FAILED" in notes[0]
        # Trusted (OpenSSL's SSL_CERT_FILE): delivered.
        monkeypatch.setenv("SSL_CERT_FILE", str(pem))
        sink = ManagerSink(server.url, "t", tmp_path / "spool")
        sink.emit(Numbered(2))
        sink.close()
    finally:
        server.stop()
    assert server.numbers() == [1, 2]
    assert server.requests[0][1]["Authorization"] == "Bearer t"


def test_a_partial_batch_goes_after_the_linger_without_close(recorder: Recorder, tmp_path: Path) -> None:
    sink = ManagerSink(recorder.url, None, tmp_path / "spool", linger=0.1)
    for n in range(3):
        sink.emit(Numbered(n))
    wait_for(lambda: sink.delivered == 3, timeout=2.0)
    assert recorder.numbers() == [0, 1, 2]
    sink.close()
    assert len(recorder.batches) == 1


def test_unreachable_manager_spools_then_delivers_everything_in_order(tmp_path: Path) -> None:
    port = free_port()
    notes = Notes()
    spool_dir = tmp_path / "spool"
    sink = ManagerSink(f"http://127.0.0.1:{port}", None, spool_dir, batch_events=50, linger=0.05, note=notes)
    for n in range(500):
        sink.emit(Numbered(n))
    # Nobody listens: every batch ends up on disk.
    wait_for(lambda: sink.spooled == 500)
    assert sink.delivered == 0
    assert sink.pending == 500
    assert segments(spool_dir)
    assert len(notes) == 1
    assert notes[0].startswith(f"manager http://127.0.0.1:{port}: unreachable (Connection refused); spooling")
    assert str(sink.spool_path) in notes[0]
    server = Recorder(port)
    try:
        wait_for(lambda: sink.delivered == 500)
        for n in range(500, 600):
            sink.emit(Numbered(n))
        sink.close()
    finally:
        server.stop()
    assert server.numbers() == list(range(600))
    assert segments(spool_dir) == []
    assert notes[1] == f"manager http://127.0.0.1:{port}: reachable again; sending the 500 events spooled"
    # Spooled batches are joined into larger requests.
    assert len(server.batches) < 12
    assert (sink.pending, sink.lost) == (0, 0)


@pytest.mark.parametrize("status", [500, 503, 429, 401, 403, 404, 408])
def test_answers_that_say_nothing_against_the_batch_are_retried(
    recorder: Recorder, tmp_path: Path, status: int
) -> None:
    recorder.answers.extend([status] * 3)
    notes = Notes()
    sink = ManagerSink(recorder.url, None, tmp_path / "spool", batch_events=10, note=notes)
    for n in range(30):
        sink.emit(Numbered(n))
    sink.close()
    assert recorder.numbers() == list(range(30))
    assert [code for code, _, _ in recorder.requests][:3] == [status] * 3
    assert (sink.delivered, sink.refused, sink.pending) == (30, 0, 0)
    assert notes[0].startswith(f"manager {recorder.url}: answered {status} ")


def test_a_batch_whose_answer_was_lost_is_sent_again(recorder: Recorder, tmp_path: Path) -> None:
    # The first hang-up is taken for a kept-alive connection that timed out: sent again at once.
    recorder.answers.extend([200, HANG_UP, HANG_UP])
    notes = Notes()
    sink = ManagerSink(recorder.url, None, tmp_path / "spool", batch_events=10, note=notes)
    for n in range(30):
        sink.emit(Numbered(n))
    sink.close()
    # At least once: the manager got the second batch three times (and keeps one of each event).
    assert recorder.numbers() == [*range(20), *range(10, 20), *range(10, 30)]
    assert (sink.delivered, sink.pending, sink.lost) == (30, 0, 0)
    assert notes[0].startswith(f"manager {recorder.url}: unreachable (")


def test_a_kept_alive_connection_the_manager_closed_is_not_an_outage(
    recorder: Recorder, tmp_path: Path
) -> None:
    recorder.hang_up_after = True
    notes = Notes()
    sink = ManagerSink(recorder.url, None, tmp_path / "spool", batch_events=10, note=notes)
    for n in range(100):
        sink.emit(Numbered(n))
    sink.close()
    assert recorder.numbers() == list(range(100))
    assert (sink.delivered, sink.spooled, notes) == (100, 0, [])


def test_retry_after_is_honoured(recorder: Recorder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(delivery, "BACKOFF_MAX", 5.0)
    recorder.answers.append(429)
    recorder.retry_after = "1"
    sink = ManagerSink(recorder.url, None, tmp_path / "spool")
    started = time.monotonic()
    sink.emit(Numbered(1))
    sink.close()
    assert recorder.numbers() == [1]
    # The backoff alone (0.05 s here) would have tried again far sooner.
    assert time.monotonic() - started >= 0.9


def test_a_refused_batch_is_counted_told_once_and_not_sent_again(recorder: Recorder, tmp_path: Path) -> None:
    recorder.answers.extend([200, 422, 400, 200])
    notes = Notes()
    sink = ManagerSink(recorder.url, None, tmp_path / "spool", batch_events=10, note=notes)
    for n in range(50):
        sink.emit(Numbered(n))
    sink.close()
    assert recorder.numbers() == [*range(10), *range(30, 50)]
    assert [code for code, _, _ in recorder.requests] == [200, 422, 400, 200, 200]
    assert (sink.delivered, sink.refused, sink.lost, sink.pending) == (30, 20, 20, 0)
    # One line for the stretch of refusals, the manager's explanation made printable.
    assert notes == [
        f"manager {recorder.url}: refused 10 events (422 Unprocessable Entity: "
        '{"detail": "no\\u001b[31m thanks"}); they are not sent again'
    ]
    assert "20 refused by the manager" in sink.report()
    assert balanced(sink)


def test_a_restarted_sender_delivers_what_the_last_one_spooled(recorder: Recorder, tmp_path: Path) -> None:
    spool_dir = tmp_path / "spool"
    down = ManagerSink(f"http://127.0.0.1:{free_port()}", None, spool_dir, batch_events=40, note=Notes())
    for n in range(300):
        down.emit(Numbered(n))
    down.close(timeout=0.3)
    assert (down.delivered, down.pending, down.spooled) == (0, 300, 300)
    assert down.report() == (
        f"manager {down.url}: 0 events delivered, 300 left in {down.spool_path} for the next run"
    )
    assert segments(spool_dir)
    sink = ManagerSink(recorder.url, None, spool_dir, batch_events=40)
    assert sink.resumed == 300
    for n in range(300, 350):
        sink.emit(Numbered(n))
    sink.close()
    assert recorder.numbers() == list(range(350))
    assert (sink.delivered, sink.pending) == (350, 0)
    assert segments(spool_dir) == []
    assert balanced(sink)


def test_a_sender_that_died_leaves_a_spool_the_next_one_delivers(recorder: Recorder, tmp_path: Path) -> None:
    """SIGKILL while spooling: nothing closed or synced, and the last record cut short."""
    spool_dir = tmp_path / "spool"
    script = f"""
import sys, time, orjson
from pathlib import Path
from fathom.events.schema import Event
from fathom.manager.delivery import ManagerSink
class E(Event):
    __slots__ = ()
    event_type = "alert"
sink = ManagerSink(
    "http://127.0.0.1:{free_port()}", None, Path(sys.argv[1]), batch_events=25, note=lambda line: None
)
for n in range(1000):
    e = E(); e._json = orjson.dumps({{"event_type": "alert", "n": n}}) + b"\\n"
    sink.emit(e)
while sink.spooled < 1000:
    time.sleep(0.01)
print("spooled", flush=True)
sys.stdin.read()
"""
    child = subprocess.Popen(
        [sys.executable, "-c", script, str(spool_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline() == "spooled\n"
    child.kill()
    child.wait()
    # As if it died in the middle of appending: half a record header at the end.
    newest = segments(spool_dir)[-1]
    with newest.open("ab") as file:
        file.write(b"\x10\x00\x00\x00\x01\x00")
    notes = Notes()
    sink = ManagerSink(recorder.url, None, spool_dir, note=notes)
    sink.close()
    assert recorder.numbers() == list(range(1000))
    assert (sink.resumed, sink.delivered, sink.dropped) == (1000, 1000, 0)
    assert len(notes) == 1
    assert notes[0].startswith(f"{newest}: damaged after ")
    assert notes[0].endswith(" events; the 6 bytes after are dropped")
    assert segments(spool_dir) == []


def batch(*numbers: int) -> bytes:
    return b"[" + b",".join(orjson.dumps({"event_type": "alert", "n": n}) for n in numbers) + b"]"


def test_the_spool_keeps_batches_in_order_and_joins_them_for_sending(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    seqs = range(spool.next_seq, spool.next_seq + 3)
    spool.append(seqs[1], batch(3, 4), 2)
    spool.append(seqs[2], batch(5), 1)
    # An older batch (one whose sending failed after newer ones were spooled) goes first.
    spool.append(seqs[0], batch(1, 2), 2)
    assert (spool.events, spool.spooled) == (5, 5)
    lease = spool.lease(max_events=3, max_bytes=1 << 20)
    assert lease is not None
    assert [e["n"] for e in orjson.loads(lease.body)] == [1, 2]
    spool.ack(lease)
    lease = spool.lease(max_events=3, max_bytes=1 << 20)
    assert lease is not None
    assert [e["n"] for e in orjson.loads(lease.body)] == [3, 4, 5]
    spool.ack(lease)
    assert spool.lease(max_events=3, max_bytes=1 << 20) is None
    assert (spool.events, spool.bytes) == (0, 0)
    assert segments(tmp_path / "spool") == []
    spool.close()


def test_a_damaged_record_ends_its_segment(recorder: Recorder, tmp_path: Path) -> None:
    spool_dir = tmp_path / "spool"
    spool = Spool(spool_dir)
    for seq, numbers in enumerate((range(10), range(10, 20), range(20, 30))):
        spool.append(seq, batch(*numbers), 10)
    spool.close()
    (segment,) = segments(spool_dir)
    data = bytearray(segment.read_bytes())
    # A bit flipped inside the second batch: its CRC no longer matches.
    data[data.index(b'"n":15') + 4] ^= 0x01
    segment.write_bytes(bytes(data))
    notes = Notes()
    sink = ManagerSink(recorder.url, None, spool_dir, note=notes)
    sink.close()
    assert recorder.numbers() == list(range(10))
    assert (sink.resumed, sink.delivered, sink.dropped, sink.pending) == (10, 10, 0, 0)
    second = 8 + 12 + len(batch(*range(10)))
    assert notes == [
        f"{segment}: damaged after 10 events; the {len(data) - second:,} bytes after are dropped"
    ]


def test_past_its_bound_the_spool_drops_its_oldest_segments(recorder: Recorder, tmp_path: Path) -> None:
    spool_dir = tmp_path / "spool"
    notes = Notes()
    bound = 256 << 10
    down = ManagerSink(
        f"http://127.0.0.1:{free_port()}", None, spool_dir, batch_events=10, spool_bytes=bound, note=notes
    )
    for n in range(3000):
        down.emit(Numbered(n, pad=200))
    down.close(timeout=0.3)
    assert sum(path.stat().st_size for path in segments(spool_dir)) <= bound
    assert down.dropped > 0
    assert down.dropped + down.pending == 3000
    assert balanced(down)
    # One line names the spool, however many segments go.
    full = [line for line in notes if "the spool is full" in line]
    assert full == [f"{down.spool_path}: the spool is full ({bound:,} bytes); dropping its oldest events"]
    assert f"{down.dropped:,} dropped from the full spool" in down.report()
    sink = ManagerSink(recorder.url, None, spool_dir)
    sink.close()
    # What is left is the newest events, all of them, in order.
    assert recorder.numbers() == list(range(down.dropped, 3000))


def test_emit_never_waits_on_a_slow_manager(recorder: Recorder, tmp_path: Path) -> None:
    recorder.delay = 1.0
    sink = ManagerSink(recorder.url, None, tmp_path / "spool", batch_events=100, memory_bytes=64 << 10)
    started = time.monotonic()
    for n in range(20_000):
        sink.emit(Numbered(n, pad=50))
    emitting = time.monotonic() - started
    # The first request hangs for a second; meanwhile batches past the memory bound go to disk.
    assert emitting < 0.8
    assert sink.spooled > 0
    recorder.delay = 0.0
    sink.close(timeout=30)
    assert sorted(recorder.numbers()) == list(range(20_000))
    assert recorder.numbers() == list(range(20_000))
    assert (sink.delivered, sink.pending, sink.lost) == (20_000, 0, 0)


def test_senders_sharing_a_directory_take_their_own_slots(recorder: Recorder, tmp_path: Path) -> None:
    spool_dir = tmp_path / "spool"
    down = f"http://127.0.0.1:{free_port()}"
    first = ManagerSink(down, None, spool_dir, note=Notes())
    second = ManagerSink(down, None, spool_dir, note=Notes())
    assert (first.spool_path.name, second.spool_path.name) == ("0", "1")
    for n in range(10):
        first.emit(Numbered(n))
        second.emit(Numbered(100 + n))
    second.close(timeout=0.2)
    # Slot 1 is free again: a new sender takes it and what it holds. Slot 0 is held: left alone.
    third = ManagerSink(recorder.url, None, spool_dir)
    assert (third.spool_path.name, third.resumed) == ("1", 10)
    third.close()
    assert recorder.numbers() == list(range(100, 110))
    first.close(timeout=0.2)
    # A sender that died in slot 2 while slots 0 and 1 were held...
    held = [Spool(spool_dir), Spool(spool_dir)]
    orphan = Spool(spool_dir)
    assert orphan.path.name == "2"
    orphan.append(orphan.next_seq, batch(200), 1)
    orphan.close()
    for spool in held:
        spool.close()
    # ...is taken over by the next sender, after its own slot's leftovers.
    fourth = ManagerSink(recorder.url, None, spool_dir)
    assert (fourth.spool_path.name, fourth.resumed) == ("0", 11)
    fourth.close()
    assert recorder.numbers() == [*range(100, 110), *range(10), 200]
    assert segments(spool_dir) == []


def test_close_gives_up_after_its_timeout_and_keeps_everything(tmp_path: Path) -> None:
    sink = ManagerSink(f"http://127.0.0.1:{free_port()}", None, tmp_path / "spool", note=Notes())
    for n in range(10):
        sink.emit(Numbered(n))
    started = time.monotonic()
    sink.close(timeout=0.5)
    assert 0.4 < time.monotonic() - started < 2.0
    assert (sink.delivered, sink.pending, sink.lost) == (0, 10, 0)


@pytest.mark.parametrize(
    "url",
    ["ftp://host/", "http://", "http://host:99999", "http://user:pw@host", "http://host/?q=1", "host:8765"],
)
def test_a_bad_url_is_refused(url: str, tmp_path: Path) -> None:
    with pytest.raises(DeliveryError, match="want http"):
        ManagerSink(url, None, tmp_path / "spool")
    with pytest.raises(DeliveryError) as raised:
        check_manager(url, None)
    assert str(raised.value) == f"--manager {url}: want http(s)://HOST[:PORT][/PATH]"


def test_the_token_comes_from_the_file_else_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FATHOM_TOKEN", raising=False)
    assert read_token(None) is None
    monkeypatch.setenv("FATHOM_TOKEN", " from-env\n")
    assert read_token(None) == "from-env"
    token_file = tmp_path / "token"
    token_file.write_text("from-file\nsecond line\n")
    assert read_token(str(token_file)) == "from-file"
    token_file.write_text("\n")
    with pytest.raises(DeliveryError, match=f"^--token-file {token_file}: no token on its first line$"):
        read_token(str(token_file))
    token_file.write_text("two words\n")
    with pytest.raises(DeliveryError, match="printable ASCII without spaces"):
        read_token(str(token_file))
    monkeypatch.setenv("FATHOM_TOKEN", "a\x7fb")
    with pytest.raises(DeliveryError, match=r"^\$FATHOM_TOKEN: a token is printable ASCII without spaces$"):
        read_token(None)
    with pytest.raises(DeliveryError, match="No such file or directory"):
        read_token(str(tmp_path / "missing"))


def test_a_spool_that_cannot_be_made_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(DeliveryError) as raised:
        ManagerSink("http://127.0.0.1:1", None, tmp_path / "file" / "spool")
    assert (
        str(raised.value)
        == f"--manager http://127.0.0.1:1: spool {tmp_path / 'file' / 'spool'}: Not a directory"
    )


def analyze(
    *args: str, data_dir: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fathom.cli", "analyze", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "FATHOM_DATA_DIR": str(data_dir), **(env or {})},
    )


def test_analyze_delivers_what_it_writes_to_the_eve_file(recorder: Recorder, tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("t0ken\n")
    eve = tmp_path / "eve.json"
    run = analyze(
        str(ALERTS_PCAP), "-q", "--eve", str(eve), "--manager", recorder.url, "--token-file", str(token),
        data_dir=tmp_path,
    )  # fmt: skip
    assert (run.returncode, run.stderr) == (0, "")
    written = [json.loads(line) for line in eve.read_text().splitlines()]
    received = [event for batch in recorder.batches for event in batch]
    assert received == written
    assert sum(1 for event in received if event["event_type"] == "alert") == 325
    assert {headers["Authorization"] for _, headers, _ in recorder.requests} == {"Bearer t0ken"}
    # Delivered: nothing is left in the spool.
    assert segments(tmp_path / "spool") == []


def test_analyze_takes_the_token_from_the_environment(recorder: Recorder, tmp_path: Path) -> None:
    run = analyze(
        str(DEMO), "-q", "--manager", recorder.url, data_dir=tmp_path, env={"FATHOM_TOKEN": "from-env"}
    )
    assert run.returncode == 0
    assert {headers["Authorization"] for _, headers, _ in recorder.requests} == {"Bearer from-env"}
    assert sum(len(batch) for batch in recorder.batches) == 32


def test_analyze_spools_while_the_manager_is_away_and_the_next_run_delivers(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    away = analyze(str(DEMO), "-q", "--manager", url, data_dir=tmp_path)
    # The run succeeds; the events wait in the spool, and two lines say so.
    assert away.returncode == 0
    slot = tmp_path / "spool" / "0"
    assert away.stderr.splitlines() == [
        f"fathom: note: manager {url}: unreachable (Connection refused); spooling events in {slot} and trying"
        " again",
        f"fathom: note: manager {url}: 0 events delivered, 32 left in {slot} for the next run",
    ]
    server = Recorder(port)
    try:
        back = analyze(str(DEMO), "-q", "--manager", url, data_dir=tmp_path)
    finally:
        server.stop()
    assert (back.returncode, back.stderr) == (0, "")
    received = [event for batch in server.batches for event in batch]
    # The spooled run first, then this one: the same 32 events twice (the manager keeps one of each).
    assert len(received) == 64
    assert received[:32] == received[32:]
    assert segments(tmp_path / "spool") == []


def test_analyze_fails_when_the_manager_refuses_events(recorder: Recorder, tmp_path: Path) -> None:
    recorder.answers.append(400)
    run = analyze(str(DEMO), "-q", "--manager", recorder.url, data_dir=tmp_path)
    assert run.returncode == 1
    assert (
        run.stderr.splitlines()[-1]
        == f"fathom: error: manager {recorder.url}: 0 events delivered, 32 refused by the manager"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--manager", "ftp://x"], "--manager ftp://x: want http(s)://HOST[:PORT][/PATH]"),
        (
            ["--manager", "http://127.0.0.1:1", "--token-file", "/nonexistent"],
            "--token-file /nonexistent: No such file or directory",
        ),
        (["--token-file", "/nonexistent"], "--token-file: only with --manager"),
    ],
)
def test_analyze_names_a_bad_manager_flag_in_one_line(args: list[str], message: str, tmp_path: Path) -> None:
    run = analyze(str(DEMO), *args, data_dir=tmp_path)
    assert (run.returncode, run.stdout, run.stderr) == (1, "", f"fathom: error: {message}\n")


class Manager:
    """``fathom serve`` on 127.0.0.1:``port`` over the SQLite file ``db``, as a process."""

    def __init__(self, port: int, db: Path) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.log = db.with_suffix(".log").open("a")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "fathom.cli",
                "serve",
                "--listen",
                f"127.0.0.1:{port}",
                "--db",
                f"sqlite:///{db}",
            ],
            stdout=self.log,
            stderr=self.log,
            env={**os.environ, "FATHOM_DATA_DIR": str(db.parent)},
        )
        wait_for(self._answers, timeout=60)

    def _answers(self) -> bool:
        assert self.process.poll() is None, "fathom serve exited"
        try:
            with urllib.request.urlopen(f"{self.url}/api/v1/openapi.json", timeout=5):
                return True
        except OSError:
            return False

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()
        self.log.close()

    def alerts(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor = None
        while True:
            query = "limit=1000" + (f"&cursor={cursor}" if cursor else "")
            with urllib.request.urlopen(f"{self.url}/api/v1/alerts?{query}", timeout=30) as response:
                page = json.load(response)
            items.extend(page["items"])
            cursor = page["next"]
            if cursor is None:
                return items


def corpus_alerts(copies: int) -> list[dict[str, Any]]:
    """The alerts of a corpus capture, each ``copies`` times as distinct alerts (another flow)."""
    run = subprocess.run(
        [sys.executable, "-m", "fathom.cli", "analyze", str(ALERTS_PCAP), "-q", "--eve", "-"],
        capture_output=True,
        check=True,
        timeout=120,
    )
    alerts = [e for e in map(json.loads, run.stdout.splitlines()) if e["event_type"] == "alert"]
    return [{**alert, "flow_id": alert["flow_id"] + copy} for copy in range(copies) for alert in alerts]


def canonical(event: dict[str, Any]) -> bytes:
    return orjson.dumps(event, option=orjson.OPT_SORT_KEYS)


def event_id(event: dict[str, Any]) -> str:
    """The manager's id of an event."""
    return hashlib.sha256(canonical(event)).hexdigest()[:32]


class Raw(Event):
    __slots__ = ()
    event_type = "alert"

    def __init__(self, event: dict[str, Any]) -> None:
        super().__init__()
        self._json = orjson.dumps(event) + b"\n"


def test_the_manager_killed_mid_stream_and_restarted_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    alerts = corpus_alerts(copies=30)
    assert len(alerts) == 325 * 30
    assert len({event_id(alert) for alert in alerts}) == len(alerts)
    db = tmp_path / "manager.db"
    port = free_port()
    manager = Manager(port, db)
    notes = Notes()
    sink = ManagerSink(manager.url, None, tmp_path / "spool", note=notes)
    third = len(alerts) // 3
    try:
        for alert in alerts[:third]:
            sink.emit(Raw(alert))
        # Killed while it stores the stream, a request under way.
        wait_for(lambda: sink.delivered > 0)
        assert sink.delivered < third
        manager.kill()
        for alert in alerts[third : 2 * third]:
            sink.emit(Raw(alert))
        wait_for(lambda: sink.spooled > 0)
        manager = Manager(port, db)
        for alert in alerts[2 * third :]:
            sink.emit(Raw(alert))
        sink.close(timeout=120)
        stored = manager.alerts()
    finally:
        manager.kill()
    assert (sink.delivered, sink.pending, sink.lost) == (len(alerts), 0, 0)
    assert notes[0].startswith(f"manager {manager.url}: unreachable (")
    assert notes[-1].startswith(f"manager {manager.url}: reachable again; sending the ")
    # Exactly the alerts sent, each once, whatever the manager had stored of the batch it died on.
    assert len(stored) == len(alerts)
    assert sorted(item["id"] for item in stored) == sorted(event_id(alert) for alert in alerts)
    as_sent = [
        {k: v for k, v in item.items() if k not in ("id", "dismissed", "suppressed_by")} for item in stored
    ]
    assert sorted(map(canonical, as_sent)) == sorted(map(canonical, alerts))


def test_analyze_feeds_the_manager_its_alerts(tmp_path: Path) -> None:
    manager = Manager(free_port(), tmp_path / "manager.db")
    try:
        eve = tmp_path / "eve.json"
        run = analyze(str(ALERTS_PCAP), "-q", "--eve", str(eve), "--manager", manager.url, data_dir=tmp_path)
        stored = manager.alerts()
    finally:
        manager.kill()
    assert (run.returncode, run.stderr) == (0, "")
    alerts = [e for e in map(json.loads, eve.read_text().splitlines()) if e["event_type"] == "alert"]
    assert len(alerts) == 325
    assert sorted(item["id"] for item in stored) == sorted({event_id(alert) for alert in alerts})
