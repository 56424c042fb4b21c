"""pcre, as Snort 3's ``ips_pcre.cc``: ``pcre:[!]"/regex/flags"`` (or ``m<delim>...<delim>``).

Flags: ``i s m x`` as Perl, ``A`` anchored at the search start, ``E`` ``$`` only at the very end,
``G`` inverts greediness, ``O`` (match limits; none here), ``R`` relative to the cursor. Snort 3
rejects the Snort 2 buffer flags; Snort 2 rules use them, so they choose the buffer as Snort 2
did: ``U`` http_uri, ``I`` http_raw_uri, ``P`` http_client_body, ``H`` http_header, ``D``
http_raw_header, ``M`` http_method, ``C`` http_cookie, ``K`` http_raw_cookie, ``S``
http_stat_code, ``Y`` http_stat_msg, ``B`` raw_data.

The Perl regex is translated to Python ``re`` where the two differ only in spelling; a pattern
``re`` cannot compile is rejected with its reason. A match moves the cursor to the match end; a
retry searches again from there, except for negated or anchored patterns (Snort's ``retry``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cached_property

from fathom.rules.errors import RuleError
from fathom.rules.options.base import CompiledOnUse, MatchState, PayloadOption, RuleBody, register

_FLAGS = {"i": re.IGNORECASE, "s": re.DOTALL, "m": re.MULTILINE, "x": re.VERBOSE}
_BUFFER_FLAGS = {
    "U": "http_uri",
    "I": "http_raw_uri",
    "P": "http_client_body",
    "H": "http_header",
    "D": "http_raw_header",
    "M": "http_method",
    "C": "http_cookie",
    "K": "http_raw_cookie",
    "S": "http_stat_code",
    "Y": "http_stat_msg",
    "B": "raw_data",
}
# PCRE escapes Python spells differently (outside and inside character classes).
_ESCAPES = {
    "h": r"[\t \xa0]",
    "H": r"[^\t \xa0]",
    "v": r"[\n\x0b\f\r\x85]",
    "V": r"[^\n\x0b\f\r\x85]",
    "R": r"(?:\r\n|[\n\x0b\f\r\x85])",
    "e": r"\x1b",
    "z": r"\Z",
}
_INLINE_FLAGS = re.compile(r"\(\?([imsx]*-?[imsx]*)\)")
_CLASS_ESCAPES = {"h": r"\t \xa0", "v": r"\n\x0b\f\r\x85", "e": r"\x1b"}
_POSIX = {
    "alpha": "a-zA-Z",
    "digit": "0-9",
    "alnum": "a-zA-Z0-9",
    "upper": "A-Z",
    "lower": "a-z",
    "space": r"\t\n\x0b\f\r ",
    "xdigit": "0-9A-Fa-f",
    "punct": r"!-/:-@\[-`{-~",
    "print": r"\x20-\x7e",
    "graph": r"\x21-\x7e",
    "cntrl": r"\x00-\x1f\x7f",
    "blank": r" \t",
    "word": r"\w",
}


class Translator:
    """Rewrites a PCRE pattern into Python ``re`` syntax, one token at a time."""

    def __init__(self, pattern: str, ungreedy: bool, dollar_endonly: bool) -> None:
        self.src = pattern
        self.ungreedy = ungreedy
        self.dollar_endonly = dollar_endonly
        self.out: list[str] = []
        self.i = 0
        self.depth = 0
        # Inline flags switched mid-group, by group depth: Python only takes them scoped.
        self.scoped: dict[int, str] = {}

    def run(self) -> str:
        src = self.src
        while self.i < len(src):
            ch = src[self.i]
            if ch == "\\":
                self._escape(True)
            elif ch == "[":
                self._char_class()
            elif ch == "(":
                self._open()
            elif ch == ")":
                self._close_scope()
                self.depth -= 1
                self.out.append(")")
                self.i += 1
            elif ch == "|" and self.depth in self.scoped:
                self.out.append(f")|(?{self.scoped[self.depth]}:")
                self.i += 1
            elif ch in "*+?" or (ch == "{" and self._is_counted()):
                self._quantifier()
            elif ch == "$" and self.dollar_endonly:
                self.out.append(r"\Z")
                self.i += 1
            else:
                self.out.append(ch)
                self.i += 1
        self._close_scope()
        return "".join(self.out)

    def _open(self) -> None:
        src = self.src
        flags = _INLINE_FLAGS.match(src, self.i)
        if flags is not None:
            self._close_scope()
            self.scoped[self.depth] = flags.group(1)
            self.out.append(f"(?{flags.group(1)}:")
            self.i = flags.end()
            return
        self.depth += 1
        if src.startswith("(?<", self.i) and src[self.i + 3 : self.i + 4] not in ("=", "!"):
            self.out.append("(?P<")
            self.i += 3
        else:
            self.out.append("(")
            self.i += 1

    def _close_scope(self) -> None:
        if self.scoped.pop(self.depth, None) is not None:
            self.out.append(")")

    def _escape(self, outside: bool) -> None:
        src = self.src
        nxt = src[self.i + 1 : self.i + 2]
        table = _ESCAPES if outside else _CLASS_ESCAPES
        if nxt == "x" and src.startswith("{", self.i + 2):
            close = src.index("}", self.i)
            self.out.append(f"\\x{int(src[self.i + 3 : close], 16):02x}")
            self.i = close + 1
        elif nxt == "Q":
            close = src.find("\\E", self.i + 2)
            close = len(src) if close < 0 else close
            self.out.append(re.escape(src[self.i + 2 : close]))
            self.i = close + 2
        elif nxt in table:
            self.out.append(table[nxt])
            self.i += 2
        else:
            self.out.append(src[self.i : self.i + 2])
            self.i += 2

    def _char_class(self) -> None:
        src = self.src
        self.out.append("[")
        self.i += 1
        if src.startswith("^", self.i):
            self.out.append("^")
            self.i += 1
        if src.startswith("]", self.i):
            self.out.append(r"\]")
            self.i += 1
        while self.i < len(src) and src[self.i] != "]":
            if src[self.i] == "\\":
                self._escape(False)
            elif src.startswith("[:", self.i):
                close = src.find(":]", self.i)
                name = src[self.i + 2 : close] if close > 0 else ""
                if name not in _POSIX:
                    raise RuleError(f"unsupported POSIX class [:{name}:]")
                self.out.append(_POSIX[name])
                self.i = close + 2
            elif src[self.i] == "[":
                self.out.append(r"\[")
                self.i += 1
            else:
                self.out.append(src[self.i])
                self.i += 1
        self.out.append("]")
        self.i += 1

    def _is_counted(self) -> bool:
        close = self.src.find("}", self.i)
        inner = self.src[self.i + 1 : close] if close > 0 else ""
        return bool(re.fullmatch(r"\d+(,\d*)?", inner))

    def _quantifier(self) -> None:
        src = self.src
        if src[self.i] == "{":
            close = src.index("}", self.i)
            self.out.append(src[self.i : close + 1])
            self.i = close + 1
        else:
            self.out.append(src[self.i])
            self.i += 1
        suffix = src[self.i : self.i + 1]
        if suffix == "+":
            self.out.append("+")  # possessive: the same in Python 3.11
            self.i += 1
        elif suffix == "?":
            self.i += 1
            if not self.ungreedy:
                self.out.append("?")
        elif self.ungreedy:
            self.out.append("?")


def split_regex(text: str) -> tuple[bool, str, str]:
    """``[!]"/re/flags"`` -> (negated, regex, flags), with Snort's reasons."""
    raw = text.strip()
    negated = raw.startswith("!")
    if negated:
        raw = raw[1:].lstrip()
    if raw.startswith('"'):
        raw = raw[1:]
    if raw.endswith('"'):
        raw = raw[:-1]
    delimiter = "/"
    if raw.startswith("m"):
        if len(raw) < 2 or raw[1].isspace() or raw[1] == "R":
            raise RuleError(f"unable to parse pcre {text.strip()}")
        delimiter = raw[1]
        raw = raw[1:]
    elif not raw.startswith("/"):
        raise RuleError(f"unable to parse pcre {text.strip()}")
    end = raw.rfind(delimiter)
    if end <= 1:
        raise RuleError(f"unable to parse pcre {text.strip()}")
    return negated, raw[1:end], raw[end + 1 :]


