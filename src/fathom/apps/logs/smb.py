"""The EVE ``smb`` log: one event per SMB transaction, as Suricata writes it (``rust/src/smb/log.rs``,
with the transactions of ``smb1.rs``, ``smb2.rs`` and their record parsers).

The stream is NetBIOS session service messages (RFC 1002; on port 445 the same 4-byte framing
with a 24-bit length); a session message holds one SMB1 message (``\\xffSMB``, with its AndX
chain) or SMB2/3 messages (``\\xfeSMB``, compounded through NextCommand). A transform header
(``\\xfdSMB``) means the rest of the session is encrypted: the log writes what it has and stops.

As in Suricata, a request opens a transaction and its response (SMB2: the same SessionId and
MessageId; SMB1: the same UID and MID) completes it; the event is written then, or at the end
of the flow for a request that got none. Reads, writes and information queries open none.
Negotiation, session set-up, tree connects, creates, IOCTLs and SMB2 rename and delete-on-close
requests carry the fields Suricata gives them (dialects and GUIDs; native OS and LAN manager;
the share; the file name, its times and size; the FSCTL; the names).

Not written, where Suricata writes them: the NTLMSSP and Kerberos details of a session set-up,
DCE/RPC over named pipes (an IOCTL on a pipe is logged as an IOCTL), file transactions for
reads and writes, and SMB1 renames and TRANS2 set-info requests (logged without their names).
Suricata names 1669 NT statuses; the table here holds those SMB servers commonly return, and
any other is written in decimal, as Suricata writes one it has no name for.
"""

from __future__ import annotations

import struct
from typing import Any

from fathom.apps.logs.base import LogBody, LogParser

# The longest message read whole: a 64 KiB buffer (the most clients read, write or list a
# directory in at once) with its headers. A longer one is read from its first MAX_MESSAGE bytes,
# which hold its header, and the rest skipped by its length.
MAX_MESSAGE = 64 * 1024 + 4096
# Requests waiting for their responses; one more ends the log (Suricata: 1024, then an error).
MAX_TRANSACTIONS = 256
# File names remembered by message and by file id (for SMB2 set-info requests), and their length.
MAX_NAMES = 256
MAX_NAME = 8192

_NBSS = struct.Struct("!I")
_NBSS_SESSION_MESSAGE = 0
_NBSS_LENGTH_MASK = 0xFFFFFF
# The bytes kept between searches for a message after a gap: its 8-byte start but one.
_RESYNC_TAIL = 7

# SMB2 header: protocol, StructureSize, CreditCharge, Status (ChannelSequence and Reserved in a
# request), Command, Credits, Flags, NextCommand, MessageId, ProcessId (or the high half of
# AsyncId), TreeId (or its low half), SessionId, Signature.
_SMB2_HEADER = struct.Struct("<4sHHIHHIIQIIQ16s")
_SMB2_RESPONSE = 0x1
_SMB2_ASYNC = 0x2
# SMB1 header: protocol, Command, Status, Flags, Flags2, PIDHigh, SecurityFeatures, Reserved,
# TID, PIDLow, UID, MID.
_SMB1_HEADER = struct.Struct("<4sBIBHH8s2sHHHH")
_SMB1_REPLY = 0x80
_SMB1_FLAGS2_NT_STATUS = 0x4000
_SMB1_FLAGS2_UNICODE = 0x8000
_SMB1_ANDX = struct.Struct("<BBBH")
_SMB1_NONE = 0xFF

_U16 = struct.Struct("<H")
_PASSWORD_LENGTHS = struct.Struct("<HH")
_TIMES = struct.Struct("<QQQQ")
_NEGOTIATE2_REQUEST = struct.Struct("<2sHHHI16sIHH")
_NEGOTIATE2_RESPONSE = struct.Struct("<2s2sHH16sIIII")
_CREATE2_REQUEST = struct.Struct("<36sIIHH8s")
_CREATE2_RESPONSE = struct.Struct("<HBBI32sQQII16s8s")
_IOCTL2_REQUEST = struct.Struct("<2s2sI16sII4sII12s")
_SET_INFO2_REQUEST = struct.Struct("<HBBIH2sI16s")
_RENAME_INFO = struct.Struct("<B7s8sI")
_NEGOTIATE1_RESPONSE = struct.Struct("<BHB16sIQHBH")
_CREATE1_REQUEST = struct.Struct("<6sH28sII5sH")
_CREATE1_RESPONSE = struct.Struct("<BBBHB2sI32sIQQHHB")

# Suricata's transaction header kinds (``SMBHDR_TYPE_*``): a transaction is found by its kind,
# session and message id (never its tree id, which an async response does not carry).
_KEY_GENERIC = 5
_KEY_HEADER = 6
_KEY_TREE = 9

_SMB2_NEGOTIATE = 0
_SMB2_SESSION_SETUP = 1
_SMB2_TREE_CONNECT = 3
_SMB2_CREATE = 5
_SMB2_CLOSE = 6
_SMB2_READ = 8
_SMB2_WRITE = 9
_SMB2_IOCTL = 11
_SMB2_GET_INFO = 16
_SMB2_SET_INFO = 17
# Commands whose requests open no transaction of their own.
_SMB2_UNTRACKED = frozenset((_SMB2_READ, _SMB2_WRITE, _SMB2_GET_INFO, _SMB2_SET_INFO))
# SMB2 command names by code.
_SMB2_COMMANDS = (
    "NEGOTIATE_PROTOCOL",
    "SESSION_SETUP",
    "SESSION_LOGOFF",
    "TREE_CONNECT",
    "TREE_DISCONNECT",
    "CREATE",
    "CLOSE",
    "FLUSH",
    "READ",
    "WRITE",
    "LOCK",
    "IOCTL",
    "CANCEL",
    "KEEPALIVE",
    "FIND",
    "CHANGE_NOTIFY",
    "GET_INFO",
    "SET_INFO",
    "OPLOCK_BREAK",
)
_SMB2_DIALECTS = {
    0x0202: "2.02",
    0x0210: "2.10",
    0x0222: "2.22",
    0x0224: "2.24",
    0x02FF: "2.??",
    0x0300: "3.00",
    0x0302: "3.02",
    0x0310: "3.10",
    0x0311: "3.11",
}
_SHARE_TYPES = {1: "FILE", 2: "PIPE", 3: "PRINT"}
_SHARE_TYPE_PIPE = 2
_FILE_INFO_CLASS = 1
_FILE_RENAME_INFORMATION = 10
_FILE_DISPOSITION_INFORMATION = 13
_CREATE_DIRECTORY_FILE = 0x1
_CREATE_DELETE_ON_CLOSE = 0x1000
_DISPOSITIONS = (
    "FILE_SUPERSEDE",
    "FILE_OPEN",
    "FILE_CREATE",
    "FILE_OPEN_IF",
    "FILE_OVERWRITE",
    "FILE_OVERWRITE_IF",
)
_STATUS_SUCCESS = 0
_STATUS_PENDING = 0x103
# Seconds from 1601 (FILETIME's epoch) to 1970, and FILETIME ticks per second.
_FILETIME_EPOCH = 11644473600
_FILETIME_TICKS = 10_000_000

