"""The Calico lab's live alerts in the UI: a real sensor inspects the red pods, its alerts name
the endpoints, and the namespace and pod filters, the endpoint columns, the detail's endpoints and
the selector a suppression starts from all come from them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from fathom.demo import RED_DPI_ALL, events, lab_config
from fathom.lab import LAB_SID, REQUESTS, Lab
from tests.e2e.sensing import captures, lab, needs_lab, sensor
from tests.ui import feed
from tests.ui.conftest import Runs, Tab
from tests.ui.manager import Manager
from tests.ui.screens import column, matching, pairs, rows

__all__ = ["lab"]  # the fixture

pytestmark = needs_lab


@pytest.fixture
def live(lab: Lab, tmp_path: Path) -> list[feed.Event]:
    """The EVE of a live sensor on the lab, inspecting red/red-dpi-all, through its four requests."""
    eve = tmp_path / "eve.json"
    with sensor(tmp_path / "sensor.yaml", lab_config(lab, eve, [RED_DPI_ALL])) as running:
        running.wait(lambda: captures(running.port, {"red1", "red2"}), 60, "the red pods' interfaces")
        for client, server in REQUESTS:
            assert lab.request(client, server) == 0
        running.wait(lambda: len(feed.alerts(list(events(eve)))) >= 4, 10, "four alerts")
        time.sleep(1.0)  # and no more
    return list(events(eve))


@pytest.fixture
def own_manager(tmp_path: Path, runs: Runs, live: list[feed.Event]) -> Iterator[Manager]:
    """This module's manager holds the lab's events only."""
    manager = Manager(tmp_path / "manager", runs.rules)
    try:
        assert manager.feed(live) == len(live)
        yield manager
    finally:
        manager.stop()


def involves(alert: feed.Event, key: str, value: str) -> bool:
    return any(
        (alert.get(side) or {}).get(key) == value for side in ("endpoint", "src_endpoint", "dest_endpoint")
    )


def pods(alerts: list[feed.Event]) -> list[str]:
    """Each alert's "source pod → destination pod", as the table shows them, sorted."""
    return sorted(
        f"{a['src_endpoint']['namespace']}/{a['src_endpoint']['pod']} → "
        f"{a['dest_endpoint']['namespace']}/{a['dest_endpoint']['pod']}"
        for a in alerts
    )


def test_lab_alerts_filter_by_namespace_and_pod_and_name_their_endpoints(
    own_tab: Tab, live: list[feed.Event]
) -> None:
    alerts = feed.alerts(live)
    assert [a["alert"]["signature_id"] for a in alerts] == [LAB_SID] * 4
    page = own_tab.open("alerts")
    assert matching(page) == 4
    assert sorted(column(rows(page), ".pods")) == pods(alerts)

    for key, value in (("namespace", "blue"), ("pod", "red1"), ("pod", "blue1")):
        page.locator(f"input[name={key}]").fill(value)
        page.locator(f"input[name={key}]").press("Enter")
        expected = [a for a in alerts if involves(a, key, value)]
        assert 0 < len(expected) < 4
        assert matching(page) == len(expected)
        assert sorted(column(rows(page), ".pods")) == pods(expected)
        page.locator("button[name=reset]").click()
        assert matching(page) == 4

    # blue2's request to red2 was seen once, inspected on red2 (blue is not inspected).
    page.locator("input[name=pod]").fill("blue2")
    page.locator("input[name=pod]").press("Enter")
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first.locator("td").nth(5)).to_have_text("red")
    rows(page).first.click()
    panel = page.locator("aside.detail")
    expect(panel.locator("details.raw")).to_have_count(1)
    source, destination = panel.locator(".endpoint").all()
    assert (pairs(source)["Pod"], pairs(destination)["Pod"]) == ("blue/blue2", "red/red2")
    assert pairs(destination)["Labels"] == "app=red2"
    expect(panel.locator(".detail-section p.muted")).to_have_text("Inspected on red/red2 (node lab-node)")
    panel.locator("button[name=suppress]").click()
    expect(panel.locator("input[name=selector]")).to_have_value('namespace == "red" && pod == "red2"')