def compile_regex(regex: str, flags: str) -> tuple[re.Pattern[bytes], bool, bool, str | None]:
    """(compiled, anchored, relative, buffer from a Snort 2 flag) for ``/regex/flags``; raises
    RuleError when Python's re cannot compile it."""
    re_flags = 0
    anchored = relative = ungreedy = dollar_endonly = False
    buffer: str | None = None
    for flag in flags:
        if flag in _FLAGS:
            re_flags |= _FLAGS[flag]
        elif flag == "A":
            anchored = True
        elif flag == "E":
            dollar_endonly = True
        elif flag == "G":
            ungreedy = True
        elif flag == "R":
            relative = True
        elif flag == "O":
            pass
        elif flag in _BUFFER_FLAGS and buffer in (None, _BUFFER_FLAGS[flag]):
            buffer = _BUFFER_FLAGS[flag]
        else:
            raise RuleError("unknown/extra pcre option encountered")
    if dollar_endonly and re_flags & re.MULTILINE:
        dollar_endonly = False
    try:
        source = Translator(regex, ungreedy, dollar_endonly).run()
        compiled = re.compile(_encode(source), re_flags)
    except (re.error, ValueError) as exc:
        raise RuleError(f"cannot compile /{regex}/ for Python re: {exc}") from None
    return compiled, anchored or _starts_anchored(regex, re_flags), relative, buffer


