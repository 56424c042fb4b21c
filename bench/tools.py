"""The analyzers being compared: fathom itself and whichever peers are installed."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.paths import fathom_binary

# Names the rows of fathom as of an earlier commit: fathom@<short commit>.
BASELINE_PREFIX = "fathom@"


@dataclass(frozen=True)
class Tool:
    name: str
    command: Callable[[str], list[str]]  # capture path -> argv
    binary: str
    env: dict[str, str] | None = None  # the child's whole environment; None: the runner's
    # fathom only: (capture path, EVE path) -> argv of a run that writes its events there.
    eve_command: Callable[[str, str], list[str]] | None = None


def fathom_analyzer(
    name: str, launcher: list[str], rules_file: str, env: dict[str, str] | None = None
) -> Tool:
    """fathom started by launcher (its console script, or an interpreter running `-m fathom.cli`)."""

    # No summary; in timed runs the EVE file goes to /dev/null. With the empty rules file this is the
    # cost of decoding, flow tracking, TCP reassembly, application identification and protocol logs.
    def eve_command(pcap: str, eve: str) -> list[str]:
        return [*launcher, "analyze", pcap, "--rules", rules_file, "--eve", eve, "--quiet"]

    return Tool(name, lambda pcap: eve_command(pcap, "/dev/null"), launcher[0], env, eve_command)


def fathom_tool(rules_file: str) -> Tool | None:
    binary = fathom_binary()
    return fathom_analyzer("fathom", [binary], rules_file) if binary else None


def ndpi_tool() -> Tool | None:
    binary = shutil.which("ndpiReader")
    if binary is None:
        return None

    # -i reads the file to the end with full DPI (its default per-flow packet limits); -q drops the
    # per-flow report so printing is not measured.
    def command(pcap: str) -> list[str]:
        return [binary, "-i", pcap, "-q"]

    return Tool("ndpiReader", command, binary)


def nfstream_tool() -> Tool | None:
    """NFStream (nDPI under Python), when the runner's interpreter can import it."""
    if importlib.util.find_spec("nfstream") is None:
        return None

    def command(pcap: str) -> list[str]:
        return [sys.executable, "-m", "bench.nfstream_run", pcap]

    return Tool("NFStream", command, sys.executable)


def snort_config(binary: str) -> str | None:
    """$SNORT_LUA, else snort.lua under the binary's install prefix, else the usual /etc location."""
    env = os.environ.get("SNORT_LUA")
    if env:
        return env if Path(env).is_file() else None
    prefix = Path(binary).resolve().parent.parent
    candidates = [prefix / "etc" / "snort" / "snort.lua", Path("/usr/local/etc/snort/snort.lua"),
                  Path("/etc/snort/snort.lua")]  # fmt: skip
    return next((str(c) for c in candidates if c.is_file()), None)


def is_snort3(binary: str) -> bool:
    # Snort 2 takes snort.conf, not Lua; its -c would fail on snort.lua and measure nothing.
    try:
        out = subprocess.run([binary, "-V"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    text = out.stdout + out.stderr
    return "Snort++" in text or re.search(r"Version 3\.", text) is not None


def snort_install() -> tuple[str, str] | None:
    """Snort 3 on PATH and its snort.lua, else None (saying why a snort found is skipped)."""
    binary = shutil.which("snort")
    if binary is None:
        return None
    if not is_snort3(binary):
        print(f"skipping {binary}: not Snort 3", file=sys.stderr)
        return None
    config = snort_config(binary)
    if config is None:
        print(f"skipping {binary}: no snort.lua (set SNORT_LUA)", file=sys.stderr)
        return None
    return binary, config


def snort_command(binary: str, config: str) -> Tool:
    # -q keeps the startup banner and exit statistics out of the timing.
    return Tool("snort", lambda pcap: [binary, "-q", "-c", config, "-r", pcap], binary)


def snort_tool() -> Tool | None:
    # The stock snort.lua loads no rules: default inspectors only, the closest match to fathom's
    # no-rules run.
    found = snort_install()
    return snort_command(*found) if found else None


def peer_tools() -> list[Tool]:
    return [tool for tool in (ndpi_tool(), nfstream_tool(), snort_tool()) if tool is not None]
