"""byte_test, byte_jump, byte_extract and byte_math, as Snort 3's ``ips_byte_*.cc`` and
``extract.cc``; plus the argument helpers the other payload options share (numbers, rule option
variables, comma-separated arguments).

Values are unsigned 32-bit as in Snort: arithmetic wraps, and a cursor that would leave the buffer
(or go before it) fails. ``dce`` endianness comes from the DCE/RPC inspector in Snort; without
one it reads little-endian, the byte order of almost all DCE/RPC traffic.
"""

from __future__ import annotations

from collections.abc import Iterator

from fathom.rules.errors import RuleError
from fathom.rules.options.base import MatchState, PayloadOption, RuleBody, register

U32 = 0xFFFFFFFF
# Snort's MAX_BYTES_TO_GRAB (binary) and PARSELEN (string) limits.
MAX_BINARY_BYTES = 4
MAX_STRING_BYTES = 10
_SPACES = b" \t\n\v\f\r"
_BASE_DIGITS = {8: b"01234567", 10: b"0123456789", 16: b"0123456789abcdefABCDEF"}


def split_args(text: str) -> list[str]:
    """Split on commas outside double quotes (a backslash escapes the next character); each part
    is stripped."""
    parts: list[str] = []
    start = 0
    quoted = escaped = False
    for i, ch in enumerate(text):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return parts


def parse_int(text: str, tag: str, low: int = -65535, high: int = 65535) -> int:
    """A decimal integer in [low, high], with Snort's ``parse_int`` reasons."""
    try:
        value = int(text.strip(), 10)
    except ValueError:
        raise RuleError(f"invalid '{tag}' format.") from None
    if not low <= value <= high:
        raise RuleError(f"'{tag}' must be in {low}:{high}, inclusive")
    return value


def parse_number(text: str, tag: str, low: int, high: int) -> int:
    """An integer in decimal or hex (0x), as Snort's PT_INT parameters accept."""
    text = text.strip()
    try:
        value = int(text, 16) if text.lower().startswith("0x") else int(text, 10)
    except ValueError:
        raise RuleError(f"{tag}: not a number ({text})") from None
    if not low <= value <= high:
        raise RuleError(f"{tag} must be in {low}:{high}")
    return value


def key_value(arg: str) -> tuple[str, str]:
    """``"post_offset -4"`` -> ``("post_offset", "-4")``; a bare word has an empty value."""
    key, _, value = arg.partition(" ")
    return key, value.strip()


def is_literal(text: str) -> bool:
    """Snort takes an argument as a number when it starts with a digit or '-', else as a variable."""
    return bool(text) and (text[0].isdigit() or text[0] == "-")


class VarRef:
    """A number given in the rule or the name of a byte_extract/byte_math variable."""

    __slots__ = ("name", "value")

    def __init__(self, value: int = 0, name: str | None = None) -> None:
        self.value = value
        self.name = name

    def get(self, state: MatchState) -> int:
        return self.value if self.name is None else state.variables.get(self.name, 0)

    def signed(self, state: MatchState) -> int:
        """Read as Snort's int32 cast of the stored uint32."""
        value = self.get(state)
        return value - (1 << 32) if self.name is not None and value > 0x7FFFFFFF else value


def var_or_int(text: str, tag: str, low: int = -65535, high: int = 65535) -> VarRef:
    text = text.strip()
    if is_literal(text):
        return VarRef(parse_int(text, tag, low, high))
    return VarRef(name=text)


class VariableSetter(PayloadOption):
    """A payload option that defines a rule option variable for the options after it."""

    variable: str = ""


class UsesVariables(PayloadOption):
    """A payload option whose arguments may name variables; they must be defined before it."""

    def references(self) -> Iterator[tuple[str, VarRef]]:
        """(what, reference) for each argument, for the undefined-variable reason."""
        return iter(())

    def attach(self, body: RuleBody) -> None:
        check_variables(body, self.references())
        super().attach(body)


def check_variables(body: RuleBody, refs: Iterator[tuple[str, VarRef]]) -> None:
    defined = {opt.variable for opt in body.payload if isinstance(opt, VariableSetter)}
    for what, ref in refs:
        if ref.name is not None and ref.name not in defined:
            raise RuleError(f"{what} uses an undefined rule option variable ({ref.name})")


