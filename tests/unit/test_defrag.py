"""IP fragment reassembly: exact outputs, overlap policy, bounds and counters."""

from __future__ import annotations

import random

import pytest

from fathom.decode.defrag import Defragmenter

V4 = (4, b"\x0a\x00\x00\x01", b"\x0a\x00\x00\x02", 0x1234, 17)
V6 = (6, bytes(15) + b"\x01", bytes(15) + b"\x02", 0x1234, 17)

_STAT_NAMES = ("fragments", "reassembled", "timeouts", "evicted", "overlaps", "too_large", "invalid")


def stats(**counts: int) -> dict[str, int]:
    expected = dict.fromkeys(_STAT_NAMES, 0)
    expected.update(counts)
    return expected


def key(n: int) -> tuple[object, ...]:
    return (4, b"\x0a\x00\x00\x01", b"\x0a\x00\x00\x02", n, 6)


def test_stats_start_at_zero() -> None:
    d = Defragmenter()
    assert d.stats == stats()
    assert d.memuse == 0
    assert len(d) == 0


def test_in_order() -> None:
    d = Defragmenter()
    assert d.add(V4, 0, True, b"A" * 8, 1.0) is None
    assert d.memuse == 8
    assert d.add(V4, 8, True, b"B" * 8, 1.0) is None
    assert d.memuse == 16
    out = d.add(V4, 16, False, b"CCCC", 1.0)
    assert out == b"AAAAAAAABBBBBBBBCCCC"
    assert type(out) is bytes
    assert d.memuse == 0
    assert len(d) == 0
    assert d.stats == stats(fragments=3, reassembled=1)


def test_out_of_order() -> None:
    d = Defragmenter()
    assert d.add(V4, 16, False, b"CCCC", 1.0) is None
    assert d.add(V4, 0, True, b"A" * 8, 1.1) is None
    assert d.add(V4, 8, True, b"B" * 8, 1.2) == b"AAAAAAAABBBBBBBBCCCC"
    assert d.stats == stats(fragments=3, reassembled=1)


def test_single_fragment_datagram() -> None:
    d = Defragmenter()
    assert d.add(V4, 0, False, b"whole", 1.0) == b"whole"
    assert d.stats == stats(fragments=1, reassembled=1)


def test_duplicate_is_harmless() -> None:
    d = Defragmenter()
    assert d.add(V4, 0, True, b"A" * 8, 1.0) is None
    assert d.add(V4, 0, True, b"A" * 8, 1.0) is None
    assert d.memuse == 8
    assert d.add(V4, 16, False, b"CCCC", 1.0) is None
    assert d.add(V4, 16, False, b"CCCC", 1.0) is None
    assert d.add(V4, 8, True, b"B" * 8, 1.0) == b"AAAAAAAABBBBBBBBCCCC"
    assert d.stats == stats(fragments=5, reassembled=1)


def test_duplicate_spanning_held_pieces() -> None:
    # A retransmit re-cut differently but carrying identical bytes is still just a duplicate.
    d = Defragmenter()
    d.add(V4, 0, True, b"A" * 8, 1.0)
    d.add(V4, 8, True, b"B" * 8, 1.0)
    assert d.add(V4, 0, True, b"A" * 8 + b"B" * 8, 1.0) is None
    assert d.stats["overlaps"] == 0
    assert d.memuse == 16


def test_overlap_first_wins_tail() -> None:
    d = Defragmenter()
    assert d.add(V4, 0, True, b"AAAAAAAABBBBBBBB", 1.0) is None
    # Bytes 8..15 are already held: the old "B"s win, only the new tail is taken.
    assert d.add(V4, 8, False, b"XXXXXXXXCCCCCCCC", 1.0) == b"AAAAAAAABBBBBBBBCCCCCCCC"
    assert d.stats == stats(fragments=2, reassembled=1, overlaps=1)


def test_overlap_first_wins_fills_only_the_hole() -> None:
    d = Defragmenter()
    assert d.add(V4, 0, True, b"A" * 8, 1.0) is None
    assert d.add(V4, 16, False, b"C" * 8, 1.0) is None
    assert d.add(V4, 0, True, b"Z" * 24, 1.0) == b"A" * 8 + b"Z" * 8 + b"C" * 8
    assert d.stats == stats(fragments=3, reassembled=1, overlaps=1)


