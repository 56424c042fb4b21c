"""EVE ftp events: one per command and its reply (RFC 959), multi-line and preliminary replies
included, with the dynamic ports of PORT, EPRT, PASV and EPSV, however the streams are cut; lines
are cut at Suricata's bound and logged as truncated."""

from __future__ import annotations

import random
from typing import Any

import pytest

from fathom.apps.layer import AppLayer
from fathom.apps.logs.ftp import MAX_LINE, MAX_PENDING, MAX_REPLY_LINES, FtpLog, active_port, passive_port
from fathom.apps.logs.registry import PARSERS
from fathom.capture.pcapfile import open_capture
from fathom.config import AppConfig, EngineConfig, ProfileConfig
from fathom.engine import Engine
from tests.traffic import CLIENT, SERVER, ListSink, TcpConversation, feed
from tests.unit.test_ssh_log import CORPUS, Stream, capture_stream, every_cut, run


def ftp(
    command: str | None = None,
    data: str | None = None,
    codes: tuple[str, ...] = (),
    reply: tuple[str, ...] = (),
    **more: Any,
) -> dict[str, Any]:
    """An event: ``more`` holds dynamic_port, mode, and the two members that default to a
    received, whole reply."""
    body: dict[str, Any] = {}
    if command is not None:
        body["command"] = command
    if data is not None:
        body["command_data"] = data
        body["command_truncated"] = more.pop("command_truncated", False)
    if codes:
        body["completion_code"] = list(codes)
    if reply:
        body["reply"] = list(reply)
    body |= {"reply_received": "yes", "reply_truncated": False} | more
    return {"ftp": body}


SESSION: Stream = [
    (False, b"220-Welcome to the example FTP service.\r\n220-Be nice.\r\n220 Ready\r\n"),
    (True, b"USER anonymous\r\n"),
    (False, b"331 Please specify the password.\r\n"),
    (True, b"pass guest@\r\n"),
    (False, b"230-Read the rules.\r\n 1) no spam\r\n230 Login successful.\r\n"),
    (True, b"FEAT\r\n"),
    (False, b"211-Features:\r\n EPSV\r\n PASV\r\n211 End\r\n"),
    (True, b"EPSV\r\n"),
    (False, b"229 Entering Extended Passive Mode (|||48758|).\r\n"),
    (True, b"RETR dir/file name.txt  \r\n"),
    (False, b"150 Opening BINARY mode data connection.\r\n226 Transfer complete.\r\n"),
    (True, b"PORT 192,168,0,13,234,10\n"),
    (False, b"200 PORT command successful.\n"),
    (True, b"NLST\r\n"),
    (False, b"150 Here comes the directory listing.\r\n"),
    (False, b"226 Directory send OK.\r\n"),
    (True, b"EPRT |2|2a01:e34:ee97:b130:8c3e:45ea:5ac6:e301|41813|\r\n"),
    (False, b"200 EPRT command successful.\r\n"),
    (True, b"PASV\r\n"),
    (False, b"227 Entering Passive Mode (212,27,32,66,221,243).\r\n"),
    (True, b"QUIT\r\n"),
    (False, b"221 Goodbye.\r\n"),
]
SESSION_EVENTS = [
    ftp(codes=("220",), reply=("220-Welcome to the example FTP service.", "220-Be nice.", "Ready")),
    ftp("USER", "anonymous", ("331",), ("Please specify the password.",)),
    ftp("PASS", "guest@", ("230",), ("230-Read the rules.", " 1) no spam", "Login successful.")),
    ftp(
        "EPSV",
        None,
        ("229",),
        ("Entering Extended Passive Mode (|||48758|).",),
        dynamic_port=48758,
        mode="passive",
    ),
    ftp(
        "RETR",
        "dir/file name.txt",
        ("150", "226"),
        ("Opening BINARY mode data connection.", "Transfer complete."),
    ),
    ftp(
        "PORT",
        "192,168,0,13,234,10",
        ("200",),
        ("PORT command successful.",),
        dynamic_port=59914,
        mode="active",
    ),
    ftp("NLST", None, ("150", "226"), ("Here comes the directory listing.", "Directory send OK.")),
    ftp(
        "EPRT",
        "|2|2a01:e34:ee97:b130:8c3e:45ea:5ac6:e301|41813|",
        ("200",),
        ("EPRT command successful.",),
        dynamic_port=41813,
        mode="active",
    ),
    ftp(
        "PASV",
        None,
        ("227",),
        ("Entering Passive Mode (212,27,32,66,221,243).",),
        dynamic_port=56819,
        mode="passive",
    ),
    ftp("QUIT", None, ("221",), ("Goodbye.",)),
]


