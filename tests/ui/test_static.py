"""The UI's files themselves: nothing that parses data as HTML or code, nothing inline that the
CSP would block, nothing fetched from elsewhere, every module present and installed."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

UI = Path(__file__).resolve().parents[2] / "src" / "fathom" / "manager" / "ui"
SCRIPTS = sorted(UI.glob("*.js"))

# Sinks that turn a string into markup or code.
FORBIDDEN_JS = (
    "innerHTML",
    "outerHTML",
    "insertAdjacentHTML",
    "document.write",
    "eval(",
    "new Function",
    'setAttribute("style"',
    "srcdoc",
    "javascript:",
)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_no_script_turns_text_into_markup_or_code(script: Path) -> None:
    text = script.read_text()
    assert [sink for sink in FORBIDDEN_JS if sink in text] == []
    # Timers take functions only (a string would be evaluated).
    assert re.findall(r"set(?:Timeout|Interval)\(\s*['\"`]", text) == []


def test_the_page_has_no_inline_script_or_style_and_loads_only_its_own_files() -> None:
    html = (UI / "index.html").read_text()
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []
    assert "<style" not in html and " style=" not in html
    assert re.findall(r"\son[a-z]+=", html) == []
    assert sorted(re.findall(r'(?:src|href)="(/ui/[^"]+)"', html)) == [
        "/ui/app.js",
        "/ui/favicon.svg",
        "/ui/favicon.svg",
        "/ui/style.css",
    ]
    assert re.findall(r'(?:src|href)="(?:https?:)?//', html) == []


def test_every_imported_module_exists_and_is_installed_with_the_package() -> None:
    imported = set()
    for script in SCRIPTS:
        imported |= set(re.findall(r'from "\./([\w-]+\.js)"', script.read_text()))
    assert imported <= {p.name for p in SCRIPTS}
    assert {p.name for p in SCRIPTS} - imported == {"app.js"}  # the entry point, loaded by index.html
    assert all(not p.is_dir() for p in UI.iterdir())  # the package-data glob takes files, not folders
    pyproject = tomllib.loads((UI.parents[3] / "pyproject.toml").read_text())
    assert "manager/ui/*" in pyproject["tool"]["setuptools"]["package-data"]["fathom"]