def test_overlap_first_wins_head() -> None:
    d = Defragmenter()
    assert d.add(V4, 8, False, b"BBBBBBBB", 1.0) is None
    assert d.add(V4, 0, True, b"AAAAAAAAYYYYYYYY", 1.0) == b"AAAAAAAABBBBBBBB"
    assert d.stats == stats(fragments=2, reassembled=1, overlaps=1)


def test_overlap_fully_covered_different_bytes() -> None:
    d = Defragmenter()
    d.add(V4, 0, True, b"A" * 8, 1.0)
    d.add(V4, 8, True, b"B" * 8, 1.0)
    # Same range, different content: counted, ignored.
    assert d.add(V4, 4, True, b"Q" * 8, 1.0) is None
    assert d.add(V4, 0, True, b"A" * 7 + b"!", 1.0) is None
    assert d.memuse == 16
    assert d.add(V4, 16, False, b"C", 1.0) == b"A" * 8 + b"B" * 8 + b"C"
    assert d.stats == stats(fragments=5, reassembled=1, overlaps=2)


def test_missing_middle_never_completes() -> None:
    d = Defragmenter()
    assert d.add(V4, 0, True, b"A" * 8, 1.0) is None
    assert d.add(V4, 16, False, b"C" * 8, 1.0) is None
    for _ in range(3):
        assert d.add(V4, 0, True, b"A" * 8, 2.0) is None
        assert d.add(V4, 16, False, b"C" * 8, 2.0) is None
    assert len(d) == 1
    assert d.memuse == 16
    assert d.stats == stats(fragments=8)
    assert d.expire(100.0) == 1
    assert len(d) == 0
    assert d.memuse == 0
    assert d.stats == stats(fragments=8, timeouts=1)


def test_expire_bulk() -> None:
    d = Defragmenter(timeout=60.0)
    d.add(key(1), 0, True, b"A" * 8, 0.0)
    d.add(key(2), 0, True, b"B" * 8, 30.0)
    d.add(key(3), 0, True, b"C" * 8, 30.0)
    # Exactly `timeout` old is not yet older than the timeout.
    assert d.expire(60.0) == 0
    assert d.expire(60.5) == 1
    assert len(d) == 2
    assert d.memuse == 16
    assert d.expire(90.5) == 2
    assert d.expire(1000.0) == 0
    assert d.memuse == 0
    assert d.stats == stats(fragments=3, timeouts=3)


def test_timeout_lazily_in_add_for_same_key() -> None:
    d = Defragmenter(timeout=60.0)
    assert d.add(V4, 0, True, b"A" * 8, 0.0) is None
    # The stale tracker is discarded; this fragment starts a fresh one.
    assert d.add(V4, 8, False, b"B" * 8, 61.0) is None
    assert d.stats == stats(fragments=2, timeouts=1)
    assert d.memuse == 8
    assert d.add(V4, 0, True, b"a" * 8, 61.5) == b"a" * 8 + b"B" * 8
    assert d.stats == stats(fragments=3, timeouts=1, reassembled=1)


def test_timeout_lazily_in_add_for_other_keys() -> None:
    d = Defragmenter(timeout=60.0)
    d.add(key(1), 0, True, b"A" * 8, 0.0)
    d.add(key(2), 0, True, b"B" * 8, 50.0)
    d.add(key(3), 0, True, b"C" * 8, 100.0)
    # key(1) is stale and swept; key(2) is 50 s old and kept.
    assert len(d) == 2
    assert d.memuse == 16
    assert d.stats == stats(fragments=3, timeouts=1)
    assert d.add(key(2), 8, False, b"b", 100.0) == b"B" * 8 + b"b"


