"""Calico selector expressions: parse once into a small node tree, then match endpoints cheaply.

This module implements the label-selector language of Project Calico, which a
``DeepPacketInspection`` resource uses to choose the workload endpoints it inspects.  The grammar,
the evaluation rules and the canonical string form follow Calico's own implementation in
projectcalico/calico, ``libcalico-go/lib/selector``:

* ``tokenizer/tokenizer.go`` -- the lexer (which characters make a label, where whitespace may go,
  how the word operators are recognised);
* ``parser/parser.go`` -- the recursive-descent parser (precedence, negation, sets, the empty
  selector);
* ``parser/ast.go`` -- evaluation of each node and ``String()`` (the canonical form);

and the "Selectors" section of the Calico network policy reference at docs.tigera.io.

Grammar (whitespace, meaning only spaces and tabs, may appear between any two tokens)::

    selector   = [ or_expr ]                       (empty or blank text means all())
    or_expr    = and_expr { "||" and_expr }
    and_expr   = operation { "&&" operation }
    operation  = { "!" } ( "has(" label ")" | "all(" ")" | "global(" ")"
                         | "(" or_expr ")" | label comparison )
    comparison = ( "==" | "!=" | "contains" | "starts with" | "ends with" ) quoted
               | ( "in" | "not in" ) "{" [ quoted { "," quoted } [ "," ] ] "}"
    quoted     = '"' { any character but '"' } '"' | "'" { any character but "'" } "'"
    label      = 1 to 512 of  a-z A-Z 0-9 _ . / -    (so ``projectcalico.org/namespace``,
                                                      ``kubernetes.io/metadata.name``, ...)

``!`` binds tighter than ``&&``, which binds tighter than ``||``; a run of leading ``!`` collapses
to one negation or none, and ``!`` negates the whole operation after it (``!a == 'b'`` is
``!(a == 'b')``).  As in Calico, the multi-word operators may be written without the inner space
(``startswith``, ``endswith``, ``notin``) and ``has(``, ``all(`` and ``global(`` must be written
without a space before the parenthesis.  Quoted values have no escapes.

Semantics (``ast.go``): ``k == 'v'``, ``k contains 's'``, ``k starts with 's'``, ``k ends with
's'``, ``k in {...}`` and ``has(k)`` need the label to be present; ``k != 'v'`` and
``k not in {...}`` are also true when it is absent.  ``all()`` is true for every endpoint the
selector is applied to (``!all()`` for none).  ``global()`` is true only for endpoints outside
any namespace (host endpoints): Calico's parser evaluates it as true, and Calico only accepts it
in a rule's ``namespaceSelector``, which its policy translation
(``libcalico-go/lib/backend/syncersv1/updateprocessors/rules.go``) rewrites as
``!has(projectcalico.org/namespace)`` -- and ``all()`` there as ``has(projectcalico.org/namespace)``
("every namespace").  Here the caller states global-ness directly with ``is_global=True``.

Namespaces: Calico gives every workload endpoint the label ``projectcalico.org/namespace``
(overriding a pod label of that name), so selectors may test it.  :meth:`Selector.matches` does
the same when given ``namespace=``.  A namespaced resource selects only endpoints in its own
namespace; Calico applies that by rewriting a namespaced policy's selector as ``(<selector>) &&
projectcalico.org/namespace == '<ns>'`` (``updateprocessors/networkpolicyprocessor.go``), which
:meth:`Selector.confined_to` builds.  So either check the endpoint's namespace before matching, or
use ``sel.confined_to(ns).matches(labels, namespace=endpoint_ns)``.

Where this module knowingly differs from Calico: error messages are its own, and name a 1-based
column counted in characters; and parentheses nested more than :data:`MAX_NESTING` deep are
refused (Calico has no limit) so that parsing and matching never run out of stack.  As in Calico,
the whole text is tokenized before it is parsed, so a lexical error is reported even when a
grammar error comes earlier in the text.
"""

