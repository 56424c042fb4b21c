"""The protocol-log seam: the app layer feeds a named flow's data to the parser registered for its
service (the bytes the wizard searched first included), writes what it returns as EVE events from
the packet that brought the bytes, counts why a parser stopped, and chooses the logs by profile."""

from __future__ import annotations

from typing import Any

import pytest

from fathom.apps.layer import AppLayer
from fathom.apps.logs.base import LogBody, LogParser
from fathom.apps.logs.registry import PARSERS
from fathom.config import AppConfig, ConfigError, EngineConfig, FlowScopeConfig, ProfileConfig, parse_config
from fathom.engine import Engine
from fathom.host import LayerHost
from tests.traffic import CLIENT, SERVER, ListSink, TcpConversation, feed, udp
from tests.unit.test_app_identify import DNS_QUERY

QUERY = DNS_QUERY.decode("latin-1")


class ToyLog(LogParser):
    """One event per feed; ``bye`` ends its work, ``long`` fails it, ``boom`` is a bug."""

    __slots__ = ("feeds",)
    event_type = "toy"

    def __init__(self) -> None:
        super().__init__()
        self.feeds = 0

    def feed(self, to_server: bool, data: bytes) -> list[LogBody]:
        if data == b"boom":
            raise ValueError("a bug")
        if data == b"long":
            return self.fail("too_long")
        self.feeds += 1
        self.done = data.endswith(b"bye")
        return [{"toy": {"to_server": to_server, "data": data.decode("latin-1"), "stream": self.stream}}]

    def gap(self, to_server: bool, length: int) -> list[LogBody]:
        return [{"toy": {"gap": length}}]

    def end(self) -> list[LogBody]:
        return [{"toy": {"end": self.feeds}}]


@pytest.fixture(autouse=True)
def toy_parsers(monkeypatch: pytest.MonkeyPatch) -> None:
    for service in ("ssh", "dns"):
        monkeypatch.setitem(PARSERS, service, ToyLog)


Packets = list[tuple[float, Any]]


def run(
    packets: Packets, config: EngineConfig | None = None, event_type: str = "toy"
) -> tuple[Engine, list[dict[str, Any]]]:
    made: list[AppLayer] = []

    def build(host: LayerHost) -> AppLayer:
        made.append(AppLayer(host))
        return made[-1]

    engine = Engine(config, [build])
    sink = ListSink()
    engine.add_sink(sink)
    feed(engine, packets)
    engine.finish()
    return engine, [e for e in sink.events if e["event_type"] == event_type]


def test_a_named_flows_bytes_reach_its_parser_and_its_events_come_from_their_packets() -> None:
    conv = TcpConversation(dport=22).handshake().server_sends(b"SSH-2.0-server\r\n")
    conv.client_sends(b"SSH-2.0-client\r\n").server_sends(b"more").client_sends(b"bye")
    conv.server_sends(b"unread").close()
    engine, events = run(conv.packets)
    assert [(e["toy"], e["src_ip"], e["pcap_cnt"]) for e in events] == [
        ({"to_server": False, "data": "SSH-2.0-server\r\n", "stream": True}, SERVER, 4),
        ({"to_server": True, "data": "SSH-2.0-client\r\n", "stream": True}, CLIENT, 5),
        ({"to_server": False, "data": "more", "stream": True}, SERVER, 6),
        ({"to_server": True, "data": "bye", "stream": True}, CLIENT, 7),
    ]
    # Done, and nothing else reads the flow: its later bytes are no longer reassembled.
    assert engine.flows.stream_stats.delivered_bytes == 16 + 16 + 4 + 3


def test_the_bytes_the_wizard_searched_before_naming_the_flow_are_replayed_in_order() -> None:
    conv = TcpConversation(dport=2222).handshake().client_sends(b"SS").server_sends(b"hello")
    conv.client_sends(b"H-2.0-client\r\n").close()
    _, events = run(conv.packets)
    assert [(e["toy"].get("data"), e["toy"].get("to_server")) for e in events] == [
        ("hello", False),
        ("SS", True),
        ("H-2.0-client\r\n", True),
        (None, None),  # the end event: three feeds
    ]
    assert events[-1]["toy"] == {"end": 3}


