"""Reassembly on real captures: retransmissions, gaps and evasion-style segmentation."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP
from scapy.utils import rdpcap, wrpcap

from fathom.config import EngineConfig, StreamConfig
from tests.corpus.conftest import CORPUS
from tests.corpus.helpers import analyze

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


@pytest.mark.parametrize(
    ("capture", "counters"),
    [
        # 56 holes totalling 513,804 bytes: the sum of the unseen sequence ranges in the capture.
        ("appid/bittorrent.pcap", {"gaps": 56, "gap_bytes": 513804, "retransmissions": 0, "overlaps": 0}),
        ("appid/kerberos.pcap", {"gaps": 2, "gap_bytes": 3549, "retransmissions": 0, "overlaps": 0}),
        ("appid/dnp3.pcapng", {"gaps": 0, "gap_bytes": 0, "retransmissions": 190, "overlaps": 0}),
        ("appid/whatsapp_login_chat.pcap", {"gaps": 0, "gap_bytes": 0, "retransmissions": 8, "overlaps": 0}),
        ("appid/telnet.pcap", {"gaps": 0, "gap_bytes": 0, "retransmissions": 1, "overlaps": 0}),
        ("sigs/alert-no-3whs-established/input.pcap", {"gaps": 0, "retransmissions": 1, "overlaps": 0}),
    ],
)
def test_real_captures_retransmissions_and_gaps(capture: str, counters: dict[str, int]) -> None:
    engine, _, _, _ = analyze(CORPUS / capture)
    stats = engine.flows.stream_stats.as_dict()
    assert {k: stats[k] for k in counters} == counters
    assert stats["memuse"] == 0


_HOST = b" HTTP/1.1\r\nHost: evader.example.com\r\n\r\n"
EVADER_REQUESTS = {
    "http-evader-000": b"GET /chunked/eicar.txt/chunked" + _HOST,
    "http-evader-001": b"GET /chunked/eicar.txt/clen" + _HOST,
    "http-evader-104": b"GET /compressed/eicar.txt/ce%3Agzip;gzip" + _HOST,
}
EVADER_RESPONSE_LENGTHS = {"http-evader-000": 304, "http-evader-001": 202, "http-evader-104": 245}


@pytest.mark.parametrize("test", sorted(EVADER_REQUESTS))
def test_http_evader_streams(test: str) -> None:
    engine, consumer, sink, _ = analyze(CORPUS / "sigs" / test / "input.pcap")
    (event,) = sink.events
    assert event["dest_port"] == 80
    assert consumer.stream(1, True) == EVADER_REQUESTS[test]
    response = consumer.stream(1, False)
    assert response.startswith(b"HTTP/1.1 200 ok\r\n")
    assert len(response) == EVADER_RESPONSE_LENGTHS[test]
    assert engine.flows.stream_stats.gaps == 0


def test_identity_response_body_is_whole() -> None:
    _, consumer, _, _ = analyze(CORPUS / "sigs" / "http-evader-001" / "input.pcap")
    body = consumer.stream(1, False).split(b"\r\n\r\n", 1)[1]
    assert body == rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


def _resegment(packets: list[object], rng: random.Random, conflicting: bool) -> list[object]:
    """Split every data segment into small pieces, shuffle them within a window, repeat some,
    and add overlapping retransmissions (with different bytes when ``conflicting``)."""
    out: list[object] = []
    for pkt in packets:
        if TCP not in pkt or not bytes(pkt[TCP].payload):  # type: ignore[operator,index]
            out.append(pkt)
            continue
        data = bytes(pkt[TCP].payload)  # type: ignore[index]
        pieces = []
        pos = 0
        while pos < len(data):
            size = rng.randint(1, 200)
            piece = pkt.copy()  # type: ignore[attr-defined]
            piece[TCP].remove_payload()
            piece[TCP].seq = (pkt[TCP].seq + pos) & 0xFFFFFFFF  # type: ignore[index]
            del piece[IP].len, piece[IP].chksum, piece[TCP].chksum
            pieces.append(piece / data[pos : pos + size])
            pos += size
        rng.shuffle(pieces)
        for piece in pieces:
            out.append(piece)
            if rng.random() < 0.2:
                out.append(piece)  # exact retransmission
            if rng.random() < 0.2:
                overlap = piece.copy()
                payload = bytes(piece[TCP].payload)
                overlap[TCP].remove_payload()
                del overlap[IP].len, overlap[IP].chksum, overlap[TCP].chksum
                out.append(overlap / (b"Z" * len(payload) if conflicting else payload))
    return out


@pytest.mark.parametrize("conflicting", [False, True], ids=["same-bytes", "conflicting-bytes"])
def test_resegmented_real_traffic_reassembles_to_the_original(tmp_path: Path, conflicting: bool) -> None:
    original = SAMPLES / "demo.pcap"
    _, want, _, _ = analyze(original)
    mutated = tmp_path / "mutated.pcap"
    wrpcap(str(mutated), _resegment(list(rdpcap(str(original))), random.Random(7), conflicting))
    config = EngineConfig(stream=StreamConfig(overlap_policy="first"))
    engine, got, _, _ = analyze(mutated, config)
    streams = {key: want.stream(*key) for key in want.events}
    assert len(streams) == 6 and all(streams.values())
    assert {key: got.stream(*key) for key in got.events} == streams
    stats = engine.flows.stream_stats
    assert stats.gaps == 0
    assert stats.retransmissions + stats.overlaps > 0
    assert (stats.overlap_different > 0) == conflicting