_SMB1_CLOSE = 0x04
_SMB1_LOCKING_ANDX = 0x24
_SMB1_TRANS = 0x25
_SMB1_WRITE = 0x0B
_SMB1_WRITE_AND_CLOSE = 0x2C
_SMB1_READ_ANDX = 0x2E
_SMB1_WRITE_ANDX = 0x2F
_SMB1_TRANS2 = 0x32
_SMB1_TRANS2_SECONDARY = 0x33
_SMB1_NEGOTIATE = 0x72
_SMB1_SESSION_SETUP_ANDX = 0x73
_SMB1_LOGOFF_ANDX = 0x74
_SMB1_TREE_CONNECT_ANDX = 0x75
_SMB1_NT_CREATE_ANDX = 0xA2
_SMB1_NT_CANCEL = 0xA4
_SMB1_HEADER_SIZE = 32
_SMB1_ANDX_COMMANDS = frozenset((0x24, 0x2D, 0x2E, 0x73, 0x74, 0x75, 0xA2, 0x2F))
# Requests that open no transaction (reads, writes and transactions on pipes or files).
_SMB1_UNTRACKED = frozenset((_SMB1_READ_ANDX, _SMB1_WRITE_ANDX, _SMB1_TRANS, _SMB1_TRANS2))
# Responses that complete no generic transaction.
_SMB1_UNCHECKED = frozenset((_SMB1_READ_ANDX, _SMB1_WRITE_ANDX, _SMB1_TRANS))
# Requests that get no response: their transaction is complete when made.
_SMB1_UNANSWERED = frozenset((_SMB1_NT_CANCEL, _SMB1_TRANS2_SECONDARY, _SMB1_LOCKING_ANDX))
_SMB1_COMMANDS = {
    0x00: "CREATE_DIRECTORY",
    0x01: "DELETE_DIRECTORY",
    0x02: "OPEN",
    0x03: "CREATE",
    0x04: "CLOSE",
    0x05: "FLUSH",
    0x06: "DELETE",
    0x07: "RENAME",
    0x08: "QUERY_INFORMATION",
    0x09: "SET_INFORMATION",
    0x0A: "READ",
    0x0B: "WRITE",
    0x0C: "LOCK_BYTE_RANGE",
    0x0D: "UNLOCK_BYTE_RANGE",
    0x0E: "CREATE_TEMPORARY",
    0x0F: "CREATE_NEW",
    0x10: "CHECK_DIRECTORY",
    0x11: "PROCESS_EXIT",
    0x12: "SEEK",
    0x13: "LOCK_AND_READ",
    0x14: "WRITE_AND_UNLOCK",
    0x24: "LOCKING_ANDX",
    0x25: "TRANS",
    0x2B: "ECHO",
    0x2C: "WRITE_AND_CLOSE",
    0x2D: "OPEN_ANDX",
    0x2E: "READ_ANDX",
    0x2F: "WRITE_ANDX",
    0x32: "TRANS2",
    0x33: "TRANS2_SECONDARY",
    0x34: "FIND_CLOSE2",
    0x71: "TREE_DISCONNECT",
    0x72: "NEGOTIATE_PROTOCOL",
    0x73: "SESSION_SETUP_ANDX",
    0x74: "LOGOFF_ANDX",
    0x75: "TREE_CONNECT_ANDX",
    0x80: "QUERY_INFO_DISK",
    0xA0: "NT_TRANS",
    0xA1: "NT_TRANS_SECONDARY",
    0xA2: "NT_CREATE_ANDX",
    0xA4: "NT_CANCEL",
}
# SMB1 DOS error classes and their codes' names.
_DOS_ERROR_CLASS = 1
_SERVER_ERROR_CLASS = 2
_DOS_ERRORS = {
    0: "SUCCESS",
    1: "BAD_FUNC",
    2: "BAD_FILE",
    3: "BAD_PATH",
    4: "TOO_MANY_OPEN_FILES",
    5: "ACCESS_DENIED",
}
_SERVER_ERRORS = {1: "ERROR", 2: "BADPW", 3: "BADTYPE", 4: "ACCESS", 91: "BADUID"}
# NT statuses by code, each named STATUS_<name>.
_NT_STATUSES = {
    0x00000000: "SUCCESS",
    0x00000103: "PENDING",
    0x00000104: "REPARSE",
    0x00000105: "MORE_ENTRIES",
    0x0000010B: "NOTIFY_CLEANUP",
    0x0000010C: "NOTIFY_ENUM_DIR",
    0x80000005: "BUFFER_OVERFLOW",
    0x80000006: "NO_MORE_FILES",
    0x8000001A: "NO_MORE_ENTRIES",
    0x8000002D: "STOPPED_ON_SYMLINK",
    0xC0000001: "UNSUCCESSFUL",
    0xC0000002: "NOT_IMPLEMENTED",
    0xC0000003: "INVALID_INFO_CLASS",
    0xC0000004: "INFO_LENGTH_MISMATCH",
    0xC0000008: "INVALID_HANDLE",
    0xC000000D: "INVALID_PARAMETER",
    0xC000000E: "NO_SUCH_DEVICE",
    0xC000000F: "NO_SUCH_FILE",
    0xC0000010: "INVALID_DEVICE_REQUEST",
    0xC0000011: "END_OF_FILE",
    0xC0000016: "MORE_PROCESSING_REQUIRED",
    0xC0000017: "NO_MEMORY",
    0xC0000022: "ACCESS_DENIED",
    0xC0000023: "BUFFER_TOO_SMALL",
    0xC0000024: "OBJECT_TYPE_MISMATCH",
    0xC0000033: "OBJECT_NAME_INVALID",
    0xC0000034: "OBJECT_NAME_NOT_FOUND",
    0xC0000035: "OBJECT_NAME_COLLISION",
    0xC0000039: "OBJECT_PATH_INVALID",
    0xC000003A: "OBJECT_PATH_NOT_FOUND",
    0xC000003B: "OBJECT_PATH_SYNTAX_BAD",
    0xC0000043: "SHARING_VIOLATION",
    0xC0000044: "QUOTA_EXCEEDED",
    0xC0000054: "FILE_LOCK_CONFLICT",
    0xC0000055: "LOCK_NOT_GRANTED",
    0xC0000056: "DELETE_PENDING",
    0xC000005F: "NO_SUCH_LOGON_SESSION",
    0xC0000061: "PRIVILEGE_NOT_HELD",
    0xC000006A: "WRONG_PASSWORD",
    0xC000006D: "LOGON_FAILURE",
    0xC000006E: "ACCOUNT_RESTRICTION",
    0xC000006F: "INVALID_LOGON_HOURS",
    0xC0000070: "INVALID_WORKSTATION",
    0xC0000071: "PASSWORD_EXPIRED",
    0xC0000072: "ACCOUNT_DISABLED",
    0xC000007F: "DISK_FULL",
    0xC000009A: "INSUFFICIENT_RESOURCES",
    0xC00000AC: "PIPE_NOT_AVAILABLE",
    0xC00000AD: "INVALID_PIPE_STATE",
    0xC00000AE: "PIPE_BUSY",
    0xC00000B0: "PIPE_DISCONNECTED",
    0xC00000B1: "PIPE_CLOSING",
    0xC00000B5: "IO_TIMEOUT",
    0xC00000BA: "FILE_IS_A_DIRECTORY",
    0xC00000BB: "NOT_SUPPORTED",
    0xC00000BE: "BAD_NETWORK_PATH",
    0xC00000C3: "INVALID_NETWORK_RESPONSE",
    0xC00000C9: "NETWORK_NAME_DELETED",
    0xC00000CA: "NETWORK_ACCESS_DENIED",
    0xC00000CC: "BAD_NETWORK_NAME",
    0xC00000D0: "REQUEST_NOT_ACCEPTED",
    0xC00000D4: "NOT_SAME_DEVICE",
    0xC0000101: "DIRECTORY_NOT_EMPTY",
    0xC0000103: "NOT_A_DIRECTORY",
    0xC0000120: "CANCELLED",
    0xC0000128: "FILE_CLOSED",
    0xC000014B: "PIPE_BROKEN",
    0xC000015B: "LOGON_TYPE_NOT_GRANTED",
    0xC0000184: "INVALID_DEVICE_STATE",
    0xC0000193: "ACCOUNT_EXPIRED",
    0xC000019C: "FS_DRIVER_REQUIRED",
    0xC0000203: "USER_SESSION_DELETED",
    0xC0000205: "INSUFF_SERVER_RESOURCES",
    0xC000020C: "CONNECTION_DISCONNECTED",
    0xC0000224: "PASSWORD_MUST_CHANGE",
    0xC0000225: "NOT_FOUND",
    0xC0000234: "ACCOUNT_LOCKED_OUT",
    0xC0000257: "PATH_NOT_COVERED",
    0xC000026E: "VOLUME_DISMOUNTED",
    0xC000035C: "NETWORK_SESSION_EXPIRED",
    0xC0000466: "SERVER_UNAVAILABLE",
    0xC000A000: "INVALID_SIGNATURE",
}
# FSCTL codes by name, as Suricata (after Wireshark) names them.
_FSCTLS = {
    0x00060194: "DFS_GET_REFERRALS",
    0x000601B0: "DFS_GET_REFERRALS_EX",
    0x00090000: "REQUEST_OPLOCK_LEVEL_1",
    0x00090004: "REQUEST_OPLOCK_LEVEL_2",
    0x00090008: "REQUEST_BATCH_OPLOCK",
    0x0009000C: "OPLOCK_BREAK_ACKNOWLEDGE",
    0x00090010: "OPBATCH_ACK_CLOSE_PENDING",
    0x00090014: "OPLOCK_BREAK_NOTIFY",
    0x00090018: "LOCK_VOLUME",
    0x0009001C: "UNLOCK_VOLUME",
    0x00090020: "DISMOUNT_VOLUME",
    0x00090028: "IS_VOLUME_MOUNTED",
    0x0009002C: "IS_PATHNAME_VALID",
    0x00090030: "MARK_VOLUME_DIRTY",
    0x0009003B: "QUERY_RETRIEVAL_POINTERS",
    0x0009003C: "GET_COMPRESSION",
    0x0009004F: "MARK_AS_SYSTEM_HIVE",
    0x00090050: "OPLOCK_BREAK_ACK_NO_2",
    0x00090054: "INVALIDATE_VOLUMES",
    0x00090058: "QUERY_FAT_BPB",
    0x0009005C: "REQUEST_FILTER_OPLOCK",
    0x00090060: "FILESYSTEM_GET_STATISTICS",
    0x00090064: "GET_NTFS_VOLUME_DATA",
    0x00090068: "GET_NTFS_FILE_RECORD",
    0x0009006F: "GET_VOLUME_BITMAP",
    0x00090073: "GET_RETRIEVAL_POINTERS",
    0x00090074: "MOVE_FILE",
    0x00090078: "IS_VOLUME_DIRTY",
    0x0009007C: "GET_HFS_INFORMATION",
    0x00090083: "ALLOW_EXTENDED_DASD_IO",
    0x00090087: "READ_PROPERTY_DATA",
    0x0009008B: "WRITE_PROPERTY_DATA",
    0x0009008F: "FIND_FILES_BY_SID",
    0x00090097: "DUMP_PROPERTY_DATA",
    0x0009009C: "GET_OBJECT_ID",
    0x000900A4: "SET_REPARSE_POINT",
    0x000900A8: "GET_REPARSE_POINT",
    0x000900C0: "CREATE_OR_GET_OBJECT_ID",
    0x000900C4: "SET_SPARSE",
    0x000900D4: "SET_ENCRYPTION",
    0x000900DB: "ENCRYPTION_FSCTL_IO",
    0x000900DF: "WRITE_RAW_ENCRYPTED",
    0x000900E3: "READ_RAW_ENCRYPTED",
    0x000900F0: "EXTEND_VOLUME",
    0x00090244: "CSV_TUNNEL_REQUEST",
    0x0009027C: "GET_INTEGRITY_INFORMATION",
    0x00090284: "QUERY_FILE_REGIONS",
    0x000902C8: "CSV_SYNC_TUNNEL_REQUEST",
    0x00090300: "QUERY_SHARED_VIRTUAL_DISK_SUPPORT",
    0x00090304: "SVHDX_SYNC_TUNNEL_REQUEST",
    0x00090308: "SVHDX_SET_INITIATOR_INFORMATION",
    0x0009030C: "SET_EXTERNAL_BACKING",
    0x00090310: "GET_EXTERNAL_BACKING",
    0x00090314: "DELETE_EXTERNAL_BACKING",
    0x00090318: "ENUM_EXTERNAL_BACKING",
    0x0009031F: "ENUM_OVERLAY",
    0x00090350: "STORAGE_QOS_CONTROL",
    0x00090364: "SVHDX_ASYNC_TUNNEL_REQUEST",
    0x000940B3: "ENUM_USN_DATA",
    0x000940B7: "SECURITY_ID_CHECK",
    0x000940BB: "READ_USN_JOURNAL",
    0x000940CF: "QUERY_ALLOCATED_RANGES",
    0x000940E7: "CREATE_USN_JOURNAL",
    0x000940EB: "READ_FILE_USN_DATA",
    0x000940EF: "WRITE_USN_CLOSE_RECORD",
    0x00094264: "OFFLOAD_READ",
    0x00098098: "SET_OBJECT_ID",
    0x000980A0: "DELETE_OBJECT_ID",
    0x000980A4: "SET_REPARSE_POINT",
    0x000980AC: "DELETE_REPARSE_POINT",
    0x000980BC: "SET_OBJECT_ID_EXTENDED",
    0x000980C8: "SET_ZERO_DATA",
    0x000980D0: "ENABLE_UPGRADE",
    0x00098208: "FILE_LEVEL_TRIM",
    0x00098268: "OFFLOAD_WRITE",
    0x0009C040: "SET_COMPRESSION",
    0x0009C280: "SET_INTEGRITY_INFORMATION",
    0x00110018: "PIPE_WAIT",
    0x0011400C: "PIPE_PEEK",
    0x0011C017: "PIPE_TRANSCEIVE",
    0x00140078: "SRV_REQUEST_RESUME_KEY",
    0x001401D4: "LMR_REQUEST_RESILIENCY",
    0x001401FC: "QUERY_NETWORK_INTERFACE_INFO",
    0x00140200: "VALIDATE_NEGOTIATE_INFO_224",
    0x00140204: "VALIDATE_NEGOTIATE_INFO",
    0x00144064: "SRV_ENUMERATE_SNAPSHOTS",
    0x001440F2: "SRV_COPYCHUNK",
    0x001441BB: "SRV_READ_HASH",
    0x001480F2: "SRV_COPYCHUNK_WRITE",
}


