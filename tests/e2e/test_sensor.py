"""The live sensor's robustness on the lab's pods: a worker that dies is restarted and counted; a
missing interface is a status until it appears; a ruleset installed by `fathom rules update` and
a SIGHUP are applied without a restart; flows end on a quiet interface by wall-clock time."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from fathom.cli import main
from fathom.demo import RED_DPI_ALL, events, lab_config
from fathom.lab import LAB_SID, Lab, in_pod
from tests.e2e.sensing import captures, interfaces_up, lab, metrics, needs_lab, sensor
from tests.manager.server import ServeProcess

__all__ = ["lab"]  # the fixture
pytestmark = needs_lab

# Matches the lab's request body; the one it replaces does not.
BODY_RULE = (
    'alert http any any -> any any (msg:"lab body"; http_client_body; content:"smk="; sid:1000001; rev:1;)\n'
)
OTHER_RULE = (
    'alert http any any -> any any (msg:"other"; http_client_body; content:"zzz="; sid:1000002; rev:1;)\n'
)


def alerts(eve: Path, sid: int) -> list[dict[str, Any]]:
    return [e for e in events(eve) if e["event_type"] == "alert" and e["alert"]["signature_id"] == sid]


def worker_pids(sensor_pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(sensor_pid)], capture_output=True, text=True)
    return [int(pid) for pid in found.stdout.split()]


def test_a_worker_that_dies_is_restarted_and_counted(lab: Lab, tmp_path: Path) -> None:
    eve = tmp_path / "eve.json"
    with sensor(tmp_path / "s.yaml", lab_config(lab, eve, [RED_DPI_ALL])) as running:
        running.wait(lambda: captures(running.port, {"red1", "red2"}), 60, "capture")
        (worker,) = worker_pids(running.process.pid)
        os.kill(worker, signal.SIGKILL)
        running.wait(
            lambda: metrics(running.port).get("fathom_worker_restarts_total") == 1, 10, "the restart"
        )
        running.wait(lambda: worker_pids(running.process.pid) not in ([], [worker]), 10, "a new worker")
        running.wait(lambda: captures(running.port, {"red1", "red2"}), 20, "capture again")
        assert lab.request("red1", "blue1") == 0
        running.wait(lambda: alerts(eve, LAB_SID), 10, "the alert after the restart")
        time.sleep(0.5)
        assert len(alerts(eve, LAB_SID)) == 1


def test_a_missing_interface_is_a_status_until_it_appears(lab: Lab, tmp_path: Path) -> None:
    settings = lab_config(lab, tmp_path / "eve.json", [RED_DPI_ALL])
    ghost = {
        "name": "red9",
        "namespace": "red",
        "labels": {"app": "red9"},
        "interface": "fth-red9",
        "ips": [],
    }
    settings["endpoints"].append(ghost)
    try:
        with sensor(tmp_path / "s.yaml", settings) as running:
            wanted = {"fth-red1": 1.0, "fth-red2": 1.0, "fth-red9": 0.0}
            running.wait(lambda: interfaces_up(running.port) == wanted, 60, "red9 reported missing")
            subprocess.run(
                ["ip", "link", "add", "fth-red9", "type", "veth", "peer", "name", "fth-red9p"], check=True
            )
            subprocess.run(["ip", "link", "set", "fth-red9", "up"], check=True)
            running.wait(lambda: interfaces_up(running.port).get("fth-red9") == 1.0, 10, "red9 captured")
    finally:
        subprocess.run(["ip", "link", "del", "fth-red9"], check=False)


def test_rules_installed_by_rules_update_and_a_sighup_are_applied_without_a_restart(
    lab: Lab, tmp_path: Path
) -> None:
    eve = tmp_path / "eve.json"
    rules = tmp_path / "rules" / "fathom.rules"
    rules.parent.mkdir()
    rules.write_text(OTHER_RULE)
    settings = {**lab_config(lab, eve, [RED_DPI_ALL]), "rules": [str(rules)]}
    with sensor(tmp_path / "s.yaml", settings) as running:
        running.wait(lambda: captures(running.port, {"red1", "red2"}), 60, "capture")
        assert lab.request("red1", "blue1") == 0
        time.sleep(1.0)
        assert alerts(eve, 1000001) == []
        # A ruleset that loads nothing is not installed: the sensor keeps what it runs.
        (tmp_path / "broken.rules").write_text('alert tcp any any -> any any (msg:"no sid";)\n')
        assert main(["rules", "update", str(tmp_path / "broken.rules"), "--to", str(rules)]) == 1
        new = tmp_path / "new.rules"
        new.write_text(BODY_RULE)
        assert main(["rules", "update", str(new), "--to", str(rules)]) == 0
        running.wait(
            lambda: metrics(running.port).get('fathom_reloads_total{result="applied"}') == 1, 10, "the reload"
        )
        applied = 'fathom_config_generation{state="applied"}'
        running.wait(lambda: metrics(running.port).get(applied) == 2, 10, "the workers on the new rules")
        assert metrics(running.port)["fathom_rules_loaded"] == 1
        assert lab.request("red1", "blue1") == 0
        running.wait(lambda: alerts(eve, 1000001), 10, "the new rule's alert")
        time.sleep(0.5)
        assert len(alerts(eve, 1000001)) == 1
        running.process.send_signal(signal.SIGHUP)
        running.wait(
            lambda: metrics(running.port).get('fathom_reloads_total{result="applied"}') == 2, 10, "SIGHUP"
        )


QUIET_FLOWS = {"flow": {"udp": {"new": 1, "established": 1, "closed": 1}}}
SEND_ONE = (
    "import socket, sys; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', (sys.argv[1], 9999))"
)


def test_flows_end_by_wall_clock_time_on_a_quiet_interface(lab: Lab, tmp_path: Path) -> None:
    eve = tmp_path / "eve.json"
    settings = {**lab_config(lab, eve, [RED_DPI_ALL]), "engine": QUIET_FLOWS}
    with sensor(tmp_path / "s.yaml", settings) as running:
        running.wait(lambda: captures(running.port, {"red1", "red2"}), 60, "capture")
        subprocess.run(in_pod("red1", sys.executable, "-c", SEND_ONE, lab.pods["blue1"].address), check=True)
        sent = time.monotonic()

        def ended() -> list[dict[str, Any]]:
            return [e for e in events(eve) if e["event_type"] == "flow" and e.get("dest_port") == 9999]

        running.wait(ended, 10, "the flow to end with no packet after it")
        assert time.monotonic() - sent < 5
        (flow,) = ended()
        assert (flow["flow"]["reason"], flow["flow"]["pkts_toserver"]) == ("timeout", 1)


def test_alerts_and_status_reach_the_manager(lab: Lab, tmp_path: Path) -> None:
    manager = ServeProcess(["--listen", "127.0.0.1:0", "--db", f"sqlite:///{tmp_path / 'manager.db'}"])
    try:
        settings = lab_config(lab, tmp_path / "eve.json", [RED_DPI_ALL])
        with sensor(tmp_path / "s.yaml", settings, "--manager", manager.url) as running:
            running.wait(lambda: captures(running.port, {"red1", "red2"}), 60, "capture")
            assert lab.request("red1", "red2") == 0

            def stored() -> list[dict[str, Any]]:
                return list(get_json(f"{manager.url}/api/v1/alerts?sid={LAB_SID}")["items"])

            running.wait(lambda: len(stored()) == 2, 15, "both alerts in the manager")
            assert sorted(alert["endpoint"]["pod"] for alert in stored()) == ["red1", "red2"]

            def node() -> list[dict[str, Any]]:
                sensors = get_json(f"{manager.url}/api/v1/status")["sensors"]
                return [s for s in sensors if s["node"] == "lab-node" and s["interfaces"]]

            running.wait(node, 15, "the sensor's status with its interfaces")
            (reported,) = node()
            assert reported["interfaces"] == {"fth-red1": "up", "fth-red2": "up"}
            inspections = get_json(f"{manager.url}/api/v1/status")["inspections"]
            (red,) = [i for i in inspections if (i["namespace"], i["name"]) == ("red", "red-dpi-all")]
            assert red["nodes"]["lab-node"]["pods"] == ["red/red1", "red/red2"]
    finally:
        manager.stop()


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def test_an_inspection_added_takes_effect_within_two_seconds(lab: Lab, tmp_path: Path) -> None:
    eve = tmp_path / "eve.json"
    config = tmp_path / "s.yaml"
    with sensor(config, lab_config(lab, eve, [])) as running:
        applied = 'fathom_config_generation{state="applied"}'
        running.wait(
            lambda: metrics(running.port).get(applied) == 1, 60, "the sensor running, capturing nothing"
        )
        assert captures(running.port, set())
        config.write_text(yaml.safe_dump(lab_config(lab, eve, [RED_DPI_ALL])))
        started = time.monotonic()
        running.wait(lambda: captures(running.port, {"red1", "red2"}), 5, "the red pods captured")
        assert time.monotonic() - started < 2.0
        assert lab.request("red1", "blue1") == 0
        running.wait(lambda: alerts(eve, LAB_SID), 10, "the new inspection's alert")