def test_each_command_is_logged_with_its_whole_reply_as_the_reply_ends() -> None:
    parser = FtpLog()
    written = [parser.feed(to_server, data) for to_server, data in SESSION]
    assert [bodies for bodies in written if bodies] == [[event] for event in SESSION_EVENTS]
    # Each event comes with the reply line that ends its transaction: RETR's with its 226.
    assert written[10] == [SESSION_EVENTS[4]] and written[14] == [] and written[15] == [SESSION_EVENTS[6]]
    assert parser.end() == []
    assert parser.failure is None


def test_the_members_come_in_suricatas_order() -> None:
    parser = FtpLog()
    parser.feed(True, b"PORT 10,0,0,1,4,1\r\n")
    (event,) = parser.feed(False, b"200 OK\r\n")
    assert list(event["ftp"]) == [
        "command", "command_data", "command_truncated", "completion_code", "reply", "dynamic_port", "mode",
        "reply_received", "reply_truncated",
    ]  # fmt: skip
    assert event["ftp"]["dynamic_port"] == 1025


def test_the_events_do_not_depend_on_how_the_streams_are_cut() -> None:
    for stream in every_cut(SESSION):
        parser = FtpLog()
        assert run(parser, stream) == SESSION_EVENTS
        assert parser.failure is None


def test_pipelined_commands_meet_their_own_replies_even_past_an_unknown_command() -> None:
    parser = FtpLog()
    assert parser.feed(True, b"USER a\r\nCLNT x 1.0\r\nPASS b\r\nSYST\r\n") == []
    assert parser.feed(False, b"331 Password?\r\n500 Unknown command.\r\n230 OK\r\n215-UNIX\r\n") == [
        ftp("USER", "a", ("331",), ("Password?",)),
        ftp("PASS", "b", ("230",), ("OK",)),
    ]
    assert parser.feed(False, b"215 Type: L8\r\n") == [ftp("SYST", None, ("215",), ("215-UNIX", "Type: L8"))]


def test_a_reply_with_no_command_waiting_is_logged_alone() -> None:
    parser = FtpLog()
    assert parser.feed(False, b"421 Timeout.\r\n\r\n") == [ftp(codes=("421",), reply=("Timeout.",))]


def test_reply_lines_without_a_code_are_kept_whole_as_in_suricata() -> None:
    parser = FtpLog()
    parser.feed(True, b"STAT\r\n")
    assert parser.feed(False, b"oops\r\n") == [ftp("STAT", reply=("oops",))]
    parser.feed(True, b"NOOP\r\n")
    assert parser.feed(False, b"200 \r\n") == [ftp("NOOP", reply=("200",))]
    parser.feed(True, b"NOOP\r\n")
    assert parser.feed(False, b"200 caf\xc3\xa9 \xff\r\n") == [
        ftp("NOOP", codes=("200",), reply=("café \\xff",))
    ]