def _resync(direction: _Direction, data: bytes) -> bytes:
    """After a gap: ``data`` from the next NetBIOS session message that begins an SMB message (an
    SMB protocol id after a session message's type byte, as Suricata's ``search_smb_record``
    finds one); nothing while there is none, keeping the bytes that could begin one."""
    window = direction.tail + data
    found = window.find(b"SMB", 5)
    while found >= 0:
        if window[found - 1] in (0xFD, 0xFE, 0xFF) and window[found - 5] == _NBSS_SESSION_MESSAGE:
            direction.lost = False
            direction.tail = b""
            return window[found - 5 :]
        found = window.find(b"SMB", found + 1)
    direction.tail = window[-_RESYNC_TAIL:]
    return b""


def _lossy(data: bytes) -> str:
    # Rust's String::from_utf8_lossy, as Suricata writes SMB names.
    return data.decode("utf-8", "replace")


def _strip_nuls(data: bytes) -> bytes:
    """A UTF-16LE name as Suricata reads it: its zero bytes dropped."""
    return data.replace(b"\x00", b"")


def _guid_text(guid: bytes) -> str:
    """A GUID as Suricata's ``guid_to_string`` writes it (its own byte order, not RFC 4122's)."""
    if len(guid) != 16:
        return ""
    order = (3, 2, 1, 0, -1, 5, 4, -1, 7, 6, -1, 9, 8, -1, 11, 10, 15, 14, 13, 12)
    return "".join("-" if i < 0 else f"{guid[i]:02x}" for i in order)


