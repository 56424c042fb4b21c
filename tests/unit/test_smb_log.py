"""EVE smb events: one per SMB1 or SMB2 request and its response, with the fields Suricata writes,
from a TCP stream of NetBIOS session messages cut anywhere, and never an exception on its bytes."""

from __future__ import annotations

import random
import struct
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from scapy.layers.inet import IP, TCP
from scapy.layers.netbios import NBTSession
from scapy.layers.smb2 import (
    SMB2_FILEID,
    SMB2_Change_Notify_Request,
    SMB2_Change_Notify_Response,
    SMB2_Close_Request,
    SMB2_Close_Response,
    SMB2_Create_Request,
    SMB2_Create_Response,
    SMB2_Error_Response,
    SMB2_Header,
    SMB2_Negotiate_Protocol_Request,
    SMB2_Negotiate_Protocol_Response,
    SMB2_Session_Setup_Request,
    SMB2_Session_Setup_Response,
    SMB2_Tree_Connect_Request,
    SMB2_Tree_Connect_Response,
)
from scapy.packet import Packet
from scapy.utils import rdpcap

from fathom.apps.layer import AppLayer
from fathom.apps.logs.base import LogBody
from fathom.apps.logs.registry import PARSERS
from fathom.apps.logs.smb import MAX_MESSAGE, MAX_TRANSACTIONS, SmbLog
from fathom.capture.pcapfile import open_capture
from fathom.config import EngineConfig
from fathom.engine import Engine
from tests.traffic import ListSink

APPID = Path(__file__).resolve().parents[1] / "data" / "corpus" / "appid"

SID = 0x0000_2800_0000_001D
FILE_ID = SMB2_FILEID(Persistent=0x412, Volatile=0xA00000065)
# The FileId of a request compounded after the one that opens its file (MS-SMB2 3.2.4.1.4).
RELATED = bytes(SMB2_FILEID(Persistent=2**64 - 1, Volatile=2**64 - 1))
CLIENT_GUID = uuid.UUID("12345678-9abc-def0-1122-334455667788")
SERVER_GUID = uuid.UUID("aabbccdd-eeff-0011-2233-445566778899")
Conversation = list[tuple[bool, bytes]]


def request(command: int, mid: int, body: Packet | bytes, sid: int = SID, tid: int = 17) -> bytes:
    return bytes(SMB2_Header(Command=command, MID=mid, SessionId=sid, TID=tid)) + bytes(body)


def response(
    command: int, mid: int, body: Packet | bytes, status: int = 0, tid: int = 17, async_id: int | None = None
) -> bytes:
    flags = "SMB2_FLAGS_SERVER_TO_REDIR"
    fields: dict[str, Any] = {"Command": command, "MID": mid, "SessionId": SID, "Status": status}
    if async_id is None:
        fields["TID"] = tid
    else:
        flags += "+SMB2_FLAGS_ASYNC_COMMAND"
        fields["AsyncId"] = async_id
    return bytes(SMB2_Header(Flags=flags, **fields)) + bytes(body)


def error(command: int, mid: int, status: int, async_id: int | None = None) -> bytes:
    return response(command, mid, SMB2_Error_Response(), status=status, async_id=async_id)


def session(*records: bytes) -> bytes:
    """One NetBIOS session message of ``records``, compounded: each but the last padded to 8
    bytes, its NextCommand the padded length."""
    joined = b""
    for i, record in enumerate(records):
        if i < len(records) - 1:
            record += bytes(-len(record) % 8)
            record = record[:20] + struct.pack("<I", len(record)) + record[24:]
        joined += record
    return struct.pack("!I", len(joined)) + joined


def set_info(mid: int, level: int, data: bytes, file_id: bytes = RELATED) -> bytes:
    body = struct.pack("<HBBIHHI16s", 33, 1, level, len(data), 96, 0, 0, file_id)
    return request(17, mid, body + data)


def ioctl(mid: int, function: int) -> bytes:
    return request(
        11, mid, struct.pack("<HHI16sIIIIIIII", 57, 0, function, RELATED, 120, 0, 0, 120, 0, 24, 1, 0)
    )


