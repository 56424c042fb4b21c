"""The EVE ``smtp`` event: one per mail transaction, with the ``email`` member Suricata adds from
the message's headers, as Suricata 8 writes them (``src/output-json-smtp.c`` and
``src/output-json-email-common.c``, with ``rust/src/mime/smtp_log.rs``; ``src/app-layer-smtp.c``
reads the commands and replies, and ``rust/src/mime/smtp.rs`` the headers).

The protocol is RFC 5321's: a command per line, each answered by a reply of one or more lines
(``ddd-text`` lines, then a ``ddd text`` one), several commands in flight when the server offers
PIPELINING (RFC 2920); DATA's message after its 354 reply, up to a line holding only ``.``; BDAT's
chunks of counted bytes (RFC 3030); STARTTLS (RFC 3207), after whose 220 reply the connection is
TLS and the work ends. A transaction starts with the first command after the previous one's
request ended (the message's ``.``, BDAT LAST's chunk), as in Suricata, RSET and QUIT belonging to
the transaction before them; it ends with the reply to the message, RSET's 250, QUIT's 221 or
STARTTLS's 220, and is written then (or at the flow's end).

``email`` is written for a transaction that sent DATA (Suricata reads no message sent with BDAT):
``from``, ``to`` and ``cc`` from the first such headers of the message (RFC 5322 section 3.6, folded
lines unfolded as Suricata does, by dropping each continuation's first blank), its ``status`` and,
as Suricata writes it when configured to, its ``subject``. Attachment names and URLs are not read.

Bounds: a command, reply or header line has at most :data:`MAX_LINE` bytes, a header kept at most
:data:`MAX_HEADER_VALUE`, and at most :data:`MAX_PENDING` commands wait for replies; past one of
these the work ends. A transaction logs at most :data:`MAX_RECIPIENTS` recipients; how many more
it had is written as ``rcpt_to_cut``, a member only written when non-zero.
"""

from __future__ import annotations

import re
from collections import deque
from typing import Any

from fathom.apps.logs.base import LogBody, LogParser

# Suricata's SMTP_LINE_BUFFER_LIMIT; RFC 5321 4.5.3.1 allows 512 bytes, and 1000 in a message.
MAX_LINE = 4096
# The bytes of one header kept for ``email``, unfolded.
MAX_HEADER_VALUE = 65536
# Commands sent and not yet answered. Every transaction not written yet is the current one or
# waits for one of their replies, so this bounds them too.
MAX_PENDING = 64
# Recipients logged per transaction (RFC 5321 4.5.3.1.8: servers take at least 100).
MAX_RECIPIENTS = 256

# What a command is to the replies (Suricata's SMTP_COMMAND_*): the message's end is answered too.
_OTHER, _STARTTLS, _DATA, _DATA_EARLY, _BDAT, _BDAT_LAST, _MESSAGE_END, _RSET, _QUIT = range(9)
# What the client's bytes are: commands, a message's headers or its body, a BDAT chunk.
_COMMANDS, _HEADERS, _BODY, _CHUNK = range(4)
_EMAIL_HEADERS = (b"from", b"to", b"cc", b"subject")
_BDAT_LINE = re.compile(rb"bdat +(\d+)(?: *| +(last))", re.IGNORECASE)
_U32_MAX = 0xFFFFFFFF
_MIME_SPACE = b" \t\r\n"


def _text(value: bytes | bytearray) -> str:
    # Attacker-controlled bytes: kept as they are where they are UTF-8, escaped where not.
    return value.decode("utf-8", "backslashreplace")


def _parameter(line: bytes, prefix: int) -> bytes:
    """A command's parameter as Suricata reads it: past the ``prefix`` bytes of its name and one
    more (a space, or MAIL FROM's and RCPT TO's colon), spaces skipped, up to the next space."""
    return line[prefix + 1 :].lstrip(b" ").split(b" ", 1)[0]


