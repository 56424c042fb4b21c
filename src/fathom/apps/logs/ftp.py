"""The EVE ``ftp`` event: one per command and its reply, as Suricata 8 writes them
(``src/output-json-ftp.c``, with ``src/app-layer-ftp.c`` and ``rust/src/ftp`` reading the lines).

The protocol is RFC 959's control connection: one command per line (section 5.3), and replies of
one line ``ddd text`` or of several, ``ddd-text`` to ``ddd text`` (section 4.2); a ``1yz`` reply is
preliminary, and the command's transaction waits for the next one (as RETR waits for 226). The
dynamic port comes from PORT (RFC 959) or EPRT (RFC 2428) as the server answers them, and from the
227 and 229 replies to PASV and EPSV; once the server took it (a ``2yz`` reply), the parser
announces the data connection to it (``expected``), which the app layer names ``ftp-data``, as
Suricata's expectations do. A reply with no command waiting (the 220 greeting) is a
transaction of its own, with no ``command``. A command Suricata does not know (FEAT, AUTH) is not
logged, as there, but it waits for its reply all the same, so that each reply meets its own
command. After AUTH's 234 the connection is TLS: the work ends.

As in Suricata a line is read up to :data:`MAX_LINE` bytes, and a longer one is cut there and
logged as ``command_truncated`` or ``reply_truncated``. A transaction keeps at most
:data:`MAX_REPLY_LINES` reply lines, the last one of a reply always among them (those left out
make the reply logged as truncated), and at most :data:`MAX_PENDING` commands wait for replies:
one more ends the work.
"""

from __future__ import annotations

import re
from collections import deque
from typing import Any

from fathom.apps.logs.base import LogBody, LogParser

# Suricata's default app-layer.protocols.ftp.max-line-length.
MAX_LINE = 4096
# Lines kept of one reply (a HELP or STAT reply is long; a transfer's data is on its own flow).
MAX_REPLY_LINES = 64
# Commands sent and not yet answered.
MAX_PENDING = 32

# Suricata's command names (rust/src/ftp/ftp.rs); a command line is matched by its first word.
# (Its AUTH_TLS never matches a line, so AUTH is a command it does not know.)
_COMMANDS = frozenset(
    b"PORT EPRT PASV EPSV RETR STOR ABOR ACCT ALLO APPE CDUP CHMOD CWD DELE HELP IDLE LIST MAIL MDTM "
    b"MKD MLFL MLSD MODE MRCP MRSQ MSAM MSND MSOM NLST NOOP PASS PWD QUIT REIN REST RMD RNFR RNTO SITE "
    b"SIZE SMNT STAT STOU STRU SYST TYPE UMASK USER".split()
)
_ACTIVE = frozenset((b"PORT", b"EPRT"))
_PASSIVE = frozenset((b"PASV", b"EPSV"))
_SPACE = b" \t\r\n\x0b\x0c"  # C's isspace, which Suricata trims the end of a command with

# The ports, parsed as Suricata's nom parsers do (rust/src/ftp/mod.rs): PORT h1,h2,h3,h4,p1,p2;
# EPRT |af|address|port|; 227 ... (h1,h2,h3,h4,p1,p2); 229 ... (|||port|).
_WS = rb"[ \t\r\n]*"
_PORT = re.compile(rb"PORT" + _WS + rb"\d+" + _WS + rb",\d+,\d+,\d+,(\d+),(\d+)")
_EPRT = re.compile(rb"EPRT[^|]*\|[^|]*\|[^|]*\|" + _WS + rb"(\d+)" + _WS + rb"\|")
_PASV = re.compile(
    rb"227[^(]*\(\d+,\d+,\d+,\d+," + _WS + rb"(\d+)" + _WS + rb"," + _WS + rb"(\d+)" + _WS + rb"\)"
)
_EPSV_TAIL = re.compile(_WS + rb"(\d+)" + _WS + rb"\|\)")
_MULTILINE = re.compile(rb"\d{3}-")


def _text(value: bytes) -> str:
    # Attacker-controlled bytes: kept as they are where they are UTF-8, escaped where not.
    return value.decode("utf-8", "backslashreplace")


def _two_bytes(high: bytes, low: bytes) -> int:
    """A port from its two decimal bytes, 0 when either is out of range."""
    h, lo = int(high), int(low)
    return h * 256 + lo if h <= 255 and lo <= 255 else 0


def _u16(digits: bytes) -> int:
    value = int(digits)
    return value if value <= 0xFFFF else 0


