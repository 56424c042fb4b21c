"""EVE dhcp events: one per DHCP message, with the fields of Suricata's extended DHCP logger, and
never an exception on what a datagram holds."""

from __future__ import annotations

import random
import struct
from pathlib import Path
from typing import Any

from scapy.layers.dhcp import BOOTP, DHCP

from fathom.apps.layer import AppLayer
from fathom.apps.logs.dhcp import DhcpLog
from fathom.apps.logs.registry import PARSERS
from fathom.capture.pcapfile import open_capture
from fathom.config import EngineConfig
from fathom.engine import Engine
from tests.traffic import ListSink

APPID = Path(__file__).resolve().parents[1] / "data" / "corpus" / "appid"
MAC = bytes.fromhex("0011321749f0")
MAGIC = b"\x63\x82\x53\x63"


def message(options: list[Any], **header: Any) -> bytes:
    """A BOOTP message with ``options`` (scapy's names, or raw bytes) after the magic cookie."""
    fields = {"chaddr": MAC + bytes(10), **header}
    return bytes(BOOTP(**fields) / DHCP(options=options))


def raw_message(options: bytes, **header: Any) -> bytes:
    """A BOOTP message whose options are the bytes given, as they are, after the magic cookie."""
    return bytes(BOOTP(chaddr=MAC + bytes(10), **header)) + MAGIC + options


def body(data: bytes) -> dict[str, Any]:
    events = DhcpLog().feed(True, data)
    assert len(events) == 1
    result: dict[str, Any] = events[0]["dhcp"]
    return result


# The acknowledgement of suricata-verify's dhcp-eve-extended test, built again.
ACK = message(
    [
        ("message-type", "ack"),
        ("server_id", "10.16.1.1"),
        ("lease_time", 3600),
        ("renewal_time", 1681),
        ("rebinding_time", 3031),
        ("subnet_mask", "255.255.0.0"),
        ("router", "10.16.1.1"),
        ("name_server", "10.16.1.1"),
        ("hostname", b"nas1\x00"),
        "end",
    ],
    op=2,
    xid=4016330564,
    ciaddr="10.16.1.4",
    yiaddr="10.16.1.4",
    siaddr="10.16.1.1",
)


def test_the_registry_names_the_dhcp_parser() -> None:
    assert PARSERS["dhcp"] is DhcpLog


def test_a_reply_logs_its_header_and_options_in_their_order() -> None:
    assert body(ACK) == {
        "type": "reply",
        "id": 4016330564,
        "client_mac": "00:11:32:17:49:f0",
        "assigned_ip": "10.16.1.4",
        "client_ip": "10.16.1.4",
        "relay_ip": "0.0.0.0",
        "next_server_ip": "10.16.1.1",
        "dhcp_type": "ack",
        "lease_time": 3600,
        "renewal_time": 1681,
        "rebinding_time": 3031,
        "subnet_mask": "255.255.0.0",
        "routers": ["10.16.1.1"],
        "dns_servers": ["10.16.1.1"],
        "hostname": "nas1\x00",
    }


def test_a_request_has_no_relay_or_next_server_and_names_only_known_parameters() -> None:
    data = message(
        [
            ("message-type", "request"),
            ("client_id", b"\x01" + MAC),
            ("requested_addr", "10.16.1.4"),
            ("param_req_list", [1, 3, 15, 6, 119, 252, 42, 66, 150, 35]),
            ("vendor_class_id", b"MSFT 5.0"),
            "end",
        ],
        xid=7,
        giaddr="10.0.0.254",
    )
    assert body(data) == {
        "type": "request",
        "id": 7,
        "client_mac": "00:11:32:17:49:f0",
        "assigned_ip": "0.0.0.0",
        "client_ip": "0.0.0.0",
        "dhcp_type": "request",
        "client_id": "00:11:32:17:49:f0",
        "requested_ip": "10.16.1.4",
        "params": [
            "subnet_mask",
            "router",
            "domain",
            "dns_server",
            "ntp_server",
            "tftp_server_name",
            "tftp_server_ip",
            "arp_timeout",
        ],
        "vendor_class_identifier": "MSFT 5.0",
    }