def _fuid_text(fuid: bytes) -> str:
    """A file id: an SMB2 GUID, or an SMB1 FID (2 bytes, little-endian)."""
    if len(fuid) == 16:
        return _guid_text(fuid)
    if len(fuid) == 2:
        return f"{fuid[1]:02x}{fuid[0]:02x}"
    return ""


def _unix_time(filetime: int) -> int:
    return (
        filetime // _FILETIME_TICKS - _FILETIME_EPOCH if filetime > _FILETIME_EPOCH * _FILETIME_TICKS else 0
    )


def _smb2_command(command: int) -> str:
    return f"SMB2_COMMAND_{_SMB2_COMMANDS[command]}" if command < len(_SMB2_COMMANDS) else str(command)


def _smb1_command(command: int) -> str:
    name = _SMB1_COMMANDS.get(command)
    return str(command) if name is None else f"SMB1_COMMAND_{name}"


def _unicode_string(data: bytes, pos: int) -> tuple[bytes, int] | None:
    """Suricata's ``smb_get_unicode_string``: the low byte of each UTF-16 unit up to a zero unit
    (or a last lone zero byte), and where it ends; None when there is no end."""
    name = bytearray()
    while pos < len(data):
        if pos + 1 == len(data):
            return (bytes(name), pos + 1) if data[pos] == 0 else None
        if data[pos] == 0 and data[pos + 1] == 0:
            return bytes(name), pos + 2
        name.append(data[pos])
        pos += 2
    return None


def _ascii_string(data: bytes, pos: int) -> tuple[bytes, int] | None:
    end = data.find(b"\x00", pos)
    return None if end < 0 else (data[pos:end], end + 1)


class _Tx:
    """One transaction: its command, the header fields Suricata keys and logs it by, its status
    once answered, and what its kind of request adds to the event."""

    __slots__ = (
        "command",
        "done",
        "extra",
        "id",
        "key_kind",
        "kind",
        "msg_id",
        "session_id",
        "status",
        "tree_id",
        "version",
    )

    def __init__(self, tx_id: int, version: int, command: int, kind: str | None) -> None:
        self.id = tx_id
        self.version = version
        self.command = command
        self.kind = kind
        self.key_kind = 0
        self.session_id = 0
        self.tree_id = 0
        self.msg_id = 0
        self.done = False
        # (is a DOS error, value, DOS error class), once a response set it.
        self.status: tuple[bool, int, int] | None = None
        self.extra: dict[str, Any] = {}

    def keyed(self, key_kind: int, session_id: int, tree_id: int, msg_id: int) -> _Tx:
        self.key_kind, self.session_id, self.tree_id, self.msg_id = key_kind, session_id, tree_id, msg_id
        return self

    def matches(self, key_kind: int, session_id: int, msg_id: int) -> bool:
        return self.key_kind == key_kind and self.session_id == session_id and self.msg_id == msg_id

    def set_status(self, status: int, dos_error: bool = False) -> None:
        if dos_error:
            self.status = (True, (status & 0xFFFF0000) >> 16, status & 0xFF)
        else:
            self.status = (False, status, 0)


class _Smb2Record:
    __slots__ = ("command", "data", "message_id", "session_id", "status", "tree_id")

    def __init__(
        self, command: int, status: int, message_id: int, tree_id: int, session_id: int, data: bytes
    ) -> None:
        self.command = command
        self.status = status
        self.message_id = message_id
        self.tree_id = tree_id
        self.session_id = session_id
        self.data = data


class _Smb1Record:
    __slots__ = ("command", "data", "dos_error", "mid", "status", "tid", "uid", "unicode")

    def __init__(self, header: tuple[Any, ...], data: bytes) -> None:
        _, self.command, self.status, _, flags2, _, _, _, self.tid, _, self.uid, self.mid = header
        self.dos_error = not flags2 & _SMB1_FLAGS2_NT_STATUS
        self.unicode = bool(flags2 & _SMB1_FLAGS2_UNICODE)
        # The bytes after the 32-byte header: AndX offsets count from the header's start.
        self.data = data

    def string(self, pos: int, parity: int) -> tuple[bytes, int] | None:
        """A string at ``pos`` of the data, in the message's encoding; a Unicode one starts on
        an even offset, which Suricata reckons from ``parity``."""
        if not self.unicode:
            return _ascii_string(self.data, pos)
        if parity % 2:
            if pos >= len(self.data):
                return None
            pos += 1
        return _unicode_string(self.data, pos)

    def host_names(self, pos: int, count: int) -> list[bytes]:
        """Native OS, LAN manager (and domain): as many as are there of ``count`` strings."""
        names: list[bytes] = []
        if self.unicode and len(self.data) - pos > 1:
            pos += pos % 2
            read = _unicode_string
        else:
            read = _ascii_string
        for _ in range(count):
            found = read(self.data, pos)
            if found is None:
                break
            names.append(found[0])
            pos = found[1]
        return names + [b""] * (count - len(names))


class _Direction:
    """One direction's framing state: the message being gathered, the bytes still to skip of one
    longer than MAX_MESSAGE, and after a gap, the last bytes searched for the next message."""

    __slots__ = ("buffer", "lost", "skip", "tail")

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.skip = 0
        self.lost = False
        self.tail = b""


