"""suricata-verify signature tests (vendored in tests/data/corpus/sigs): each test's rules on its
capture give the per-sid alert counts Suricata gave.

Each test runs with the options it names: ``-k none`` (checksums not verified: many of these
captures were made without computing them) becomes ``engine.verify_checksums: false``.

Where Snort 3 behaves otherwise, Fathom follows Snort, and the test shows the difference is
exactly that, by giving Suricata's counts once the Snort behaviour is configured away:

- Snort's event queue logs three events per packet (``event_queue.log``, see
  ``fpFinalSelectEvent`` in Snort's ``detection/fp_detect.cc``), Suricata all of them
  (``engine.detect``).
- Snort does not inspect a packet whose transport checksum is wrong, nor put it in its stream
  (``DetectionEngine::inspect`` skips packets with ``DECODE_ERR_FLAGS``); where a test's capture
  has such packets and does not name ``-k none``, Suricata still used them
  (``engine.verify_checksums``).

Where no configuration gives Suricata's counts (Snort's rule semantics differ), the test holds
Fathom to Snort's counts instead, with the evidence (``SNORT_COUNTS``).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from fathom.config import DetectConfig, EngineConfig
from fathom.rules.index import RuleIndex
from fathom.rules.loader import load_ruleset
from tests.corpus.conftest import CORPUS
from tests.corpus.helpers import alerts_of

TESTS = sorted(path.parent for path in (CORPUS / "sigs").glob("*/expected.json"))
# What Snort does otherwise, by test: how Fathom is configured to do as Suricata did.
UNBOUNDED = DetectConfig(max_queue_events=100, log_events=100)
AS_SURICATA = {
    # More than three rules alert on one packet: Snort logs three of them.
    "bug-5197": EngineConfig(verify_checksums=False, detect=UNBOUNDED),
    "detect-flowbits": EngineConfig(detect=UNBOUNDED),
    "detect-pcre-04": EngineConfig(detect=UNBOUNDED),
    # The client's EHLO, DATA and message segments carry wrong TCP checksums.
    "bug-1045": EngineConfig(verify_checksums=False),
}
# Where Snort's rule semantics give other counts, whatever the configuration: Snort's.
SNORT_COUNTS = {
    # dsize:!9 holds on every packet whose payload is not 9 bytes, empty ones too (Snort's
    # ips_dsize.cc); Suricata counted only the packet with payload. The event queue aside.
    "test-dsize-values": (
        EngineConfig(detect=UNBOUNDED),
        Counter({1: 1, 2: 4, 3: 5, 4: 1, 5: 1, 6: 1, 7: 5}),
    ),
    # byte_jump's byte count must be a number in Snort 3 (ips_byte_jump.cc, 1:10), not a
    # variable as Suricata 7 allows: the rule is rejected.
    "detect-bytejump-02": (EngineConfig(verify_checksums=False), Counter()),
    # One packet of a stream picked up mid-way: Suricata inspects it as a packet and again as
    # stream data (sids 4 and 5 twice); Snort once, logging three of its four matches.
    "detect-bytetest-02": (EngineConfig(), Counter({2: 1, 4: 1, 5: 1})),
    # Sid 1 reads the URI (pcre flag U, http_uri as snort2lua converts it) and packet data: Snort
    # evaluates such a rule on message bodies only (pkt_data is filed in the body section,
    # ips_pkt_data.cc), and these pipelined requests have none. Suricata matched the URI and the
    # stream in one transaction.
    "detect-pcre-03": (EngineConfig(), Counter({2: 1})),
}


def as_named(test: Path) -> EngineConfig:
    """The configuration the test's own options ask for."""
    notes = json.loads((test / "expected.json").read_text()).get("notes", "")
    return EngineConfig(verify_checksums="-k none" not in notes)


def alert_counts(test: Path, config: EngineConfig) -> Counter[int]:
    index = RuleIndex(load_ruleset([str(test / "test.rules")]))
    return Counter(e["alert"]["signature_id"] for e in alerts_of(test / "input.pcap", index, config))


def as_expected(test: Path, counts: Counter[int]) -> bool:
    expected = json.loads((test / "expected.json").read_text())
    total = expected.get("total_alerts")
    return all(counts[alert["sid"]] == alert["count"] for alert in expected["alerts"]) and (
        total is None or counts.total() == total
    )


@pytest.mark.parametrize("test", TESTS, ids=lambda test: test.name)
def test_alert_counts_are_suricatas(test: Path) -> None:
    suricata = AS_SURICATA.get(test.name)
    snort = test.name in AS_SURICATA or test.name in SNORT_COUNTS
    assert as_expected(test, alert_counts(test, as_named(test))) != snort
    if suricata is not None:
        assert as_expected(test, alert_counts(test, suricata))


def test_snorts_default_checksum_check_hides_an_offloaded_request() -> None:
    """alert-distance-within-1 names ``-k none``: its request segment has a wrong TCP checksum (an
    offloaded capture). Snort verifies checksums by default (``network.checksum_eval`` is
    ``all``, main/network_module.cc), so the request is not inspected and only the response
    body, which quotes the URI, alerts."""
    test = CORPUS / "sigs" / "alert-distance-within-1"
    assert alert_counts(test, EngineConfig()) == Counter({2: 1})
    assert alert_counts(test, as_named(test)) == Counter({2: 2})


def test_snorts_queue_logs_three_events_of_a_packet_longest_pattern_first() -> None:
    """detect-flowbits: six rules without content alert on the one packet for Suricata; Snort
    keeps the first five that match and logs three, the higher sids first."""
    test = CORPUS / "sigs" / "detect-flowbits"
    assert alert_counts(test, EngineConfig()) == Counter({9: 1, 7: 1, 5: 1})
    assert alert_counts(test, EngineConfig(detect=UNBOUNDED)) == Counter(
        {1: 1, 2: 1, 5: 1, 7: 1, 9: 1, 12: 1}
    )


@pytest.mark.parametrize("name", SNORT_COUNTS)
def test_counts_are_snorts_where_its_semantics_differ(name: str) -> None:
    config, counts = SNORT_COUNTS[name]
    assert alert_counts(CORPUS / "sigs" / name, config) == counts