def _encode(source: str) -> bytes:
    try:
        return source.encode("latin-1")
    except UnicodeEncodeError:
        return source.encode("utf-8")


def _starts_anchored(regex: str, re_flags: int) -> bool:
    """Snort does not retry a pattern PCRE reports as anchored."""
    return regex.startswith("\\A") or (regex.startswith("^") and not re_flags & re.MULTILINE)


class Pcre(CompiledOnUse, PayloadOption):
    """One pcre option."""

    def __init__(self, args: str | None) -> None:
        if args is None or not args.strip():
            raise RuleError("pcre requires a regular expression")
        self.negated, regex, flags = split_regex(args)
        compiled, self.anchored, self.relative, self._buffer = compile_regex(regex, flags)
        self._source = compiled.pattern, compiled.flags
        self.__dict__["regex"] = compiled

    @cached_property
    def regex(self) -> re.Pattern[bytes]:
        return re.compile(*self._source)

    def attach(self, body: RuleBody) -> None:
        super().attach(body)
        if self._buffer is not None:
            self.buffer = self._buffer

    def _first(self, data: bytes, pos: int) -> int:
        """End of the first match (absolute), -1 when none."""
        if self.relative and pos:
            if pos > len(data):
                return -1
            view = memoryview(data)[pos:]
            found = self.regex.match(view) if self.anchored else self.regex.search(view)
            return -1 if found is None else found.end() + pos
        found = self.regex.match(data) if self.anchored else self.regex.search(data)
        return -1 if found is None else found.end()

    def matches(self, data: bytes, pos: int, state: MatchState) -> Iterator[int]:
        end = self._first(data, pos)
        if self.negated:
            if end < 0:
                yield pos
            return
        if end < 0:
            return
        # Snort moves the cursor only for a match that ends past the buffer start.
        cursor = end if end > 0 else pos
        yield cursor
        if self.anchored:
            return
        search = self.regex.search
        while True:
            found = search(data, cursor)
            if found is None or found.end() <= cursor:
                return
            cursor = found.end()
            yield cursor


register("pcre", Pcre)