def ioctl_response(mid: int, function: int) -> bytes:
    return response(11, mid, struct.pack("<HHI16sIIIIII", 49, 0, function, RELATED, 112, 0, 112, 0, 0, 0))


CREATED = SMB2_Create_Response(
    CreationTime=132000000000000000,
    LastAccessTime=132000000010000000,
    LastWriteTime=132000000020000000,
    ChangeTime=132000000030000000,
    AllocationSize=4096,
    EndOfFile=1234,
    FileId=FILE_ID,
)
NEGOTIATE = SMB2_Negotiate_Protocol_Request(
    Dialects=[0x202, 0x210, 0x300, 0x302, 0x311], ClientGUID=CLIENT_GUID
)
NEGOTIATED = SMB2_Negotiate_Protocol_Response(
    DialectRevision=0x302, GUID=SERVER_GUID, MaxReadSize=65536, MaxWriteSize=65536
)
SETUP = SMB2_Session_Setup_Request(Buffer=[("SecurityBlob", b"\x60\x00")])
SET_UP = SMB2_Session_Setup_Response()
IPC = SMB2_Tree_Connect_Request(Buffer=[("Path", "\\\\fs1\\IPC$")])
USERS = SMB2_Tree_Connect_Request(Buffer=[("Path", "\\\\fs1\\Users")])
OPEN_TO_DELETE = SMB2_Create_Request(
    CreateDisposition=1, CreateOptions=0x1000, Buffer=[("Name", "Luca\\old.exe")]
)
OPEN_DIRECTORY = SMB2_Create_Request(CreateDisposition=3, CreateOptions=1, Buffer=[("Name", "Luca")])
RENAME = struct.pack("<B7s8sI", 0, b"", b"", 14) + "new.exe".encode("utf-16-le")
SET_INFO_DONE = b"\x02\x00"
# A session: negotiation, a two-step set-up, two tree connects, a compounded open-delete-close, a
# failed open, a change notification answered first with STATUS_PENDING, a rename, an IOCTL and
# a close that gets no answer.
CONVERSATION: Conversation = [
    (True, session(request(0, 0, NEGOTIATE, 0, 0))),
    (False, session(response(0, 0, NEGOTIATED, tid=0))),
    (True, session(request(1, 1, SETUP, 0, 0))),
    (False, session(response(1, 1, SET_UP, status=0xC0000016, tid=0))),
    (True, session(request(1, 2, SETUP, tid=0))),
    (False, session(response(1, 2, SET_UP, tid=0))),
    (True, session(request(3, 3, IPC, tid=0))),
    (False, session(response(3, 3, SMB2_Tree_Connect_Response(ShareType=2), tid=1))),
    (True, session(request(3, 4, USERS, tid=0))),
    (False, session(response(3, 4, SMB2_Tree_Connect_Response(ShareType=1)))),
    (
        True,
        session(
            request(5, 5, OPEN_TO_DELETE),
            set_info(6, 13, b"\x01"),
            request(6, 7, SMB2_Close_Request(FileId=SMB2_FILEID(RELATED))),
        ),
    ),
    (
        False,
        session(
            response(5, 5, CREATED), response(17, 6, SET_INFO_DONE), response(6, 7, SMB2_Close_Response())
        ),
    ),
    (True, session(request(5, 8, OPEN_DIRECTORY))),
    (False, session(error(5, 8, 0xC0000034))),
    (True, session(request(15, 9, SMB2_Change_Notify_Request(FileId=FILE_ID)))),
    (False, session(error(15, 9, 0x103, async_id=0x41))),
    (True, session(set_info(10, 10, RENAME, bytes(FILE_ID)))),
    (False, session(response(17, 10, SET_INFO_DONE))),
    (True, session(ioctl(11, 0x00140204))),
    (False, session(ioctl_response(11, 0x00140204))),
    (False, session(response(15, 9, SMB2_Change_Notify_Response(), async_id=0x41))),
    (True, session(request(6, 12, SMB2_Close_Request(FileId=FILE_ID)))),
]
HEADER = {"dialect": "3.02", "session_id": SID, "tree_id": 17}
SUCCESS = {"status": "STATUS_SUCCESS", "status_code": "0x0"}
EXPECTED = [
    {
        "id": 1,
        "dialect": "3.02",
        "command": "SMB2_COMMAND_NEGOTIATE_PROTOCOL",
        **SUCCESS,
        "session_id": 0,
        "tree_id": 0,
        "client_dialects": ["2.02", "2.10", "3.00", "3.02", "3.11"],
        # Suricata's own byte order for GUIDs: the last eight bytes in pairs, then reversed.
        "client_guid": "12345678-9abc-def0-2211-443388776655",
        "server_guid": "aabbccdd-eeff-0011-3322-554499887766",
        "max_read_size": 65536,
        "max_write_size": 65536,
    },
    {
        "id": 2,
        **HEADER,
        "command": "SMB2_COMMAND_SESSION_SETUP",
        "status": "STATUS_MORE_PROCESSING_REQUIRED",
        "status_code": "0xc0000016",
        "tree_id": 0,
    },
    {"id": 3, **HEADER, "command": "SMB2_COMMAND_SESSION_SETUP", **SUCCESS, "tree_id": 0},
    {
        "id": 4,
        **HEADER,
        "command": "SMB2_COMMAND_TREE_CONNECT",
        **SUCCESS,
        "tree_id": 1,
        "named_pipe": "\\\\fs1\\IPC$",
        "share_type": "PIPE",
    },
    {
        "id": 5,
        **HEADER,
        "command": "SMB2_COMMAND_TREE_CONNECT",
        **SUCCESS,
        "share": "\\\\fs1\\Users",
        "share_type": "FILE",
    },
    {
        "id": 6,
        **HEADER,
        "command": "SMB2_COMMAND_CREATE",
        **SUCCESS,
        "filename": "Luca\\old.exe",
        "disposition": "FILE_OPEN",
        "access": "delete on close",
        "created": 1555526400,
        "accessed": 1555526401,
        "modified": 1555526402,
        "changed": 1555526403,
        "size": 1234,
        "fuid": "00000412-0000-0000-0065-00000000000a",
    },
    {
        "id": 7,
        **HEADER,
        "command": "SMB2_COMMAND_SET_INFO",
        **SUCCESS,
        "filename": "Luca\\old.exe",
        "access": "delete on close",
        "fuid": "ffffffff-ffff-ffff-ffff-ffffffffffff",
    },
    {"id": 8, **HEADER, "command": "SMB2_COMMAND_CLOSE", **SUCCESS},
    {
        "id": 9,
        **HEADER,
        "command": "SMB2_COMMAND_CREATE",
        "status": "STATUS_OBJECT_NAME_NOT_FOUND",
        "status_code": "0xc0000034",
        "directory": "Luca",
        "disposition": "FILE_OPEN_IF",
        "access": "normal",
        "created": 0,
        "accessed": 0,
        "modified": 0,
        "changed": 0,
        "size": 0,
        "fuid": "",
    },
    {
        "id": 11,
        **HEADER,
        "command": "SMB2_COMMAND_SET_INFO",
        **SUCCESS,
        "set_info": {"class": "FILE_INFO", "info_level": "SMB2_FILE_RENAME_INFO"},
        "rename": {"from": "Luca\\old.exe", "to": "new.exe"},
        "fuid": "00000412-0000-0000-0065-00000000000a",
    },
    {
        "id": 12,
        **HEADER,
        "command": "SMB2_COMMAND_IOCTL",
        **SUCCESS,
        "function": "FSCTL_VALIDATE_NEGOTIATE_INFO",
    },
    {"id": 10, **HEADER, "command": "SMB2_COMMAND_CHANGE_NOTIFY", **SUCCESS},
    {"id": 13, **HEADER, "command": "SMB2_COMMAND_CLOSE"},
]


