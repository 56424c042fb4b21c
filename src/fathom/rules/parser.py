"""Rule text to rule headers and raw option lists, as Snort 3's ``parse_stream.cc`` reads it, with
the Snort 2 and Suricata spellings.

A rule is ``action protocol src sport dir dst dport (options)``. Snort 3 also allows a service
header without addresses (``alert http (...)``, ``alert file (...)``) and omitted ports
(``alert tcp any -> any (...)``); missing parts mean any. A rule may span lines, with or without a
trailing backslash; ``#`` starts a comment wherever a header part or an option may start.

Options are ``keyword;`` or ``keyword:args;``. The args stay raw (unescaping is each option's
job) but are split as Snort does: a backslash escapes the next character, and a ``;`` inside a
double-quoted string does not end the args, except for pcre, whose args Snort reads up to the first
unescaped ``;`` whatever the quotes. A last option with args may omit its ``;`` before ``)``.

A bad rule is reported once, with its file, line and reason, and parsing resumes at the next line
that starts a rule or a directive. A rules file may hold Snort 2 ``var``, ``ipvar`` and
``portvar`` lines, which define variables for the rules after them.
"""

from __future__ import annotations

import os
import re
from bisect import bisect_right
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from fathom.rules.errors import RuleError
from fathom.rules.variables import AddressSet, PortSet, Variables

_T = TypeVar("_T")

# Snort 3's actions, Snort 2's sdrop and Suricata's reject variants.
_SNORT3_ACTIONS = ("alert", "block", "drop", "log", "pass", "react", "reject", "rewrite")
ACTIONS = frozenset((*_SNORT3_ACTIONS, "sdrop", "rejectsrc", "rejectdst", "rejectboth"))
_VARIABLE_DIRECTIVES = frozenset(("var", "ipvar", "portvar"))
_DIRECTIVES = ACTIONS | _VARIABLE_DIRECTIVES | {"include"}

# Whitespace, comments and backslash line continuations between tokens.
_BLANK = re.compile(r"(?:\s+|#[^\n]*|\\(?=\r?\n))*")
# A header token runs to whitespace or '(', except inside brackets.
_HEADER_PLAIN = re.compile(r"[^\s(\[]*")
_BRACKETS = re.compile(r"[\[\]\n]")
_KEYWORD = re.compile(r"[^\s:;()\"]+")
_ARGS = re.compile(r'(?:[^;"\\\n]+|\\.|"(?:[^"\\\n]|\\.)*")*', re.DOTALL)
_PCRE_ARGS = re.compile(r"(?:[^;\\\n]+|\\.)*", re.DOTALL)
_FIRST_WORD = re.compile(r"[ \t]*(\S+?)(?=\s|$)")
_PROTOCOL = re.compile(r"[a-z][a-z0-9_\-]*")
_VARIABLE_LINE = re.compile(r"(\S+)\s+(\S+)\s+(.+?)\s*$", re.DOTALL)


@dataclass(frozen=True)
class RuleText:
    """A rule's header, parsed, and its options, raw."""

    action: str
    protocol: str
    source: AddressSet
    source_ports: PortSet
    bidirectional: bool
    destination: AddressSet
    destination_ports: PortSet
    options: tuple[tuple[str, str | None], ...]
    file: str
    line: int
    text: str


@dataclass(frozen=True)
class RuleLoadError:
    """Why the rule (or line) at ``file:line`` was not loaded."""

    file: str
    line: int
    reason: str
    text: str

    def __str__(self) -> str:
        # Line 0 stands for the whole file (one that cannot be read).
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.reason}"