class SmbLog(LogParser):
    """One flow's SMB transactions, one event each."""

    __slots__ = (
        "_dialect",
        "_dialect_name",
        "_directions",
        "_max_read",
        "_max_write",
        "_names_by_guid",
        "_names_by_request",
        "_next_id",
        "_txs",
    )
    event_type = "smb"

    def __init__(self) -> None:
        super().__init__()
        self._directions = (_Direction(), _Direction())
        self._txs: list[_Tx] = []
        self._next_id = 0
        # The SMB2 dialect the server chose (0: none), else the SMB1 one's name.
        self._dialect = 0
        self._dialect_name: bytes | None = None
        self._max_read = 0
        self._max_write = 0
        # SMB2 CREATE names: by (SessionId, MessageId) until answered, then by FileId.
        self._names_by_request: dict[tuple[int, int], bytes] = {}
        self._names_by_guid: dict[bytes, bytes] = {}

    def feed(self, to_server: bool, data: bytes) -> list[LogBody]:
        direction = self._directions[0 if to_server else 1]
        if direction.lost:
            data = _resync(direction, data)
        events: list[LogBody] = []
        pos = 0
        while pos < len(data) and not self.done:
            if direction.skip:
                step = min(direction.skip, len(data) - pos)
                direction.skip -= step
                pos += step
                continue
            pos = self._gather(direction, data, pos)
            message = self._message(direction)
            if message is not None:
                self._read_message(to_server, message[0], message[1])
                # Once encrypted or failed, no response will be read: what is open is written now.
                events += self.end() if self.done else self._completed()
        return events

    def gap(self, to_server: bool, length: int) -> list[LogBody]:
        direction = self._directions[0 if to_server else 1]
        if direction.skip >= length:
            direction.skip -= length  # lost within a message passed over anyway
        else:
            # As Suricata does, search the bytes after the gap for the next message.
            direction.buffer.clear()
            direction.skip = 0
            direction.lost = True
        return []

    def end(self) -> list[LogBody]:
        events = [self._event(tx) for tx in self._txs]
        self._txs.clear()
        return events

    @staticmethod
    def _gather(direction: _Direction, data: bytes, pos: int) -> int:
        """Add to the buffer what the next message still needs of ``data`` from ``pos`` (its
        4-byte header, then as much of it as is kept); return where the rest of ``data`` starts."""
        buffer = direction.buffer
        if len(buffer) < 4:
            take = min(4 - len(buffer), len(data) - pos)
            buffer += data[pos : pos + take]
            pos += take
            if len(buffer) < 4:
                return pos
        length: int = _NBSS.unpack_from(buffer)[0] & _NBSS_LENGTH_MASK
        take = min(4 + min(length, MAX_MESSAGE) - len(buffer), len(data) - pos)
        buffer += data[pos : pos + take]
        return pos + take

    def _message(self, direction: _Direction) -> tuple[bytes, bool] | None:
        """The session message the buffer holds whole (or as far as MAX_MESSAGE), with whether it
        was cut; None while it needs more. Other NetBIOS messages are passed over."""
        buffer = direction.buffer
        if len(buffer) < 4:
            return None
        header = _NBSS.unpack_from(buffer)[0]
        length = header & _NBSS_LENGTH_MASK
        kept = min(length, MAX_MESSAGE)
        if len(buffer) < 4 + kept:
            return None
        message = bytes(buffer[4:])
        buffer.clear()
        direction.skip = length - kept
        if header >> 24 != _NBSS_SESSION_MESSAGE:
            return None
        return message, length > kept

    def _read_message(self, to_server: bool, message: bytes, cut: bool) -> None:
        if len(message) < 4:
            if to_server:
                self.fail("malformed_data")
            return
        if message[1:4] != b"SMB":
            self.fail("malformed_data")
        elif message[0] == 0xFF:
            self._read_smb1(to_server, message, cut)
        elif message[0] == 0xFE:
            self._read_smb2(to_server, message, cut)
        elif message[0] == 0xFD:
            self.done = True  # encrypted from here on

    # --- transactions -------------------------------------------------------------------------

    def _new_tx(self, version: int, command: int, kind: str | None = None) -> _Tx | None:
        if len(self._txs) >= MAX_TRANSACTIONS:
            self.fail("too_many_transactions")
            return None
        self._next_id += 1
        tx = _Tx(self._next_id, version, command, kind)
        self._txs.append(tx)
        return tx

    def _find(self, version: int, command: int, key_kind: int, session_id: int, msg_id: int) -> _Tx | None:
        for tx in self._txs:
            if tx.version == version and tx.command == command and tx.matches(key_kind, session_id, msg_id):
                return tx
        return None

    def _find_kind(self, kind: str, key_kind: int, session_id: int, msg_id: int) -> _Tx | None:
        for tx in self._txs:
            if tx.kind == kind and tx.matches(key_kind, session_id, msg_id):
                return tx
        return None

    def _negotiation(self, version: int) -> _Tx | None:
        for tx in self._txs:
            if tx.kind == "negotiate" and tx.extra["version"] == version:
                return tx
        return None

    def _completed(self) -> list[LogBody]:
        done = [tx for tx in self._txs if tx.done]
        if done:
            self._txs = [tx for tx in self._txs if not tx.done]
        return [self._event(tx) for tx in done]

    def _remember(self, names: dict[Any, bytes], key: Any, name: bytes) -> None:
        if len(names) >= MAX_NAMES and key not in names:
            del names[next(iter(names))]
        names[key] = name[:MAX_NAME]

    # --- SMB2 ---------------------------------------------------------------------------------

    def _read_smb2(self, to_server: bool, message: bytes, cut: bool) -> None:
        pos = 0
        while pos < len(message) and not self.done:
            if len(message) - pos < _SMB2_HEADER.size:
                if not cut:
                    self.fail("malformed_data")
                return
            _, size, _, status, command, _, flags, chain, msg_id, _, tree_id, session_id, _ = (
                _SMB2_HEADER.unpack_from(message, pos)
            )
            start = pos + _SMB2_HEADER.size
            end = len(message) if chain <= size else start + chain - size
            if end > len(message):
                if not cut:
                    self.fail("malformed_data")
                return
            response = bool(flags & _SMB2_RESPONSE)
            if to_server and not response:
                record = _Smb2Record(command, 0, msg_id, tree_id, session_id, message[start:end])
                self._smb2_request(record)
            elif not to_server and response:
                tree_id = 0 if flags & _SMB2_ASYNC else tree_id
                self._smb2_response(
                    _Smb2Record(command, status, msg_id, tree_id, session_id, message[start:end])
                )
            pos = end

    def _smb2_tx(self, r: _Smb2Record, kind: str | None, key_kind: int, tree_id: int) -> _Tx | None:
        tx = self._new_tx(2, r.command, kind)
        return None if tx is None else tx.keyed(key_kind, r.session_id, tree_id, r.message_id)

    def _smb2_request(self, r: _Smb2Record) -> None:
        handler = _SMB2_REQUESTS.get(r.command)
        opened = handler(self, r) if handler is not None else False
        if r.command == _SMB2_CLOSE and len(r.data) >= 24:
            self._names_by_guid.pop(r.data[8:24], None)
        if not opened and r.command not in _SMB2_UNTRACKED:
            self._smb2_tx(r, None, _KEY_GENERIC, r.tree_id)

    def _smb2_negotiate_request(self, r: _Smb2Record) -> bool:
        if len(r.data) < _NEGOTIATE2_REQUEST.size:
            return False
        _, count, _, _, _, client_guid, _, _, _ = _NEGOTIATE2_REQUEST.unpack_from(r.data)
        end = _NEGOTIATE2_REQUEST.size + 2 * count
        if end > len(r.data):
            return False
        if self._negotiation(2) is None:
            tx = self._new_tx(2, _SMB2_NEGOTIATE, "negotiate")
            if tx is not None:
                dialects = struct.unpack_from(f"<{count}H", r.data, _NEGOTIATE2_REQUEST.size)
                tx.extra.update(
                    version=2,
                    dialects=[_SMB2_DIALECTS.get(d, str(d)) for d in dialects],
                    client_guid=client_guid,
                    server_guid=b"",
                )
        return True

    def _smb2_session_setup_request(self, r: _Smb2Record) -> bool:
        if len(r.data) >= 24:  # the fixed part of the request
            self._smb2_tx(r, "session_setup", _KEY_HEADER, r.tree_id)
        return True

    def _smb2_tree_connect_request(self, r: _Smb2Record) -> bool:
        if len(r.data) < 6:
            return False
        # From the path's length field on, zero bytes dropped, then the first byte (the length's
        # low byte): how Suricata turns the UTF-16 path into its share name.
        share = _strip_nuls(r.data[6:])
        tx = self._smb2_tx(r, "tree_connect", _KEY_TREE, 0)
        if tx is not None:
            tx.extra.update(share=share[1:] if len(share) > 1 else share, is_pipe=False, share_type=0)
        return True

    def _smb2_create_request(self, r: _Smb2Record) -> bool:
        if len(r.data) < _CREATE2_REQUEST.size:
            return False
        _, disposition, options, _, name_length, _ = _CREATE2_REQUEST.unpack_from(r.data)
        end = _CREATE2_REQUEST.size + name_length
        if end > len(r.data):
            return False
        name = r.data[_CREATE2_REQUEST.size : end]
        self._remember(self._names_by_request, (r.session_id, r.message_id), name)
        tx = self._smb2_tx(r, "create", _KEY_GENERIC, r.tree_id)
        if tx is not None:
            tx.extra.update(_create_request(name, disposition, options))
        return True

    def _smb2_ioctl_request(self, r: _Smb2Record) -> bool:
        function = None
        if len(r.data) >= _IOCTL2_REQUEST.size:
            fields = _IOCTL2_REQUEST.unpack_from(r.data)
            if _IOCTL2_REQUEST.size + fields[5] <= len(r.data):
                function = fields[2]
        tx = self._smb2_tx(r, None if function is None else "ioctl", _KEY_HEADER, r.tree_id)
        if tx is not None and function is not None:
            tx.extra["function"] = function
        return True

    def _smb2_set_info_request(self, r: _Smb2Record) -> bool:
        if len(r.data) < _SET_INFO2_REQUEST.size:
            return False
        _, info_class, level, size, _, _, _, guid = _SET_INFO2_REQUEST.unpack_from(r.data)
        info = r.data[_SET_INFO2_REQUEST.size : _SET_INFO2_REQUEST.size + size]
        if len(info) < size or info_class != _FILE_INFO_CLASS:
            return False
        if level == _FILE_RENAME_INFORMATION:
            return self._smb2_rename(r, guid, info)
        if level == _FILE_DISPOSITION_INFORMATION and info:
            return self._smb2_disposition(r, guid, bool(info[0] & 1))
        return False

    def _smb2_rename(self, r: _Smb2Record, guid: bytes, info: bytes) -> bool:
        if len(info) < _RENAME_INFO.size:
            return False
        length = _RENAME_INFO.unpack_from(info)[3]
        new_name = info[_RENAME_INFO.size : _RENAME_INFO.size + length]
        if len(new_name) < length:
            return False
        tx = self._smb2_tx(r, "rename", _KEY_GENERIC, r.tree_id)
        if tx is not None:
            old_name = self._names_by_guid.get(guid, b"<unknown>")
            tx.extra.update(old=old_name, new=_strip_nuls(new_name), fuid=guid)
        return True

    def _smb2_disposition(self, r: _Smb2Record, guid: bytes, delete: bool) -> bool:
        name = self._names_by_guid.get(guid)
        if name is None:
            # A compounded CREATE just before names the file (its FileId is not known yet).
            previous = (r.session_id, r.message_id - 1)
            name = self._names_by_request.get(previous, b"<unknown>") if r.message_id else b"<unknown>"
        tx = self._smb2_tx(r, "set_file_info", _KEY_GENERIC, r.tree_id)
        if tx is not None:
            tx.extra.update(name=name, fuid=guid, delete=delete)
        return True

    def _smb2_response(self, r: _Smb2Record) -> None:
        handler = _SMB2_RESPONSES.get(r.command)
        if handler is not None and handler(self, r):
            return
        tx = self._find(2, r.command, _KEY_GENERIC, r.session_id, r.message_id)
        if tx is not None:
            tx.set_status(r.status)
            tx.done = r.status != _STATUS_PENDING

    def _smb2_ioctl_response(self, r: _Smb2Record) -> bool:
        tx = self._find(2, _SMB2_IOCTL, _KEY_HEADER, r.session_id, r.message_id)
        if tx is not None:
            tx.set_status(r.status)
            tx.done = r.status != _STATUS_PENDING
        return True

    def _smb2_session_setup_response(self, r: _Smb2Record) -> bool:
        tx = None
        if r.session_id:
            tx = self._find_kind("session_setup", _KEY_HEADER, r.session_id, r.message_id)
        if tx is None:
            tx = self._find_kind("session_setup", _KEY_HEADER, 0, r.message_id)
        if tx is not None:
            tx.keyed(_KEY_HEADER, r.session_id, r.tree_id, r.message_id)
            tx.set_status(r.status)
            tx.done = True
        return True

    def _smb2_create_response(self, r: _Smb2Record) -> bool:
        if r.status != _STATUS_SUCCESS:
            return False
        if len(r.data) < _CREATE2_RESPONSE.size:
            return True  # Suricata leaves the transaction open
        fields = _CREATE2_RESPONSE.unpack_from(r.data)
        times, size, guid = fields[4], fields[6], fields[9]
        name = self._names_by_request.pop((r.session_id, r.message_id), None)
        if name is not None:
            self._remember(self._names_by_guid, guid, _strip_nuls(name))
        tx = self._find(2, _SMB2_CREATE, _KEY_GENERIC, r.session_id, r.message_id)
        if tx is not None:
            tx.set_status(r.status)
            tx.done = True
            if tx.kind == "create":
                tx.extra.update(times=_TIMES.unpack(times), size=size, fuid=guid)
        return True

    def _smb2_tree_connect_response(self, r: _Smb2Record) -> bool:
        success = r.status == _STATUS_SUCCESS
        if success and len(r.data) < 15:  # StructureSize, ShareType, flags, capabilities, access
            return False
        tx = self._find_kind("tree_connect", _KEY_TREE, r.session_id, r.message_id)
        if tx is None:
            return success
        if success:
            share_type = r.data[2]
            tx.extra.update(share_type=share_type, is_pipe=share_type == _SHARE_TYPE_PIPE)
            tx.keyed(_KEY_HEADER, r.session_id, r.tree_id, r.message_id)
        tx.set_status(r.status)
        tx.done = True
        return True

    def _smb2_negotiate_response(self, r: _Smb2Record) -> bool:
        if r.status == _STATUS_SUCCESS:
            if len(r.data) < _NEGOTIATE2_RESPONSE.size:
                return False
            _, _, dialect, _, server_guid, _, _, max_read, max_write = _NEGOTIATE2_RESPONSE.unpack_from(
                r.data
            )
        elif len(r.data) < 4:
            return False
        else:
            dialect, server_guid, max_read, max_write = 0, b"", 0, 0
        self._dialect, self._max_read, self._max_write = dialect, max_read, max_write
        # An SMB2 answer may come to an SMB1 request that offered SMB2 dialects.
        tx = self._negotiation(2) or self._negotiation(1)
        if tx is None:
            return False
        tx.extra["server_guid"] = server_guid
        tx.set_status(r.status)
        tx.done = True
        return True

    # --- SMB1 ---------------------------------------------------------------------------------

    def _read_smb1(self, to_server: bool, message: bytes, cut: bool) -> None:
        if len(message) < _SMB1_HEADER.size:
            if not cut:
                self.fail("malformed_data")
            return
        header = _SMB1_HEADER.unpack_from(message)
        r = _Smb1Record(header, message[_SMB1_HEADER.size :])
        reply = bool(header[3] & _SMB1_REPLY)
        if to_server != reply:
            read_one = self._smb1_request if to_server else self._smb1_response
            command, offset = r.command, _SMB1_HEADER_SIZE
            while not self.done:
                read_one(r, command, offset)
                following = self._smb1_next(r, command, offset)
                if following is None:
                    break
                command, offset = following

    @staticmethod
    def _smb1_next(r: _Smb1Record, command: int, offset: int) -> tuple[int, int] | None:
        """The next command of an AndX chain and its offset, as Suricata follows one."""
        pos = offset - _SMB1_HEADER_SIZE
        if command not in _SMB1_ANDX_COMMANDS or pos + _SMB1_ANDX.size > len(r.data):
            return None
        _, next_command, _, next_offset = _SMB1_ANDX.unpack_from(r.data, pos)
        if (
            next_offset > offset
            and next_command != _SMB1_NONE
            and next_offset - _SMB1_HEADER_SIZE < len(r.data)
        ):
            return next_command, next_offset
        return None

    def _smb1_tx(
        self, r: _Smb1Record, command: int, kind: str | None, key_kind: int, tree_id: int
    ) -> _Tx | None:
        tx = self._new_tx(1, command, kind)
        return None if tx is None else tx.keyed(key_kind, r.uid, tree_id, r.mid)

    def _smb1_request(self, r: _Smb1Record, command: int, offset: int) -> None:
        pos = offset - _SMB1_HEADER_SIZE
        if command == _SMB1_NEGOTIATE:
            opened = self._smb1_negotiate_request(r)
        elif command == _SMB1_NT_CREATE_ANDX:
            opened = self._smb1_create_request(r, command, pos)
        elif command == _SMB1_SESSION_SETUP_ANDX:
            self._smb1_session_setup_request(r, command, pos)
            opened = True
        elif command == _SMB1_TREE_CONNECT_ANDX:
            opened = self._smb1_tree_connect_request(r, command, pos)
        else:
            # Writes and TRANS requests move file and pipe data: Suricata opens file and DCE/RPC
            # transactions for them, which this log does not.
            opened = command in (_SMB1_WRITE_ANDX, _SMB1_WRITE, _SMB1_WRITE_AND_CLOSE, _SMB1_TRANS)
        if not opened and command not in _SMB1_UNTRACKED:
            tx = self._smb1_tx(r, command, None, _KEY_GENERIC, r.tid)
            if tx is not None:
                tx.done = command in _SMB1_UNANSWERED

    def _smb1_negotiate_request(self, r: _Smb1Record) -> bool:
        dialects: list[bytes] = []
        pos = 3  # WordCount and ByteCount
        while True:
            end = r.data.find(b"\x00", pos)
            if end < 0:
                break
            # Each is a buffer format byte, then the dialect's name.
            if end > pos:
                dialects.append(r.data[pos + 1 : end])
            pos = end + 1
        if pos == 3:
            return False
        if self._negotiation(1) is None:
            tx = self._new_tx(1, _SMB1_NEGOTIATE, "negotiate")
            if tx is not None:
                tx.extra.update(version=1, dialects=dialects, server_guid=b"")
        return True

    def _smb1_create_request(self, r: _Smb1Record, command: int, pos: int) -> bool:
        if pos + _CREATE1_REQUEST.size > len(r.data):
            return False
        _, name_length, _, disposition, options, _, byte_count = _CREATE1_REQUEST.unpack_from(r.data, pos)
        name = b""
        if byte_count >= name_length:
            found = r.string(pos + _CREATE1_REQUEST.size, byte_count - name_length)
            if found is None:
                return False
            name = found[0]
        tx = self._smb1_tx(r, command, "create", _KEY_GENERIC, r.tid)
        if tx is not None:
            tx.extra.update(_create_request(name, disposition, options))
        return True

    def _smb1_session_setup_request(self, r: _Smb1Record, command: int, pos: int) -> None:
        names = self._smb1_session_setup_names(r, pos)
        if names is not None:
            tx = self._smb1_tx(r, command, "session_setup", _KEY_HEADER, 0)
            if tx is not None:
                tx.extra["request"] = names

    @staticmethod
    def _smb1_session_setup_names(r: _Smb1Record, pos: int) -> tuple[bytes, bytes] | None:
        """A SESSION_SETUP_ANDX request's native OS and LAN manager; None when it is not one."""
        data = r.data
        if pos >= len(data) or data[pos] not in (12, 13) or pos + 27 > len(data):
            return None
        if data[pos] == 12:  # extended security: a security blob, then the names
            blob_length = _U16.unpack_from(data, pos + 15)[0]
            rest = pos + 27 + blob_length
            if rest > len(data):
                return None
            native_os, native_lm, _ = r.host_names(rest, 3)
            return native_os, native_lm
        if pos + 29 > len(data):
            return None
        oem_length, unicode_length = _PASSWORD_LENGTHS.unpack_from(data, pos + 15)
        rest = pos + 29 + oem_length + unicode_length + (oem_length + unicode_length) % 2
        account = r.string(rest, 0) if rest <= len(data) else None
        if account is None:
            return None
        names = []
        at = account[1]
        for _ in range(3):  # primary domain, native OS, native LAN manager
            found = r.string(at, 0)
            if found is None:
                return b"", b""
            names.append(found[0])
            at = found[1]
        return names[1], names[2]

    def _smb1_tree_connect_request(self, r: _Smb1Record, command: int, pos: int) -> bool:
        if pos + 11 > len(r.data):
            return False
        password_length = _U16.unpack_from(r.data, pos + 7)[0]
        path_at = pos + 11 + password_length
        path = r.string(path_at, 11 + password_length) if path_at <= len(r.data) else None
        service = None if path is None else _ascii_string(r.data, path[1])
        if path is None or service is None:
            return False
        tx = self._smb1_tx(r, command, "tree_connect", _KEY_TREE, 0)
        if tx is not None:
            share = path[0][1:] if len(path[0]) > 1 else path[0]
            tx.extra.update(share=share, is_pipe=False, service_request=service[0])
        return True

    def _smb1_response(self, r: _Smb1Record, command: int, offset: int) -> None:
        pos = offset - _SMB1_HEADER_SIZE
        if command == _SMB1_NEGOTIATE:
            handled = self._smb1_negotiate_response(r)
        elif command == _SMB1_TREE_CONNECT_ANDX:
            handled = self._smb1_tree_connect_response(r, pos)
        elif command == _SMB1_NT_CREATE_ANDX and r.status == _STATUS_SUCCESS:
            handled = self._smb1_create_response(r, command, pos)
        elif command == _SMB1_SESSION_SETUP_ANDX:
            self._smb1_session_setup_response(r, pos)
            handled = True
        elif command == _SMB1_LOGOFF_ANDX:
            last = self._txs[-1] if self._txs else None
            if last is not None and last.version == 1 and last.command == command:
                last.set_status(r.status, r.dos_error)
                last.done = True
            handled = True
        else:
            handled = command in (_SMB1_READ_ANDX, _SMB1_TRANS)
        if not handled and command not in _SMB1_UNCHECKED:
            tx = self._find(1, command, _KEY_GENERIC, r.uid, r.mid)
            if tx is not None:
                tx.set_status(r.status, r.dos_error)
                tx.done = True

    def _smb1_negotiate_response(self, r: _Smb1Record) -> bool:
        data = r.data
        if not data:
            return False
        if data[0] == 0:
            if len(data) < 3:
                return False
            index, server_guid = 0, b""
        else:
            if len(data) < _NEGOTIATE1_RESPONSE.size:
                return False
            fields = _NEGOTIATE1_RESPONSE.unpack_from(data)
            index, byte_count = fields[1], fields[8]
            server_guid = b""
            if byte_count >= 16:
                server_guid = data[_NEGOTIATE1_RESPONSE.size : _NEGOTIATE1_RESPONSE.size + 16]
                if len(server_guid) < 16:
                    return False
        tx = self._negotiation(1)
        if tx is None:
            return False
        tx.set_status(r.status, r.dos_error)
        tx.done = True
        tx.extra["server_guid"] = server_guid
        if index < len(tx.extra["dialects"]):
            self._dialect_name = tx.extra["dialects"][index]
        return True

    def _smb1_tree_connect_response(self, r: _Smb1Record, pos: int) -> bool:
        tx = self._find_kind("tree_connect", _KEY_TREE, r.uid, r.mid)
        if r.status != _STATUS_SUCCESS:
            if tx is not None:
                tx.set_status(r.status, r.dos_error)
                tx.done = True
            return True
        service = self._smb1_tree_service(r, pos)
        if service is None:
            return False
        if tx is not None:
            tx.extra.update(is_pipe=service == b"IPC", service_response=service)
            tx.keyed(_KEY_HEADER, r.uid, r.tid, r.mid)
            tx.set_status(r.status, r.dos_error)
            tx.done = True
        return tx is not None

    @staticmethod
    def _smb1_tree_service(r: _Smb1Record, pos: int) -> bytes | None:
        """A TREE_CONNECT_ANDX response's service; None when it does not parse as one."""
        if pos >= len(r.data):
            return None
        word_count = r.data[pos]
        at = pos + 5 + (2 if word_count >= 3 else 0) + (8 if word_count == 7 else 0) + 2
        service = _ascii_string(r.data, at) if at <= len(r.data) else None
        if service is None or _ascii_string(r.data, service[1]) is None:
            return None
        return service[0]

    def _smb1_create_response(self, r: _Smb1Record, command: int, pos: int) -> bool:
        if pos + _CREATE1_RESPONSE.size > len(r.data):
            return False
        fields = _CREATE1_RESPONSE.unpack_from(r.data, pos)
        extra = 32 if fields[0] == 42 else 0
        if pos + _CREATE1_RESPONSE.size + extra + 2 > len(r.data):
            return False
        tx = self._find(1, command, _KEY_GENERIC, r.uid, r.mid)
        if tx is not None:
            tx.set_status(r.status)
            tx.done = True
            if tx.kind == "create":
                # Suricata's "size" for SMB1 is the allocation size.
                tx.extra.update(times=_TIMES.unpack(fields[7]), size=fields[9], fuid=fields[5])
        return True

    def _smb1_session_setup_response(self, r: _Smb1Record, pos: int) -> None:
        tx = None
        if r.uid:
            tx = self._find_kind("session_setup", _KEY_HEADER, r.uid, r.mid)
        if tx is None:
            tx = self._find_kind("session_setup", _KEY_HEADER, 0, r.mid)
        if tx is None:
            return
        rest = self._smb1_session_setup_response_rest(r, pos)
        if rest is not None:
            native_os, native_lm = r.host_names(rest, 2)
            tx.extra["response"] = (native_os, native_lm)
        tx.keyed(_KEY_HEADER, r.uid, r.tid, r.mid)
        tx.set_status(r.status, r.dos_error)
        tx.done = True

    @staticmethod
    def _smb1_session_setup_response_rest(r: _Smb1Record, pos: int) -> int | None:
        """Where a SESSION_SETUP_ANDX response's names begin; None when it does not parse."""
        data = r.data
        if pos >= len(data):
            return None
        word_count = data[pos]
        if word_count == 0:
            rest = pos + 3
        elif word_count == 3:
            rest = pos + 9
        else:
            if pos + 11 > len(data):
                return None
            rest = pos + 11 + _U16.unpack_from(data, pos + 7)[0]
        return rest if rest <= len(data) else None

    # --- events -------------------------------------------------------------------------------

    def _event(self, tx: _Tx) -> LogBody:
        body: dict[str, Any] = {"id": tx.id, "dialect": self._dialect_text()}
        body["command"] = _smb1_command(tx.command) if tx.version == 1 else _smb2_command(tx.command)
        if tx.status is not None:
            body.update(_status_fields(tx.status))
        body["session_id"] = tx.session_id
        body["tree_id"] = tx.tree_id
        if tx.kind is not None:
            _KIND_FIELDS[tx.kind](self, tx, body)
        return {"smb": body}

    def _dialect_text(self) -> str:
        if self._dialect:
            return _SMB2_DIALECTS.get(self._dialect, str(self._dialect))
        if self._dialect_name is None:
            return "unknown"
        try:
            return self._dialect_name.decode("utf-8")
        except UnicodeDecodeError:
            return "invalid"

    def _negotiate_fields(self, tx: _Tx, body: dict[str, Any]) -> None:
        extra = tx.extra
        if extra["version"] == 1:
            body["client_dialects"] = [_lossy(d) for d in extra["dialects"]]
        else:
            body["client_dialects"] = extra["dialects"]
            body["client_guid"] = _guid_text(extra["client_guid"])
        body["server_guid"] = _guid_text(extra["server_guid"])
        if self._max_read:
            body["max_read_size"] = self._max_read
        if self._max_write:
            body["max_write_size"] = self._max_write