def run(conversation: Conversation, log: SmbLog | None = None) -> list[dict[str, Any]]:
    """The smb objects of the events of ``conversation``, through the end of the flow."""
    log = SmbLog() if log is None else log
    events: list[LogBody] = []
    for to_server, data in conversation:
        events += log.feed(to_server, data)
    return [event["smb"] for event in events + log.end()]


def test_the_registry_names_the_smb_parser_for_both_services() -> None:
    assert PARSERS["smb"] is SmbLog
    assert PARSERS["netbios-ssn"] is SmbLog


def test_a_session_gives_an_event_per_request_as_its_response_completes_it() -> None:
    assert run(CONVERSATION) == EXPECTED


def test_the_result_does_not_depend_on_where_the_stream_is_cut() -> None:
    for index, (to_server, data) in enumerate(CONVERSATION):
        for cut in range(1, len(data)):
            pieces = [
                *CONVERSATION[:index],
                (to_server, data[:cut]),
                (to_server, data[cut:]),
                *CONVERSATION[index + 1 :],
            ]
            assert run(pieces) == EXPECTED, (index, cut)
    bytewise = [(to_server, data[i : i + 1]) for to_server, data in CONVERSATION for i in range(len(data))]
    assert run(bytewise) == EXPECTED


def test_messages_that_share_a_segment_are_all_read() -> None:
    requests = b"".join(data for to_server, data in CONVERSATION[:1])
    joined = [(True, requests + session(request(13, 50, b"\x04\x00\x00\x00")))]
    assert [event["command"] for event in run(joined)] == [
        "SMB2_COMMAND_NEGOTIATE_PROTOCOL",
        "SMB2_COMMAND_KEEPALIVE",
    ]