from __future__ import annotations

import base64
import enum
import hashlib
from collections.abc import Iterable, Iterator, Mapping

__all__ = [
    "MAX_LABEL_LENGTH",
    "MAX_NESTING",
    "NAMESPACE_LABEL",
    "Selector",
    "SelectorError",
    "parse_selector",
]

NAMESPACE_LABEL = "projectcalico.org/namespace"
"""The label Calico adds to every workload endpoint, holding the endpoint's namespace."""

MAX_LABEL_LENGTH = 512
"""Longest label name Calico's tokenizer accepts."""

MAX_NESTING = 100
"""Deepest nesting of parentheses accepted."""

_LABEL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./-")
_WHITESPACE = " \t"


class SelectorError(ValueError):
    """A selector that does not parse.  ``str()`` is ``"column N: expected ..."``."""

    def __init__(self, column: int, detail: str) -> None:
        super().__init__(f"column {column}: {detail}")
        self.column = column
        """1-based column (in characters) where the problem was found."""
        self.detail = detail
        """The message without its column prefix."""


# --------------------------------------------------------------------------------------------------
# Tokens


class _Kind(enum.StrEnum):
    LABEL = "label"
    STRING = "quoted value"
    LBRACE = "'{'"
    RBRACE = "'}'"
    COMMA = "','"
    EQ = "'=='"
    NE = "'!='"
    IN = "'in'"
    NOT = "'!'"
    NOT_IN = "'not in'"
    CONTAINS = "'contains'"
    STARTS_WITH = "'starts with'"
    ENDS_WITH = "'ends with'"
    ALL = "'all()'"
    HAS = "has()"
    LPAREN = "'('"
    RPAREN = "')'"
    AND = "'&&'"
    OR = "'||'"
    GLOBAL = "'global()'"
    EOF = "end of selector"


class _Token:
    __slots__ = ("column", "kind", "value")

    def __init__(self, kind: _Kind, value: str, column: int) -> None:
        self.kind = kind
        self.value = value
        self.column = column

    def describe(self) -> str:
        if self.kind is _Kind.LABEL:
            return f"label {self.value!r}"
        if self.kind is _Kind.STRING:
            return f"quoted value {self.value!r}"
        if self.kind is _Kind.HAS:
            return f"'has({self.value})'"
        return self.kind.value


_VALUE_OPS = (_Kind.EQ, _Kind.NE, _Kind.CONTAINS, _Kind.STARTS_WITH, _Kind.ENDS_WITH)
_SET_OPS = (_Kind.IN, _Kind.NOT_IN)
_AFTER_OPERAND = (_Kind.STRING, _Kind.RPAREN, _Kind.RBRACE, _Kind.HAS, _Kind.ALL, _Kind.GLOBAL)
_OPERATORS = "'==', '!=', 'in', 'not in', 'contains', 'starts with' or 'ends with'"
_OPERAND = "a label, 'has(', 'all()', 'global()', '!' or '('"

# Operators recognised after a label, in the order tokenizer.go tries them.
_WORD_OPERATORS: tuple[tuple[tuple[str, ...], _Kind], ...] = (
    (("contains",), _Kind.CONTAINS),
    (("starts", "with"), _Kind.STARTS_WITH),
    (("ends", "with"), _Kind.ENDS_WITH),
    (("not", "in"), _Kind.NOT_IN),
    (("in",), _Kind.IN),
)


def _skip_whitespace(text: str, pos: int) -> int:
    n = len(text)
    while pos < n and text[pos] in _WHITESPACE:
        pos += 1
    return pos


def _word_boundary(text: str, pos: int) -> bool:
    return pos >= len(text) or text[pos] not in _LABEL_CHARS