def _create_request(name: bytes, disposition: int, options: int) -> dict[str, Any]:
    return {
        "name": name[:MAX_NAME],
        "disposition": disposition,
        "directory": bool(options & _CREATE_DIRECTORY_FILE),
        "delete": bool(options & _CREATE_DELETE_ON_CLOSE),
        "times": (0, 0, 0, 0),
        "size": 0,
        "fuid": b"",
    }


def _status_fields(status: tuple[bool, int, int]) -> dict[str, str]:
    dos_error, value, error_class = status
    if not dos_error:
        name = _NT_STATUSES.get(value)
        return {"status": str(value) if name is None else f"STATUS_{name}", "status_code": f"0x{value:x}"}
    if error_class == _DOS_ERROR_CLASS:
        name = _DOS_ERRORS.get(value)
        text = str(value) if name is None else f"DOS_{name}"
    elif error_class == _SERVER_ERROR_CLASS:
        name = _SERVER_ERRORS.get(value)
        text = str(value) if name is None else f"SRV_{name}"
    else:
        text = f"UNKNOWN_{error_class:02x}_{value:04x}"
    return {"status": text, "status_code": f"0x{value:04x}"}


def _session_setup_fields(log: SmbLog, tx: _Tx, body: dict[str, Any]) -> None:
    for side in ("request", "response"):
        names = tx.extra.get(side)
        if names is not None:
            body[side] = {"native_os": _lossy(names[0]), "native_lm": _lossy(names[1])}