def test_other_netbios_messages_are_passed_over() -> None:
    keepalive = b"\x85\x00\x00\x00"
    session_request = b"\x81\x00\x00\x04abcd"
    conversation = [(True, keepalive + session_request), *CONVERSATION[:2], (False, b"\x82\x00\x00\x00")]
    assert run(conversation) == EXPECTED[:1]


def test_reads_writes_and_queries_open_no_transaction() -> None:
    untracked = [(True, session(request(command, 60 + command, b"\x00" * 48))) for command in (8, 9, 16)]
    assert run(untracked) == []


def test_a_response_without_a_request_or_a_request_the_other_way_is_not_logged() -> None:
    assert run([(False, session(error(14, 99, 0)))]) == []
    assert run([(False, session(request(14, 99, b"")))]) == []
    assert run([(True, session(error(14, 99, 0)))]) == []


def test_an_smb1_negotiation_answered_in_smb2_takes_its_dialect() -> None:
    negotiate = smb1(0x72, b"\x00\x1d\x00" + b"\x02NT LM 0.12\x00\x02SMB 2.002\x00\x02SMB 2.???\x00")
    answer = response(0, 0, SMB2_Negotiate_Protocol_Response(DialectRevision=0x2FF, GUID=SERVER_GUID), tid=0)
    events = run([(True, nbss(negotiate)), (False, session(answer))])
    assert events == [
        {
            "id": 1,
            "dialect": "2.??",
            "command": "SMB1_COMMAND_NEGOTIATE_PROTOCOL",
            **SUCCESS,
            "session_id": 0,
            "tree_id": 0,
            "client_dialects": ["NT LM 0.12", "SMB 2.002", "SMB 2.???"],
            "server_guid": "aabbccdd-eeff-0011-3322-554499887766",
            "max_read_size": 65536,
            "max_write_size": 65536,
        }
    ]


def smb1(
    command: int,
    data: bytes,
    *,
    reply: bool = False,
    status: int = 0,
    nt: bool = True,
    uid: int = 0,
    mid: int = 1,
) -> bytes:
    flags2 = 0x8001 | (0x4000 if nt else 0)
    header = struct.pack(
        "<4sBIBHH8s2sHHHH",
        b"\xffSMB",
        command,
        status,
        0x98 if reply else 0x18,
        flags2,
        0,
        b"",
        b"",
        0xFFFF,
        0xFEFF,
        uid,
        mid,
    )
    return header + data