def test_message_types_and_opcodes_by_name() -> None:
    names = [body(message([("message-type", n), "end"]))["dhcp_type"] for n in range(1, 10)]
    assert names == ["discover", "offer", "request", "decline", "ack", "nak", "release", "inform", "unknown"]
    assert body(message(["end"], op=3))["type"] == "<unknown>"


def test_the_hardware_address_is_as_long_as_hlen_says_at_most_sixteen_bytes() -> None:
    chaddr = bytes(range(1, 17))
    assert body(message(["end"], chaddr=chaddr, hlen=3))["client_mac"] == "01:02:03"
    assert body(message(["end"], chaddr=chaddr, hlen=0))["client_mac"] == ""
    assert body(message(["end"], chaddr=chaddr, hlen=200))["client_mac"] == ":".join(
        f"{b:02x}" for b in chaddr
    )


def test_addresses_of_another_length_are_empty_and_lists_take_whole_addresses() -> None:
    options = b"\x01\x03\xff\xff\x00" + b"\x03\x06\x0a\x00\x00\x01\x0a\x00" + b"\x06\x00" + b"\xff"
    assert body(raw_message(options)) == {
        "type": "request",
        "id": 0,
        "client_mac": "00:11:32:17:49:f0",
        "assigned_ip": "0.0.0.0",
        "client_ip": "0.0.0.0",
        "subnet_mask": "",
        "routers": ["10.0.0.1"],
        "dns_servers": [],
    }


def test_a_time_is_the_four_bytes_after_its_length_whatever_the_length() -> None:
    # Suricata reads 4 bytes for a lease time and goes on after them, so a wrong length
    # shifts where the next option is read.
    options = b"\x33\x02\x00\x00\x0e\x10" + b"\x0c\x02ab" + b"\xff"
    assert body(raw_message(options))["lease_time"] == 3600
    assert body(raw_message(options))["hostname"] == "ab"


def test_an_option_given_twice_is_written_as_the_last_one_says() -> None:
    data = message([("hostname", b"first"), ("message-type", "discover"), ("hostname", b"second"), "end"])
    fields = body(data)
    assert fields["hostname"] == "second"
    assert list(fields)[-2:] == ["hostname", "dhcp_type"]


def test_a_hostname_not_in_utf8_is_escaped_as_suricata_escapes_it() -> None:
    assert body(message([("hostname", "né".encode()), "end"]))["hostname"] == "né"
    assert body(message([("hostname", b"n\xe9\x01"), "end"]))["hostname"] == "n\\xe9\x01"


def test_options_stop_at_the_first_that_does_not_fit_and_the_message_is_still_logged() -> None:
    # A client id needs its hardware type and at least one byte after it.
    cut_client_id = raw_message(b"\x35\x01\x01" + b"\x3d\x01\x01" + b"\x0c\x02ab\xff")
    assert body(cut_client_id) == body(raw_message(b"\x35\x01\x01\xff"))
    too_long = raw_message(b"\x35\x01\x03" + b"\x0c\x09abc")
    assert body(too_long)["dhcp_type"] == "request"
    assert "hostname" not in body(too_long)
    # Nothing after END is read; a pad byte is read as Suricata reads it, as an option with a length.
    assert "hostname" not in body(raw_message(b"\xff\x0c\x02ab"))
    assert body(raw_message(b"\x00\x00\x0c\x02ab\xff"))["hostname"] == "ab"