def test_auth_tls_accepted_ends_the_work_and_refused_does_not() -> None:
    parser = FtpLog()
    assert parser.feed(True, b"AUTH TLS\r\nUSER x\r\n") == []
    assert parser.feed(False, b"500 Not here.\r\n331 Go on.\r\n") == [ftp("USER", "x", ("331",), ("Go on.",))]
    assert parser.feed(True, b"AUTH TLS\r\n") == []
    assert parser.feed(False, b"234 Proceed with negotiation.\r\n\x16\x03\x01") == []
    assert (parser.done, parser.failure) == (True, None)
    assert parser.feed(True, b"\x16\x03\x01\x02\x00") == []


def test_the_flow_end_writes_what_waits_for_a_reply() -> None:
    parser = FtpLog()
    assert parser.feed(True, b"STOR up.bin\r\nNOOP\r\n") == []
    assert parser.feed(False, b"150 Ok to send data.\r\n") == []
    assert parser.end() == [
        ftp("STOR", "up.bin", ("150",), ("Ok to send data.",), reply_received="no"),
        ftp("NOOP", reply_received="no"),
    ]
    assert parser.done and parser.failure is None


def test_a_reply_going_on_at_the_end_counts_as_received_unless_preliminary() -> None:
    parser = FtpLog()
    parser.feed(True, b"STAT\r\n")
    parser.feed(False, b"211-Status:\r\n connected\r\n")
    assert parser.end() == [ftp("STAT", None, (), ("211-Status:", " connected"))]
    parser = FtpLog()
    parser.feed(True, b"RETR f\r\n")
    parser.feed(False, b"150-Opening\r\n")
    assert parser.end() == [ftp("RETR", "f", (), ("150-Opening",), reply_received="no")]


def test_a_passive_reply_without_a_port_logs_none() -> None:
    parser = FtpLog()
    parser.feed(True, b"PASV\r\nEPSV\r\nport 1,2,3,4,5,6\r\n")
    assert parser.feed(False, b"227 Entering Passive Mode (1,2,3,4,256,1).\r\n229 no\r\n200 OK\r\n") == [
        ftp("PASV", None, ("227",), ("Entering Passive Mode (1,2,3,4,256,1).",), mode="passive"),
        ftp("EPSV", None, ("229",), ("no",), mode="passive"),
        # Suricata reads PORT's port case-sensitively.
        ftp("PORT", "1,2,3,4,5,6", ("200",), ("OK",), mode="passive"),
    ]


@pytest.mark.parametrize(
    ("line", "port"),
    [
        (b"PORT 192,168,0,13,234,10", 59914),
        (b"PORT  1, 2,3,4,0,21 trailing", 0),
        (b"PORT 1 ,2,3,4,0,21", 21),
        (b"PORT 212,27,32,66,257,243", 0),
        (b"PORT 212,27,32,66,255,65535", 0),
        (b"PORT 1,2,3,4,5", 0),
        (b"EPRT |2|2a01:e34:ee97:b130:8c3e:45ea:5ac6:e301|41813|", 41813),
        (b"EPRT |1|10.0.0.1| 2121 |", 2121),
        (b"EPRT |2|2a01:e34:ee97:b130:8c3e:45ea:5ac6:e301|81813|", 0),
        (b"EPRT |1|10.0.0.1|2121", 0),
        (b"NOOP", 0),
    ],
)
def test_active_ports_are_read_as_suricata_reads_them(line: bytes, port: int) -> None:
    assert active_port(line) == port


@pytest.mark.parametrize(
    ("command", "line", "port"),
    [
        (b"PASV", b"227 Entering Passive Mode (212,27,32,66,221,243).", 56819),
        (b"PASV", b"227 Entering Passive Mode (212,27,32,66,221,243)", 56819),
        (b"PASV", b"227 =(212,27,32,66, 221 , 243 )", 56819),
        (b"PASV", b"227 Entering Passive Mode (212,27,32,66,257,243).", 0),
        (b"PASV", b"227 Entering Passive Mode (212,27,32,66,255,65535).", 0),
        (b"PASV", b"227-Entering Passive Mode (212,27,32,66,221,243).", 0),
        (b"EPSV", b"229 Entering Extended Passive Mode (|||48758|).", 48758),
        (b"EPSV", b"229 Entering Extended Passive Mode (|||48758|)", 48758),
        (b"EPSV", b"229 (|||x|) (|||48758|)", 0),
        (b"EPSV", b"229 (|||70000|)", 0),
        (b"PASV", b"229 Entering Extended Passive Mode (|||48758|).", 0),
    ],
)
def test_passive_ports_are_read_as_suricata_reads_them(command: bytes, line: bytes, port: int) -> None:
    assert passive_port(command, line) == port