def test_tracker_cap_evicts_oldest() -> None:
    d = Defragmenter(max_trackers=2)
    assert d.add(key(1), 0, True, b"1" * 8, 1.0) is None
    assert d.add(key(2), 0, True, b"2" * 8, 2.0) is None
    assert d.add(key(3), 0, True, b"3" * 8, 3.0) is None
    assert len(d) == 2
    assert d.memuse == 16
    assert d.stats == stats(fragments=3, evicted=1)
    assert d.add(key(2), 8, False, b"x", 4.0) == b"2" * 8 + b"x"
    assert d.add(key(3), 8, False, b"y", 4.0) == b"3" * 8 + b"y"
    # key(1)'s head was evicted: its tail alone starts a new, incomplete tracker.
    assert d.add(key(1), 8, False, b"z", 4.0) is None
    assert d.stats == stats(fragments=6, evicted=1, reassembled=2)


def test_tracker_cap_order_is_first_fragment_order() -> None:
    d = Defragmenter(max_trackers=2)
    d.add(key(1), 0, True, b"1" * 8, 1.0)
    d.add(key(2), 0, True, b"2" * 8, 2.0)
    # More data for key(1) does not make it younger.
    d.add(key(1), 8, True, b"1" * 8, 3.0)
    d.add(key(3), 0, True, b"3" * 8, 4.0)
    assert d.memuse == 16
    assert d.add(key(2), 8, False, b"!", 5.0) == b"2" * 8 + b"!"
    assert d.stats == stats(fragments=5, evicted=1, reassembled=1)


def test_memcap_evicts_oldest() -> None:
    d = Defragmenter(memcap=32)
    d.add(key(1), 0, True, b"1" * 16, 1.0)
    d.add(key(2), 0, True, b"2" * 16, 2.0)
    assert d.memuse == 32
    assert d.stats["evicted"] == 0
    d.add(key(3), 0, True, b"3" * 8, 3.0)
    assert d.memuse == 24
    assert len(d) == 2
    assert d.stats == stats(fragments=3, evicted=1)
    assert d.add(key(2), 16, False, b"x", 4.0) == b"2" * 16 + b"x"
    assert d.memuse == 8


def test_memcap_new_data_on_existing_tracker_evicts_others() -> None:
    d = Defragmenter(memcap=32)
    d.add(key(1), 0, True, b"1" * 16, 1.0)
    d.add(key(2), 0, True, b"2" * 16, 2.0)
    assert d.add(key(2), 16, False, b"x" * 8, 3.0) == b"2" * 16 + b"x" * 8
    assert d.memuse == 0
    assert len(d) == 0
    assert d.stats == stats(fragments=3, evicted=1, reassembled=1)


def test_memcap_fragment_larger_than_cap() -> None:
    d = Defragmenter(memcap=32)
    d.add(key(1), 0, True, b"1" * 16, 1.0)
    d.add(key(2), 0, True, b"2" * 8, 2.0)
    # Cannot fit even alone: everything, its own tracker included, goes.
    assert d.add(key(3), 0, True, b"3" * 40, 3.0) is None
    assert d.memuse == 0
    assert len(d) == 0
    assert d.stats == stats(fragments=3, evicted=3)


def test_too_large() -> None:
    d = Defragmenter()
    # Classic ping of death: last fragment at the highest offset reaching past 65535.
    assert d.add(V4, 65528, False, b"P" * 8, 1.0) is None
    assert len(d) == 0
    assert d.stats == stats(fragments=1, too_large=1)


def test_too_large_drops_existing_tracker() -> None:
    d = Defragmenter(max_datagram=100)
    d.add(V4, 0, True, b"A" * 40, 1.0)
    assert d.add(V4, 40, True, b"B" * 60, 1.0) is None  # ends exactly at 100: allowed
    assert d.memuse == 100
    assert d.add(V4, 96, False, b"C" * 8, 1.0) is None
    assert len(d) == 0
    assert d.memuse == 0
    assert d.stats == stats(fragments=3, too_large=1)


def test_ipv6_key_separate_from_ipv4() -> None:
    d = Defragmenter()
    v4 = (4, b"\x01\x02\x03\x04", b"\x05\x06\x07\x08", 7, 17)
    v6 = (6, b"\x01\x02\x03\x04", b"\x05\x06\x07\x08", 7, 17)
    assert d.add(v4, 0, True, b"4" * 8, 1.0) is None
    assert d.add(v6, 0, True, b"6" * 8, 1.0) is None
    assert d.add(V6, 0, True, b"x" * 8, 1.0) is None
    assert len(d) == 3
    assert d.add(v4, 8, False, b"four", 1.0) == b"4" * 8 + b"four"
    assert d.add(v6, 8, False, b"six", 1.0) == b"6" * 8 + b"six"
    assert d.add(V6, 8, False, b"y", 1.0) == b"x" * 8 + b"y"
    assert d.stats == stats(fragments=6, reassembled=3)


