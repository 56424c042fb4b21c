"""The rule cache: a warm start gives the same detection as a cold one, and a changed, damaged or
unsafe cache is never trusted."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fathom.engine import Engine
from fathom.rules.cache import load_index
from fathom.rules.detect import detection
from fathom.rules.index import RuleIndex
from tests.traffic import ListSink, TcpConversation, feed, udp

# Options whose state is rebuilt after loading: a case-blind content, a pcre, header ranges
# (dsize), flowbits across rules, and a byte_test.
RULES = (
    'alert tcp any any -> any 9000 (msg:"set"; flow:to_server; content:"LOGIN",nocase; '
    "flowbits:set,logged; flowbits:noalert; sid:1;)\n"
    'alert tcp any 9000 -> any any (msg:"after login"; flowbits:isset,logged; '
    'pcre:"/^ok\\s+\\d+/i"; sid:2;)\n'
    'alert udp any any -> any 53 (msg:"small dns"; dsize:<20; byte_test:1,>,9,2; sid:3;)\n'
)


def alerts(index: RuleIndex) -> list[tuple[int, int]]:
    engine = Engine(layers=[detection(index)])
    sink = ListSink()
    engine.add_sink(sink)
    conv = TcpConversation(dport=9000).handshake().client_sends(b"login bob\r\n").server_sends(b"OK  42\r\n")
    feed(engine, [*conv.packets, udp(9.0, "10.0.0.1", "10.0.0.2", 5353, 53, b"\x00\x01\x0a")])
    engine.finish()
    return [(e["alert"]["signature_id"], e["pcap_cnt"]) for e in sink.events if e["event_type"] == "alert"]


def rules_file(tmp_path: Path, text: str = RULES) -> str:
    path = tmp_path / "local.rules"
    path.write_text(text)
    return str(path)


def test_a_warm_start_detects_as_a_cold_one(tmp_path: Path) -> None:
    rules, cache, notes = rules_file(tmp_path), tmp_path / "cache", list[str]()
    cold, cached = load_index([rules], cache_dir=cache, note=notes.append)
    assert not cached
    warm, cached = load_index([rules], cache_dir=cache, note=notes.append)
    assert cached and warm is not cold
    assert alerts(cold) == alerts(warm) == [(2, 5), (3, 6)]
    assert [r.body.sid for r in warm.ruleset.rules] == [1, 2, 3]
    assert notes == []
    # One entry, readable by its owner only.
    (entry,) = cache.iterdir()
    assert entry.stat().st_mode & 0o077 == 0 and cache.stat().st_mode & 0o777 == 0o700


def test_a_changed_rule_or_variable_is_a_new_entry(tmp_path: Path) -> None:
    rules, cache = rules_file(tmp_path), tmp_path / "cache"
    load_index([rules], cache_dir=cache)
    rules_file(tmp_path, RULES.replace("dsize:<20", "dsize:<2"))
    index, cached = load_index([rules], cache_dir=cache)
    assert not cached
    assert alerts(index) == [(2, 5)]
    index, cached = load_index([rules], {"HOME_NET": "10.0.0.0/8"}, cache_dir=cache)
    assert not cached
    assert len(list(cache.iterdir())) == 3


@pytest.mark.parametrize("damage", ["truncated", "flipped byte", "not an entry"])
def test_a_damaged_entry_is_reported_and_rebuilt(tmp_path: Path, damage: str) -> None:
    rules, cache, notes = rules_file(tmp_path), tmp_path / "cache", list[str]()
    load_index([rules], cache_dir=cache)
    (entry,) = cache.iterdir()
    data = bytearray(entry.read_bytes())
    if damage == "truncated":
        del data[len(data) // 2 :]
    elif damage == "flipped byte":
        data[-100] ^= 0x40
    else:
        data = bytearray(b"hello\n")
    entry.write_bytes(data)
    index, cached = load_index([rules], cache_dir=cache, note=notes.append)
    assert not cached
    assert notes == [f"{entry}: rule cache entry is damaged, rebuilding"]
    assert alerts(index) == [(2, 5), (3, 6)]
    # The rebuilt entry replaced the damaged one.
    assert load_index([rules], cache_dir=cache)[1]


def test_a_directory_others_can_write_is_not_used(tmp_path: Path) -> None:
    rules, cache, notes = rules_file(tmp_path), tmp_path / "cache", list[str]()
    cache.mkdir(mode=0o777)
    os.chmod(cache, 0o777)
    index, cached = load_index([rules], cache_dir=cache, note=notes.append)
    assert not cached and list(cache.iterdir()) == []
    assert notes == [
        f"{cache}: rule cache not used: it must belong to this user and be writable by no one else"
    ]
    assert alerts(index) == [(2, 5), (3, 6)]


def test_a_cache_that_cannot_be_made_still_loads_the_rules(tmp_path: Path) -> None:
    rules, notes = rules_file(tmp_path), list[str]()
    blocker = tmp_path / "file"
    blocker.write_text("")
    index, cached = load_index([rules], cache_dir=blocker / "cache", note=notes.append)
    assert not cached and alerts(index) == [(2, 5), (3, 6)]
    assert notes == [f"{blocker / 'cache'}: rule cache not used: Not a directory"]


def test_only_the_newest_entries_are_kept(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    for sid in range(6):
        rules = rules_file(tmp_path, f"alert ip any any -> any any (sid:{sid + 10};)\n")
        load_index([rules], cache_dir=cache)
    assert len(list(cache.iterdir())) == 4
    # The newest is among them.
    assert load_index([rules], cache_dir=cache)[1]


def test_rules_that_cannot_be_stored_still_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An option that cannot be pickled costs the cache entry, not the run."""
    rules, cache, notes = rules_file(tmp_path), tmp_path / "cache", list[str]()
    monkeypatch.setattr(RuleIndex, "__getstate__", lambda self: {"unpicklable": lambda: None})
    index, cached = load_index([rules], cache_dir=cache, note=notes.append)
    assert not cached and alerts(index) == [(2, 5), (3, 6)]
    assert len(notes) == 1 and "rule cache entry not written: the rules cannot be stored" in notes[0]
    assert list(cache.iterdir()) == []
