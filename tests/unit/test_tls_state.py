"""The SSL inspector's flags for ssl_state and ssl_version, decoded as Snort decodes records."""

from __future__ import annotations

from pathlib import Path

from fathom.apps import tls_state as t
from tests.rules import detecting_engine
from tests.traffic import SERVER, TcpConversation, feed


def record(kind: int, body: bytes, version: bytes = b"\x03\x03") -> bytes:
    return bytes([kind]) + version + len(body).to_bytes(2, "big") + body


def handshake(kind: int, body: bytes) -> bytes:
    return bytes([kind]) + len(body).to_bytes(3, "big") + body


CLIENT_HELLO = record(22, handshake(1, b"\x03\x03" + b"\x00" * 34), b"\x03\x01")
SERVER_FLIGHT = record(
    22, handshake(2, b"\x03\x03" + b"\x00" * 34) + handshake(11, b"\x00" * 6) + handshake(14, b"")
)


def test_a_client_hello_and_the_server_flight() -> None:
    assert t.pdu_flags(CLIENT_HELLO, from_server=False) == t.CLIENT_HELLO | t.TLS10 | t.TLS12
    flags = t.pdu_flags(SERVER_FLIGHT, from_server=True)
    assert flags == t.SERVER_HELLO | t.TLS12 | t.HANDSHAKE_DONE


def test_states_hold_for_their_pdu_and_versions_for_the_session() -> None:
    session = t.session_flags(0, CLIENT_HELLO, from_server=False)
    session = t.session_flags(session, SERVER_FLIGHT, from_server=True)
    assert session & t.STATES == t.SERVER_HELLO
    assert session & t.VERSIONS == t.TLS10 | t.TLS12
    session = t.session_flags(session, record(23, b"secret"), from_server=False)
    assert session & t.STATES == 0


def test_a_message_from_the_wrong_side_sets_no_state() -> None:
    assert t.pdu_flags(CLIENT_HELLO, from_server=True) & t.STATES == 0


def test_handshake_after_change_cipher_spec_is_encrypted() -> None:
    pdu = record(20, b"\x01") + record(22, handshake(1, b"\x03\x03"))
    assert t.pdu_flags(pdu, from_server=False) == t.CHANGE_CIPHER | t.TLS12 | t.HANDSHAKE_DONE


def test_sslv2_hello_and_its_back_compatible_form() -> None:
    v2 = b"\x80\x2e\x01\x00\x02" + b"\x00" * 43
    assert t.pdu_flags(v2, from_server=False) == t.CLIENT_HELLO | t.SSLV2
    compat = b"\x80\x2e\x01\x03\x01" + b"\x00" * 43
    session = t.session_flags(0, compat, from_server=False)
    assert session & (t.SSLV2 | t.BACK_COMPAT_V2) == t.SSLV2 | t.BACK_COMPAT_V2
    # A TLS server hello: the session is not SSLv2 after all.
    assert t.session_flags(session, SERVER_FLIGHT, from_server=True) & t.VERSIONS == t.TLS12


def test_garbage_is_unknown() -> None:
    assert t.pdu_flags(b"\x17\x09\x09\x00\x01x", from_server=True) & t.UNKNOWN
    assert t.pdu_flags(b"abc", from_server=True) == t.UNKNOWN


def test_ssl_state_rules_see_the_server_hello_pdu(tmp_path: Path) -> None:
    engine, sink = detecting_engine(
        tmp_path,
        'alert tcp any 443 -> any any (msg:"hello"; flow:to_client,established; ssl_state:server_hello; '
        'content:"|0B 00 00 06|"; sid:1;)\n'
        'alert tcp any any -> any 443 (msg:"v2"; ssl_version:sslv2; content:"|16 03|"; sid:2;)\n',
    )
    conv = TcpConversation(dport=443).handshake()
    conv.client_sends(CLIENT_HELLO).server_sends(SERVER_FLIGHT).client_acks()
    feed(engine, conv.packets)
    engine.finish()
    alerts = [
        (e["alert"]["signature_id"], e["pcap_cnt"], e["src_ip"])
        for e in sink.events
        if e["event_type"] == "alert"
    ]
    assert alerts == [(1, 6, SERVER)]