def test_a_long_command_is_cut_at_the_bound_and_the_next_one_read() -> None:
    stream: Stream = [
        (True, b"RETR " + b"a" * 5000 + b"\r\nRETR index.html\r\n"),
        (False, b"550 No.\r\n550 No.\r\n"),
    ]
    cut_events = [
        ftp("RETR", "a" * (MAX_LINE - 5), ("550",), ("No.",), command_truncated=True),
        ftp("RETR", "index.html", ("550",), ("No.",)),
    ]
    data = stream[0][1]
    for at in range(0, len(data), 41):
        assert run(FtpLog(), [(True, data[:at]), (True, data[at:]), stream[1]]) == cut_events


def test_a_line_of_the_bound_with_its_end_of_line_is_cut_as_in_suricata() -> None:
    for extra, cut in ((0, True), (-1, False)):
        line = b"SITE " + b"x" * (MAX_LINE - 7 + extra) + b"\r\n"
        parser = FtpLog()
        parser.feed(True, line)
        (event,) = parser.feed(False, b"200 OK\r\n")
        assert len(line) == MAX_LINE + extra
        assert (len(event["ftp"]["command_data"]), event["ftp"]["command_truncated"]) == (len(line) - 7, cut)


def test_a_long_reply_line_is_cut_and_logged_as_truncated() -> None:
    parser = FtpLog()
    parser.feed(True, b"PASV\r\n")
    (event,) = parser.feed(False, b"227 " + b"z" * 5000 + b"\r\n")
    assert event == ftp("PASV", None, ("227",), ("z" * (MAX_LINE - 4),), mode="passive", reply_truncated=True)


def test_a_reply_keeps_its_first_lines_up_to_the_bound() -> None:
    lines = b"".join(b" line %d\r\n" % i for i in range(100))
    parser = FtpLog()
    parser.feed(True, b"STAT /\r\n")
    (event,) = parser.feed(False, b"213-Status of /:\r\n" + lines + b"213 End of status\r\n")
    kept = ["213-Status of /:"] + [f" line {i}" for i in range(MAX_REPLY_LINES - 2)] + ["End of status"]
    assert event == ftp("STAT", "/", ("213",), tuple(kept), reply_truncated=True)


def test_too_many_commands_waiting_end_the_work_after_writing_them() -> None:
    parser = FtpLog()
    bodies = parser.feed(True, b"NOOP\r\n" * (MAX_PENDING + 1))
    assert bodies == [ftp("NOOP", reply_received="no")] * MAX_PENDING
    assert (parser.done, parser.failure) == (True, "too_many_pending_commands")


def test_a_gap_writes_what_waits_and_ends_the_work() -> None:
    parser = FtpLog()
    parser.feed(True, b"LIST\r\n")
    assert parser.gap(False, 10) == [ftp("LIST", reply_received="no")]
    assert (parser.done, parser.failure) == (True, "gap")


def test_every_truncation_of_a_session_raises_nothing() -> None:
    flat = [(to_server, data[i : i + 1]) for to_server, data in SESSION for i in range(len(data))]
    for end in range(0, len(flat) + 1, 3):
        bodies = run(FtpLog(), flat[:end])
        assert [body["ftp"].get("command") for body in bodies] == [
            event["ftp"].get("command") for event in SESSION_EVENTS[: len(bodies)]
        ]


