"""content and its modifiers, as Snort 3's ``ips_content.cc``; ``uricontent`` and the Snort 2
modifiers written as options of their own (``content:"x"; nocase; depth:4;``).

Matching follows Snort's ``uniSearchReal``: offset/depth count from the buffer start,
distance/within from the cursor; a negative start shortens the depth by as much. A content yields
each occurrence in its window; a retry searches again from the previous match plus the
pattern's self-overlap shift (Snort's ``match_delta``) with the window's end fixed, and stops when
Snort's ``retry`` would (negated, past the buffer, or depth used up).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cached_property

from fathom.rules.errors import RuleError
from fathom.rules.options.base import CompiledOnUse, MatchState, Option, RuleBody, register
from fathom.rules.options.buffers import URI_BUFFER, Relocatable
from fathom.rules.options.byte import VarRef, check_variables, is_literal, parse_int, parse_number, split_args

_ESCAPABLE = '"\\;:'
_HEX = "0123456789abcdefABCDEF"


def parse_pattern(text: str) -> tuple[bool, bytes]:
    """``[!]"..."`` with ``|41 42|`` hex blocks and backslash escapes -> (negated, bytes)."""
    text = text.strip()
    negated = text.startswith("!")
    if negated:
        text = text[1:].lstrip()
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        raise RuleError("pattern must be in double quotes")
    out = bytearray()
    body = text[1:-1]
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\":
            if i + 1 >= len(body) or body[i + 1] not in _ESCAPABLE:
                raise RuleError(f"bad escape sequence at {i + 1}")
            out += body[i + 1].encode("latin-1")
            i += 2
        elif ch == "|":
            i = _hex_block(body, i + 1, out)
        elif ch == '"':
            raise RuleError(f"unescaped quote at {i + 1}")
        else:
            out += ch.encode("utf-8")
            i += 1
    if not out:
        raise RuleError("empty pattern")
    return negated, bytes(out)


def _hex_block(body: str, i: int, out: bytearray) -> int:
    """Append the bytes of a ``|..|`` block starting at ``i``; return the index after it."""
    digits = ""
    while i < len(body) and body[i] != "|":
        ch = body[i]
        if ch in _HEX:
            digits += ch
            if len(digits) == 2:
                out.append(int(digits, 16))
                digits = ""
        elif ch.isspace():
            if digits:
                out.append(int(digits, 16))
                digits = ""
        else:
            raise RuleError(f"invalid byte code at {i + 1}")
        i += 1
    if i >= len(body):
        raise RuleError("unterminated hex block")
    if digits:
        out.append(int(digits, 16))
    return i + 1


def _match_delta(pattern: bytes) -> int:
    """Snort's ``set_max_jump_size``: how far a retry may skip after a match."""
    j = 0
    size = len(pattern)
    for i in range(1, size):
        if pattern[j] != pattern[i]:
            j = 0
            continue
        if i == size - 1:
            return size - j - 1
        j += 1
    return size