def _cut_words(text: str, pos: int, words: tuple[str, ...], *, boundary: bool = True) -> int:
    """End of ``words`` at ``pos`` (spaces allowed between and after them), or -1.

    A one-word operator needs a word boundary straight after it; after a multi-word one the
    trailing whitespace is skipped before the boundary check, as tokenizer.go does (so
    ``a not in b`` fails here while ``a in b`` fails in the parser).
    """
    if len(words) == 1:
        end = pos + len(words[0])
        if text.startswith(words[0], pos) and _word_boundary(text, end):
            return end
        return -1
    for word in words:
        if not text.startswith(word, pos):
            return -1
        pos = _skip_whitespace(text, pos + len(word))
    return pos if not boundary or _word_boundary(text, pos) else -1


def _cut_label(text: str, pos: int, expected: str) -> int:
    """End of the label starting at ``pos``; a :class:`SelectorError` if there is none."""
    end = pos
    n = len(text)
    while end < n and text[end] in _LABEL_CHARS:
        end += 1
    if end == pos:
        found = repr(text[pos]) if pos < n else "end of selector"
        raise SelectorError(pos + 1, f"expected {expected}, found {found}")
    if end - pos > MAX_LABEL_LENGTH:
        raise SelectorError(pos + 1, f"label is longer than {MAX_LABEL_LENGTH} characters")
    return end


def _call(text: str, pos: int, name: str, kind: _Kind, tokens: list[_Token]) -> int:
    """``all(`` or ``global(`` at ``pos`` (already matched): require the ``)``."""
    close = _skip_whitespace(text, pos + len(name) + 1)
    if not text.startswith(")", close):
        found = repr(text[close]) if close < len(text) else "end of selector"
        raise SelectorError(close + 1, f"expected ')' after '{name}(', found {found}")
    tokens.append(_Token(kind, "", pos + 1))
    return close + 1


def _unexpected(text: str, pos: int, last: _Kind | None, in_braces: bool) -> SelectorError:
    """The error for a character that cannot start a token here, worded for the context."""
    if last is not None and last in _VALUE_OPS:
        expected = f"a quoted value after {last.value}"
    elif last is not None and last in _SET_OPS:
        expected = f"'{{' after {last.value}"
    elif in_braces and last is _Kind.STRING:
        expected = "',' or '}'"
    elif in_braces and last in (_Kind.LBRACE, _Kind.COMMA):
        expected = "a quoted value or '}'"
    elif last in _AFTER_OPERAND:
        expected = "'&&', '||', ')' or end of selector"
    else:
        expected = _OPERAND
    return SelectorError(pos + 1, f"expected {expected}, found {text[pos]!r}")


