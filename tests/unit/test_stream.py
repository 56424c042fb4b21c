"""TCP reassembly of one direction: order, retransmission, overlap policies, gaps, depth."""

from __future__ import annotations

import pytest

from fathom.flow.flow import Flow
from fathom.flow.stream import StreamDirection, StreamStats
from tests.recording import RecordingLayer

ISN = 1000


def make_stream(
    policy: str = "first", depth: int = 0, max_queued: int = 1 << 20, memcap: int = 1 << 20
) -> tuple[StreamDirection, RecordingLayer, StreamStats, Flow]:
    flow = Flow(7, b"\x0a\x00\x00\x01", b"\x0a\x00\x00\x02", 40000, 80, 6, 4, 0, 0, 0.0, 1, 0)
    consumer = RecordingLayer()
    stats = StreamStats(memcap)
    stream = StreamDirection(flow, True, consumer, stats, depth, max_queued, policy)
    flow.stream_ts = stream
    stream.start(ISN)
    return stream, consumer, stats, flow


def seg(stream: StreamDirection, offset: int, data: bytes) -> None:
    """Send ``data`` at stream ``offset`` (relative to the first byte)."""
    stream.segment(ISN + offset, data, 0, len(data))


def test_in_order_segments_are_delivered_immediately_and_uncopied() -> None:
    stream, consumer, stats, _ = make_stream()
    seg(stream, 0, b"GET / HTTP/1.1\r\n")
    seg(stream, 16, b"Host: a\r\n\r\n")
    assert consumer.events[(7, True)] == [("data", b"GET / HTTP/1.1\r\n"), ("data", b"Host: a\r\n\r\n")]
    assert stats.delivered_bytes == 27
    assert stream.queue == []
    assert stats.memuse == 0


def test_out_of_order_segments_wait_for_the_hole() -> None:
    stream, consumer, stats, _ = make_stream()
    seg(stream, 6, b"world")
    seg(stream, 11, b"!")
    assert (7, True) not in consumer.events
    assert stats.memuse == 6
    seg(stream, 0, b"hello ")
    assert consumer.stream(7, True) == b"hello world!"
    assert stats.memuse == 0
    assert stream.next_seq == ISN + 12


def test_retransmission_is_dropped_and_counted() -> None:
    stream, consumer, stats, _ = make_stream()
    seg(stream, 0, b"abcdef")
    seg(stream, 0, b"abcdef")
    seg(stream, 2, b"cd")
    assert consumer.stream(7, True) == b"abcdef"
    assert stats.retransmissions == 2


def test_partial_retransmission_delivers_only_new_tail() -> None:
    stream, consumer, stats, _ = make_stream()
    seg(stream, 0, b"abcd")
    seg(stream, 2, b"XXef")  # "XX" overlaps delivered "cd": the first bytes stand
    assert consumer.stream(7, True) == b"abcdef"
    assert stats.overlaps == 1


@pytest.mark.parametrize(("policy", "expected"), [("first", b"0123abcd89"), ("last", b"0123WXYZ89")])
def test_overlap_between_queued_segments_follows_policy(policy: str, expected: bytes) -> None:
    stream, consumer, stats, _ = make_stream(policy)
    seg(stream, 4, b"abcd")
    seg(stream, 4, b"WXYZ")
    seg(stream, 8, b"89")
    seg(stream, 0, b"0123")
    assert consumer.stream(7, True) == expected
    assert stats.overlaps == 1
    assert stats.overlap_different == 1
    assert stats.memuse == 0


def test_first_policy_fills_only_uncovered_parts() -> None:
    stream, consumer, _, _ = make_stream("first")
    seg(stream, 2, b"cd")
    seg(stream, 6, b"gh")
    seg(stream, 1, b"BCDEFGHI")  # covers both queued pieces and the holes around them
    seg(stream, 0, b"a")
    assert consumer.stream(7, True) == b"aBcdEFghI"


def test_last_policy_replaces_queued_bytes() -> None:
    stream, consumer, _, _ = make_stream("last")
    seg(stream, 2, b"cd")
    seg(stream, 6, b"gh")
    seg(stream, 1, b"BCDEFGHI")
    seg(stream, 0, b"a")
    assert consumer.stream(7, True) == b"aBCDEFGHI"


