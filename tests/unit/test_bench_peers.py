"""The benchmark's peers: NFStream runs only where the runner's Python can import it."""

from __future__ import annotations

import importlib.util
import sys

import pytest
from bench import tools


def test_nfstream_runs_with_the_runners_python_only_when_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert tools.nfstream_tool() is None
    assert "NFStream" not in [tool.name for tool in tools.peer_tools()]
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: object())
    tool = tools.nfstream_tool()
    assert tool is not None
    assert tool.command("/tmp/x.pcap") == [sys.executable, "-m", "bench.nfstream_run", "/tmp/x.pcap"]
    assert "NFStream" in [tool.name for tool in tools.peer_tools()]
