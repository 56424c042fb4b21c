"""The Calico DPI lab end to end: pods as namespaces on a bridge, a live sensor on their host-side
veths with one inspection (red/red-dpi-all, ``all()``), the lab's four requests, and exactly the
alerts Calico gives: one per inspected endpoint the request passed."""

from __future__ import annotations

import time
from pathlib import Path

import yaml

from fathom.demo import RED_DPI_ALL, events, lab_config
from fathom.lab import LAB_SID, REQUESTS, Lab
from fathom.sensor.stages import STAGES
from tests.e2e.sensing import captures, lab, metrics, needs_lab, sensor

__all__ = ["lab"]  # the fixture

pytestmark = needs_lab


def lab_alerts(eve: Path) -> list[tuple[str, str, str]]:
    """(source pod, destination pod, inspected pod) of each alert of the lab's rule."""
    return sorted(
        (e["src_endpoint"]["pod"], e["dest_endpoint"]["pod"], e["endpoint"]["pod"])
        for e in events(eve)
        if e["event_type"] == "alert" and e["alert"]["signature_id"] == LAB_SID
    )


def test_the_lab_alerts_once_per_inspected_endpoint_and_stops_when_the_inspection_goes(
    lab: Lab, tmp_path: Path
) -> None:
    eve = tmp_path / "eve.json"
    config = tmp_path / "sensor.yaml"
    with sensor(config, lab_config(lab, eve, [RED_DPI_ALL])) as running:
        running.wait(lambda: captures(running.port, {"red1", "red2"}), 60, "the red pods' interfaces")
        for client, server in REQUESTS:
            assert lab.request(client, server) == 0
        expected = [
            ("blue2", "red2", "red2"),
            ("red1", "blue1", "red1"),
            ("red1", "red2", "red1"),
            ("red1", "red2", "red2"),
        ]
        running.wait(lambda: len(lab_alerts(eve)) >= 4, 10, "four alerts")
        time.sleep(1.5)  # and no more
        assert lab_alerts(eve) == expected
        alert = next(e for e in events(eve) if e["event_type"] == "alert" and e["endpoint"]["pod"] == "red2")
        assert alert["endpoint"] == {
            "namespace": "red", "pod": "red2", "labels": {"app": "red2"}, "node": "lab-node",
            "interface": "fth-red2",
        }  # fmt: skip
        assert alert["in_iface"] == "fth-red2"
        assert alert["alert"]["severity"] == 1
        samples = metrics(running.port)
        assert samples[f'fathom_alerts_total{{gid="1",severity="1",sid="{LAB_SID}"}}'] == 4
        assert all(f'fathom_stage_seconds_total{{stage="{stage}"}}' in samples for stage in STAGES)

        # The inspection is deleted: within 2 seconds nothing is captured, and no alert comes.
        config.write_text(yaml.safe_dump(lab_config(lab, eve, [])))
        started = time.monotonic()
        running.wait(lambda: captures(running.port, set()), 5, "no interface captured")
        assert time.monotonic() - started < 2.0
        size = eve.stat().st_size
        for client, server in REQUESTS:
            assert lab.request(client, server) == 0
        time.sleep(1.5)
        assert [e for e in events(eve, size) if e["event_type"] == "alert"] == []