def active_port(line: bytes) -> int:
    """The port a PORT or EPRT command line names, 0 when it names none."""
    match = _PORT.match(line)
    if match is not None:
        return _two_bytes(match.group(1), match.group(2))
    match = _EPRT.match(line)
    return 0 if match is None else _u16(match.group(1))


def passive_port(command: bytes, line: bytes) -> int:
    """The port a reply line to PASV (227) or EPSV (229) names, 0 when it names none."""
    if command == b"PASV" and line.startswith(b"227 "):
        match = _PASV.match(line)
        return 0 if match is None else _two_bytes(match.group(1), match.group(2))
    if command == b"EPSV" and line.startswith(b"229 "):
        start = line.find(b"|||", 3)
        match = None if start < 0 else _EPSV_TAIL.match(line, start + 3)
        return 0 if match is None else _u16(match.group(1))
    return 0


class _Lines:
    """One direction's lines, each cut at :data:`MAX_LINE` bytes as Suricata cuts them: a line that
    long, with its end of line or not yet, is its first ``MAX_LINE`` bytes, and the rest of it up
    to its end of line is passed over."""

    __slots__ = ("buffer", "passing")

    def __init__(self) -> None:
        self.buffer = bytearray()  # less than MAX_LINE bytes between calls
        self.passing = False

    def read(self, data: bytes) -> list[tuple[bytes, bool]]:
        """The lines ``data`` completes: each without its end of line, and whether it was cut."""
        lines: list[tuple[bytes, bool]] = []
        start = 0
        if self.passing:
            end = data.find(b"\n")
            if end < 0:
                return lines
            self.passing = False
            start = end + 1
        self.buffer += data[start:]
        while True:
            end = self.buffer.find(b"\n", 0, MAX_LINE)
            if end < 0:
                if len(self.buffer) < MAX_LINE:
                    return lines
                lines.append((bytes(self.buffer[:MAX_LINE]), True))
                rest = self.buffer.find(b"\n", MAX_LINE)
                if rest < 0:
                    self.buffer.clear()
                    self.passing = True
                    return lines
                del self.buffer[: rest + 1]
                continue
            lines.append((bytes(self.buffer[:end]).removesuffix(b"\r"), end + 1 >= MAX_LINE))
            del self.buffer[: end + 1]


class _Transaction:
    """A command (or none, for a reply no command waits for) and the lines of its reply."""

    __slots__ = ("auth", "command", "command_data", "command_truncated", "dynamic_port", "logged",
                 "port", "replied", "reply", "reply_truncated")  # fmt: skip

    def __init__(self, logged: bool) -> None:
        # Whether the transaction is written: not for a command Suricata does not know.
        self.logged = logged
        self.command: bytes | None = None
        self.command_data: bytes | None = None
        self.command_truncated = False
        # AUTH: its 234 reply starts TLS.
        self.auth = False
        # The port a PORT or EPRT line names, which its reply makes the dynamic one.
        self.port = 0
        self.dynamic_port = 0
        self.reply: list[tuple[bytes, bool]] = []
        self.reply_truncated = False
        self.replied = False

    def body(self) -> LogBody:
        """The event, with Suricata's members in its order."""
        ftp: dict[str, Any] = {}
        if self.command is not None:
            ftp["command"] = self.command.decode()
            if self.command_data is not None:
                ftp["command_data"] = _text(self.command_data)
                ftp["command_truncated"] = self.command_truncated
        codes: list[str] = []
        texts: list[str] = []
        for line, _truncated in self.reply:
            code, text = _reply_parts(line)
            if code:
                codes.append(code)
            if text:
                texts.append(text)
        if codes:
            ftp["completion_code"] = codes
        if texts:
            ftp["reply"] = texts
        if self.dynamic_port:
            ftp["dynamic_port"] = self.dynamic_port
        if self.command in _ACTIVE or self.command in _PASSIVE:
            active = self.command in _ACTIVE and self.dynamic_port != 0
            ftp["mode"] = "active" if active else "passive"
        ftp["reply_received"] = "yes" if self.replied else "no"
        ftp["reply_truncated"] = self.reply_truncated or any(cut for _line, cut in self.reply)
        return {"ftp": ftp}


def _reply_parts(line: bytes) -> tuple[str, str]:
    """A reply line's completion code and text, as Suricata splits them: the code is a first
    word of three digits, and the whole line is the text of a line without one."""
    text = _text(line).rstrip()
    code, space, rest = text.partition(" ")
    if space and len(code) == 3 and code.isascii() and code.isdigit():
        return code, rest
    return "", text


