"""What Snort's SSL inspector tells ``ssl_state`` and ``ssl_version`` rules about a flow: the
handshake messages of the PDU being inspected and the protocol versions seen so far, decoded as
Snort's ``protocols/ssl.cc`` (``SSL_decode``) does.

Flags are Snort's bit values. The state flags hold for the PDU whose records carried them; the
version flags accumulate over the session.
"""

from __future__ import annotations

# The buffer the PDUs of TLS flows carry for these rules: the flow's flags, 4 bytes big-endian.
SSL_FLAGS_BUFFER = "ssl_flags"

CHANGE_CIPHER = 0x00000001
HANDSHAKE_DONE = 0x00001000
SSLV2 = 0x00008000
SSLV3 = 0x00010000
TLS10 = 0x00020000
TLS11 = 0x00040000
TLS12 = 0x00080000
CLIENT_HELLO = 0x00100000
SERVER_HELLO = 0x00200000
SERVER_KEYX = 0x00400000
CLIENT_KEYX = 0x00800000
UNKNOWN = 0x02000000
# An SSLv2 client hello offering SSLv3 or TLS: a TLS server hello then means the session is not v2.
BACK_COMPAT_V2 = 0x04000000
BAD_VERSION = 0x40000000

VERSIONS = SSLV2 | SSLV3 | TLS10 | TLS11 | TLS12
# The flags that describe the PDU at hand only.
STATES = CLIENT_HELLO | SERVER_HELLO | SERVER_KEYX | CLIENT_KEYX | UNKNOWN
_V3_VERSIONS = {0: SSLV3, 1: TLS10, 2: TLS11, 3: TLS12}
_HANDSHAKE, _CHANGE_CIPHER_SPEC = 22, 20
# Handshake message type -> (its flag, sent by the server).
_MESSAGES = {
    1: (CLIENT_HELLO, False),
    2: (SERVER_HELLO, True),
    12: (SERVER_KEYX, True),
    16: (CLIENT_KEYX, False),
}
_V2_MESSAGES = {1: (CLIENT_HELLO, False), 4: (SERVER_HELLO, True), 2: (CLIENT_KEYX, False)}


def session_flags(session: int, data: bytes, from_server: bool) -> int:
    """The flow's flags once the PDU ``data`` (sent by the server or not) has been decoded."""
    flags = pdu_flags(data, from_server, session)
    if session & BACK_COMPAT_V2 and flags & SERVER_HELLO and flags & VERSIONS & ~SSLV2:
        session &= ~(SSLV2 | BACK_COMPAT_V2)
    return (session & ~STATES) | flags


def pdu_flags(data: bytes, from_server: bool, session: int = 0) -> int:
    if len(data) < 5:
        return UNKNOWN
    if not session & HANDSHAKE_DONE and _looks_v2(data):
        return _v2(data, from_server)
    return _v3(data, from_server, session)


def _looks_v2(data: bytes) -> bool:
    """Snort's guess between an SSLv2 record and a TLS one."""
    if data[0] & 0xC0:
        return True
    if len(data) == 5:
        return False
    datalen = int.from_bytes(data[6:9], "big")
    reclen = int.from_bytes(data[3:5], "big")
    if data[4] == 2:
        return len(data) >= 10 and data[9] == 3 and reclen - 4 != datalen
    return len(data) >= 9 and data[7] == 2 and reclen - 4 != datalen


def _v2(data: bytes, from_server: bool) -> int:
    flags = 0
    pos = 0
    while pos < len(data):
        if len(data) - pos < 3:
            return flags | UNKNOWN | SSLV2
        message = _V2_MESSAGES.get(data[pos + 2])
        if message is None:
            return flags | UNKNOWN | SSLV2
        flag, server_sends = message
        if server_sends == from_server:
            flags |= flag
        if flag == CLIENT_HELLO and len(data) - pos >= 5:
            major, minor = data[pos + 3], data[pos + 4]
            flags |= BACK_COMPAT_V2 if major == 3 else (UNKNOWN if minor != 2 else 0)
        pos += (int.from_bytes(data[pos : pos + 2], "big") & 0x7FFF) + 2
    return flags | SSLV2


def _v3(data: bytes, from_server: bool, session: int) -> int:
    flags = 0
    pos = 0
    after_change = False
    while pos < len(data):
        if len(data) - pos < 5:
            break
        kind, major, minor = data[pos], data[pos + 1], data[pos + 2]
        length = int.from_bytes(data[pos + 3 : pos + 5], "big")
        flags |= _V3_VERSIONS.get(minor, BAD_VERSION) if major == 3 else BAD_VERSION
        if kind == _HANDSHAKE and not (flags | session) & CHANGE_CIPHER:
            flags |= _handshake(data[pos + 5 : pos + 5 + length], from_server)
        elif kind == _HANDSHAKE and after_change:
            flags |= HANDSHAKE_DONE  # the encrypted Finished after a ChangeCipherSpec
        if kind == _CHANGE_CIPHER_SPEC:
            flags |= CHANGE_CIPHER
        after_change = kind == _CHANGE_CIPHER_SPEC
        pos += 5 + length
    if not flags & VERSIONS or flags & BAD_VERSION:
        flags |= UNKNOWN
    return flags


def _handshake(body: bytes, from_server: bool) -> int:
    flags = 0
    pos = 0
    while len(body) - pos >= 4:
        message = _MESSAGES.get(body[pos])
        if body[pos] == 14 and from_server:  # ServerHelloDone
            flags |= HANDSHAKE_DONE
        if message is not None:
            flag, server_sends = message
            if server_sends == from_server:
                flags |= flag
            if flag in (CLIENT_HELLO, SERVER_HELLO) and len(body) - pos >= 6:
                major, minor = body[pos + 4], body[pos + 5]
                flags |= _V3_VERSIONS.get(minor, BAD_VERSION) if major == 3 else BAD_VERSION
        elif body[pos] not in (0, 11, 13, 14, 15, 21, 22):
            return flags  # not a handshake message we know: encrypted, as Snort assumes
        pos += 4 + int.from_bytes(body[pos + 1 : pos + 4], "big")
    return flags