class Extraction:
    """How to read a number from the buffer: Snort's ``ByteData`` and ``data_extraction``."""

    __slots__ = ("_endian", "base", "bitmask", "count", "little", "string")

    def __init__(self) -> None:
        self.count = 0
        self.little = False
        self.string = False
        self.base = 0
        self.bitmask = 0
        self._endian: str | None = None

    def set_flag(self, key: str, tag: str) -> bool:
        """Apply an endianness or conversion flag; False when ``key`` is not one."""
        if key in ("big", "little", "dce"):
            if self._endian is not None:
                raise RuleError(f"{tag}: endianness already set")
            self._endian = key
            self.little = key != "big"
        elif key == "string":
            self.string = True
            self.base = 10
        elif key in ("dec", "hex", "oct"):
            self.base = {"dec": 10, "hex": 16, "oct": 8}[key]
        else:
            return False
        return True

    def set_bitmask(self, value: str) -> None:
        self.bitmask = parse_number(value, "bitmask", 1, U32)

    def validate(self, tag: str) -> None:
        if self.bitmask and _bitmask_bytes(self.bitmask) > self.count:
            raise RuleError('Number of bytes in "bitmask" value is greater than bytes to extract.')
        if self.count > MAX_BINARY_BYTES and not self.string:
            raise RuleError(
                f"{tag} rule option cannot extract more than {MAX_BINARY_BYTES} bytes without string"
            )

    def read(self, data: bytes, at: int) -> tuple[int, int] | None:
        """(value, bytes read) at ``at``, or None when out of bounds or not a number."""
        size = len(data)
        if at < 0 or at >= size:
            return None
        if self.string:
            got = _string_value(data, at, min(self.count, size - at), self.base)
            if got is None:
                return None
            value, used = got
        else:
            if at + self.count > size:
                return None
            value = int.from_bytes(data[at : at + self.count], "little" if self.little else "big")
            used = self.count
        mask = self.bitmask
        if mask:
            value &= mask
            shift = (mask & -mask).bit_length() - 1
            if value and shift:
                value >>= shift
        return value, used