def _tokenize(text: str) -> list[_Token]:
    """Port of tokenizer.go's ``AppendTokens``; the list always ends with an EOF token."""
    tokens: list[_Token] = []
    n = len(text)
    pos = 0
    in_braces = False
    simple = {
        "(": _Kind.LPAREN,
        ")": _Kind.RPAREN,
        "{": _Kind.LBRACE,
        "}": _Kind.RBRACE,
        ",": _Kind.COMMA,
    }
    while True:
        pos = _skip_whitespace(text, pos)
        if pos >= n:
            tokens.append(_Token(_Kind.EOF, "", n + 1))
            return tokens
        last = tokens[-1].kind if tokens else None
        c = text[pos]
        column = pos + 1
        kind = simple.get(c)
        if kind is not None:
            if kind is _Kind.LBRACE:
                in_braces = True
            elif kind is _Kind.RBRACE:
                in_braces = False
            tokens.append(_Token(kind, "", column))
            pos += 1
        elif c == '"' or c == "'":
            end = text.find(c, pos + 1)
            if end < 0:
                shown = "'\"'" if c == '"' else '"\'"'
                raise SelectorError(column, f"expected a closing {shown} to end the quoted value")
            tokens.append(_Token(_Kind.STRING, text[pos + 1 : end], column))
            pos = end + 1
        elif c == "=":
            if not text.startswith("==", pos):
                raise SelectorError(column, "expected '==', found '='")
            tokens.append(_Token(_Kind.EQ, "", column))
            pos += 2
        elif c == "!":
            if text.startswith("!=", pos):
                tokens.append(_Token(_Kind.NE, "", column))
                pos += 2
            else:
                tokens.append(_Token(_Kind.NOT, "", column))
                pos += 1
        elif c == "&" or c == "|":
            if not text.startswith(c * 2, pos):
                raise SelectorError(column, f"expected '{c * 2}', found '{c}'")
            tokens.append(_Token(_Kind.AND if c == "&" else _Kind.OR, "", column))
            pos += 2
        elif last is _Kind.LABEL:
            # After a label only an operator may follow.
            for words, op in _WORD_OPERATORS:
                end = _cut_words(text, pos, words)
                if end >= 0:
                    tokens.append(_Token(op, "", column))
                    pos = end
                    break
            else:
                for words, op in _WORD_OPERATORS[1:4]:
                    end = _cut_words(text, pos, words, boundary=False)
                    if end >= 0:  # e.g. "starts with x": the operator is fine, its operand is not
                        raise _unexpected(text, end, op, in_braces)
                word_end = pos
                while word_end < n and text[word_end] in _LABEL_CHARS:
                    word_end += 1
                found = text[pos:word_end] or c
                label = tokens[-1].value
                raise SelectorError(column, f"expected {_OPERATORS} after label {label!r}, found {found!r}")
        elif text.startswith("has(", pos):
            start = _skip_whitespace(text, pos + 4)
            end = _cut_label(text, start, "a label inside 'has('")
            close = _skip_whitespace(text, end)
            if not text.startswith(")", close):
                found = repr(text[close]) if close < n else "end of selector"
                raise SelectorError(close + 1, f"expected ')' to close 'has(', found {found}")
            tokens.append(_Token(_Kind.HAS, text[start:end], column))
            pos = close + 1
        elif text.startswith("all(", pos):
            pos = _call(text, pos, "all", _Kind.ALL, tokens)
        elif text.startswith("global(", pos):
            pos = _call(text, pos, "global", _Kind.GLOBAL, tokens)
        elif c in _LABEL_CHARS:
            end = _cut_label(text, pos, "a label")
            tokens.append(_Token(_Kind.LABEL, text[pos:end], column))
            pos = end
        else:
            raise _unexpected(text, pos, last, in_braces)


# --------------------------------------------------------------------------------------------------
# Nodes (ast.go).  Each evaluates against a labels mapping and the endpoint's global-ness, and
# appends its canonical fragments (ast.go's collectFragments) to a list.


def _quote(value: str) -> str:
    quote = "'" if '"' in value else '"'
    return f"{quote}{value}{quote}"


class _Node:
    __slots__ = ()

    def evaluate(self, labels: Mapping[str, str], is_global: bool) -> bool:
        raise NotImplementedError

    def fragments(self, out: list[str]) -> None:
        raise NotImplementedError

    def children(self) -> Iterable[_Node]:
        return ()

    def label(self) -> str | None:
        return None


class _AllNode(_Node):
    __slots__ = ()

    def evaluate(self, labels: Mapping[str, str], is_global: bool) -> bool:
        return True

    def fragments(self, out: list[str]) -> None:
        out.append("all()")


class _GlobalNode(_Node):
    __slots__ = ()

    def evaluate(self, labels: Mapping[str, str], is_global: bool) -> bool:
        return is_global

    def fragments(self, out: list[str]) -> None:
        out.append("global()")


class _HasNode(_Node):
    __slots__ = ("key",)

    def __init__(self, key: str) -> None:
        self.key = key

    def evaluate(self, labels: Mapping[str, str], is_global: bool) -> bool:
        return self.key in labels

    def fragments(self, out: list[str]) -> None:
        out += ("has(", self.key, ")")

    def label(self) -> str | None:
        return self.key