def nbss(message: bytes) -> bytes:
    return bytes(NBTSession() / message)


def test_smb1_errors_in_the_dos_format_are_named_by_their_class() -> None:
    logoff = smb1(0x74, b"\x02\xff\x00\x00\x00\x00\x00", uid=35909, mid=7)
    bad_uid = smb1(0x74, b"\x00\x00\x00", reply=True, nt=False, status=0x005B0002, uid=35909, mid=7)
    events = run([(True, nbss(logoff)), (False, nbss(bad_uid))])
    assert events == [
        {
            "id": 1,
            "dialect": "unknown",
            "command": "SMB1_COMMAND_LOGOFF_ANDX",
            "status": "SRV_BADUID",
            "status_code": "0x005b",
            "session_id": 35909,
            "tree_id": 65535,
        }
    ]
    names = []
    for status in (0x00020001, 0x00070001, 0x00030003):
        echo, answer = (
            smb1(0x2B, b"\x00\x00\x00", mid=9),
            smb1(0x2B, b"\x00\x00\x00", reply=True, nt=False, status=status, mid=9),
        )
        names += [(e["status"], e["status_code"]) for e in run([(True, nbss(echo)), (False, nbss(answer))])]
    assert names == [("DOS_BAD_FILE", "0x0002"), ("7", "0x0007"), ("UNKNOWN_03_0003", "0x0003")]


def test_an_smb1_request_that_gets_no_response_is_logged_at_once() -> None:
    locking = smb1(0x24, b"\x08\xff\x00\x00\x00" + bytes(12) + b"\x00\x00", mid=3)
    assert run([(True, nbss(locking))]) == [
        {
            "id": 1,
            "dialect": "unknown",
            "command": "SMB1_COMMAND_LOCKING_ANDX",
            "session_id": 0,
            "tree_id": 65535,
        }
    ]


def test_an_smb1_create_logs_its_name_times_size_and_fid() -> None:
    name = "docs\\a.txt".encode("utf-16-le") + b"\x00\x00"
    params = struct.pack(
        "<BBBHBHIIIQIIIIIB", 24, 0xFF, 0, 0, 0, len(name), 0, 0, 0x80, 0, 0, 7, 1, 0x40, 2, 0
    )
    create = smb1(0xA2, params + struct.pack("<H", len(name) + 1) + b"\x00" + name, uid=5, mid=11)
    times = struct.pack(
        "<QQQQ", 132000000000000000, 132000000010000000, 132000000020000000, 132000000030000000
    )
    answer_params = (
        struct.pack("<BBBHBHI", 34, 0xFF, 0, 0, 0, 0x4001, 1)
        + times
        + struct.pack("<IQQHHB", 0x20, 4096, 12, 0, 0, 0)
    )
    answer = smb1(0xA2, answer_params + b"\x00\x00", reply=True, uid=5, mid=11)
    assert run([(True, nbss(create)), (False, nbss(answer))]) == [
        {
            "id": 1,
            "dialect": "unknown",
            "command": "SMB1_COMMAND_NT_CREATE_ANDX",
            **SUCCESS,
            "session_id": 5,
            "tree_id": 65535,
            "filename": "docs\\a.txt",
            "disposition": "FILE_OPEN",
            "access": "normal",
            "created": 1555526400,
            "accessed": 1555526401,
            "modified": 1555526402,
            "changed": 1555526403,
            # Suricata's size for SMB1 is the allocation size.
            "size": 4096,
            "fuid": "4001",
        }
    ]


def test_an_empty_create_name_is_the_share_root() -> None:
    create = request(5, 70, SMB2_Create_Request(CreateDisposition=1, Buffer=[("Name", "")]))
    assert run([(True, session(create))])[0]["filename"] == "<share_root>"


