"""The EVE ``ssh`` event: one per flow, each side's protocol and software versions from its
identification string, and its HASSH fingerprint from its first key exchange message, as Suricata 8
writes them (``rust/src/ssh/logger.rs``, with ``app-layer.protocols.ssh.hassh`` on).

The wire format is RFC 4253's: section 4.2, the identification string ``SSH-protoversion-
softwareversion SP comments CR LF`` of at most 255 bytes, which the server (only) may precede with
other lines; section 6, the binary packet (length, padding length, payload); section 7.1,
SSH_MSG_KEXINIT and its name-lists. HASSH (Salesforce's, as Suricata computes it) is the MD5 of the
key exchange, encryption, MAC and compression name-lists that side sends, joined by ``;``.

The event is written once both sides have sent their KEXINIT (or their NEWKEYS, or are done
otherwise), or at the flow's end with what was seen.
"""

from __future__ import annotations

import hashlib
import re
import struct
from typing import Any

from fathom.apps.logs.base import LogBody, LogParser

# RFC 4253 4.2: the identification string is at most 255 bytes, CR LF included; so is each line
# the server sends before it.
MAX_LINE = 255
# Lines the server may send before its identification string.
MAX_PRE_BANNER_LINES = 32
# A KEXINIT's packet length less its padding-length and message-code bytes: Suricata's bound
# (SSH_MAX_REASSEMBLED_RECORD_LEN), above RFC 4253 6.1's 35000 bytes every implementation takes.
MAX_KEXINIT = 65535

_RECORD_HEADER = struct.Struct("!IBB")  # packet length, padding length, message code
_U32 = struct.Struct("!I")
_MSG_KEXINIT = 20
_MSG_NEWKEYS = 21
_COOKIE = 16
_NAME_LISTS = 10
# What follows the name-lists: first_kex_packet_follows (1 byte), reserved (4).
_KEXINIT_TAIL = 5
# SSH-protoversion-softwareversion: the software version ends at a space (comments follow).
_BANNER = re.compile(rb"SSH-([^-]+)-([^ \r\n]*)")
# The versions whose packets are RFC 4253's (1.99: a server that also speaks SSH-1).
_SSH2 = (b"2.0", b"1.99")


def _text(value: bytes) -> str:
    # Attacker-controlled bytes: kept as they are where they are UTF-8, escaped where not.
    return value.decode("utf-8", "backslashreplace")


def hassh_string(payload: bytes, client: bool) -> bytes | None:
    """The HASSH string of a KEXINIT ``payload`` (what follows its message code, padding included,
    as Suricata reads it), from the lists of the side that sent it; None when they do not fit."""
    lists: list[bytes] = []
    offset = _COOKIE
    for _ in range(_NAME_LISTS):
        if offset + _U32.size > len(payload):
            return None
        (length,) = _U32.unpack_from(payload, offset)
        offset += _U32.size
        if offset + length > len(payload):
            return None
        lists.append(payload[offset : offset + length])
        offset += length
    if offset + _KEXINIT_TAIL > len(payload):
        return None
    kex, _host_key, enc_cs, enc_sc, mac_cs, mac_sc, comp_cs, comp_sc = lists[:8]
    return b";".join((kex, enc_cs, mac_cs, comp_cs) if client else (kex, enc_sc, mac_sc, comp_sc))