class _ValueNode(_Node):
    """``label <op> "value"``: the five operators that take one quoted value."""

    __slots__ = ("key", "value")
    op = ""

    def __init__(self, key: str, value: str) -> None:
        self.key = key
        self.value = value

    def fragments(self, out: list[str]) -> None:
        out += (self.key, self.op, _quote(self.value))

    def label(self) -> str | None:
        return self.key


class _EqNode(_ValueNode):
    __slots__ = ()
    op = " == "

    def evaluate(self, labels: Mapping[str, str], is_global: bool) -> bool:
        return labels.get(self.key) == self.value


class _NeNode(_ValueNode):
    __slots__ = ()
    op = " != "

    def evaluate(self, labels: Mapping[str, str], is_global: bool) -> bool:
        return labels.get(self.key) != self.value  # an absent label (None) differs too


class _ContainsNode(_ValueNode):
    __slots__ = ()
    op = " contains "

    def evaluate(self, labels: Mapping[str, str], is_global: bool) -> bool:
        value = labels.get(self.key)
        return value is not None and self.value in value


class _StartsWithNode(_ValueNode):
    __slots__ = ()
    op = " starts with "

    def evaluate(self, labels: Mapping[str, str], is_global: bool) -> bool:
        value = labels.get(self.key)
        return value is not None and value.startswith(self.value)


class _EndsWithNode(_ValueNode):
    __slots__ = ()
    op = " ends with "

    def evaluate(self, labels: Mapping[str, str], is_global: bool) -> bool:
        value = labels.get(self.key)
        return value is not None and value.endswith(self.value)


class _SetNode(_Node):
    """``label in {...}`` / ``label not in {...}``; the values are kept sorted and de-duplicated."""

    __slots__ = ("key", "members", "values")
    op = ""

    def __init__(self, key: str, values: Iterable[str]) -> None:
        self.key = key
        self.values = tuple(sorted(set(values)))
        self.members = frozenset(self.values)

    def fragments(self, out: list[str]) -> None:
        out += (self.key, self.op, "{", ", ".join(_quote(v) for v in self.values), "}")

    def label(self) -> str | None:
        return self.key


class _InNode(_SetNode):
    __slots__ = ()
    op = " in "

    def evaluate(self, labels: Mapping[str, str], is_global: bool) -> bool:
        return labels.get(self.key) in self.members


class _NotInNode(_SetNode):
    __slots__ = ()
    op = " not in "

    def evaluate(self, labels: Mapping[str, str], is_global: bool) -> bool:
        return labels.get(self.key) not in self.members


class _NotNode(_Node):
    __slots__ = ("operand",)

    def __init__(self, operand: _Node) -> None:
        self.operand = operand

    def evaluate(self, labels: Mapping[str, str], is_global: bool) -> bool:
        return not self.operand.evaluate(labels, is_global)

    def fragments(self, out: list[str]) -> None:
        out.append("!")
        self.operand.fragments(out)

    def children(self) -> Iterable[_Node]:
        return (self.operand,)


class _AndNode(_Node):
    __slots__ = ("operands",)

    def __init__(self, operands: tuple[_Node, ...]) -> None:
        self.operands = operands

    def evaluate(self, labels: Mapping[str, str], is_global: bool) -> bool:
        for operand in self.operands:  # noqa: SIM110 - a loop is cheaper than all() on a generator
            if not operand.evaluate(labels, is_global):
                return False
        return True

    def fragments(self, out: list[str]) -> None:
        _join(out, self.operands, " && ")

    def children(self) -> Iterable[_Node]:
        return self.operands


class _OrNode(_Node):
    __slots__ = ("operands",)

    def __init__(self, operands: tuple[_Node, ...]) -> None:
        self.operands = operands

    def evaluate(self, labels: Mapping[str, str], is_global: bool) -> bool:
        for operand in self.operands:  # noqa: SIM110 - a loop is cheaper than any() on a generator
            if operand.evaluate(labels, is_global):
                return True
        return False

    def fragments(self, out: list[str]) -> None:
        _join(out, self.operands, " || ")

    def children(self) -> Iterable[_Node]:
        return self.operands


