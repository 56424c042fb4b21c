"""Snort parity: on captures Snort 3.11 ran with the community ruleset, Fathom raises the same
alerts, as a multiset of (gid, sid, rev, source, destination), nearly all on the same packet."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from fathom.rules.cache import load_index
from fathom.rules.index import RuleIndex
from fathom.rules.loader import BUNDLED_RULES
from tests.corpus.conftest import CORPUS
from tests.corpus.helpers import alerts_of

CAPTURES = sorted((CORPUS / "parity").glob("*.pcap"))

Alert = tuple[int, int, int, str, str, int]


@pytest.fixture(scope="module", params=["built", "from cache"])
def community(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> RuleIndex:
    """The community ruleset's index as built, and as the rule cache gives it back."""
    cache = tmp_path_factory.mktemp("rule-cache")
    index, cached = load_index([str(BUNDLED_RULES)], cache_dir=cache)
    assert not cached
    if request.param == "from cache":
        index, cached = load_index([str(BUNDLED_RULES)], cache_dir=cache)
        assert cached
    return index


def endpoint(ip: str, port: int | None) -> str:
    return f"[{ip}]:{port or 0}" if ":" in ip else f"{ip}:{port or 0}"


def fathom_alerts(capture: Path, index: RuleIndex) -> Counter[Alert]:
    found: Counter[Alert] = Counter()
    for event in alerts_of(capture, index):
        alert = event["alert"]
        src = endpoint(event["src_ip"], event.get("src_port"))
        dst = endpoint(event["dest_ip"], event.get("dest_port"))
        found[(alert["gid"], alert["signature_id"], alert["rev"], src, dst, event["pcap_cnt"])] += 1
    return found


def snort_alerts(capture: Path) -> Counter[Alert]:
    listed = json.loads(capture.with_suffix(".snort.json").read_text())
    return Counter((a["gid"], a["sid"], a["rev"], a["src_ap"], a["dst_ap"], a["pkt_num"]) for a in listed)


def without_packets(alerts: Counter[Alert]) -> Counter[tuple[int, int, int, str, str]]:
    found: Counter[tuple[int, int, int, str, str]] = Counter()
    for (gid, sid, rev, src, dst, _), count in alerts.items():
        found[(gid, sid, rev, src, dst)] += count
    return found


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.stem)
def test_alerts_equal_snorts_and_name_its_packets(capture: Path, community: RuleIndex) -> None:
    want = snort_alerts(capture)
    got = fathom_alerts(capture, community)
    assert want
    assert without_packets(got) == without_packets(want)
    # The packet: Snort's flush points are followed, so at least 98% agree.
    same = sum((got & want).values())
    assert same >= 0.98 * sum(want.values()), (same, sum(want.values()))
