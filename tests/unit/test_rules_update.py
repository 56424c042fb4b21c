"""``fathom rules update``: a ruleset is installed only once it loads, in one rename, and leaves
the rule cache warm for the sensor that picks it up."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from fathom.cli import main
from fathom.rules.cache import default_cache_dir, load_index

GOOD = 'alert tcp any any -> any 80 (msg:"one"; content:"abc"; sid:1000001; rev:1;)\n'
MORE = GOOD + 'alert udp any any -> any 53 (msg:"two"; content:"def"; sid:1000002; rev:1;)\nthis is no rule\n'


def test_a_ruleset_that_loads_replaces_the_installed_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = tmp_path / "installed" / "fathom.rules"
    source = tmp_path / "new.rules"
    source.write_text(MORE)
    assert main(["rules", "update", str(source), "--to", str(dest)]) == 0
    assert dest.read_text() == MORE
    captured = capsys.readouterr()
    assert captured.out == f"{dest}: 2 rules installed\n"
    assert "1 rules not loaded" in captured.err
    # Nothing is left beside it, and the sensor's load of it comes from the cache.
    assert sorted(p.name for p in dest.parent.iterdir()) == ["fathom.rules"]
    assert load_index([str(dest)], cache_dir=default_cache_dir())[1] is True


def test_a_ruleset_that_loads_nothing_leaves_the_installed_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = tmp_path / "fathom.rules"
    dest.write_text(GOOD)
    bad = tmp_path / "bad.rules"
    bad.write_text('alert tcp any any -> any 80 (msg:"no sid"; content:"x";)\n')
    assert main(["rules", "update", str(bad), "--to", str(dest)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"fathom: error: {bad}: no rule loads (first problem: {bad}:1: ")
    assert err.endswith(f"; {dest} is unchanged\n")
    assert dest.read_text() == GOOD
    assert main(["rules", "update", str(tmp_path / "missing.rules"), "--to", str(dest)]) == 1
    assert "missing.rules: No such file or directory" in capsys.readouterr().err
    assert main(["rules", "update", str(dest), "--to", str(dest)]) == 1
    assert capsys.readouterr().err == f"fathom: error: {dest}: is the destination already\n"


class QuietFiles(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "community.rules").write_text(GOOD)
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(QuietFiles, directory=str(tmp_path))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_ruleset_is_fetched_from_a_url(
    tmp_path: Path, served: str, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = tmp_path / "out" / "fathom.rules"
    assert main(["rules", "update", f"{served}/community.rules", "--to", str(dest)]) == 0
    assert dest.read_text() == GOOD
    assert main(["rules", "update", f"{served}/nothing.rules", "--to", str(dest)]) == 1
    assert capsys.readouterr().err.endswith(
        f"fathom: error: {served}/nothing.rules: HTTP 404 File not found\n"
    )
    assert dest.read_text() == GOOD