def _tree_connect_fields(log: SmbLog, tx: _Tx, body: dict[str, Any]) -> None:
    extra = tx.extra
    body["named_pipe" if extra["is_pipe"] else "share"] = _lossy(extra["share"])
    if tx.version == 1:
        service = {}
        if "service_request" in extra:
            service["request"] = _lossy(extra["service_request"])
        if "service_response" in extra:
            service["response"] = _lossy(extra["service_response"])
        body["service"] = service
    else:
        body["share_type"] = _SHARE_TYPES.get(extra["share_type"], "UNKNOWN")


def _create_fields(log: SmbLog, tx: _Tx, body: dict[str, Any]) -> None:
    extra = tx.extra
    name = _strip_nuls(extra["name"])
    if not name:
        body["filename"] = "<share_root>"  # Zeek's name for a share's root
    else:
        body["directory" if extra["directory"] else "filename"] = _lossy(name)
    disposition = extra["disposition"]
    body["disposition"] = _DISPOSITIONS[disposition] if disposition < len(_DISPOSITIONS) else "UNKNOWN"
    body["access"] = "delete on close" if extra["delete"] else "normal"
    created, accessed, modified, changed = (_unix_time(t) for t in extra["times"])
    body.update(created=created, accessed=accessed, modified=modified, changed=changed, size=extra["size"])
    body["fuid"] = _fuid_text(extra["fuid"])


