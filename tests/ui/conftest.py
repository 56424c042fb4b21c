"""The web UI, driven in Debian's Chromium (headless, through Playwright's Python API) against a real
``fathom serve`` fed with real ``fathom analyze`` runs.

Every tab records what would show a broken or hijacked page: uncaught errors, CSP violations and
JavaScript dialogs. A test fails if any happened.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Dialog, Page, ViewportSize, expect, sync_playwright

from tests.ui import feed
from tests.ui.manager import Manager

CHROMIUM = "/usr/bin/chromium"
VIEWPORT: ViewportSize = {"width": 1440, "height": 900}
UI_TIMEOUT_MS = 60_000
# The UI fetches and renders asynchronously; this is how long an expectation waits for it.
expect.set_options(timeout=15_000)


@dataclass(frozen=True)
class Runs:
    """The EVE output of each run, and the rules file of the crafted capture."""

    corpus: list[feed.Event]
    hostile: list[feed.Event]
    lab: list[feed.Event]
    rules: Path

    @property
    def fed(self) -> list[feed.Event]:
        """What every manager of these tests starts with: the corpus run and the hostile run."""
        return self.corpus + self.hostile

    @property
    def alerts(self) -> list[feed.Event]:
        return feed.alerts(self.fed)


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    work = tmp_path_factory.mktemp("ui-runs")
    rules = work / "hostile.rules"
    rules.write_text(feed.HOSTILE_RULES)
    hostile = feed.write_hostile_capture(work / "hostile.pcap")
    return Runs(
        corpus=feed.analyze(feed.ALERTS_CAPTURE, work / "corpus.eve"),
        hostile=feed.analyze(hostile, work / "hostile.eve", rules),
        lab=feed.analyze(feed.LAB_CAPTURE, work / "lab.eve"),
        rules=rules,
    )


def started(directory: Path, runs: Runs) -> Manager:
    manager = Manager(directory, runs.rules)
    try:
        manager.feed(runs.fed)
    except BaseException:
        manager.stop()
        raise
    return manager


@pytest.fixture(scope="session")
def manager(tmp_path_factory: pytest.TempPathFactory, runs: Runs) -> Iterator[Manager]:
    """A manager shared by the tests that only read (and report sensors, which no other reads)."""
    shared = started(tmp_path_factory.mktemp("manager"), runs)
    yield shared
    shared.stop()


@pytest.fixture
def own_manager(tmp_path: Path, runs: Runs) -> Iterator[Manager]:
    """A manager of the test's own, for tests that dismiss or suppress."""
    mine = started(tmp_path / "manager", runs)
    yield mine
    mine.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"needs Debian's Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


# Installed before any page script: records CSP violations the way the page itself would see them.
_WATCH_CSP = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
});
"""


@dataclass
class Tab:
    page: Page
    base: str
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    csp_console: list[str] = field(default_factory=list)

    def open(self, route: str) -> Page:
        """Load the UI afresh at ``#/route``."""
        self.page.goto(f"{self.base}/#/{route}")
        return self.page

    def csp_violations(self) -> list[str]:
        found: list[Any] = self.page.evaluate("window.__cspViolations || []")
        return [str(v) for v in found] + self.csp_console


def _console(tab: Tab, message: ConsoleMessage) -> None:
    if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
        tab.csp_console.append(message.text)


def _dialog(tab: Tab, dialog: Dialog) -> None:
    tab.dialogs.append(f"{dialog.type}: {dialog.message}")
    dialog.dismiss()


def open_tab(browser: Browser, manager: Manager, viewport: ViewportSize = VIEWPORT) -> Iterator[Tab]:
    context = browser.new_context(viewport=viewport)
    # The suite runs beside heavy tests on two cores: give a starved renderer time before failing.
    context.set_default_timeout(UI_TIMEOUT_MS)
    expect.set_options(timeout=UI_TIMEOUT_MS)
    context.add_init_script(_WATCH_CSP)
    page = context.new_page()
    tab = Tab(page, manager.url)
    page.on("pageerror", lambda error: tab.errors.append(str(error)))
    page.on("console", lambda message: _console(tab, message))
    page.on("dialog", lambda dialog: _dialog(tab, dialog))
    yield tab
    violations = tab.csp_violations() if not page.is_closed() else tab.csp_console
    context.close()
    assert tab.errors == [], "uncaught errors in the page"
    assert violations == [], "CSP violations"
    assert tab.dialogs == [], "the page opened dialogs"


@pytest.fixture
def tab(browser: Browser, manager: Manager) -> Iterator[Tab]:
    yield from open_tab(browser, manager)


@pytest.fixture
def own_tab(browser: Browser, own_manager: Manager) -> Iterator[Tab]:
    yield from open_tab(browser, own_manager)