def _join(out: list[str], operands: tuple[_Node, ...], op: str) -> None:
    out.append("(")
    operands[0].fragments(out)
    for operand in operands[1:]:
        out.append(op)
        operand.fragments(out)
    out.append(")")


_VALUE_NODES: dict[_Kind, type[_ValueNode]] = {
    _Kind.EQ: _EqNode,
    _Kind.NE: _NeNode,
    _Kind.CONTAINS: _ContainsNode,
    _Kind.STARTS_WITH: _StartsWithNode,
    _Kind.ENDS_WITH: _EndsWithNode,
}


# --------------------------------------------------------------------------------------------------
# Parser (parser.go)


class _Parser:
    __slots__ = ("depth", "pos", "tokens")

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.depth = 0

    def error(self, token: _Token, expected: str) -> SelectorError:
        return SelectorError(token.column, f"expected {expected}, found {token.describe()}")

    def parse_or(self) -> _Node:
        nodes = [self.parse_and()]
        while self.tokens[self.pos].kind is _Kind.OR:
            self.pos += 1
            nodes.append(self.parse_and())
        return nodes[0] if len(nodes) == 1 else _OrNode(tuple(nodes))

    def parse_and(self) -> _Node:
        nodes = [self.parse_operation()]
        while self.tokens[self.pos].kind is _Kind.AND:
            self.pos += 1
            nodes.append(self.parse_operation())
        return nodes[0] if len(nodes) == 1 else _AndNode(tuple(nodes))

    def parse_operation(self) -> _Node:
        tokens = self.tokens
        negated = False
        while tokens[self.pos].kind is _Kind.NOT:
            negated = not negated
            self.pos += 1
        token = tokens[self.pos]
        node: _Node
        if token.kind is _Kind.HAS:
            node = _HasNode(token.value)
            self.pos += 1
        elif token.kind is _Kind.ALL:
            node = _AllNode()
            self.pos += 1
        elif token.kind is _Kind.GLOBAL:
            node = _GlobalNode()
            self.pos += 1
        elif token.kind is _Kind.LABEL:
            node = self.parse_comparison(token)
        elif token.kind is _Kind.LPAREN:
            if self.depth >= MAX_NESTING:
                raise SelectorError(token.column, f"parentheses are nested more than {MAX_NESTING} deep")
            self.depth += 1
            self.pos += 1
            node = self.parse_or()
            close = tokens[self.pos]
            if close.kind is not _Kind.RPAREN:
                raise self.error(close, f"'&&', '||' or a ')' closing the '(' at column {token.column}")
            self.pos += 1
            self.depth -= 1
        else:
            raise self.error(token, _OPERAND)
        return _NotNode(node) if negated else node

    def parse_comparison(self, label: _Token) -> _Node:
        tokens = self.tokens
        op = tokens[self.pos + 1]
        if op.kind not in _VALUE_OPS and op.kind not in _SET_OPS:  # also at the end of the text
            raise self.error(op, f"{_OPERATORS} after label {label.value!r}")
        operand = tokens[self.pos + 2]
        value_node = _VALUE_NODES.get(op.kind)
        if value_node is not None:
            if operand.kind is not _Kind.STRING:
                raise self.error(operand, f"a quoted value after {op.kind.value}")
            self.pos += 3
            return value_node(label.value, operand.value)
        if operand.kind is not _Kind.LBRACE:
            raise self.error(operand, f"'{{' after {op.kind.value}")
        self.pos += 3
        values: list[str] = []
        while tokens[self.pos].kind is _Kind.STRING:
            values.append(tokens[self.pos].value)
            self.pos += 1
            if tokens[self.pos].kind is not _Kind.COMMA:
                break
            self.pos += 1
        token = tokens[self.pos]
        if token.kind is not _Kind.RBRACE:
            after_value = bool(values) and tokens[self.pos - 1].kind is _Kind.STRING
            raise self.error(token, "',' or '}'" if after_value else "a quoted value or '}'")
        self.pos += 1
        return (_InNode if op.kind is _Kind.IN else _NotInNode)(label.value, values)


