"""Snort's range syntax (``framework/range.cc``), shared by every numeric option: ``5`` or ``=5``,
``!5`` or ``!=5``, ``<5``, ``<=5``, ``>5``, ``>=5``, ``1<>5`` (exclusive) and ``1<=>5`` (inclusive).
Numbers are decimal, ``0x`` hex or ``0`` octal, as ``strtol`` reads them; spaces may surround
numbers and operators but not split an operator.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fathom.rules.errors import RuleError

_STRTOL = re.compile(r"[+-]?(?:0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)")


def parse_number(text: str, low: int, high: int) -> int:
    """A whole number in ``low..high``, written as ``strtol(text, 0)`` accepts it in full."""
    text = text.strip()
    if not _STRTOL.fullmatch(text):
        raise RuleError(f"{text!r} is not a number")
    digits = text.lstrip("+-")
    base = 16 if digits[:2] in ("0x", "0X") else 8 if len(digits) > 1 and digits[0] == "0" else 10
    value = int(text, base)
    if not low <= value <= high:
        raise RuleError(f"{value} is out of range {low}:{high}")
    return value


_OP_CHARS = "=!<>"
_NUM_START = "+-x0123456789abcdefABCDEF"
_NUM_CHARS = "x0123456789abcdefABCDEF"


def _range_tokens(text: str) -> tuple[str, str, str] | None:
    """Split into (low, operator, high) exactly as range.cc's get_tokens does; None if malformed."""
    low = ops = high = ""
    state = 0
    for char in text:
        if state == 0:
            if char in _NUM_START:
                low, state = char, 1
            elif char in _OP_CHARS:
                ops, state = char, 2
            elif char != " ":
                return None
        elif state == 1:
            if char in _NUM_CHARS:
                low += char
            elif char in _OP_CHARS:
                ops, state = char, 2
            elif char != " ":
                return None
        elif state == 2:
            if char in _NUM_START:
                high, state = char, 4
            elif char in _OP_CHARS:
                ops += char
            elif char == " ":
                state = 3
            else:
                return None
        elif state == 3:
            if char not in _NUM_START:
                return None
            high, state = char, 4
        elif char in _NUM_CHARS:
            high += char
        elif char != " ":
            return None
    return low, ops, high


# Operator spellings, each to its one name.
_OPS = {"": "=", "=": "=", "!": "!", "!=": "!", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_OPS |= {"<>": "<>", "<=>": "<=>"}


@dataclass(frozen=True)
class Range:
    """A parsed range: ``op`` is one of ``= ! < <= > >= <> <=>``; ``low`` is used by ``>``,
    ``>=`` and the two-sided forms, ``high`` by the others."""

    op: str
    low: int
    high: int

    def __contains__(self, value: int) -> bool:
        op = self.op
        if op == "=":
            return value == self.high
        if op == "!":
            return value != self.high
        if op == "<":
            return value < self.high
        if op == "<=":
            return value <= self.high
        if op == ">":
            return value > self.low
        if op == ">=":
            return value >= self.low
        if op == "<>":
            return self.low < value < self.high
        return self.low <= value <= self.high


def parse_range(text: str, low: int, high: int) -> Range:
    """Parse Snort's range syntax; every bound must lie in ``low..high``."""
    tokens = _range_tokens(text)
    op = _OPS.get(tokens[1]) if tokens else None
    if tokens is None or op is None:
        raise RuleError(f"bad range {text.strip()!r}")
    first, ops, second = tokens
    two_sided = op in ("<>", "<=>")
    # '5' and '=5' give one number; '1<>5' gives two; the rest take the number after the operator.
    if op == "=":
        valid = bool(first) != bool(second) and not (first and ops)
    elif two_sided:
        valid = bool(first and second)
    else:
        valid = bool(second) and not first
    if not valid:
        raise RuleError(f"bad range {text.strip()!r}")
    numbers = [parse_number(token, low, high) for token in (first, second) if token]
    if two_sided:
        if numbers[0] > numbers[1]:
            raise RuleError(f"bad range {text.strip()!r}: {numbers[0]} > {numbers[1]}")
        return Range(op, numbers[0], numbers[1])
    if op in (">", ">="):
        return Range(op, numbers[0], 0)
    return Range(op, 0, numbers[0])