def test_ack_beyond_missing_data_declares_a_gap() -> None:
    stream, consumer, stats, _ = make_stream()
    seg(stream, 0, b"head")
    seg(stream, 10, b"tail")  # bytes 4..9 never captured
    stream.acked(ISN + 14)
    assert consumer.events[(7, True)] == [("data", b"head"), ("gap", 6), ("data", b"tail")]
    assert stats.gaps == 1
    assert stats.gap_bytes == 6
    assert stats.memuse == 0


def test_ack_within_delivered_data_is_not_a_gap() -> None:
    stream, consumer, stats, _ = make_stream()
    seg(stream, 0, b"abcd")
    stream.acked(ISN + 4)
    stream.acked(ISN + 2)
    assert stats.gaps == 0
    assert consumer.events[(7, True)] == [("data", b"abcd")]


def test_queue_limit_gives_up_on_the_hole() -> None:
    stream, consumer, stats, _ = make_stream(max_queued=8)
    seg(stream, 0, b"ab")
    seg(stream, 5, b"12345")
    seg(stream, 10, b"6789")  # 9 bytes queued > 8
    assert consumer.events[(7, True)] == [("data", b"ab"), ("gap", 3), ("data", b"12345"), ("data", b"6789")]
    assert stats.queue_limit_hits == 1


def test_memcap_drops_segment_and_counts() -> None:
    stream, consumer, stats, _ = make_stream(memcap=4)
    seg(stream, 10, b"toolong")
    assert stats.memcap_drops == 1
    assert stream.queue == []
    assert (7, True) not in consumer.events


def test_flush_delivers_across_remaining_holes() -> None:
    stream, consumer, stats, _ = make_stream()
    seg(stream, 0, b"a")
    seg(stream, 3, b"d")
    seg(stream, 6, b"g")
    stream.flush()
    assert consumer.events[(7, True)] == [
        ("data", b"a"),
        ("gap", 2),
        ("data", b"d"),
        ("gap", 2),
        ("data", b"g"),
    ]
    assert stats.memuse == 0


def test_depth_truncates_and_stops_each_direction() -> None:
    stream, consumer, stats, flow = make_stream(depth=5)
    other = StreamDirection(flow, False, consumer, stats, 5, 1 << 20, "first")
    flow.stream_tc = other
    other.start(5000)
    seg(stream, 0, b"abc")
    seg(stream, 3, b"defgh")
    assert consumer.stream(7, True) == b"abcde"
    assert stream.done
    assert not flow.bypassed
    other.segment(5000, b"0123456789", 0, 10)
    assert consumer.stream(7, False) == b"01234"
    assert other.done
    # Bypassing the flow is the TCP tracker's decision, not the stream's.
    assert not flow.bypassed
    assert stats.depth_reached == 2


def test_sequence_wraparound() -> None:
    flow = Flow(1, b"\x01" * 4, b"\x02" * 4, 1, 2, 6, 4, 0, 0, 0.0, 1, 0)
    consumer = RecordingLayer()
    stream = StreamDirection(flow, True, consumer, StreamStats(1 << 20), 0, 1 << 20, "first")
    stream.start(0xFFFFFFFE)
    stream.segment(0x00000001, b"de", 0, 2)  # past the wrap, out of order
    stream.segment(0xFFFFFFFE, b"abc", 0, 3)
    assert consumer.stream(1, True) == b"abcde"
    assert stream.next_seq == 3


def test_midstream_direction_starts_at_first_segment() -> None:
    flow = Flow(1, b"\x01" * 4, b"\x02" * 4, 1, 2, 6, 4, 0, 0, 0.0, 1, 0)
    consumer = RecordingLayer()
    stream = StreamDirection(flow, True, consumer, StreamStats(1 << 20), 0, 1 << 20, "first")
    stream.segment(123456, b"xyz", 0, 3)
    assert consumer.stream(1, True) == b"xyz"
    assert stream.next_seq == 123459