def test_negative_offset_invalid() -> None:
    d = Defragmenter()
    d.add(V4, 0, True, b"A" * 8, 1.0)
    assert d.add(V4, -8, True, b"B" * 8, 1.0) is None
    assert d.add(key(9), -1, False, b"B", 1.0) is None
    # Malformed on its own: the datagram in progress is left alone.
    assert len(d) == 1
    assert d.stats == stats(fragments=3, invalid=2)
    assert d.add(V4, 8, False, b"C", 1.0) == b"A" * 8 + b"C"


def test_empty_non_final_fragment_invalid() -> None:
    d = Defragmenter()
    assert d.add(V4, 8, True, b"", 1.0) is None
    assert len(d) == 0
    assert d.stats == stats(fragments=1, invalid=1)


def test_conflicting_last_fragments_invalid() -> None:
    d = Defragmenter()
    d.add(V4, 0, True, b"A" * 8, 1.0)
    d.add(V4, 16, False, b"C" * 8, 1.0)
    assert d.add(V4, 16, False, b"C" * 4, 1.0) is None
    assert len(d) == 0
    assert d.memuse == 0
    assert d.stats == stats(fragments=3, invalid=1)


def test_fragment_beyond_known_end_invalid() -> None:
    d = Defragmenter()
    d.add(V4, 16, False, b"C" * 8, 1.0)
    assert d.add(V4, 24, True, b"D" * 8, 1.0) is None
    assert len(d) == 0
    assert d.memuse == 0
    assert d.stats == stats(fragments=2, invalid=1)


def test_last_fragment_before_held_data_invalid() -> None:
    d = Defragmenter()
    d.add(V4, 16, True, b"C" * 8, 1.0)
    assert d.add(V4, 0, False, b"A" * 8, 1.0) is None
    assert len(d) == 0
    assert d.stats == stats(fragments=2, invalid=1)


def test_payload_is_copied() -> None:
    d = Defragmenter()
    buf = bytearray(b"A" * 8 + b"B" * 8)
    d.add(V4, 0, True, memoryview(buf)[:8], 1.0)
    buf[:8] = b"X" * 8
    d.add(V4, 8, True, memoryview(buf)[8:], 1.0)
    buf[8:] = b"Y" * 8
    assert d.add(V4, 16, False, memoryview(b"C"), 1.0) == b"A" * 8 + b"B" * 8 + b"C"


def test_rejects_bad_limits() -> None:
    with pytest.raises(ValueError):
        Defragmenter(max_trackers=0)
    with pytest.raises(ValueError):
        Defragmenter(memcap=0)
    with pytest.raises(ValueError):
        Defragmenter(max_datagram=0)
    with pytest.raises(ValueError):
        Defragmenter(timeout=-1.0)


def test_random_input_never_raises_and_stays_bounded() -> None:
    rng = random.Random(20240611)
    d = Defragmenter(max_trackers=8, timeout=5.0, memcap=4000, max_datagram=2000)
    calls = 0
    completed = 0
    for step in range(20000):
        k = key(rng.randrange(12))
        offset = rng.choice((rng.randrange(-16, 2100), rng.randrange(0, 2000, 8), 2**62, -(2**62)))
        payload = rng.randbytes(rng.choice((0, 1, 8, 16, rng.randrange(0, 600))))
        out = d.add(k, offset, rng.random() < 0.7, payload, step * 0.01)
        calls += 1
        if out is not None:
            completed += 1
            assert type(out) is bytes
            assert len(out) <= 2000
        if step % 997 == 0:
            d.expire(step * 0.01)
        assert len(d) <= 8
        assert 0 <= d.memuse <= 4000
    assert d.stats["fragments"] == calls
    assert d.stats["reassembled"] == completed
    assert set(d.stats) == set(_STAT_NAMES)