class Content(CompiledOnUse, Relocatable):
    """One content: its pattern, position constraints and fast-pattern settings."""

    def __init__(self, args: str | None) -> None:
        if args is None:
            raise RuleError("needs a pattern")
        parts = split_args(args)
        self.negated, self.pattern = parse_pattern(parts[0])
        self.nocase = False
        self.relative = False
        # Shared by offset/distance and depth/within, as in Snort's PatternMatchData.
        self.offset = VarRef()
        self.depth = VarRef()
        self.fast_pattern = False
        self.fast_pattern_only = False
        self.fp_offset = 0
        self.fp_length = 0
        self.snort3_form = len(parts) > 1
        self._width = 1
        self._little = False
        for part in parts[1:]:
            key, _, value = part.partition(" ")
            self.modify(key, value.strip() or None)
        self._widen()
        self._check_fast_pattern()
        self._delta = _match_delta(self.pattern)

    # -- modifiers, shared by the Snort 3 sub-options and the Snort 2 options --

    def modify(self, key: str, value: str | None) -> None:
        if key == "nocase":
            self.nocase = True
        elif key == "offset":
            self._set_offset(value)
        elif key == "depth":
            self._set_depth(value)
        elif key == "distance":
            self._set_distance(value)
        elif key == "within":
            self._set_within(value)
        elif key == "fast_pattern":
            self.fast_pattern = True
        elif key in ("fast_pattern_offset", "fast_pattern_length"):
            number = parse_number(value or "", key, 0 if key.endswith("offset") else 1, 65535)
            if key.endswith("offset"):
                self.fp_offset = number
            else:
                self.fp_length = number
            self.fast_pattern = True
        elif key == "width" and value in ("8", "16", "32"):
            self._width = int(value) // 8
        elif key == "endian" and value in ("big", "little"):
            self._little = value == "little"
        else:
            raise RuleError(f"unknown content option ({key})")

    def _has_position(self) -> bool:
        """Snort's GetCMF: a non-zero or variable offset or depth is set."""
        return bool(self.offset.value or self.offset.name or self.depth.value or self.depth.name)

    def _set_offset(self, value: str | None) -> None:
        if self.relative and (self.offset.value or self.offset.name):
            raise RuleError("offset can't be used with itself, distance, or within")
        self.offset = self._position(value, "offset", -65535)

    def _set_depth(self, value: str | None) -> None:
        if self.relative and (self.depth.value or self.depth.name):
            raise RuleError("depth can't be used with itself, distance, or within")
        self.depth = self._position(value, "depth", len(self.pattern))

    def _set_distance(self, value: str | None) -> None:
        if not self.relative and self._has_position():
            raise RuleError("distance can't be used with itself, offset, or depth")
        self.offset = self._position(value, "distance", -65535)
        self.relative = True

    def _set_within(self, value: str | None) -> None:
        if not self.relative and self._has_position():
            raise RuleError("within can't be used with itself, offset, or depth")
        self.depth = self._position(value, "within", len(self.pattern))
        self.relative = True

    @staticmethod
    def _position(value: str | None, tag: str, low: int) -> VarRef:
        if value is None:
            raise RuleError(f"missing argument to '{tag}' option")
        if is_literal(value):
            return VarRef(parse_int(value, tag, low))
        return VarRef(name=value)

    def set_fast_pattern(self, value: str | None) -> None:
        """Snort 2 ``fast_pattern[:only|:offset,length]``."""
        self.fast_pattern = True
        if value is None:
            return
        if value.strip() == "only":
            self.fast_pattern_only = True
            return
        offset, _, length = value.partition(",")
        if not length:
            raise RuleError(f"invalid fast_pattern argument ({value})")
        self.fp_offset = parse_number(offset, "fast_pattern offset", 0, 65535)
        self.fp_length = parse_number(length, "fast_pattern length", 1, 65535)
        self._check_fast_pattern()

    def _check_fast_pattern(self) -> None:
        size = len(self.pattern)
        if self.fp_offset and size <= self.fp_offset:
            raise RuleError(
                f"fast_pattern_offset must be less than the actual pattern length which is {size}."
            )
        if size < self.fp_offset + self.fp_length:
            raise RuleError(
                "fast_pattern_offset + fast_pattern_length must be less than or equal to "
                f"the actual pattern length which is {size}."
            )

    def _widen(self) -> None:
        """Snort 3 ``width 16|32``: each byte becomes a wide character."""
        width = self._width
        if width == 1:
            return
        at = 0 if self._little else width - 1
        wide = bytearray(len(self.pattern) * width)
        for i, byte in enumerate(self.pattern):
            wide[i * width + at] = byte
        self.pattern = bytes(wide)
        self.fp_offset *= width
        self.fp_length *= width

    @cached_property
    def _regex(self) -> re.Pattern[bytes] | None:
        # A case-blind search needs a regex (ASCII letters only, like Snort's toupper).
        return re.compile(re.escape(self.pattern), re.IGNORECASE) if self.nocase else None

    def attach(self, body: RuleBody) -> None:
        check_variables(body, self.references())
        super().attach(body)

    def references(self) -> Iterator[tuple[str, VarRef]]:
        yield ("content distance" if self.relative else "content offset"), self.offset
        yield ("content within" if self.relative else "content depth"), self.depth

    # -- matching --

    def _find(self, data: bytes, start: int, end: int) -> int:
        if self._regex is None:
            return data.find(self.pattern, start, end)
        found = self._regex.search(data, start, end)
        return -1 if found is None else found.start()

    def matches(self, data: bytes, pos: int, state: MatchState) -> Iterator[int]:
        if self.negated:
            if self._first(data, pos, state) < 0:
                yield pos
            return
        yield from self._occurrences(data, pos, state)

    def _window(self, data: bytes, pos: int, state: MatchState) -> tuple[int, int, int]:
        """(start, end, depth) of the first search; depth is 0 when none is set."""
        depth = self.depth.get(state)
        start = (pos if self.relative else 0) + self.offset.signed(state)
        if start < 0:
            if depth:
                depth += start
            start = 0
        end = min(len(data), start + depth) if self._bounded() else len(data)
        return start, end, depth

    def _bounded(self) -> bool:
        """A depth or within is set (Snort's ``depth_configured``)."""
        return bool(self.depth.name or self.depth.value)

    def _first(self, data: bytes, pos: int, state: MatchState) -> int:
        start, end, depth = self._window(data, pos, state)
        if self._bounded() and depth <= 0:
            return -1
        return self._find(data, start, end)

    def _occurrences(self, data: bytes, pos: int, state: MatchState) -> Iterator[int]:
        start, end, depth = self._window(data, pos, state)
        bounded = self._bounded()
        if bounded and depth <= 0:
            return
        size = len(data)
        plen = len(self.pattern)
        delta = 0
        while True:
            at = self._find(data, start, end)
            if at < 0:
                return
            yield at + plen
            delta += at - start + self._delta
            # Snort's ContentOption::retry.
            if at + plen >= size or (self.depth.value and delta + plen > self.depth.value):
                return
            start = at + self._delta
            if bounded:
                end = min(size, start + self.depth.get(state) - delta)


class UriContent(Content):
    """Snort 2 ``uricontent``: a content in the URI buffer."""

    def attach(self, body: RuleBody) -> None:
        super().attach(body)
        self.buffer = URI_BUFFER


class Modifier(Option):
    """A Snort 2 content modifier written as its own option; it changes the last content."""

    def __init__(self, keyword: str, args: str | None) -> None:
        self.keyword = keyword
        self.args = None if args is None else args.strip()

    def attach(self, body: RuleBody) -> None:
        last = body.payload[-1] if body.payload else None
        if not isinstance(last, Content):
            raise RuleError("needs a content before it")
        if self.keyword == "fast_pattern":
            last.set_fast_pattern(self.args)
            return
        if self.keyword == "nocase" and self.args:
            raise RuleError("takes no argument")
        last.modify(self.keyword, self.args)
        check_variables(body, last.references())


def _modifier(keyword: str) -> None:
    register(keyword, lambda args: Modifier(keyword, args))


register("content", Content)
register("uricontent", UriContent)
for _keyword in ("nocase", "offset", "depth", "distance", "within", "fast_pattern"):
    _modifier(_keyword)
