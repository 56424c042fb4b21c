"""Suppressions in the UI: one made from an alert hides it and counts it; one made on the
Suppressions page applies to alerts that arrive later; a bad selector is refused with the reason;
deleting one brings its alerts back."""

from __future__ import annotations

from collections import Counter

from playwright.sync_api import Page, expect

from tests.ui import feed
from tests.ui.conftest import Runs, Tab
from tests.ui.manager import Manager
from tests.ui.screens import matching, no_rows, open_alert, rows

LAB_SID = 21562


def suppression_rows(page: Page) -> list[list[str]]:
    """The Suppressions table as shown: name, selector, sids, window, created, count."""
    table = page.locator(".suppressions-table tbody tr")
    return [row.locator("td").all_inner_texts()[:6] for row in table.all()]


def test_suppress_from_an_alert_hides_it_counts_it_and_delete_brings_it_back(
    own_tab: Tab, runs: Runs, own_manager: Manager
) -> None:
    by_sid = Counter(e["alert"]["signature_id"] for e in runs.alerts)
    alert = next(e for e in feed.alerts(runs.corpus) if by_sid[e["alert"]["signature_id"]] == 1)
    sid = alert["alert"]["signature_id"]
    page = own_tab.open("alerts")
    total = matching(page)
    panel = open_alert(page, sid)

    panel.locator("button[name=suppress]").click()
    form = panel.locator("form.suppress-form")
    expect(form.locator("input[name=sids]")).to_have_value(str(sid))
    selector = f'src_ip == "{alert["src_ip"]}" && dest_ip == "{alert["dest_ip"]}"'
    expect(form.locator("input[name=selector]")).to_have_value(selector)
    form.locator("input[name=name]").fill("known scanner")
    form.locator("button[type=submit]").click()
    expect(form.locator(".form-message")).to_have_text("Suppression “known scanner” created.")
    no_rows(page)  # the table, reloaded: the alert is gone

    page.locator("button[name=reset]").click()
    assert matching(page) == total - 1

    page = own_tab.open("suppressions")
    expect(page.locator(".suppressions-table tbody tr")).to_have_count(1)
    [shown] = suppression_rows(page)
    assert shown[:3] == ["known scanner\n" + alert["alert"]["signature"], selector, str(sid)]
    assert (shown[3], shown[5]) == ("always", "1")
    expect(page.locator(".summary")).to_have_text("1 suppression, 1 alert suppressed")

    # The count links to the alerts it hid, suppressed ones included.
    page.locator(".col-suppressed a").click()
    expect(page).to_have_url(f"{own_tab.base}/#/alerts?sid={sid}&suppressed=true")
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first.locator(".tag-suppressed")).to_have_text("Suppressed")
    expect(page.locator("input[name=suppressed]")).to_be_checked()

    page = own_tab.open("suppressions")
    delete = page.locator("button[name=delete]")
    delete.click()
    expect(delete).to_have_text("Confirm delete")
    delete.click()
    expect(page.locator(".suppressions-list .empty")).to_have_text("No suppressions: every alert is shown.")
    page = own_tab.open("alerts")
    assert matching(page) == total
    assert own_manager.get("/api/v1/suppressions") == []


def test_a_suppression_made_on_its_page_applies_to_alerts_arriving_later(
    own_tab: Tab, runs: Runs, own_manager: Manager
) -> None:
    assert [e["alert"]["signature_id"] for e in feed.alerts(runs.lab)] == [LAB_SID]
    page = own_tab.open("suppressions")
    page.locator("button[name=new]").click()
    form = page.locator("form.suppress-form")
    form.locator("input[name=name]").fill("lab POSTs")
    form.locator("input[name=sids]").fill(f"{LAB_SID}, {feed.URI_SID}")
    form.locator("input[name=selector]").fill('app_proto == "http" && dest_ip starts with "10.99."')
    form.locator("input[name=description]").fill("the lab's check-ins")
    form.locator("button[type=submit]").click()
    expect(page.locator(".suppressions-table tbody tr")).to_have_count(1)
    assert suppression_rows(page)[0][5] == "0"  # the crafted request went to 10.9.8.7: not covered

    result = own_manager.post("/api/v1/events", runs.lab)
    assert (result["accepted"], result["suppressed"]) == (len(runs.lab), 1)
    page.reload()
    expect(page.locator(".col-suppressed")).to_have_text("1")

    page = own_tab.open(f"alerts?sid={LAB_SID}")
    no_rows(page)
    page.locator("input[name=suppressed]").check()
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first.locator(".sig")).to_have_text(feed.alerts(runs.lab)[0]["alert"]["signature"])


def test_a_bad_selector_is_refused_with_the_reason(own_tab: Tab, own_manager: Manager) -> None:
    page = own_tab.open("suppressions")
    page.locator("button[name=new]").click()
    form = page.locator("form.suppress-form")
    form.locator("input[name=name]").fill("broken")
    form.locator("input[name=sids]").fill("1")
    form.locator("input[name=selector]").fill('pod == "a" &&')
    form.locator("button[type=submit]").click()
    message = form.locator(".form-message.form-error")
    expect(message).to_contain_text("selector")
    expect(message).to_contain_text("column")
    form.locator("input[name=sids]").fill("one")
    form.locator("input[name=selector]").fill("")
    form.locator("button[type=submit]").click()
    expect(message).to_have_text("SIDs: give one or more rule numbers, separated by commas.")
    assert own_manager.get("/api/v1/suppressions") == []
