"""Screenshots of the three main pages, as docs/ shows them. They are written to a temporary
folder; with FATHOM_UI_SCREENSHOTS=DIR (e.g. ``docs``) to DIR, as docs/ui-*.png were made."""

from __future__ import annotations

import os
from pathlib import Path

from playwright.sync_api import expect

from tests.ui import feed
from tests.ui.conftest import Runs, Tab
from tests.ui.manager import Manager
from tests.ui.screens import matching

PNG = b"\x89PNG\r\n\x1a\n"


def test_screenshots_of_alerts_applications_and_inspections(
    own_tab: Tab, own_manager: Manager, runs: Runs, tmp_path: Path
) -> None:
    out = Path(os.environ.get("FATHOM_UI_SCREENSHOTS") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    own_manager.feed(runs.lab)
    own_manager.report(
        "lab-node",
        interfaces={"fth-red1": "up", "fth-red2": "up", "fth-blue1": "down"},
        inspections={"red/red-dpi-all": ["red/red1", "red/red2"], "blue/blue-web": []},
        counters={"packets": 48213, "bytes": 31877210, "flows": 1294, "alerts": 4, "drops": 0},
    )
    own_manager.report(
        "worker-2",
        interfaces={"fth-blue2": "up"},
        inspections={"blue/blue-web": ["blue/blue2"]},
        counters={"packets": 9120, "bytes": 5120331, "flows": 311, "alerts": 0, "drops": 0},
    )
    page = own_tab.open("alerts")
    matching(page)
    # The crafted request's alerts are the newest: the detail of the first, beside the whole table.
    page.locator(f"tr.alert-row[data-sid='{feed.URI_SID}']").click()
    panel = page.locator("aside.detail")
    expect(panel.locator("details.raw")).to_have_count(1)
    panel.locator(".context-event").scroll_into_view_if_needed()
    page.mouse.move(0, 0)
    shots = {"ui-alerts.png": page.screenshot()}

    page = own_tab.open("applications")
    expect(page.locator(".apps-table tbody tr").first).to_be_visible()
    shots["ui-applications.png"] = page.screenshot(full_page=True)

    page = own_tab.open("inspections")
    expect(page.locator("article.sensor")).to_have_count(2)
    shots["ui-inspections.png"] = page.screenshot(full_page=True)

    for name, data in shots.items():
        assert data.startswith(PNG) and len(data) > 20_000, name
        (out / name).write_bytes(data)