def test_random_bytes_raise_nothing() -> None:
    rng = random.Random(959)
    pieces = [
        b"\r\n",
        b"\n",
        b"227 (",
        b"1,2,3,4,5,6)",
        b"PORT ",
        b"EPSV",
        b"229 |||",
        b"150-",
        b"150 ",
        b"x",
    ]
    for _ in range(300):
        stream = [(rng.random() < 0.5, b"".join(rng.choices(pieces, k=rng.randrange(12)))) for _ in range(6)]
        stream.append((rng.random() < 0.5, rng.randbytes(rng.randrange(40))))
        run(FtpLog(), stream)


CAPTURE_EVENTS = [
    ftp(codes=("220",), reply=("(vsFTPd 3.0.3)",)),
    ftp("USER", "anonymous", ("331",), ("Please specify the password.",)),
    ftp("PASS", "NcFTP@", ("230",), ("Login successful.",)),
    ftp("PWD", None, ("257",), ('"/" is the current directory',)),
    ftp(
        "HELP",
        "SITE",
        ("214",),
        (
            "214-The following commands are recognized.",
            " ABOR ACCT ALLO APPE CDUP CWD  DELE EPRT EPSV FEAT HELP LIST MDTM MKD",
            " MODE NLST NOOP OPTS PASS PASV PORT PWD  QUIT REIN REST RETR RMD  RNFR",
            " RNTO SITE SIZE SMNT STAT STOR STOU STRU SYST TYPE USER XCUP XCWD XMKD",
            " XPWD XRMD",
            "Help OK.",
        ),
    ),
    ftp("PWD", None, ("257",), ('"/" is the current directory',)),
    ftp(
        "PASV",
        None,
        ("227",),
        ("Entering Passive Mode (90,130,70,73,100,85).",),
        dynamic_port=25685,
        mode="passive",
    ),
    ftp("LIST", None, ("150", "226"), ("Here comes the directory listing.", "Directory send OK.")),
    ftp("TYPE", "I", ("200",), ("Switching to Binary mode.",)),
    ftp("SIZE", "1MB.zip", ("213",), ("1048576",)),
    ftp("MDTM", "1MB.zip", ("213",), ("20160219164152",)),
    ftp(
        "PASV",
        None,
        ("227",),
        ("Entering Passive Mode (90,130,70,73,95,203).",),
        dynamic_port=24523,
        mode="passive",
    ),
    ftp(
        "RETR",
        "1MB.zip",
        ("150", "226"),
        ("Opening BINARY mode data connection for 1MB.zip (1048576 bytes).", "Transfer complete."),
    ),
    ftp("QUIT", None, ("221",), ("Goodbye.",)),
]


def test_the_captures_control_connection() -> None:
    # FEAT, CLNT and MLST, which Suricata does not know, are not logged; the dynamic ports are
    # those of the capture's two data connections.
    parser = FtpLog()
    assert run(parser, capture_stream(CORPUS / "ftp.pcap", 21)) == CAPTURE_EVENTS
    assert parser.failure is None


def test_the_engine_writes_the_captures_ftp_events() -> None:
    assert PARSERS["ftp"] is FtpLog
    engine = Engine(EngineConfig(), [AppLayer])
    sink = ListSink()
    engine.add_sink(sink)
    with open_capture(str(CORPUS / "ftp.pcap")) as reader:
        engine.run(reader)
    engine.finish()
    events = [e for e in sink.events if e["event_type"] == "ftp"]
    assert [{"ftp": e["ftp"]} for e in events] == CAPTURE_EVENTS
    assert {(e["src_port"], e["dest_port"]) for e in events} <= {(21, 50694), (50694, 21)}
    assert [e["pcap_cnt"] for e in events] == [4, 8, 12, 16, 26, 32, 35, 48, 52, 58, 61, 64, 201, 204]