class FtpLog(LogParser):
    """One FTP control connection's ``ftp`` events."""

    __slots__ = ("_client", "_multiline", "_pending", "_server", "_unasked")
    event_type = "ftp"
    client_side = True
    numbered = True
    # It announces the data connections.
    identifies = True

    def __init__(self) -> None:
        super().__init__()
        self._client = _Lines()
        self._server = _Lines()
        # Commands waiting for their (final) reply, oldest first.
        self._pending: deque[_Transaction] = deque()
        # The transaction of a reply that came with no command waiting, while it goes on.
        self._unasked: _Transaction | None = None
        # The code of the multi-line reply being read, if one is.
        self._multiline: bytes | None = None

    def feed(self, to_server: bool, data: bytes) -> list[LogBody]:
        if self.done:
            return []
        if to_server:
            for line, cut in self._client.read(data):
                if not self._command(line, cut):
                    return self._stop("too_many_pending_commands")
            return []
        bodies: list[LogBody] = []
        for line, cut in self._server.read(data):
            bodies += self._reply(line, cut)
            if self.done:
                break
        return bodies

    def gap(self, to_server: bool, length: int) -> list[LogBody]:
        return self._stop("gap")

    def end(self) -> list[LogBody]:
        bodies = self._open()
        self.done = True
        return bodies

    def _stop(self, reason: str) -> list[LogBody]:
        """Write the transactions still open, then end the work with ``reason``."""
        bodies = self._open()
        self.fail(reason)
        return bodies

    def _open(self) -> list[LogBody]:
        """The events of the transactions still open: a reply going on counts as received, as in
        Suricata, unless it is preliminary."""
        if self._multiline is not None and not self._multiline.startswith(b"1"):
            self._replying().replied = True
        waiting = ([] if self._unasked is None else [self._unasked]) + list(self._pending)
        self._unasked = None
        self._pending.clear()
        return [tx.body() for tx in waiting if tx.logged]

    def _command(self, line: bytes, cut: bool) -> bool:
        """Queue a command line; False when too many are waiting."""
        request = line.rstrip(_SPACE)
        if not request:
            return True
        if len(self._pending) >= MAX_PENDING:
            return False
        word = request.split(b" ", 1)[0].upper()
        tx = _Transaction(logged=word in _COMMANDS)
        if tx.logged:
            tx.command = word
            if len(request) > len(word):
                tx.command_data = request[len(word) + 1 :]
                tx.command_truncated = cut
            if word in _ACTIVE:
                tx.port = active_port(line)
        tx.auth = word == b"AUTH"
        self._pending.append(tx)
        return True

    def _replying(self) -> _Transaction:
        """The transaction a reply line belongs to: the oldest command waiting, or its own."""
        if self._pending:
            return self._pending[0]
        if self._unasked is None:
            self._unasked = _Transaction(logged=True)
        return self._unasked

    def _reply(self, line: bytes, cut: bool) -> list[LogBody]:
        """Add a reply line to its transaction; the transaction's event when the line ends it."""
        code = self._multiline
        if code is None and not line.strip():
            return []
        if code is None:
            last = _MULTILINE.match(line) is None
            self._multiline = None if last else line[:3]
        else:
            last = line.startswith(code + b" ") or line == code
            if last:
                self._multiline = None
        tx = self._replying()
        self._add_line(tx, line, cut, last)
        if not last:
            return []
        if len(line) >= 4 and line.startswith(b"1") and line[:3].isdigit() and line[3:4] in _SPACE:
            return []  # preliminary: the command waits for its next reply
        return self._complete(tx, line)

    def _add_line(self, tx: _Transaction, line: bytes, cut: bool, last: bool) -> None:
        # The bound leaves room for the reply's last line, which holds its completion code.
        if len(tx.reply) < (MAX_REPLY_LINES if last else MAX_REPLY_LINES - 1):
            tx.reply.append((line, cut))
        else:
            tx.reply_truncated = True
        command = tx.command
        if command in _ACTIVE:
            tx.dynamic_port = tx.dynamic_port or tx.port
        elif command is not None and command in _PASSIVE:
            tx.dynamic_port = passive_port(command, line) or tx.dynamic_port

    def _complete(self, tx: _Transaction, line: bytes) -> list[LogBody]:
        tx.replied = True
        if tx.dynamic_port and line.startswith(b"2"):
            # The server took the port (RFC 959 §4.2, a 2yz reply): the data connection comes to it.
            self.expected = (tx.dynamic_port, "ftp-data")
        if self._pending and self._pending[0] is tx:
            self._pending.popleft()
        else:
            self._unasked = None
        bodies = [tx.body()] if tx.logged else []
        if tx.auth and line.startswith(b"234 "):
            bodies += self._open()
            self.done = True  # TLS from here on
        return bodies