def comma_list(value: bytes | bytearray) -> list[str]:
    """A header's addresses as Suricata lists them (``log_field_comma``): split at commas outside
    double quotes, the blanks before each skipped, empty ones left out."""
    items: list[str] = []
    start = 0
    state = "start"
    for i, byte in enumerate(value):
        if state == "start":
            if byte in b" \t":
                start += 1
            else:
                state = "quoted" if byte == 0x22 else "field"
        elif state == "field":
            if byte == 0x2C:
                if i > start:
                    items.append(_text(value[start:i]))
                start = i + 1
                state = "start"
            elif byte == 0x22:
                state = "quoted"
        elif byte == 0x22:
            state = "field"
    if len(value) > start:
        items.append(_text(value[start:]))
    return items


def _take_line(held: bytearray) -> bytes | None:
    """The next whole line in ``held``, taken out of it, without its LF or CR LF."""
    end = held.find(b"\n")
    if end < 0:
        return None
    line = bytes(held[:end]).removesuffix(b"\r")
    del held[: end + 1]
    return line


def _too_long(line: bytes | None, held: bytearray) -> str | None:
    """Why the work ends when no line of at most MAX_LINE bytes was read: a line past it, read or
    not yet whole (``held`` keeps a line's MAX_LINE bytes and its CR until its LF comes)."""
    if line is not None or len(held) > MAX_LINE + 1:
        return "line_too_long"
    return None


class _Mail:
    """One transaction: its envelope, and the headers of its message."""

    __slots__ = ("data", "headers", "logged", "mail_from", "rcpt_cut", "rcpt_to", "replied",
                 "requested", "started")  # fmt: skip

    def __init__(self) -> None:
        self.mail_from: bytes | None = None
        self.rcpt_to: list[bytes] = []
        self.rcpt_cut = 0
        # DATA or BDAT was sent (Suricata's request progress past "started").
        self.started = False
        # DATA was sent: the transaction has an ``email``.
        self.data = False
        # The first of each of _EMAIL_HEADERS, lower-case name to unfolded value.
        self.headers: dict[bytes, bytearray] = {}
        # The request and its reply are complete; the event is written.
        self.requested = False
        self.replied = False
        self.logged = False

    def body(self, helo: bytes | None) -> LogBody:
        """The event, with Suricata's members in its order."""
        smtp: dict[str, Any] = {}
        if helo is not None:
            smtp["helo"] = _text(helo)
        if self.mail_from is not None:
            smtp["mail_from"] = _text(self.mail_from)
        if self.rcpt_to:
            smtp["rcpt_to"] = [_text(rcpt) for rcpt in self.rcpt_to]
        if self.rcpt_cut:
            smtp["rcpt_to_cut"] = self.rcpt_cut
        body: LogBody = {"smtp": smtp}
        if self.data:
            body["email"] = self._email()
        return body

    def _email(self) -> dict[str, Any]:
        email: dict[str, Any] = {}
        headers = self.headers
        if b"from" in headers:
            email["from"] = _text(headers[b"from"])
        for name in ("to", "cc"):
            value = headers.get(name.encode())
            items = [] if value is None else comma_list(value)
            if items:
                email[name] = items
        email["status"] = "PARSE_DONE"
        if b"subject" in headers:
            email["subject"] = _text(headers[b"subject"])
        return email