def _ioctl_fields(log: SmbLog, tx: _Tx, body: dict[str, Any]) -> None:
    function = tx.extra["function"]
    name = _FSCTLS.get(function)
    body["function"] = str(function) if name is None else f"FSCTL_{name}"


def _rename_fields(log: SmbLog, tx: _Tx, body: dict[str, Any]) -> None:
    body["set_info"] = {"class": "FILE_INFO", "info_level": "SMB2_FILE_RENAME_INFO"}
    body["rename"] = {"from": _lossy(tx.extra["old"]), "to": _lossy(tx.extra["new"])}
    body["fuid"] = _fuid_text(tx.extra["fuid"])


def _set_file_info_fields(log: SmbLog, tx: _Tx, body: dict[str, Any]) -> None:
    name = _strip_nuls(tx.extra["name"])
    body["filename"] = _lossy(name) if name else "<share_root>"
    body["access"] = "delete on close" if tx.extra["delete"] else "normal"
    body["fuid"] = _fuid_text(tx.extra["fuid"])


_KIND_FIELDS = {
    "negotiate": SmbLog._negotiate_fields,
    "session_setup": _session_setup_fields,
    "tree_connect": _tree_connect_fields,
    "create": _create_fields,
    "ioctl": _ioctl_fields,
    "rename": _rename_fields,
    "set_file_info": _set_file_info_fields,
}
_SMB2_REQUESTS = {
    _SMB2_NEGOTIATE: SmbLog._smb2_negotiate_request,
    _SMB2_SESSION_SETUP: SmbLog._smb2_session_setup_request,
    _SMB2_TREE_CONNECT: SmbLog._smb2_tree_connect_request,
    _SMB2_CREATE: SmbLog._smb2_create_request,
    _SMB2_IOCTL: SmbLog._smb2_ioctl_request,
    _SMB2_SET_INFO: SmbLog._smb2_set_info_request,
}
_SMB2_RESPONSES = {
    _SMB2_NEGOTIATE: SmbLog._smb2_negotiate_response,
    _SMB2_SESSION_SETUP: SmbLog._smb2_session_setup_response,
    _SMB2_TREE_CONNECT: SmbLog._smb2_tree_connect_response,
    _SMB2_CREATE: SmbLog._smb2_create_response,
    _SMB2_IOCTL: SmbLog._smb2_ioctl_response,
}
