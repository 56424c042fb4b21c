"""The full-ruleset benchmark's arithmetic: steady-state rate and the goals held against it."""

from __future__ import annotations

from bench.measure import Sample
from bench.report import Result
from bench.ruleset import Startup, ruleset_checks, steady_pps


def sample(seconds: float, rss_mib: float = 100.0) -> Sample:
    return Sample(seconds, int(rss_mib * 1024), 0, 0, "")


def result(tool: str, seconds: float, rss_mib: float = 100.0) -> Result:
    found = Result("flows", "/x.pcap", 400_000, 10**8, tool, [])
    found.samples.append(sample(seconds, rss_mib))
    return found


def test_steady_rate_leaves_out_the_warm_start_up() -> None:
    startup = Startup("fathom", sample(2.0), sample(0.5))
    assert steady_pps(result("fathom", 2.5), startup) == 200_000
    assert steady_pps(result("fathom", 0.4), startup) is None


def test_goals_follow_snorts_memory_when_it_ran() -> None:
    startups = [Startup("fathom", sample(2.0), sample(0.5)), Startup("snort", None, sample(1.0))]
    checks = ruleset_checks([result("fathom", 4.5, 250.0), result("snort", 4.0, 200.0)], startups)
    assert [(c.name, c.value, c.target, c.ok) for c in checks] == [
        ("flows packets/s with start-up (fathom)", 400_000 / 4.5, 90_000, False),
        ("flows steady packets/s (fathom)", 100_000, 240_000, False),
        ("flows peak RSS (fathom)", 250.0, 300.0, True),
    ]
