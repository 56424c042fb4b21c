"""The alert detail panel: the alert, its endpoints, its flow, the protocol events of its flow and
the rule's text; Dismiss; and markup from packets, shown as text and never run."""

from __future__ import annotations

from collections import Counter

from playwright.sync_api import expect

from tests.ui import feed
from tests.ui.conftest import Runs, Tab
from tests.ui.manager import Manager
from tests.ui.screens import column, matching, no_rows, open_alert, pairs, rows


def flow_of(runs: Runs, alert: feed.Event) -> feed.Event:
    return next(e for e in runs.fed if e["event_type"] == "flow" and e["flow_id"] == alert["flow_id"])


def context_table(panel_text: list[str]) -> dict[str, str]:
    return dict(zip(panel_text[0::2], panel_text[1::2], strict=True))


def test_the_panel_shows_the_alert_its_flow_its_http_context_and_its_rule(tab: Tab, runs: Runs) -> None:
    page = tab.open("alerts")
    panel = open_alert(page, feed.URI_SID)
    alert = next(
        e for e in runs.hostile if e["event_type"] == "alert" and e["alert"]["signature_id"] == feed.URI_SID
    )
    flow = flow_of(runs, alert)["flow"]

    expect(panel.locator(".detail-title h2")).to_have_text(feed.URI_SIGNATURE)
    expect(panel.locator(".detail-title .sev")).to_have_text("High")
    sections = panel.locator(".detail-section")
    summary = pairs(sections.filter(has=page.locator("h3", has_text="Alert")).first)
    assert summary["Rule"] == f"1:{feed.URI_SID}:1"
    assert summary["Category"] == "Web Application Attack"
    assert summary["Protocol"] == "TCP / http"
    assert summary["Flow id"] == str(alert["flow_id"])
    assert summary["Community id"] == alert["community_id"]
    assert summary["Status"] == "open"
    assert summary["Time"] == alert["timestamp"][:10] + " " + alert["timestamp"][11:23] + " UTC"

    endpoints = panel.locator(".endpoint")
    assert pairs(endpoints.nth(0))["Address"] == "{}:{}".format(*feed.HOSTILE_CLIENT)
    assert pairs(endpoints.nth(1))["Address"] == "{}:{}".format(*feed.HOSTILE_SERVER)

    shown_flow = pairs(sections.filter(has=page.locator("h3", has_text="Flow")).first)
    assert shown_flow["Packets"] == f"{flow['pkts_toserver']} to server · {flow['pkts_toclient']} to client"
    assert (
        shown_flow["Bytes"] == f"{flow['bytes_toserver']} B to server · {flow['bytes_toclient']} B to client"
    )
    assert (shown_flow["State"], shown_flow["App protocol"], shown_flow["Alerted"]) == (
        "closed",
        "http",
        "yes",
    )

    http = panel.locator(".context-event[data-event-type=http]")
    expect(http).to_have_count(1)
    fields = context_table(http.locator("th, td").all_text_contents())
    assert fields["hostname"] == feed.HOSTILE_HOST
    assert fields["url"] == feed.HOSTILE_URI
    assert fields["http_user_agent"] == feed.IMG_PAYLOAD
    assert (fields["http_method"], fields["status"]) == ("GET", "200")

    rule = next(line for line in feed.HOSTILE_RULES.splitlines() if f"sid:{feed.URI_SID};" in line)
    expect(panel.locator(".rule-text")).to_have_text(rule)


def test_a_community_alert_shows_its_bundled_rule(tab: Tab, runs: Runs, manager: Manager) -> None:
    by_sid = Counter(e["alert"]["signature_id"] for e in runs.alerts)
    alert = next(e for e in feed.alerts(runs.corpus) if by_sid[e["alert"]["signature_id"]] == 1)
    sid = alert["alert"]["signature_id"]
    page = tab.open("alerts")
    panel = open_alert(page, sid)
    expect(panel.locator(".detail-title h2")).to_have_text(alert["alert"]["signature"])
    rule = panel.locator(".rule-text").text_content() or ""
    assert f"sid:{sid};" in rule.replace(" ", "")
    assert f'msg:"{alert["alert"]["signature"]}"' in rule
    shown_id = pairs(panel.locator(".detail-section").first)["Event id"]
    assert rule == manager.get(f"/api/v1/alerts/{shown_id}")["rule"]


def test_markup_from_packets_is_shown_as_text_and_never_runs(tab: Tab, runs: Runs) -> None:
    page = tab.open("alerts")
    panel = open_alert(page, feed.AGENT_SID)
    http = panel.locator(".context-event[data-event-type=http]")
    expect(http.locator("td", has_text=feed.SCRIPT_PAYLOAD)).to_have_text(feed.HOSTILE_URI)
    expect(http.locator("td", has_text="onerror")).to_have_text(feed.IMG_PAYLOAD)
    # Literally visible, and nothing of it became a node.
    expect(page.get_by_text(feed.HOSTILE_URI, exact=True)).to_be_visible()
    assert page.locator("img[src=x], img[onerror]").count() == 0
    assert page.evaluate("document.scripts.length") == 1  # app.js, nothing else
    assert page.evaluate("typeof window.__pwned") == "undefined"

    # The same payloads in the address reach the filter inputs as values only.
    page.goto(f"{tab.base}/#/alerts?q={feed.IMG_PAYLOAD}&pod={feed.SCRIPT_PAYLOAD}")
    page.reload()
    expect(page.locator("input[name=q]")).to_have_value(feed.IMG_PAYLOAD)
    expect(page.locator("input[name=pod]")).to_have_value(feed.SCRIPT_PAYLOAD)
    no_rows(page)
    assert page.locator("img[src=x], img[onerror]").count() == 0
    assert page.evaluate("typeof window.__pwned") == "undefined"


def test_dismiss_hides_the_alert_until_dismissed_ones_are_asked_for(
    own_tab: Tab, runs: Runs, own_manager: Manager
) -> None:
    page = own_tab.open("alerts")
    total = matching(page)
    panel = open_alert(page, feed.URI_SID)
    panel.locator("button[name=dismiss]").click()
    expect(panel.locator(".form-message")).to_have_text("Dismissed.")
    expect(panel.locator("button[name=dismiss]")).to_be_disabled()
    no_rows(page)

    page.locator("input[name=dismissed]").check()
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first.locator(".tag-dismissed")).to_have_text("Dismissed")
    expect(rows(page).first).to_have_class("alert-row is-dismissed")

    page.locator("button[name=reset]").click()
    assert matching(page) == total - 1
    assert feed.URI_SIGNATURE not in column(rows(page), ".sig")
    listed = own_manager.get(f"/api/v1/alerts?sid={feed.URI_SID}&dismissed=true")["items"]
    assert [a["dismissed"] for a in listed] == [True]
