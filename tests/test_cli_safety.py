"""``fathom analyze`` never harms what it is given: inputs are never written over, write errors are
one line with what was written, bad config sections are named, odd inputs get clear errors."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from scapy.utils import wrpcap

from fathom.cli import main
from fathom.engine import Engine
from fathom.events.file_sink import EveFileSink
from tests.pcapbuild import as_pcapng
from tests.traffic import CLIENT, SERVER, feed, udp

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "samples" / "demo.pcap"
DEMO_FLOWS = 11
# Its flows' events, its four HTTP transactions', its TLS handshake's and its eight DNS lookups'
# (a query and an answer each).
DEMO_EVENTS = DEMO_FLOWS + 4 + 1 + 16


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fathom(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "fathom.cli", *args], input=stdin, capture_output=True, timeout=120
    )


@pytest.fixture
def capture(tmp_path: Path) -> Path:
    path = tmp_path / "input.pcap"
    path.write_bytes(DEMO.read_bytes())
    return path


@pytest.mark.parametrize("link", ["same", "symlink", "hardlink"])
def test_eve_path_that_is_the_capture_is_refused(
    tmp_path: Path, capture: Path, link: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = digest(capture)
    eve = capture
    if link == "symlink":
        eve = tmp_path / "eve.json"
        eve.symlink_to(capture)
    elif link == "hardlink":
        eve = tmp_path / "eve.json"
        os.link(capture, eve)
    assert main(["analyze", str(capture), "--eve", str(eve)]) == 1
    assert capsys.readouterr().err == (
        f"fathom: error: {eve}: is the input {capture}; refusing to write events over it\n"
    )
    assert digest(capture) == before


def test_eve_path_that_is_the_config_or_rules_is_refused(
    tmp_path: Path, capture: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "fathom.yaml"
    config.write_text("engine: {}\n")
    rules = tmp_path / "local.rules"
    rules.write_text('alert tcp any any -> any any (msg:"x"; sid:1;)\n')
    for target in (config, rules):
        before = target.read_bytes()
        args = ["analyze", str(capture), "--config", str(config), "--rules", str(rules), "--eve", str(target)]
        assert main(args) == 1
        assert f"{target}: is the input {target}" in capsys.readouterr().err
        assert target.read_bytes() == before


def test_disk_full_is_one_line_with_the_count_written(capture: Path) -> None:
    proc = fathom("analyze", str(capture), "--eve", "/dev/full", "--quiet")
    assert proc.returncode == 1
    assert proc.stderr.decode() == (
        f"fathom: error: /dev/full: No space left on device; 0 events written, {DEMO_EVENTS} not written\n"
    )


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small filesystem needs root")
def test_filesystem_filling_up_keeps_whole_lines(tmp_path: Path, capture: Path) -> None:
    """A real full disk part way through: the file keeps only whole events, and says how many."""
    many = tmp_path / "many.pcap"
    wrpcap(str(many), [udp(1.0 + i, CLIENT, SERVER, 20000 + i, 53)[1] for i in range(400)])
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], check=True)
    try:
        eve = mount / "eve.json"
        proc = fathom("analyze", str(many), "--eve", str(eve), "--quiet")
        data = eve.read_bytes()
    finally:
        subprocess.run(["umount", str(mount)], check=True)
    assert proc.returncode == 1
    lines = data.splitlines()
    assert data.endswith(b"\n")
    assert all(json.loads(line)["event_type"] == "flow" for line in lines)
    assert 0 < len(lines) < 400
    assert proc.stderr.decode() == (
        f"fathom: error: {eve}: No space left on device; {len(lines)} events written, "
        f"{400 - len(lines)} not written\n"
    )


def test_misspelt_config_section_lists_the_known_ones(
    tmp_path: Path, capture: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "fathom.yaml"
    config.write_text("engin:\n  flow:\n    memcap: 1000000\n")
    assert main(["analyze", str(capture), "--config", str(config)]) == 1
    assert capsys.readouterr().err == (
        f"fathom: error: {config}: unknown section 'engin'; known sections: "
        "engine, rules, eve, endpoints, inspections, node, profiles, flows\n"
    )


def test_host_mode_sections_are_accepted(tmp_path: Path, capture: Path) -> None:
    config = tmp_path / "fathom.yaml"
    config.write_text(
        "endpoints:\n"
        "  - {name: red1, namespace: red, labels: {app: red1}, interface: veth-red1, ips: [10.240.0.11]}\n"
        'inspections:\n  - {name: red-dpi-all, namespace: red, selector: "all()"}\n'
        "eve: /var/log/fathom/eve.json\n"
        "engine:\n"
    )
    assert main(["analyze", str(capture), "--config", str(config), "--quiet"]) == 0


def test_directory_as_capture(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", str(tmp_path)]) == 1
    assert capsys.readouterr().err == f"fathom: error: {tmp_path}: is a directory\n"


@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
def test_capture_from_a_pipe(fmt: str) -> None:
    data = DEMO.read_bytes() if fmt == "pcap" else as_pcapng(DEMO.read_bytes(), "eth7")
    proc = fathom("analyze", "-", "--eve", "-", "--quiet", stdin=data)
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    flows = [e for e in events if e["event_type"] == "flow"]
    assert (len(flows), len(events)) == (DEMO_FLOWS, DEMO_EVENTS)
    assert sum(e["flow"]["pkts_toserver"] + e["flow"]["pkts_toclient"] for e in flows) == 73
    # A pcapng interface name reaches every event as in_iface; a pcap has no names.
    assert {e.get("in_iface") for e in events} == ({None} if fmt == "pcap" else {"eth7"})


def test_summary_is_not_wrapped_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    long_dir = tmp_path / ("a-directory-with-a-rather-long-name-" * 3)
    long_dir.mkdir()
    capture = long_dir / "capture-with-a-long-name-too.pcap"
    capture.write_bytes(DEMO.read_bytes())
    proc = fathom("analyze", str(capture))
    assert proc.returncode == 0
    first = proc.stderr.decode().splitlines()[0]
    assert first == f"{capture}: 77 packets (0.0 MB), {DEMO_FLOWS} flows, 0 EVE events"


def test_io_error_while_writing_is_kept_not_raised() -> None:
    """A terminal that hangs up gives EIO on write: the sink records it and stops writing."""
    master, slave = os.openpty()
    sink = EveFileSink(os.ttyname(slave))
    os.close(slave)
    os.close(master)
    engine = Engine()
    engine.add_sink(sink)
    feed(engine, [udp(1.0, CLIENT, SERVER, 1000 + i, 53) for i in range(3)])
    engine.finish()
    sink.close()
    assert sink.error == f"{sink.path}: Input/output error"
    assert (sink.accepted, sink.written, sink.lost) == (3, 0, 3)


def test_ctrl_c_ends_the_flows_seen_and_writes_every_event(tmp_path: Path) -> None:
    """As Suricata does on SIGINT: reading stops, the flows seen so far end and their events are
    written. The capture comes down a pipe that stays open, so fathom waits for more when the
    signal comes."""
    eve = tmp_path / "eve.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "fathom.cli", "analyze", "-", "--eve", str(eve), "--quiet"],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # a process group of its own, as a shell gives a command
    )
    assert proc.stdin is not None and proc.stderr is not None
    proc.stdin.write(DEMO.read_bytes())
    proc.stdin.flush()
    wait_until_reading_a_pipe(proc.pid)
    os.killpg(proc.pid, signal.SIGINT)  # what the terminal sends on Ctrl-C
    assert proc.wait(timeout=60) == 130
    proc.stdin.close()
    assert proc.stderr.read() == b"fathom: error: interrupted after 77 packets\n"
    events = [json.loads(line) for line in eve.read_bytes().splitlines()]
    assert len(events) == DEMO_EVENTS
    assert sum(event["event_type"] == "flow" for event in events) == DEMO_FLOWS


def wait_until_reading_a_pipe(pid: int) -> None:
    """Until ``pid`` sleeps in a read from a pipe, having taken all there was."""
    for _ in range(600):
        with open(f"/proc/{pid}/wchan") as f:
            if "pipe_read" in f.read():
                time.sleep(0.2)  # and still does: not the first read of start-up
                with open(f"/proc/{pid}/wchan") as f2:
                    if "pipe_read" in f2.read():
                        return
        time.sleep(0.1)
    raise AssertionError(f"process {pid} never waited on its pipe")