def test_option_overload_reads_the_file_field_then_the_sname_field() -> None:
    sname = (b"\x06\x04\x0a\x64\x00\x02" + b"\x03\x04\x0a\x64\x00\x02" + b"\xff").ljust(64, b"\x00")
    file = (b"\x0c\x05host1" + b"\x06\x04\x09\x09\x09\x09" + b"\xff").ljust(128, b"\x00")
    both = raw_message(b"\x35\x01\x05\x34\x01\x03\xff", op=2, sname=sname, file=file)
    fields = body(both)
    assert [fields["hostname"], fields["dns_servers"], fields["routers"]] == [
        "host1",
        ["10.100.0.2"],
        ["10.100.0.2"],
    ]
    only_sname = body(raw_message(b"\x34\x01\x02\xff", op=2, sname=sname, file=file))
    assert "hostname" not in only_sname
    assert only_sname["dns_servers"] == ["10.100.0.2"]
    assert "dns_servers" not in body(raw_message(b"\x35\x01\x05\xff", op=2, sname=sname))
    # Only the first Option Overload counts, even when it says neither field.
    assert "dns_servers" not in body(raw_message(b"\x34\x01\x00\x34\x01\x02\xff", sname=sname))


def test_a_datagram_too_short_for_the_header_gives_no_event_and_the_next_is_read() -> None:
    log = DhcpLog()
    assert log.feed(True, ACK[:239]) == []
    assert log.feed(False, ACK)[0]["dhcp"]["dhcp_type"] == "ack"
    assert not log.done and log.failure is None


def test_every_truncation_of_a_message_logs_what_it_holds_without_raising() -> None:
    for length in range(len(ACK)):
        events = DhcpLog().feed(False, ACK[:length])
        if length < 240:
            assert events == []
        else:
            assert events[0]["dhcp"]["id"] == 4016330564
    # Cut inside the lease time: the options before it are logged, it and the rest are not.
    fields = body(ACK[:252])
    assert fields["dhcp_type"] == "ack"
    assert "lease_time" not in fields


def test_random_and_altered_bytes_never_raise() -> None:
    rng = random.Random(7)
    log = DhcpLog()
    for _ in range(2000):
        data = bytearray(ACK)
        for _ in range(rng.randrange(1, 8)):
            data[rng.randrange(240, len(data))] = rng.randrange(256)
        log.feed(rng.random() < 0.5, bytes(data))
        log.feed(True, rng.randbytes(rng.randrange(600)))
    assert not log.done


def test_the_lease_times_are_unsigned_32_bit() -> None:
    options = b"\x33\x04" + struct.pack("!I", 0xFFFFFFFF) + b"\xff"
    assert body(raw_message(options))["lease_time"] == 0xFFFFFFFF


def test_a_capture_of_six_discovers_gives_six_events() -> None:
    engine = Engine(EngineConfig(), [AppLayer])
    sink = ListSink()
    engine.add_sink(sink)
    with open_capture(str(APPID / "whatsapp_login_chat.pcap")) as reader:
        engine.run(reader)
    engine.finish()
    events = [event for event in sink.events if event["event_type"] == "dhcp"]
    # As tshark reads them: frames 79 to 91, one DHCPDISCOVER each.
    assert [event["pcap_cnt"] for event in events] == [79, 80, 83, 84, 89, 91]
    assert {(e["src_ip"], e["src_port"], e["dest_ip"], e["dest_port"]) for e in events} == {
        ("0.0.0.0", 68, "255.255.255.255", 67)
    }
    assert events[0]["dhcp"] == {
        "type": "request",
        "id": 0xB6332E0E,
        "client_mac": "d8:30:62:56:00:1c",
        "assigned_ip": "0.0.0.0",
        "client_ip": "0.0.0.0",
        "dhcp_type": "discover",
        "params": ["subnet_mask", "router", "dns_server", "domain"],
        "client_id": "d8:30:62:56:00:1c",
        "lease_time": 7776000,
        "hostname": "Lucas-iMac",
    }
    assert all(event["dhcp"] == events[0]["dhcp"] for event in events)
