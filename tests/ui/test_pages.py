"""The Applications and Inspections pages against what the manager was fed; names from sensors
and suppressions shown as text; the bearer token; a phone-sized screen."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Request, expect

from tests.ui import feed
from tests.ui.conftest import Runs, Tab, open_tab
from tests.ui.manager import Manager
from tests.ui.screens import matching, open_alert

Row = tuple[str, str, str, int, int]


def expected_applications(runs: Runs) -> tuple[list[Row], list[tuple[str, int, int]]]:
    """(application, protocol, category, flows, bytes) and (category, flows, bytes), as shown."""
    apps: dict[tuple[Any, ...], list[int]] = {}
    categories: dict[str, list[int]] = {}
    for event in runs.fed:
        if event["event_type"] != "flow":
            continue
        app = event.get("app") or {}
        key = (event.get("app_proto"), app.get("protocol"), app.get("application"), app.get("category"))
        size = event["flow"]["bytes_toserver"] + event["flow"]["bytes_toclient"]
        for totals in (apps.setdefault(key, [0, 0]), categories.setdefault(key[3] or "Unknown", [0, 0])):
            totals[0] += 1
            totals[1] += size
    rows = [
        (
            application or protocol or app_proto or "unknown",
            app_proto or protocol or "—",
            category or "—",
            n,
            size,
        )
        for (app_proto, protocol, application, category), (n, size) in apps.items()
    ]
    return sorted(rows), sorted((name, n, size) for name, (n, size) in categories.items())


def shown_applications(page: Page) -> list[Row]:
    shown = []
    for row in page.locator(".apps-table tbody tr").all():
        cells = row.locator("td").all_text_contents()
        shown.append(
            (
                row.get_attribute("data-application") or "",
                cells[1],
                cells[2],
                int(row.get_attribute("data-flows") or -1),
                int(row.get_attribute("data-bytes") or -1),
            )
        )
    return shown


def shown_categories(page: Page) -> list[tuple[str, int, int]]:
    return [
        (
            row.get_attribute("data-category") or "",
            int(row.get_attribute("data-flows") or -1),
            int(row.get_attribute("data-bytes") or -1),
        )
        for row in page.locator(".bars .bar-row").all()
    ]


def descending(values: list[int]) -> bool:
    return values == sorted(values, reverse=True)


def test_applications_ranks_applications_and_categories_by_bytes_and_by_flows(tab: Tab, runs: Runs) -> None:
    page = tab.open("applications")
    apps, categories = expected_applications(runs)
    expect(page.locator(".apps-table tbody tr")).to_have_count(len(apps))
    flows = sum(row[3] for row in apps)
    assert flows == sum(1 for e in runs.fed if e["event_type"] == "flow")
    labels = page.locator(".tile-label").all_text_contents()
    tiles = dict(zip(labels, page.locator(".tile-value").all_text_contents(), strict=True))
    assert (tiles["Flows"], tiles["Applications"], tiles["Categories"]) == (
        f"{flows:,}",
        str(len(apps)),
        str(len(categories)),
    )

    by_bytes = shown_applications(page)
    assert sorted(by_bytes) == apps
    assert descending([row[4] for row in by_bytes])
    assert by_bytes[0][:3] == ("HTTP", "http", "Web")
    assert sorted(shown_categories(page)) == categories
    assert descending([row[2] for row in shown_categories(page)])
    expect(page.locator(".card-title").first).to_have_text("Top applications by bytes")

    page.get_by_role("button", name="Flows").click()
    expect(page).to_have_url(f"{tab.base}/#/applications?by=flows")
    expect(page.locator(".card-title").first).to_have_text("Top applications by flows")
    by_flows = shown_applications(page)
    assert sorted(by_flows) == apps
    assert descending([row[3] for row in by_flows])
    assert descending([row[1] for row in shown_categories(page)])

    # The data is from November 2026's captures; the last 15 minutes hold none of it.
    page.locator("select[name=range]").select_option("15m")
    expect(page.locator(".apps .empty").first).to_have_text("No flows recorded in this range.")


def test_inspections_shows_each_inspection_per_node_and_each_sensor_with_its_counters(
    tab: Tab, manager: Manager
) -> None:
    manager.report(
        "node-a",
        interfaces={"fth-red1": "up", "fth-red2": "down"},
        inspections={"red/red-dpi-all": ["red/red2", "red/red1"]},
        counters={"packets": 1234567, "alerts": 4},
    )
    manager.report(
        "node-b",
        interfaces={"fth-blue1": "gone"},
        inspections={"red/red-dpi-all": [], "blue/blue-web": ["blue/blue1"]},
        counters={"packets": 10},
    )
    page = tab.open("inspections")
    expect(page.locator(".inspections-table tbody tr")).to_have_count(2)
    assert page.locator(".tile-value").all_inner_texts() == ["2", "2", "3"]

    red = page.locator("tr[data-inspection='red/red-dpi-all']")
    assert red.locator("td").nth(0).inner_text() == "red-dpi-all"
    node_a = red.locator(".node-status[data-node=node-a]")
    assert node_a.locator(".tag").inner_text().lower() == "active"
    assert node_a.locator(".chip").all_inner_texts() == ["red/red1", "red/red2"]
    expect(red.locator(".node-status[data-node=node-b]")).to_contain_text("no pods selected")
    blue = page.locator("tr[data-inspection='blue/blue-web'] .node-status")
    assert blue.locator(".chip").all_inner_texts() == ["blue/blue1"]

    sensor = page.locator("article.sensor[data-node=node-a]")
    assert sensor.locator(".tag").inner_text().lower() == "reporting"
    assert sensor.locator(".chip").all_inner_texts() == ["fth-red1 · up", "fth-red2 · down"]
    assert sensor.locator(".chip.if-down").inner_text() == "fth-red2 · down"
    counters = sensor.locator(".counters tr")
    assert [row.locator("th, td").all_inner_texts() for row in counters.all()] == [
        ["alerts", "4"],
        ["packets", "1,234,567"],
    ]
    expect(page.locator("article.sensor[data-node=node-b] .chip.if-gone")).to_have_text("fth-blue1 · gone")

    # The page follows the sensors' reports by itself.
    manager.report("node-a", interfaces={"fth-red1": "up"}, counters={"packets": 2000000, "alerts": 5})
    expect(sensor.locator(".counters tr").nth(1).locator("td")).to_have_text("2,000,000", timeout=15_000)
    expect(page.locator("tr[data-inspection='red/red-dpi-all'] .node-status")).to_have_count(1)


def test_names_from_sensors_and_suppressions_are_shown_as_text(own_tab: Tab, own_manager: Manager) -> None:
    own_manager.report(
        "node-x", inspections={feed.IMG_PAYLOAD: [feed.SCRIPT_PAYLOAD]}, counters={feed.IMG_PAYLOAD: 1}
    )
    own_manager.post(
        "/api/v1/suppressions",
        {
            "name": feed.IMG_PAYLOAD,
            "description": feed.SCRIPT_PAYLOAD,
            "selector": f"pod == '{feed.IMG_PAYLOAD}'",
            "sids": [feed.URI_SID],
        },
    )
    page = own_tab.open("inspections")
    expect(page.locator(".inspections-table .chip")).to_have_text(feed.SCRIPT_PAYLOAD)
    expect(page.locator(".counters th")).to_have_text(feed.IMG_PAYLOAD)
    page = own_tab.open("suppressions")
    expect(page.locator(".suppressions-table .selector")).to_have_text(f"pod == '{feed.IMG_PAYLOAD}'")
    expect(page.locator(".suppressions-table td .strong")).to_have_text(feed.IMG_PAYLOAD)
    expect(page.locator(".suppressions-table td .sub")).to_have_text(feed.SCRIPT_PAYLOAD)
    assert page.locator("img[src=x], img[onerror]").count() == 0
    assert page.evaluate("typeof window.__pwned") == "undefined"


def test_a_token_given_in_the_ui_is_sent_as_a_bearer_token(tab: Tab) -> None:
    page = tab.open("alerts")
    matching(page)
    sent: list[str | None] = []

    def record(request: Request) -> None:
        if "/api/v1/" in request.url:
            sent.append(request.headers.get("authorization"))

    page.on("request", record)
    page.locator("#token-button").click()
    page.locator("input[name=token]").fill("s3cret-token")
    page.locator(".token-form button[type=submit]").click()
    expect(page.locator("#token-button")).to_have_text("Token ✓")
    matching(page)
    assert sent and set(sent) == {"Bearer s3cret-token"}
    assert page.evaluate("sessionStorage.getItem('fathom.token')") == "s3cret-token"

    page.locator("#token-button").click()
    page.locator("button[name=forget]").click()
    expect(page.locator("#token-button")).to_have_text("Token")
    assert page.evaluate("sessionStorage.getItem('fathom.token')") is None


@pytest.fixture
def phone(browser: Browser, manager: Manager) -> Iterator[Tab]:
    yield from open_tab(browser, manager, {"width": 390, "height": 844})


def test_on_a_phone_nothing_overflows_and_the_detail_takes_the_screen(phone: Tab) -> None:
    page = phone.open("alerts")
    matching(page)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    # The table scrolls inside its card, not the page.
    assert page.evaluate("document.querySelector('.table-wrap').scrollWidth") > 390
    panel = open_alert(page, feed.URI_SID)
    box = panel.bounding_box()
    assert box is not None and (box["x"], box["width"]) == (0, 390)
    panel.locator("button[aria-label='Close detail']").click()
    expect(panel).to_be_hidden()
    for route in ("applications", "inspections", "suppressions"):
        phone.open(route)
        page.wait_for_load_state("networkidle")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, route