def _walk(node: _Node) -> Iterator[_Node]:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(current.children())


# --------------------------------------------------------------------------------------------------
# Public API


class Selector:
    """A parsed selector (made by :func:`parse_selector`).

    Immutable; two selectors are equal, and hash alike, when their canonical forms are equal.
    """

    __slots__ = ("_empty", "_reads_namespace", "_root", "_text")

    def __init__(self, root: _Node, *, empty: bool = False) -> None:
        self._root = root
        self._empty = empty
        out: list[str] = []
        root.fragments(out)
        self._text = "".join(out)
        self._reads_namespace = any(n.label() == NAMESPACE_LABEL for n in _walk(root))

    def matches(
        self,
        labels: Mapping[str, str],
        *,
        namespace: str | None = None,
        is_global: bool = False,
    ) -> bool:
        """Whether an endpoint with these labels is selected.

        ``namespace`` is the namespace of a workload endpoint; as Calico does, the endpoint is then
        treated as carrying the label ``projectcalico.org/namespace`` with that value (replacing
        any such label in ``labels``).  Without it, ``labels`` are taken as they are.
        ``is_global`` marks an endpoint outside any namespace (a host endpoint): ``global()`` is
        true only for those.  ``all()`` is true for every endpoint.

        This does not by itself confine a namespaced resource's selector to its namespace: check
        the endpoint's namespace first, or match with :meth:`confined_to`, e.g.
        ``sel.confined_to("prod").matches(pod_labels, namespace=pod_namespace)``.
        """
        if namespace is not None:
            if is_global:
                raise ValueError("an endpoint cannot be both global and in a namespace")
            if self._reads_namespace and labels.get(NAMESPACE_LABEL) != namespace:
                labels = {**labels, NAMESPACE_LABEL: namespace}
        return self._root.evaluate(labels, is_global)

    def confined_to(self, namespace: str) -> Selector:
        """This selector limited to endpoints of ``namespace``, as Calico limits a namespaced policy.

        The result is Calico's ``(<selector>) && projectcalico.org/namespace == '<namespace>'``
        (just the namespace test when the selector text was empty or blank); its endpoints' namespaces
        must then be passed to :meth:`matches` as ``namespace=``.
        """
        in_namespace = _EqNode(NAMESPACE_LABEL, namespace)
        if self._empty:
            return Selector(in_namespace)
        return Selector(_AndNode((self._root, in_namespace)))

    @property
    def unique_id(self) -> str:
        """Calico's ``UniqueID()``: ``"s:"`` and the unpadded URL-safe base64 SHA-224 of
        ``"s:" + str(self)``."""
        digest = hashlib.sha224(f"s:{self._text}".encode()).digest()
        return "s:" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")

    def __str__(self) -> str:
        """Calico's canonical form (``Selector.String()``), which parses back to an equal selector."""
        return self._text

    def __repr__(self) -> str:
        return f"Selector({self._text!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Selector):
            return NotImplemented
        return self._text == other._text

    def __hash__(self) -> int:
        return hash(self._text)


def parse_selector(text: str) -> Selector:
    """Parse Calico selector ``text``; an empty or blank selector is ``all()``.

    Raises :class:`SelectorError` naming the 1-based column and what was expected there.
    """
    tokens = _tokenize(text)
    if tokens[0].kind is _Kind.EOF:
        return Selector(_AllNode(), empty=True)
    parser = _Parser(tokens)
    root = parser.parse_or()
    rest = tokens[parser.pos]
    if rest.kind is not _Kind.EOF:
        raise parser.error(rest, "'&&', '||' or end of selector")
    return Selector(root)