def _bitmask_bytes(mask: int) -> int:
    return max(1, (mask.bit_length() + 7) // 8)


def _string_value(data: bytes, at: int, length: int, base: int) -> tuple[int, int] | None:
    """strtoul as Snort's SnortStrToU32 uses it: leading space, no '-', value clamped to 32 bits."""
    end = at + length
    i = at
    while i < end and data[i] in _SPACES:
        i += 1
    if i >= end or data[i] == 0x2D:  # '-'
        return None
    if data[i] == 0x2B:  # '+'
        i += 1
    digits = _BASE_DIGITS[base]
    if base == 16 and i + 2 < end and data[i : i + 2] in (b"0x", b"0X") and data[i + 2] in digits:
        i += 2
    first = i
    while i < end and data[i] in digits:
        i += 1
    if i == first:
        return None
    return min(int(data[first:i], base), U32), i - at


class ByteTest(UsesVariables):
    """byte_test:count, [!]op, value, offset[, relative][, endian][, string, base][, bitmask m]"""

    _OPS = {"<": 0, "=": 1, ">": 2, "<=": 3, ">=": 4, "&": 5, "^": 6}

    def __init__(self, args: str | None) -> None:
        parts = split_args(args or "")
        if len(parts) < 4:
            raise RuleError("expects count, operator, value and offset")
        self.extract = Extraction()
        self.extract.count = parse_number(parts[0], "count", 1, MAX_STRING_BYTES)
        op = parts[1].replace(" ", "")
        self.negated = op.startswith("!")
        op = op[1:] if self.negated else op
        if op == "" and self.negated:
            op = "="
        if op not in self._OPS:
            raise RuleError(f"byte_test unknown operator ({parts[1]})")
        self.op = self._OPS[op]
        self.compare = (
            VarRef(parse_number(parts[2], "value", 0, U32)) if is_literal(parts[2]) else VarRef(name=parts[2])
        )
        self.offset = var_or_int(parts[3], "offset")
        self.relative = False
        for part in parts[4:]:
            key, value = key_value(part)
            if key == "relative":
                self.relative = True
            elif key == "bitmask":
                self.extract.set_bitmask(value)
            elif not self.extract.set_flag(key, "byte_test"):
                raise RuleError(f"unknown argument ({part})")
        self.extract.validate("byte_test")

    def references(self) -> Iterator[tuple[str, VarRef]]:
        yield "byte_test", self.offset
        yield "byte_test", self.compare

    def matches(self, data: bytes, pos: int, state: MatchState) -> Iterator[int]:
        at = (pos if self.relative else 0) + self.offset.signed(state)
        got = self.extract.read(data, at)
        if got is not None and self._check(got[0], self.compare.get(state)) != self.negated:
            yield pos

    def _check(self, value: int, cmp: int) -> bool:
        op = self.op
        if op == 0:
            return value < cmp
        if op == 1:
            return value == cmp
        if op == 2:
            return value > cmp
        if op == 3:
            return value <= cmp
        if op == 4:
            return value >= cmp
        if op == 5:
            return (value & cmp) > 0
        return (value ^ cmp) > 0


class ByteJump(UsesVariables):
    """byte_jump:count, offset[, relative][, multiplier n][, align][, from_beginning|from_end]
    [, post_offset n][, endian][, string, base][, bitmask m]; moves the cursor."""

    def __init__(self, args: str | None) -> None:
        parts = split_args(args or "")
        if len(parts) < 2:
            raise RuleError("expects count and offset")
        self.extract = Extraction()
        self.extract.count = parse_number(parts[0], "count", 0, MAX_STRING_BYTES)
        self.offset = var_or_int(parts[1], "offset")
        self.relative = self.align = self.from_beginning = self.from_end = False
        self.multiplier = 1
        self.post_offset = VarRef()
        for part in parts[2:]:
            key, value = key_value(part)
            if key == "relative":
                self.relative = True
            elif key == "align":
                # Snort 3 keeps only a flag: any align rounds up to 4 bytes.
                if value:
                    parse_number(value, "align", 0, 4)
                self.align = True
            elif key == "multiplier":
                self.multiplier = parse_number(value, "multiplier", 1, 65535)
            elif key == "from_beginning":
                self.from_beginning = True
            elif key == "from_end":
                self.from_end = True
            elif key == "post_offset":
                self.post_offset = var_or_int(value, "post_offset")
            elif key == "bitmask":
                self.extract.set_bitmask(value)
            elif not self.extract.set_flag(key, "byte_jump"):
                raise RuleError(f"unknown argument ({part})")
        if self.from_beginning and self.from_end:
            raise RuleError("from_beginning and from_end options together in a rule")
        self.extract.validate("byte_jump")

    def references(self) -> Iterator[tuple[str, VarRef]]:
        yield "byte_jump", self.offset
        yield "byte_jump", self.post_offset

    def matches(self, data: bytes, pos: int, state: MatchState) -> Iterator[int]:
        at = (pos if self.relative else 0) + self.offset.signed(state)
        jump = used = 0
        if self.extract.count:
            got = self.extract.read(data, at)
            if got is None:
                return
            jump, used = got
            jump = (jump * self.multiplier) & U32
            if self.align and jump % 4:
                jump += 4 - jump % 4
        if self.from_beginning:
            base = 0
        elif self.from_end:
            base = len(data)
        else:
            base = at + used
        target = (base + jump + self.post_offset.signed(state)) & U32
        if target <= len(data):
            yield target


class ByteExtract(VariableSetter):
    """byte_extract:count, offset, name[, relative][, multiplier n][, align 2|4][, endian]
    [, string, base][, bitmask m]; stores the value and moves the cursor past what it read."""

    def __init__(self, args: str | None) -> None:
        parts = split_args(args or "")
        if len(parts) < 3:
            raise RuleError("expects count, offset and name")
        self.extract = Extraction()
        self.extract.count = parse_number(parts[0], "count", 1, MAX_STRING_BYTES)
        self.offset = parse_int(parts[1], "offset")
        self.variable = parts[2]
        self.relative = False
        self.multiplier = 1
        self.align = 0
        for part in parts[3:]:
            key, value = key_value(part)
            if key == "relative":
                self.relative = True
            elif key == "multiplier":
                self.multiplier = parse_number(value, "multiplier", 1, 65535)
            elif key == "align":
                self.align = parse_number(value or "0", "align", 0, 4)
            elif key == "bitmask":
                self.extract.set_bitmask(value)
            elif not self.extract.set_flag(key, "byte_extract"):
                raise RuleError(f"unknown argument ({part})")
        self._validate()

    def _validate(self) -> None:
        if self.extract.count > MAX_BINARY_BYTES and not self.extract.string:
            raise RuleError(f"byte_extract rule option cannot extract more than {MAX_BINARY_BYTES} bytes.")
        if self.align not in (0, 2, 4):
            raise RuleError(
                "byte_extract rule option has an invalid argument to 'align'. "
                "Valid arguments are '2' and '4'."
            )
        if self.offset < 0 and not self.relative:
            raise RuleError(
                "byte_extract rule option has a negative offset, but does not use the 'relative' option."
            )
        if not self.variable or self.variable[0].isdigit():
            raise RuleError(
                "byte_extract rule option has a name which starts with a digit. "
                "Variable names must start with a letter."
            )
        if self.extract.base and not self.extract.string:
            raise RuleError(
                "byte_extract rule option has a string conversion type (dec, hex, or oct) "
                'without the "string" argument.'
            )
        self.extract.validate("byte_extract")

    def matches(self, data: bytes, pos: int, state: MatchState) -> Iterator[int]:
        start = pos if self.relative else 0
        got = self.extract.read(data, start + self.offset)
        if got is None:
            return
        value = (got[0] * self.multiplier) & U32
        if self.align and value % self.align:
            value += self.align - value % self.align
        state.variables[self.variable] = value & U32
        target = (start + self.offset + got[1]) & U32
        if target <= len(data):
            yield target


class ByteMath(VariableSetter, UsesVariables):
    """byte_math:bytes n, offset n, oper +|-|*|/|<<|>>, rvalue n, result name[, relative]
    [, endian big|little][, dce][, string hex|dec|oct][, bitmask m]"""

    _OPERS = ("+", "-", "*", "/", "<<", ">>")

    def __init__(self, args: str | None) -> None:
        self.extract = Extraction()
        self.relative = False
        self.offset = VarRef()
        self.rvalue = VarRef()
        self.oper = ""
        seen: set[str] = set()
        for part in split_args(args or ""):
            key, value = key_value(part)
            seen.add(key)
            self._set(key, value, part)
        for required in ("bytes", "offset", "oper", "rvalue", "result"):
            if required not in seen:
                raise RuleError(
                    f"{required} is required" if required != "result" else "result variable missing"
                )
        self._validate()

    def _set(self, key: str, value: str, part: str) -> None:
        if key == "bytes":
            self.extract.count = parse_number(value, "bytes", 1, MAX_STRING_BYTES)
        elif key == "offset":
            self.offset = var_or_int(value, "offset")
        elif key == "oper":
            if value not in self._OPERS:
                raise RuleError(f"unknown oper ({value})")
            self.oper = value
        elif key == "rvalue":
            if is_literal(value):
                self.rvalue = VarRef(parse_number(value, "rvalue", 1, U32))
            else:
                self.rvalue = VarRef(name=value)
        elif key == "result":
            self.variable = value
        elif key == "relative":
            self.relative = True
        elif key == "endian" and value in ("big", "little"):
            self.extract.set_flag(value, "byte_math")
        elif key == "dce":
            self.extract.set_flag("dce", "byte_math")
        elif key == "string" and value in ("hex", "dec", "oct"):
            self.extract.string = True
            self.extract.set_flag(value, "byte_math")
        elif key == "bitmask":
            self.extract.set_bitmask(value)
        else:
            raise RuleError(f"unknown argument ({part})")

    def _validate(self) -> None:
        if self.variable[:1].isdigit():
            raise RuleError(
                "byte_math rule option has a name which starts with a digit. "
                "Variable names must start with a letter."
            )
        if self.oper in ("<<", ">>"):
            if self.rvalue.name is None and self.rvalue.value > 32:
                raise RuleError(
                    f"Number of bits in rvalue input [{self.rvalue.value}] "
                    "should be less than 32 bits for operator"
                )
            if self.extract.count > 4:
                raise RuleError("for operators << and  >> valid bytes_to_extract input range is 1 to 4 bytes")
        self.extract.validate("byte_math")

    def references(self) -> Iterator[tuple[str, VarRef]]:
        yield "byte_math", self.rvalue
        yield "byte_math", self.offset

    def matches(self, data: bytes, pos: int, state: MatchState) -> Iterator[int]:
        rvalue = self.rvalue.get(state)
        got = self.extract.read(data, (pos if self.relative else 0) + self.offset.signed(state))
        if got is None:
            return
        result = _calc(self.oper, got[0], rvalue)
        if result is not None:
            state.variables[self.variable] = result
            yield pos


def _calc(oper: str, value: int, rvalue: int) -> int | None:
    """Snort's ByteMathOption::calc on uint32: overflow and underflow fail; shifts wrap."""
    if oper == "+":
        result = value + rvalue
        return result if result <= U32 else None
    if oper == "-":
        return value - rvalue if value >= rvalue else None
    if oper == "*":
        result = value * rvalue
        return result if result <= U32 else None
    if oper == "/":
        return value // rvalue if rvalue else None
    if oper == "<<":
        return (value << rvalue) & U32 if rvalue < 32 else 0
    return value >> rvalue if rvalue < 32 else 0


register("byte_test", ByteTest)
register("byte_jump", ByteJump)
register("byte_extract", ByteExtract)
register("byte_math", ByteMath)