class _Side:
    """What one direction said: its identification string, then its packets up to its KEXINIT."""

    __slots__ = (
        "buffer", "client", "error", "finished", "hassh", "lines", "proto_version", "skip",
        "software_version",
    )  # fmt: skip

    def __init__(self, client: bool) -> None:
        self.client = client
        # Bytes of an incomplete line or packet; bounded by MAX_LINE, then by MAX_KEXINIT.
        self.buffer = bytearray()
        # Bytes of a packet before the KEXINIT that are still to come, and are not kept.
        self.skip = 0
        self.lines = 0
        # Empty until the identification string is read (its protocol version is never empty).
        self.proto_version = b""
        self.software_version = b""
        self.hassh: bytes | None = None
        self.finished = False
        self.error: str | None = None

    def take(self, data: bytes) -> str | None:
        """Read this direction's next bytes; why it cannot go on, if it cannot."""
        if self.skip:
            skipped = min(self.skip, len(data))
            self.skip -= skipped
            data = data[skipped:]
        self.buffer += data
        while not self.finished and self.error is None and self._step():
            pass
        if self.finished:
            self.finish()
        return self.error

    def finish(self) -> None:
        self.finished = True
        self.buffer.clear()

    def _step(self) -> bool:
        """Read one line or packet from the buffer; whether there was a whole one."""
        return self._packet() if self.proto_version else self._banner()

    def _banner(self) -> bool:
        end = self.buffer.find(b"\n", 0, MAX_LINE)
        if end < 0:
            if len(self.buffer) >= MAX_LINE:
                self.error = "banner_too_long"
            return False
        line = bytes(self.buffer[:end]).removesuffix(b"\r")
        del self.buffer[: end + 1]
        if not line.startswith(b"SSH-"):
            # RFC 4253 4.2: the server may send other lines first; the client starts with its own.
            self.lines += 1
            if self.client or self.lines > MAX_PRE_BANNER_LINES:
                self.error = "malformed_banner"
            return True
        match = _BANNER.match(line)
        if match is None:
            self.error = "malformed_banner"
            return False
        self.proto_version, self.software_version = match.group(1), match.group(2)
        if self.proto_version not in _SSH2:
            self.finished = True  # SSH-1 packets are not RFC 4253's
        return True

    def _packet(self) -> bool:
        if len(self.buffer) < _RECORD_HEADER.size:
            return False
        length, _padding, code = _RECORD_HEADER.unpack_from(self.buffer)
        if length < 2:
            self.error = "malformed_packet"
            return False
        total = _U32.size + length
        if code == _MSG_KEXINIT:
            return self._kexinit(length, total)
        if code == _MSG_NEWKEYS:
            self.finished = True  # what follows is encrypted
            return True
        # A message before the KEXINIT (SSH_MSG_IGNORE, SSH_MSG_DEBUG): passed over.
        held = min(total, len(self.buffer))
        del self.buffer[:held]
        self.skip = total - held
        return True

    def _kexinit(self, length: int, total: int) -> bool:
        if length - 2 >= MAX_KEXINIT:
            self.error = "kexinit_too_long"
            return False
        if len(self.buffer) < total:
            return False
        joined = hassh_string(bytes(self.buffer[_RECORD_HEADER.size : total]), self.client)
        if joined is None:
            self.error = "malformed_kexinit"
            return False
        self.hassh = joined
        self.finished = True
        return True

    def body(self) -> dict[str, Any]:
        """The side's member of the event, in Suricata's order, once its version is known."""
        side: dict[str, Any] = {"proto_version": _text(self.proto_version)}
        if self.software_version:
            side["software_version"] = _text(self.software_version)
        if self.hassh is not None:
            digest = hashlib.md5(self.hassh, usedforsecurity=False).hexdigest()
            side["hassh"] = {"hash": digest, "string": _text(self.hassh)}
        return side


class SshLog(LogParser):
    """One SSH flow's ``ssh`` event."""

    __slots__ = ("_client", "_server")
    event_type = "ssh"
    client_side = True

    def __init__(self) -> None:
        super().__init__()
        self._client = _Side(client=True)
        self._server = _Side(client=False)

    def feed(self, to_server: bool, data: bytes) -> list[LogBody]:
        if self.done:
            return []
        side = self._client if to_server else self._server
        if side.finished:
            return []
        error = side.take(data)
        if error is not None:
            return self._stop(error)
        if self._client.finished and self._server.finished:
            return self._write()
        return []

    def gap(self, to_server: bool, length: int) -> list[LogBody]:
        return self._stop("gap")

    def end(self) -> list[LogBody]:
        return self._write()

    def _stop(self, reason: str) -> list[LogBody]:
        """Write what both sides said so far, then end the work with ``reason``."""
        bodies = self._write()
        self.fail(reason)
        return bodies

    def _write(self) -> list[LogBody]:
        """The event, once, if either side sent its identification string."""
        if self.done:
            return []
        self.done = True
        ssh: dict[str, Any] = {}
        for name, side in (("client", self._client), ("server", self._server)):
            if side.proto_version:
                ssh[name] = side.body()
            side.finish()
        return [{"ssh": ssh}] if ssh else []
