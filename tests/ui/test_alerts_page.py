"""The Alerts page: its rows, its filters and its counts-over-time chart, against what the runs
fed to the manager hold."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from urllib.parse import parse_qs

from playwright.sync_api import Page, expect

from tests.ui import feed
from tests.ui.conftest import Runs, Tab
from tests.ui.screens import SEVERITY_NAMES, column, load_all, matching, no_rows, rows

# The CSS colours of the severities: 1 red, 2 orange, 3 yellow, 4 blue.
COLOURS = {1: "rgb(211, 47, 47)", 2: "rgb(239, 108, 0)", 3: "rgb(224, 176, 0)", 4: "rgb(30, 116, 208)"}


def when(event: feed.Event) -> datetime:
    return datetime.strptime(event["timestamp"], "%Y-%m-%dT%H:%M:%S.%f%z")


def signatures(events: list[feed.Event]) -> list[str]:
    return sorted(e["alert"]["signature"] for e in events)


def reset(page: Page, total: int) -> None:
    page.locator("button[name=reset]").click()
    expect(page).to_have_url(page.url.split("#")[0] + "#/alerts")
    assert matching(page) == total


def test_the_table_lists_every_alert_of_the_runs_newest_first(tab: Tab, runs: Runs) -> None:
    page = tab.open("alerts")
    # parity_p03 has 325 community-rule alerts; the crafted request trips our two rules.
    assert len(runs.alerts) == 327
    table = load_all(page)
    expect(table).to_have_count(327)
    assert sorted(column(table, ".sig")) == signatures(runs.alerts)
    times = column(table, ".col-time")
    assert times == sorted(times, reverse=True)
    assert set(column(table.nth(0), ".sig") + column(table.nth(1), ".sig")) == {
        feed.URI_SIGNATURE,
        feed.AGENT_SIGNATURE,
    }
    shown = Counter(zip(column(table, "td.col-sev"), [int(s) for s in column(table, "td.num")], strict=True))
    assert shown == Counter(
        (SEVERITY_NAMES[e["alert"]["severity"]], e["alert"]["signature_id"]) for e in runs.alerts
    )
    assert page.locator(".summary").inner_text() == "Showing 327 of 327 alerts, newest first"


def test_severities_have_their_colours(tab: Tab, runs: Runs) -> None:
    page = tab.open("alerts")
    load_all(page)
    assert {e["alert"]["severity"] for e in runs.alerts} == {1, 2, 3, 4}
    for severity, colour in COLOURS.items():
        badge = page.locator(f"tr.alert-row[data-severity='{severity}'] .sev").first
        expect(badge).to_have_text(SEVERITY_NAMES[severity])
        dot = badge.evaluate("(node) => getComputedStyle(node, '::before').backgroundColor")
        swatch = page.locator(f".legend .sev-fill-{severity}").evaluate(
            "(n) => getComputedStyle(n).backgroundColor"
        )
        assert (dot, swatch) == (colour, colour)


def test_each_filter_narrows_the_rows_to_the_alerts_it_selects(tab: Tab, runs: Runs) -> None:
    page = tab.open("alerts")
    total = matching(page)
    assert total == len(runs.alerts)

    by_sid = Counter(e["alert"]["signature_id"] for e in runs.alerts)
    sid = min(s for s, n in by_sid.items() if n > 1)
    page.locator("input[name=sid]").fill(str(sid))
    page.locator("input[name=sid]").press("Enter")
    expect(page).to_have_url(f"{tab.base}/#/alerts?sid={sid}")
    expect(rows(page)).to_have_count(by_sid[sid])
    assert {rows(page).nth(i).get_attribute("data-sid") for i in range(by_sid[sid])} == {str(sid)}
    reset(page, total)

    page.locator("select[name=severity]").select_option("3")
    low = [e for e in runs.alerts if e["alert"]["severity"] == 3]
    expect(rows(page)).to_have_count(len(low))
    assert column(rows(page), ".sev") == ["Low"] * len(low)
    assert sorted(column(rows(page), ".sig")) == signatures(low)
    reset(page, total)

    page.locator("input[name=q]").fill("ORACLE")
    page.locator("button[type=submit]").click()
    oracle = [e for e in runs.alerts if "oracle" in e["alert"]["signature"].lower()]
    assert len(oracle) > 10
    assert matching(page) == len(oracle)
    assert sorted(column(load_all(page), ".sig")) == signatures(oracle)
    # Filters combine: the high-severity ones among them.
    page.locator("select[name=severity]").select_option("1")
    high_oracle = [e for e in oracle if e["alert"]["severity"] == 1]
    assert 0 < len(high_oracle) < len(oracle)
    assert matching(page) == len(high_oracle)
    assert sorted(column(load_all(page), ".sig")) == signatures(high_oracle)
    reset(page, total)

    page.locator("input[name=q]").fill(feed.HOSTILE_CLIENT[0])
    page.locator("input[name=q]").press("Enter")
    expect(rows(page)).to_have_count(2)
    assert sorted(column(rows(page), ".sig")) == signatures(feed.alerts(runs.hostile))
    reset(page, total)

    # A time range: the second of the corpus run's first packets with alerts, start included.
    first = min(when(e) for e in runs.corpus if e["event_type"] == "alert").replace(microsecond=0)
    in_second = [e for e in runs.alerts if 0 <= (when(e) - first).total_seconds() < 1]
    assert 0 < len(in_second) < total
    page.locator("select[name=range]").select_option("custom")
    page.locator("input[name=since]").fill(first.strftime("%Y-%m-%dT%H:%M:%S"))
    page.locator("input[name=until]").fill((first + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S"))
    page.locator("button[type=submit]").click()
    assert matching(page) == len(in_second)
    assert sorted(column(load_all(page), ".sig")) == signatures(in_second)
    reset(page, total)

    # These runs read captures: no alert names a namespace or a pod.
    page.locator("input[name=namespace]").fill("red")
    page.locator("input[name=namespace]").press("Enter")
    no_rows(page)


def test_the_chart_counts_alerts_by_severity_and_a_bar_selects_its_alerts(tab: Tab, runs: Runs) -> None:
    page = tab.open("alerts")
    expect(page.locator(".chart-total strong")).to_have_text(str(len(runs.alerts)))
    expected = Counter(e["alert"]["severity"] for e in runs.alerts)
    legend = {
        int(item.get_attribute("data-severity") or 0): int(
            item.locator("strong").inner_text().replace(",", "")
        )
        for item in page.locator(".legend-item").all()
    }
    assert legend == {s: expected[s] for s in (1, 2, 3, 4)}

    bars = page.locator("svg.chart g.chart-bar")
    drawn = sum(
        int(n)
        for n in page.locator("svg.chart rect.bar").evaluate_all("(r) => r.map((x) => x.dataset.count)")
    )
    assert drawn == len(runs.alerts)
    # The latest bar is the crafted request's second: both its alerts.
    bars.last.locator("rect.chart-hit").click()
    expect(rows(page)).to_have_count(2)
    params = parse_qs(page.url.split("?", 1)[1])
    since, until = (datetime.fromisoformat(params[k][0].replace("Z", "+00:00")) for k in ("since", "until"))
    assert sorted(column(rows(page), ".sig")) == signatures(
        [e for e in runs.alerts if since <= when(e) < until]
    )
    expect(page.locator("select[name=range]")).to_have_value("custom")