def test_an_encrypted_message_writes_what_is_open_and_ends_the_log() -> None:
    log = SmbLog()
    assert log.feed(True, CONVERSATION[0][1]) == []
    transform = b"\xfdSMB" + bytes(48) + b"encrypted"
    events = log.feed(False, struct.pack("!I", len(transform)) + transform)
    assert [e["smb"]["command"] for e in events] == ["SMB2_COMMAND_NEGOTIATE_PROTOCOL"]
    assert "status" not in events[0]["smb"]
    assert (log.done, log.failure, log.end()) == (True, None, [])


def test_a_message_longer_than_the_bound_is_read_from_its_start_and_skipped_by_its_length() -> None:
    find = request(14, 80, b"\x21\x00" + bytes(31))
    listing = response(14, 80, struct.pack("<HHI", 9, 72, 2 * MAX_MESSAGE) + bytes(2 * MAX_MESSAGE), status=0)
    big = session(listing)
    log = SmbLog()
    assert log.feed(True, session(find)) == []
    # The listing completes the request from its first bytes; the rest is passed over.
    events = log.feed(False, big[: MAX_MESSAGE + 100])
    assert [(e["smb"]["command"], e["smb"]["status"]) for e in events] == [
        ("SMB2_COMMAND_FIND", "STATUS_SUCCESS")
    ]
    assert log.feed(True, session(request(13, 81, b"\x04\x00\x00\x00"))) == []
    rest = big[MAX_MESSAGE + 100 :]
    events = log.feed(False, rest + session(response(13, 81, b"\x04\x00\x00\x00")))
    assert [e["smb"]["command"] for e in events] == ["SMB2_COMMAND_KEEPALIVE"]
    assert not log.done


def test_a_gap_within_a_skipped_message_loses_nothing_else() -> None:
    # Read data that looks like an answer: a search after the gap would take it for one.
    decoy = session(response(13, 91, b"\x04\x00\x00\x00", status=0xC0000022))
    data = bytes(MAX_MESSAGE + 10000) + decoy + bytes(10000)
    big = session(response(8, 90, data))
    log = SmbLog()
    log.feed(True, session(request(13, 91, b"\x04\x00\x00\x00")))
    log.feed(False, big[: MAX_MESSAGE + 1000])
    assert log.gap(False, 5000) == []
    events = log.feed(False, big[MAX_MESSAGE + 6000 :] + session(response(13, 91, b"\x04\x00\x00\x00")))
    assert [(e["smb"]["command"], e["smb"]["status"]) for e in events] == [
        ("SMB2_COMMAND_KEEPALIVE", "STATUS_SUCCESS")
    ]
    # A gap past the end of the message skipped: the next message is searched for, and found.
    log = SmbLog()
    log.feed(True, session(request(13, 91, b"\x04\x00\x00\x00")))
    log.feed(False, big[: MAX_MESSAGE + 1000])
    assert log.gap(False, len(big)) == []
    events = log.feed(False, decoy)
    assert [(e["smb"]["command"], e["smb"]["status"]) for e in events] == [
        ("SMB2_COMMAND_KEEPALIVE", "STATUS_ACCESS_DENIED")
    ]


def test_after_a_gap_the_next_message_is_searched_for_wherever_the_bytes_are_cut() -> None:
    answer = session(response(13, 95, b"\x04\x00\x00\x00"))
    after_gap = b"\x00\x01\x02SMB\xfe\x00" + bytes(30) + answer
    for cut in range(len(after_gap) + 1):
        log = SmbLog()
        log.feed(True, session(request(13, 95, b"\x04\x00\x00\x00")))
        log.feed(False, answer[:30])
        assert log.gap(False, 100) == []
        events = log.feed(False, after_gap[:cut]) + log.feed(False, after_gap[cut:])
        assert [e["smb"]["command"] for e in events] == ["SMB2_COMMAND_KEEPALIVE"], cut