class SmtpLog(LogParser):
    """One SMTP connection's ``smtp`` events."""

    __slots__ = (
        "_chunk_last", "_chunk_left", "_client", "_commands", "_error", "_greeted", "_header", "_helo",
        "_long_line", "_mail", "_mode", "_open", "_pipelining", "_server",
    )  # fmt: skip
    event_type = "smtp"
    client_side = True
    numbered = True

    def __init__(self) -> None:
        super().__init__()
        # Each direction's bytes not read yet: less than a line (MAX_LINE) between feeds.
        self._client = bytearray()
        self._server = bytearray()
        self._mode = _COMMANDS
        self._helo: bytes | None = None
        # The current transaction, and every one not written yet, oldest first.
        self._mail: _Mail | None = None
        self._open: list[_Mail] = []
        # The commands waiting for a reply, with their transaction, oldest first.
        self._commands: deque[tuple[int, _Mail]] = deque()
        self._greeted = False
        self._pipelining = False
        # The header being unfolded, when it is one kept.
        self._header: bytes | None = None
        # In the body: the current line is longer than a lone "." and its CR.
        self._long_line = False
        self._chunk_left = 0
        self._chunk_last = False
        # Why the work cannot go on, found while reading a line: the feed ends it.
        self._error: str | None = None

    def feed(self, to_server: bool, data: bytes) -> list[LogBody]:
        if self.done:
            return []
        if to_server:
            self._client += data
            bodies = self._read_client()
        else:
            self._server += data
            bodies = self._read_server()
        if self._error is not None and not self.done:
            bodies += self._stop(self._error)
        return bodies

    def gap(self, to_server: bool, length: int) -> list[LogBody]:
        return self._stop("gap")

    def end(self) -> list[LogBody]:
        bodies = self._unwritten()
        self.done = True
        return bodies

    def _stop(self, reason: str) -> list[LogBody]:
        """Write the transactions not written yet, then end the work with ``reason``."""
        bodies = self._unwritten()
        self.fail(reason)
        return bodies

    def _unwritten(self) -> list[LogBody]:
        bodies = [mail.body(self._helo) for mail in self._open]
        self._open.clear()
        return bodies

    # The client's bytes.

    def _read_client(self) -> list[LogBody]:
        bodies: list[LogBody] = []
        held = self._client
        while not self.done and self._error is None and held:
            if self._mode == _CHUNK:
                bodies += self._chunk()
            elif self._mode == _BODY:
                if not self._body_line():
                    break
            else:
                line = _take_line(held)
                if line is None or len(line) > MAX_LINE:
                    self._error = _too_long(line, held)
                    break
                if self._mode == _COMMANDS:
                    self._command(line)
                else:
                    self._header_line(line)
        return bodies

    def _chunk(self) -> list[LogBody]:
        """Pass over BDAT's counted bytes; the transaction's event when they end its request."""
        held = self._client
        taken = min(self._chunk_left, len(held))
        del held[:taken]
        self._chunk_left -= taken
        if self._chunk_left:
            return []
        self._mode = _COMMANDS
        mail = self._mail
        if not self._chunk_last or mail is None:
            return []
        mail.requested = True
        return self._written(mail)

    def _body_line(self) -> bool:
        """Pass over one line of a message's body (not kept, however long); False for want of
        its end."""
        held = self._client
        end = held.find(b"\n")
        if end < 0:
            if len(held) > 2:
                self._long_line = True
                held.clear()
            return False
        last = not self._long_line and end <= 2 and bytes(held[:end]) in (b".", b".\r")
        self._long_line = False
        del held[: end + 1]
        if last:
            self._message_end()
        return True

    def _header_line(self, line: bytes) -> None:
        mail = self._mail
        if line == b".":
            self._message_end()
        elif not line:
            self._mode = _BODY
        elif mail is None:
            return
        elif line[0] in b" \t":
            if self._header is not None:
                unfolded = mail.headers[self._header]
                unfolded += line[1:]
                if len(unfolded) > MAX_HEADER_VALUE:
                    self._error = "header_too_long"
        else:
            name, colon, value = line.partition(b":")
            key = name.lower()
            if not colon:
                return  # not a header: Suricata passes over it
            if key in _EMAIL_HEADERS and key not in mail.headers:
                mail.headers[key] = bytearray(value.lstrip(_MIME_SPACE))
                self._header = key
            else:
                self._header = None

    def _message_end(self) -> None:
        self._mode = _COMMANDS
        self._header = None
        if self._mail is not None:
            self._mail.requested = True
            self._queue(_MESSAGE_END, self._mail)

    def _command(self, line: bytes) -> None:
        lower = line[:9].lower()
        mail = self._mail
        if mail is None or (mail.requested and not lower.startswith((b"rset", b"quit"))):
            mail = self._mail = _Mail()
            self._open.append(mail)
        kind = _OTHER
        if lower.startswith(b"starttls"):
            kind = _STARTTLS
        elif lower.startswith(b"data"):
            kind = self._data(mail)
        elif lower.startswith(b"bdat"):
            kind = self._bdat(mail, line)
        elif lower.startswith((b"helo", b"ehlo")):
            if self._helo is None:
                self._helo = _parameter(line, 4)
            # RFC 5321 4.1.4: a HELO within a transaction resets it, as RSET does.
            if mail.mail_from is not None or mail.rcpt_to or mail.started:
                kind = _RSET
        elif lower.startswith(b"mail from"):
            if mail.mail_from is None:
                mail.mail_from = _parameter(line, 9)
        elif lower.startswith(b"rcpt to"):
            if len(mail.rcpt_to) < MAX_RECIPIENTS:
                mail.rcpt_to.append(_parameter(line, 7))
            else:
                mail.rcpt_cut += 1
        elif lower.startswith(b"rset"):
            kind = _RSET
        elif lower.startswith(b"quit"):
            kind = _QUIT
        self._queue(kind, mail)

    def _data(self, mail: _Mail) -> int:
        mail.started = mail.data = True
        mail.headers.clear()  # a DATA sent again, after the first was refused
        if not self._pipelining:
            return _DATA
        # As in Suricata, a server offering PIPELINING has the message follow DATA at once.
        self._start_message()
        return _DATA_EARLY

    def _bdat(self, mail: _Mail, line: bytes) -> int:
        match = _BDAT_LINE.fullmatch(line)
        if match is None or int(match.group(1)) > _U32_MAX:
            return _OTHER  # the server refuses it
        size, last = int(match.group(1)), match.group(2) is not None
        mail.started = True
        if size:
            self._mode = _CHUNK
            self._chunk_left, self._chunk_last = size, last
        elif last:
            mail.requested = True
        return _BDAT_LAST if last else _BDAT

    def _queue(self, kind: int, mail: _Mail) -> None:
        if len(self._commands) >= MAX_PENDING:
            self._error = "too_many_pending_commands"
        else:
            self._commands.append((kind, mail))

    # The server's bytes.

    def _read_server(self) -> list[LogBody]:
        bodies: list[LogBody] = []
        held = self._server
        while not self.done and self._error is None:
            line = _take_line(held)
            if line is None or len(line) > MAX_LINE:
                self._error = _too_long(line, held)
                break
            bodies += self._reply_line(line)
        return bodies

    def _reply_line(self, line: bytes) -> list[LogBody]:
        if not line:
            return []
        if len(line) < 3 or not line[:3].isdigit():
            self._error = "malformed_reply"
            return []
        code = line[:3]
        if self._greeted and code == b"250" and len(line) == 14 and line[4:].lower() == b"pipelining":
            self._pipelining = True
        if line[3:4] == b"-":
            return []  # the reply goes on: its last line answers the command
        if not (self._greeted and self._commands):
            # The greeting (RFC 5321 3.1: the first reply, whatever the client sent before it),
            # or a reply to nothing.
            self._greeted = True
            return []
        kind, mail = self._commands.popleft()
        return self._answer(kind, mail, code)

    def _answer(self, kind: int, mail: _Mail, code: bytes) -> list[LogBody]:
        """What a command's reply does to its transaction; its event when it ends it."""
        if kind == _STARTTLS:
            if code != b"220":
                return []
            mail.requested = mail.replied = True
            bodies = self._written(mail) + self._unwritten()
            self.done = True  # TLS from here on
            return bodies
        if kind == _DATA:
            if code == b"354":
                self._start_message()
        elif kind == _DATA_EARLY:
            if code != b"354" and self._mode in (_HEADERS, _BODY):
                self._mode = _COMMANDS  # refused: what follows is commands again
        elif kind in (_BDAT_LAST, _MESSAGE_END):
            mail.replied = True
        elif (kind, code) in ((_RSET, b"250"), (_QUIT, b"221")):
            mail.requested = mail.replied = True
        return self._written(mail)

    def _start_message(self) -> None:
        self._mode = _HEADERS
        self._header = None
        self._long_line = False

    def _written(self, mail: _Mail) -> list[LogBody]:
        """The transaction's event, once, when both its request and its reply are complete."""
        if mail.logged or not (mail.requested and mail.replied):
            return []
        mail.logged = True
        self._open.remove(mail)
        return [mail.body(self._helo)]
