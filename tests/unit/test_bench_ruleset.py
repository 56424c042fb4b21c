"""The full-ruleset benchmark: start-ups cold and warm, the steady-state rate, the goals held against
it, and Snort's configuration."""

from __future__ import annotations

from pathlib import Path

import pytest
from bench import ruleset
from bench.measure import Sample
from bench.report import Result
from bench.ruleset import Startup, measure_startups, ruleset_checks, steady_pps, with_rule_cache
from bench.tools import Tool


def sample(seconds: float, rss_mib: float = 100.0) -> Sample:
    return Sample(seconds, int(rss_mib * 1024), 0, 0, "")


def result(tool: str, seconds: float, rss_mib: float = 100.0, capture: str = "flows") -> Result:
    found = Result(capture, "/x.pcap", 400_000, 10**8, tool, [])
    found.samples.append(sample(seconds, rss_mib))
    return found


def shell_tool(name: str, script: str) -> Tool:
    return Tool(name, lambda pcap: ["sh", "-c", script, "sh", pcap], "sh")


def test_steady_rate_leaves_out_the_warm_start_up() -> None:
    startup = Startup("fathom", sample(2.0), sample(0.5))
    assert steady_pps(result("fathom", 2.5), startup) == 200_000
    assert steady_pps(result("fathom", 0.4), startup) is None
    assert steady_pps(result("fathom", 2.5), Startup("fathom", error="exit 1: boom")) is None


def test_goals_follow_snorts_memory_on_the_same_capture() -> None:
    startups = [Startup("fathom", sample(2.0), sample(0.5)), Startup("snort", sample(1.0), sample(1.0))]
    results = [
        result("fathom", 4.5, 250.0),
        result("snort", 4.0, 200.0),
        result("fathom", 2.5, 250.0, capture="bytes"),
    ]
    checks = ruleset_checks(results, startups)
    assert [(c.name, c.value, c.target, c.ok) for c in checks] == [
        ("flows packets/s with start-up (fathom)", 400_000 / 4.5, 90_000, False),
        ("flows steady packets/s (fathom)", 100_000, 240_000, False),
        ("flows peak RSS (fathom)", 250.0, 300.0, True),
        ("bytes packets/s with start-up (fathom)", 160_000, 90_000, True),
        ("bytes steady packets/s (fathom)", 200_000, 240_000, False),
        ("bytes peak RSS (fathom)", 250.0, 195.0, False),
    ]
    assert checks[1].note == "snort 133,333"
    assert checks[5].note == "1.5 x Snort 3's ~130 MiB"


def test_cold_start_ups_each_find_an_empty_cache_and_leave_it_filled(tmp_path: Path) -> None:
    log = tmp_path / "log"
    # Says whether the cache directory was there already, then fills it as fathom would.
    script = f'test -d "$FATHOM_CACHE_DIR" && echo warm >> {log} || echo cold >> {log}; '
    script += 'mkdir -p "$FATHOM_CACHE_DIR/rules"'
    fathom = with_rule_cache(shell_tool("fathom", script), tmp_path / "cache")
    (startup,) = measure_startups([fathom], tmp_path, repeat=2)
    assert startup.cold and startup.warm and startup.error is None
    assert log.read_text().split() == ["cold", "cold", "warm", "warm"]
    assert (tmp_path / "cache" / "rules").is_dir()


def test_a_start_up_without_rule_cache_is_both_and_a_failing_one_is_reported(tmp_path: Path) -> None:
    snort, broken = shell_tool("snort", "true"), shell_tool("broken", "echo no config >&2; exit 3")
    once, failed = measure_startups([snort, broken], tmp_path, repeat=1)
    assert once.cold is once.warm is not None
    assert (failed.cold, failed.warm, failed.error) == (None, None, "start-up failed: exit 3: no config")


def test_snort_matches_the_rules_with_hyperscan_on_its_installed_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        ruleset, "snort_install", lambda: ("/opt/snort/bin/snort", "/opt/snort/etc/snort.lua")
    )
    snort = ruleset.snort_ruleset_tool(Path('/r/my "local".rules'), tmp_path)
    assert snort is not None
    config = tmp_path / "snort-ruleset.lua"
    assert snort.command("/c.pcap") == ["/opt/snort/bin/snort", "-q", "-c", str(config), "-r", "/c.pcap"]
    assert config.read_text().splitlines() == [
        'include "/opt/snort/etc/snort.lua"',
        'ips.include = "/r/my \\"local\\".rules"',
        "search_engine = search_engine or { }",
        "search_engine.search_method = 'hyperscan'",
    ]


def test_a_ruleset_is_the_bundled_one_or_an_existing_file(tmp_path: Path) -> None:
    assert ruleset.ruleset_path("community").name == "snort3-community.rules"
    with pytest.raises(ruleset.RulesetError):
        ruleset.ruleset_path(str(tmp_path / "missing.rules"))