class _Failed(Exception):
    """A RuleError and where parsing stopped, so that the next rule can be found after it."""

    def __init__(self, reason: str, pos: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.pos = pos


class _Scanner:
    """Walks one file's text, statement by statement."""

    def __init__(self, text: str, file: str, variables: Variables) -> None:
        self.text = text
        self.file = file
        self.variables = variables
        self.line_starts = [0] + [match.end() for match in re.finditer(r"\n", text)]
        self.rules: list[RuleText] = []
        self.errors: list[RuleLoadError] = []

    def line_of(self, pos: int) -> int:
        return bisect_right(self.line_starts, pos)

    def run(self) -> None:
        pos = _skip_blank(self.text, 0)
        while pos < len(self.text):
            try:
                pos = self.statement(pos)
            except _Failed as failure:
                self.fail(pos, failure.reason, failure.pos)
                pos = self.next_statement(failure.pos)
            pos = _skip_blank(self.text, pos)

    def fail(self, start: int, reason: str, stop: int) -> None:
        end = self.text.find("\n", max(stop, start))
        text = self.text[start : len(self.text) if end < 0 else end].strip()
        self.errors.append(RuleLoadError(self.file, self.line_of(start), reason, text))

    def next_statement(self, pos: int) -> int:
        """The start of the first line after ``pos`` that begins with an action or directive."""
        index = self.line_of(pos)
        while index < len(self.line_starts):
            start = self.line_starts[index]
            if self.starts_statement(start):
                return start
            index += 1
        return len(self.text)

    def starts_statement(self, pos: int) -> bool:
        match = _FIRST_WORD.match(self.text, pos)
        return match is not None and match.group(1) in _DIRECTIVES

    def statement(self, start: int) -> int:
        """Parse the statement at ``start``; the position after it."""
        keyword = self.text[start : _header_token_end(self.text, start)]
        if keyword in _VARIABLE_DIRECTIVES:
            return self.variable(start)
        if keyword == "include":
            raise _Failed("include is not supported in a rules file", start)
        return self.rule(start)

    def logical_line(self, start: int) -> tuple[str, int]:
        """The text from ``start`` to the end of its line, joining backslash continuations."""
        end = start
        while True:
            newline = self.text.find("\n", end)
            if newline < 0:
                return self.text[start:].replace("\\\n", " "), len(self.text)
            if not self.text[start:newline].rstrip("\r").endswith("\\"):
                return self.text[start:newline].replace("\\\n", " "), newline
            end = newline + 1

    def variable(self, start: int) -> int:
        line, end = self.logical_line(start)
        match = _VARIABLE_LINE.match(line.strip())
        if match is None:
            raise _Failed(f"{line.split()[0]} needs a name and a value", end)
        kind, name, value = match.groups()
        try:
            if kind == "ipvar":
                self.variables.addresses(value)
            elif kind == "portvar":
                self.variables.ports(value)
        except RuleError as exc:
            raise _Failed(f"{kind} {name}: {exc}", end) from None
        self.variables.define(name, value)
        return end

    def rule(self, start: int) -> int:
        header, pos = self.header(start)
        options, end = self.options(pos)
        try:
            rule = header.build(self.variables, options, self.file, self.line_of(start), self.text[start:end])
        except RuleError as exc:
            raise _Failed(str(exc), end) from None
        self.rules.append(rule)
        return end

    def skip(self, pos: int) -> int:
        """Skip blanks; a rule that is still open when a line starting a new rule comes is cut off."""
        end = _skip_blank(self.text, pos)
        newline = self.text.rfind("\n", pos, end)
        if newline >= 0 and self.starts_statement(newline + 1):
            raise _Failed("rule has no closing ')'", newline)
        if end >= len(self.text):
            raise _Failed("rule has no closing ')'", end)
        return end

    def header(self, start: int) -> tuple[_Header, int]:
        """The header's tokens, up to and past the '(' that opens the options."""
        tokens: list[str] = []
        pos = start
        while True:
            pos = self.skip(pos)
            if self.text[pos] == "(":
                return _Header(tokens), pos + 1
            end = _header_token_end(self.text, pos)
            tokens.append(self.text[pos:end])
            if len(tokens) == 1 and tokens[0] not in ACTIONS:
                raise _Failed(f"unknown rule action {tokens[0]!r}", pos)
            pos = end

    def options(self, pos: int) -> tuple[list[tuple[str, str | None]], int]:
        """The options up to and past the closing ')'."""
        options: list[tuple[str, str | None]] = []
        while True:
            pos = self.skip(pos)
            if self.text[pos] == ")":
                return options, pos + 1
            keyword = _KEYWORD.match(self.text, pos)
            if keyword is None:
                raise _Failed(f"expected a rule option, found {self.text[pos]!r}", pos)
            option, pos, closed = self.option(keyword.group(), keyword.end())
            options.append(option)
            if closed:
                return options, pos

    def option(self, keyword: str, pos: int) -> tuple[tuple[str, str | None], int, bool]:
        """One option's keyword and args; the position after it and whether it closed the rule."""
        pos = _skip_blank(self.text, pos)
        char = self.text[pos : pos + 1]
        if char in (";", ")"):
            return (keyword, None), pos + (char == ";"), char == ")"
        if char != ":":
            raise _Failed(f"option {keyword!r} must be followed by ':' or ';'", pos)
        args = (_PCRE_ARGS if keyword == "pcre" else _ARGS).match(self.text, pos + 1)
        assert args is not None  # both patterns match the empty string
        end = args.end()
        if self.text.startswith(";", end):
            return (keyword, args.group().strip()), end + 1, False
        if self.text.startswith('"', end):
            raise _Failed(f"option {keyword!r} has an unterminated string", end)
        # The last option may end at the rule's ')' without a ';'.
        raw = args.group().rstrip()
        if raw.endswith(")"):
            return (keyword, raw[:-1].strip()), pos + 1 + len(raw), True
        raise _Failed(f"option {keyword!r} has no terminating ';'", end)


class _Header:
    """A rule header's tokens, checked and turned into sets when the rule is built."""

    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens

    def build(
        self,
        variables: Variables,
        options: list[tuple[str, str | None]],
        file: str,
        line: int,
        text: str,
    ) -> RuleText:
        action, protocol, addresses = self.split()
        src, sport, direction, dst, dport = addresses
        if direction not in ("->", "<>"):
            raise RuleError(f"illegal direction specifier: {direction}")
        return RuleText(
            action=action,
            protocol=protocol,
            source=_named(variables.addresses, src, "source addresses"),
            source_ports=_named(variables.ports, sport, "source ports"),
            bidirectional=direction == "<>",
            destination=_named(variables.addresses, dst, "destination addresses"),
            destination_ports=_named(variables.ports, dport, "destination ports"),
            options=tuple(options),
            file=file,
            line=line,
            text=text.strip(),
        )

    def split(self) -> tuple[str, str, tuple[str, str, str, str, str]]:
        """Action, protocol and (src, sport, dir, dst, dport), missing parts as 'any'."""
        tokens = self.tokens
        if len(tokens) < 2:
            raise RuleError("rule has no protocol")
        protocol = tokens[1].lower()
        if not _PROTOCOL.fullmatch(protocol):
            raise RuleError(f"bad protocol: {tokens[1]}")
        return tokens[0], protocol, _addresses_and_ports(tokens[2:])


def _addresses_and_ports(tokens: list[str]) -> tuple[str, str, str, str, str]:
    """Snort 3 allows the whole address part, or either port, to be left out."""
    if not tokens:
        return "any", "any", "->", "any", "any"
    is_direction = [token in ("->", "<>", "<-") for token in tokens]
    if True not in is_direction:
        raise RuleError(f"rule header has no direction: {' '.join(tokens)}")
    at = is_direction.index(True)
    before, after = tokens[:at], tokens[at + 1 :]
    if not 1 <= len(before) <= 2 or not 1 <= len(after) <= 2:
        raise RuleError(f"bad rule header: {' '.join(tokens)}")
    src, sport = (*before, "any") if len(before) == 1 else before
    dst, dport = (*after, "any") if len(after) == 1 else after
    return src, sport, tokens[at], dst, dport


def _skip_blank(text: str, pos: int) -> int:
    match = _BLANK.match(text, pos)
    assert match is not None  # the pattern matches the empty string
    return match.end()


def _header_token_end(text: str, pos: int) -> int:
    """Where the header token at ``pos`` ends; a bracketed list may hold spaces and nest."""
    end = pos
    while True:
        match = _HEADER_PLAIN.match(text, end)
        assert match is not None  # the pattern matches the empty string
        end = match.end()
        if not text.startswith("[", end):
            return max(end, pos + 1)
        end = _list_end(text, end)


def _list_end(text: str, pos: int) -> int:
    """The position after the ']' that closes the '[' at ``pos``."""
    depth = 0
    for bracket in _BRACKETS.finditer(text, pos):
        if bracket.group() == "\n":
            break
        depth += 1 if bracket.group() == "[" else -1
        if not depth:
            return bracket.end()
    raise _Failed("unbalanced '[' in rule header", pos)


def _named(parse: Callable[[str], _T], text: str, what: str) -> _T:
    """``parse(text)``, its error prefixed with what was being parsed."""
    try:
        return parse(text)
    except RuleError as exc:
        raise RuleError(f"{what} {text}: {exc}") from None


def parse_rules(
    text: str, file: str, variables: Mapping[str, str] | None = None
) -> tuple[list[RuleText], list[RuleLoadError]]:
    """The rules in ``text`` (the contents of ``file``), and an error for each one that is bad.
    ``variables`` override or add to the default variables."""
    scanner = _Scanner(text, file, Variables(variables))
    scanner.run()
    return scanner.rules, scanner.errors


@dataclass(frozen=True)
class RuleSource:
    """One rules file as read: its path and text."""

    path: str
    text: str


def read_rule_sources(paths: Sequence[str]) -> tuple[list[RuleSource], list[RuleLoadError]]:
    """The files given, and every ``*.rules`` file under the directories given (sorted), read.
    A path that cannot be read is one error entry."""
    sources: list[RuleSource] = []
    errors: list[RuleLoadError] = []
    for path in _rule_files(paths, errors):
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                sources.append(RuleSource(path, handle.read()))
        except OSError as exc:
            errors.append(RuleLoadError(path, 0, f"cannot read: {exc.strerror or exc}", ""))
    return sources, errors


def load_rules(
    paths: Sequence[str], variables: Mapping[str, str] | None = None
) -> tuple[list[RuleText], list[RuleLoadError]]:
    """The rules in the files and directories ``paths`` (see :func:`read_rule_sources`), and an
    error for each path that cannot be read and each bad rule."""
    sources, errors = read_rule_sources(paths)
    rules, parse_errors = parse_sources(sources, variables)
    return rules, errors + parse_errors


def parse_sources(
    sources: Sequence[RuleSource], variables: Mapping[str, str] | None = None
) -> tuple[list[RuleText], list[RuleLoadError]]:
    """The rules of every source, and an error for each bad one. Each file starts from the same
    variables."""
    rules: list[RuleText] = []
    errors: list[RuleLoadError] = []
    for source in sources:
        file_rules, file_errors = parse_rules(source.text, source.path, variables)
        rules.extend(file_rules)
        errors.extend(file_errors)
    return rules, errors


def _rule_files(paths: Sequence[str], errors: list[RuleLoadError]) -> Iterator[str]:
    for path in paths:
        if not os.path.isdir(path):
            yield path
            continue
        found: list[str] = []
        for root, _dirs, names in os.walk(path, onerror=lambda exc: _unreadable(exc, errors)):
            found.extend(os.path.join(root, name) for name in names if name.endswith(".rules"))
        yield from sorted(found)


def _unreadable(exc: OSError, errors: list[RuleLoadError]) -> None:
    errors.append(RuleLoadError(str(exc.filename), 0, f"cannot read: {exc.strerror or exc}", ""))