def test_every_datagram_of_a_named_udp_flow_is_fed_including_the_first() -> None:
    packets = [udp(1.0 + i, CLIENT, SERVER, 5000, 53, data) for i, data in enumerate((DNS_QUERY, b"q2"))]
    packets.append(udp(3.0, SERVER, CLIENT, 53, 5000, b"a1"))
    _, events = run(packets)
    assert [(e["toy"], e["src_ip"]) for e in events] == [
        ({"to_server": True, "data": QUERY, "stream": False}, CLIENT),
        ({"to_server": True, "data": "q2", "stream": False}, CLIENT),
        ({"to_server": False, "data": "a1", "stream": False}, SERVER),
        ({"end": 3}, CLIENT),
    ]
    # The end event is written at the flow's last packet.
    assert events[-1]["timestamp"] == events[-2]["timestamp"]


def test_a_parser_that_fails_or_raises_stops_for_its_flow_only_and_is_counted_once() -> None:
    def flow(sport: int, *later: bytes) -> Packets:
        datagrams = (DNS_QUERY, *later)
        return [udp(sport + i / 10, CLIENT, SERVER, sport, 53, data) for i, data in enumerate(datagrams)]

    engine, events = run([*flow(5000, b"long", b"q"), *flow(5001, b"boom", b"q"), *flow(5002)])
    counters = engine.counters()
    assert (counters["app.toy.too_long"], counters["app.toy.internal_error"]) == (1, 1)
    # Each flow's first datagram was logged; the two that stopped were given nothing more.
    assert [(e["src_port"], e["toy"].get("end")) for e in events] == [
        (5000, None), (5001, None), (5002, None), (5002, 1),
    ]  # fmt: skip


def test_a_lost_stream_segment_is_a_gap_to_the_parser() -> None:
    conv = TcpConversation(dport=22).handshake().client_sends(b"SSH-2.0-c\r\n")
    conv.cseq += 100  # a segment that never comes
    conv.client_sends(b"later").close()
    _, events = run(conv.packets)
    assert {"gap": 100} in [e["toy"] for e in events]


def profiled(applications: tuple[str, ...], *scopes: tuple[str, str]) -> EngineConfig:
    profile = ProfileConfig(name="p", applications=applications)
    flows = tuple(FlowScopeConfig(sourceNetwork=s, destinationNetwork=d, profile="p") for s, d in scopes)
    return EngineConfig(app=AppConfig(profiles=(profile,), flows=flows))


def dns_from(client: str) -> tuple[float, Any]:
    return udp(1.0, client, SERVER, 5000, 53, DNS_QUERY)


def test_profiles_choose_the_logs_and_scopes_choose_the_flows() -> None:
    packets = [dns_from(CLIENT), dns_from("10.9.9.9")]
    assert len(run(packets, profiled(("tls",)))[1]) == 0
    assert len(run(packets, profiled(("dns",)))[1]) == 4
    _, events = run(packets, profiled(("dns",), ("10.0.0.0/24", f"{SERVER}/32")))
    assert {e["src_ip"] for e in events} == {CLIENT}


def test_profiles_and_scopes_are_checked_when_the_config_is_read() -> None:
    good = {"profiles": [{"name": "p", "applications": ["dns"]}], "flows": [scope := {
        "sourceNetwork": "10.0.0.0/8", "destinationNetwork": "::/0", "profile": "p"}]}  # fmt: skip
    config = parse_config(good, "host.yaml")
    assert config.engine.app.profiles == (ProfileConfig(name="p", applications=("dns",)),)
    assert config.engine.app.flows[0].destinationNetwork == "::/0"
    with pytest.raises(ConfigError, match=r"^host.yaml: flows.0.profile: no profile named 'q'$"):
        parse_config({**good, "flows": [{**scope, "profile": "q"}]}, "host.yaml")
    with pytest.raises(ConfigError, match=r"^host.yaml: flows.0.sourceNetwork: .*10.0.0.300"):
        parse_config({**good, "flows": [{**scope, "sourceNetwork": "10.0.0.300/8"}]}, "host.yaml")


class NumberedClientLog(ToyLog):
    """As Suricata writes ftp and smtp: every event from the client, numbered."""

    __slots__ = ()
    event_type = "numbered"
    client_side = True
    numbered = True


def test_client_side_logs_come_from_the_client_and_numbered_ones_carry_tx_ids(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(PARSERS, "ssh", NumberedClientLog)
    conv = TcpConversation(dport=22).handshake().server_sends(b"SSH-2.0-server\r\n")
    conv.client_sends(b"SSH-2.0-client\r\n").close()
    _, events = run(conv.packets, event_type="numbered")
    assert [(e["tx_id"], e["src_ip"], e["toy"].get("to_server")) for e in events] == [
        (0, CLIENT, False),
        (1, CLIENT, True),
        (2, CLIENT, None),
    ]