@pytest.mark.parametrize(
    ("command", "reply", "expected"),
    [
        (b"PASV", b"227 Entering Passive Mode (212,27,32,66,221,243).", (56819, "ftp-data")),
        (b"EPSV", b"229 Entering Extended Passive Mode (|||48758|).", (48758, "ftp-data")),
        (b"PORT 192,168,0,13,234,10", b"200 PORT command successful.", (59914, "ftp-data")),
        (b"PORT 192,168,0,13,234,10", b"500 Illegal PORT command.", None),
        (b"RETR file", b"150 Opening BINARY mode data connection.", None),
    ],
)
def test_a_data_port_the_server_took_is_announced(
    command: bytes, reply: bytes, expected: tuple[int, str] | None
) -> None:
    parser = FtpLog()
    run(parser, [(False, b"220 Ready\r\n"), (True, command + b"\r\n"), (False, reply + b"\r\n")])
    assert parser.expected == expected


def _events(packets: list[tuple[float, Any]], config: EngineConfig | None = None) -> list[dict[str, Any]]:
    engine = Engine(config or EngineConfig(), [AppLayer])
    sink = ListSink()
    engine.add_sink(sink)
    feed(engine, packets)
    engine.finish()
    return sink.events


def _flows(packets: list[tuple[float, Any]]) -> dict[tuple[int, int], str | None]:
    flows = [e for e in _events(packets) if e["event_type"] == "flow"]
    return {(e["src_port"], e["dest_port"]): e.get("app_proto") for e in flows}


def test_the_captures_data_connections_are_ftp_data() -> None:
    engine = Engine(EngineConfig(), [AppLayer])
    sink = ListSink()
    engine.add_sink(sink)
    with open_capture(str(CORPUS / "ftp.pcap")) as reader:
        engine.run(reader)
    engine.finish()
    flows = {e["dest_port"]: e["app"]["protocol"] for e in sink.events if e["event_type"] == "flow"}
    assert flows == {21: "FTP_CONTROL", 25685: "FTP_DATA", 24523: "FTP_DATA"}


def _passive_control(ts: float = 1000.0) -> TcpConversation:
    """A control connection whose server took passive port 30000 (117 * 256 + 48)."""
    control = TcpConversation(sport=40000, dport=21, ts=ts).handshake()
    control.server_sends(b"220 FTP server ready\r\n").client_sends(b"PASV\r\n")
    return control.server_sends(b"227 Entering Passive Mode (10,0,0,2,117,48).\r\n").client_acks()


def _connection(sport: int, ts: float, client: str = CLIENT) -> list[tuple[float, Any]]:
    return TcpConversation(client, SERVER, sport, 30000, ts).handshake().server_sends(bytes(300)).packets


def test_the_announced_connection_between_the_same_hosts_is_ftp_data_once() -> None:
    packets = _passive_control().packets
    packets += _connection(40001, 1001.0, client="10.0.0.9")  # another host: not announced to it
    packets += _connection(40002, 1002.0) + _connection(40003, 1003.0)
    assert _flows(packets) == {
        (40000, 21): "ftp",
        (40001, 30000): None,
        (40002, 30000): "ftp-data",
        (40003, 30000): None,
    }


def test_an_announcement_ends_with_its_control_connection() -> None:
    control = _passive_control()
    control.client_sends(b"QUIT\r\n").server_sends(b"221 Goodbye.\r\n").close()
    # Long after the control connection closed and ended.
    assert _flows(control.packets + _connection(40002, 5000.0))[(40002, 30000)] is None


def test_data_connections_are_named_whatever_the_profiles_log() -> None:
    config = EngineConfig(app=AppConfig(profiles=(ProfileConfig(name="p", applications=("dns",)),)))
    events = _events(_passive_control().packets + _connection(40002, 1002.0), config)
    assert [e["app_proto"] for e in events if e["event_type"] == "flow"] == ["ftp", "ftp-data"]
    assert [e for e in events if e["event_type"] == "ftp"] == []