def test_the_open_transactions_are_bounded() -> None:
    keepalives = b"".join(
        session(request(13, mid, b"\x04\x00\x00\x00")) for mid in range(MAX_TRANSACTIONS + 1)
    )
    log = SmbLog()
    events = log.feed(True, keepalives)
    # The bound ends the log; what was open is written then.
    assert (log.done, log.failure) == (True, "too_many_transactions")
    assert [e["smb"]["id"] for e in events] == list(range(1, MAX_TRANSACTIONS + 1))
    assert log.end() == []


def test_bytes_that_are_not_smb_end_the_log() -> None:
    for message in (b"HTTP", b"\xfeSMB" + bytes(20), b"ab"):
        log = SmbLog()
        log.feed(True, struct.pack("!I", len(message)) + message)
        assert (log.done, log.failure) == (True, "malformed_data"), message
    # A NextCommand past the message's end is malformed too.
    record = bytearray(request(13, 1, b"\x04\x00\x00\x00"))
    record[20:24] = struct.pack("<I", 200)
    log = SmbLog()
    log.feed(True, session(bytes(record)))
    assert log.failure == "malformed_data"


def test_every_truncation_of_the_session_and_random_bytes_never_raise() -> None:
    flat = b"".join(data for to_server, data in CONVERSATION if to_server)
    for length in range(len(flat)):
        log = SmbLog()
        log.feed(True, flat[:length])
        log.end()
    rng = random.Random(5)
    for _ in range(300):
        log = SmbLog()
        for to_server, data in CONVERSATION:
            altered = bytearray(data)
            for _ in range(rng.randrange(4)):
                altered[rng.randrange(len(altered))] = rng.randrange(256)
            log.feed(to_server, bytes(altered))
            log.feed(to_server, rng.randbytes(rng.randrange(80)))
        log.end()


# --- the captures -----------------------------------------------------------------------------


def capture_events(name: str) -> list[dict[str, Any]]:
    engine = Engine(EngineConfig(), [AppLayer])
    sink = ListSink()
    engine.add_sink(sink)
    with open_capture(str(APPID / name)) as reader:
        engine.run(reader)
    engine.finish()
    return [event for event in sink.events if event["event_type"] == "smb"]


def tcp_payloads(name: str) -> Conversation:
    """A capture's TCP payloads in order, each with whether the client sent it (the first packet's
    sender, or the receiver of a SYN-ACK); retransmitted bytes dropped."""
    client = None
    next_seq: dict[tuple[str, int], int] = {}
    payloads: Conversation = []
    for packet in rdpcap(str(APPID / name)):
        if TCP not in packet:
            continue
        ip, tcp = packet[IP], packet[TCP]
        sender = (ip.src, tcp.sport)
        if client is None:
            client = (ip.dst, tcp.dport) if tcp.flags.S and tcp.flags.A else sender
        length = ip.len - ip.ihl * 4 - tcp.dataofs * 4
        seen = next_seq.get(sender, tcp.seq)
        payload = bytes(tcp.payload)[max(seen - tcp.seq, 0) : length]
        next_seq[sender] = max(seen, tcp.seq + length)
        if payload:
            payloads.append((sender == client, payload))
    return payloads


def test_the_smb1_capture_logs_its_negotiation_set_up_and_tree_connect() -> None:
    events = capture_events("smbv1.pcap")
    assert [event["pcap_cnt"] for event in events] == [2, 4, 6]
    header = {"dialect": "NT LM 0.12", **SUCCESS}
    assert [event["smb"] for event in events] == [
        {
            "id": 1,
            **header,
            "command": "SMB1_COMMAND_NEGOTIATE_PROTOCOL",
            "session_id": 0,
            "tree_id": 0,
            "client_dialects": [
                "PC NETWORK PROGRAM 1.0",
                "LANMAN1.0",
                "Windows for Workgroups 3.1a",
                "LM1.2X002",
                "LANMAN2.1",
                "NT LM 0.12",
            ],
            # The 16 bytes after the byte count, as Suricata reads them: here the challenge and the
            # start of the domain name, for this server does not use extended security.
            "server_guid": "2f1cab08-ece1-a9e6-0057-004f004b0052",
        },
        {
            "id": 2,
            **header,
            "command": "SMB1_COMMAND_SESSION_SETUP_ANDX",
            "session_id": 2048,
            "tree_id": 0,
            # Suricata reads the request's names one byte off (it pads after the password where
            # this client does not), so it finds only zero bytes.
            "request": {"native_os": "\x00" * 16, "native_lm": ""},
            "response": {
                "native_os": "Windows 7 Ultimate 7601 Service Pack 1",
                "native_lm": "Windows 7 Ultimate 6.1",
            },
        },
        {
            "id": 3,
            **header,
            "command": "SMB1_COMMAND_TREE_CONNECT_ANDX",
            "session_id": 2048,
            "tree_id": 2048,
            # Suricata drops the path's first character.
            "named_pipe": "\\10.128.0.243\\IPC$",
            "service": {"request": "?????", "response": "IPC"},
        },
    ]


