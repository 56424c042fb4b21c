"""What a person sees on the Alerts page, read the way they would read it."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from playwright.sync_api import Locator, Page, expect

ROWS = "tr.alert-row"
SEVERITY_NAMES = {1: "High", 2: "Medium", 3: "Low", 4: "Info"}
_SHOWING = re.compile(r"Showing ([\d,]+) of ([\d,]+) alerts?")


def rows(page: Page) -> Locator:
    return page.locator(ROWS)


def matching(page: Page) -> int:
    """The total the summary line gives for the current filters (after the rows arrived)."""
    summary = page.locator(".summary").first
    expect(summary).to_have_text(_SHOWING)
    found = _SHOWING.search(summary.inner_text())
    assert found is not None
    return int(found[2].replace(",", ""))


def load_all(page: Page) -> Locator:
    """Every row for the current filters: "Load more" until the table holds the total."""
    total = matching(page)
    table = rows(page)
    while table.count() < total:
        shown = table.count()
        page.locator("button[name=more]").click()
        expect(table).to_have_count(min(total, shown + 100))
    expect(page.locator("button[name=more]")).to_be_hidden()
    return table


def no_rows(page: Page) -> None:
    expect(page.locator(".table-status")).to_have_text("No alerts match these filters.")
    expect(rows(page)).to_have_count(0)


def column(table: Locator, selector: str) -> list[str]:
    """The text of each matching cell, exactly as the DOM holds it."""
    return table.locator(selector).all_text_contents()


def open_alert(page: Page, sid: int) -> Locator:
    """Filter the table to one sid, click its only row; the detail panel once it has loaded."""
    page.locator("input[name=sid]").fill(str(sid))
    page.locator("input[name=sid]").press("Enter")
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first).to_have_attribute("data-sid", str(sid))
    rows(page).first.click()
    panel = page.locator("aside.detail")
    expect(panel).to_be_visible()
    expect(panel.locator("details.raw")).to_have_count(1)  # the last part, drawn once the detail came
    return panel


def pairs(scope: Locator) -> dict[str, str]:
    """A definition list's key/value pairs as shown."""
    keys = scope.locator(".pair dt").all_inner_texts()
    values = scope.locator(".pair dd").all_inner_texts()
    return dict(zip(keys, values, strict=True))


def shown_time(event: dict[str, Any]) -> str:
    """An EVE timestamp as the table shows it (UTC, to the second)."""
    return datetime.strptime(event["timestamp"], "%Y-%m-%dT%H:%M:%S.%f%z").strftime("%Y-%m-%d %H:%M:%S")