def test_the_smb2_capture_logs_its_65_transactions() -> None:
    events = capture_events("smb_deletefile.pcap")
    assert len(events) == 65
    assert [event["smb"]["id"] for event in events[:13]] == list(range(1, 14))
    commands = Counter(event["smb"]["command"].removeprefix("SMB2_COMMAND_") for event in events)
    # As tshark counts the requests: 27 CREATE and 27 CLOSE, 8 FIND, one each of CHANGE_NOTIFY,
    # OPLOCK_BREAK (the client's acknowledgement) and SET_INFO (the delete); no READ or GET_INFO.
    assert commands == {
        "CREATE": 27,
        "CLOSE": 27,
        "FIND": 8,
        "CHANGE_NOTIFY": 1,
        "OPLOCK_BREAK": 1,
        "SET_INFO": 1,
    }
    assert Counter(event["smb"].get("status") for event in events) == {
        "STATUS_SUCCESS": 59,
        "STATUS_OBJECT_NAME_NOT_FOUND": 2,
        "STATUS_NO_SUCH_FILE": 2,
        "STATUS_NO_MORE_FILES": 1,
        "STATUS_PENDING": 1,
    }
    header = {"dialect": "unknown", **SUCCESS, "session_id": 0x28000000001D, "tree_id": 17}
    delete = [event for event in events if event["smb"]["command"] == "SMB2_COMMAND_SET_INFO"]
    assert [(event["pcap_cnt"], event["smb"]) for event in delete] == [
        (
            13,
            {
                "id": 11,
                **header,
                "command": "SMB2_COMMAND_SET_INFO",
                "filename": "Luca\\Downloads\\innosetup-5.6.1.exe",
                "access": "delete on close",
                "fuid": "ffffffff-ffff-ffff-ffff-ffffffffffff",
            },
        )
    ]
    assert events[9]["smb"] == {
        "id": 10,
        **header,
        "command": "SMB2_COMMAND_CREATE",
        "filename": "Luca\\Downloads\\innosetup-5.6.1.exe",
        "disposition": "FILE_OPEN",
        "access": "normal",
        "created": 1545287310,
        "accessed": 1584367250,
        "modified": 1545287315,
        "changed": 1566503409,
        "size": 1963136,
        # tshark: 00000415-000a-0000-c500-00000a000000.
        "fuid": "00000415-000a-0000-00c5-00000000000a",
    }
    # The change notification got only its interim answer: written at the flow's end.
    assert events[-1]["smb"] == {
        "id": 14,
        **header,
        "command": "SMB2_COMMAND_CHANGE_NOTIFY",
        "status": "STATUS_PENDING",
        "status_code": "0x103",
    }


def test_the_smb2_capture_reads_the_same_cut_anywhere() -> None:
    payloads = tcp_payloads("smb_deletefile.pcap")
    whole = run(payloads)
    assert len(whole) == 65
    rng = random.Random(3)
    pieces: Conversation = []
    for to_server, data in payloads:
        cuts = sorted(rng.sample(range(1, len(data)), min(3, len(data) - 1)))
        pieces += [(to_server, data[a:b]) for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
    assert run(pieces) == whole
