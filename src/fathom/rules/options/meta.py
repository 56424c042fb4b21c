"""Options that describe a rule rather than test traffic: msg, sid, gid, rev, classtype, priority,
reference, metadata and service (Snort 3's ips_msg, ips_sid, ..., ips_service)."""

from __future__ import annotations

from fathom.rules.classification import CLASSTYPES
from fathom.rules.errors import RuleError
from fathom.rules.options.base import Option, RuleBody, register
from fathom.rules.options.header import MAX32
from fathom.rules.options.ranges import parse_number

MAX31 = 0x7FFFFFFF


def _required(text: str | None) -> str:
    if text is None or not text.strip():
        raise RuleError("needs an argument")
    return text.strip()


def unquote(text: str) -> str:
    """The text of a rule string: surrounding quotes dropped, and ``\\"``, ``\\\\``, ``\\;``
    unescaped as Snort does."""
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        text = text[1:-1]
    elif '"' in text[:1] + text[-1:]:
        raise RuleError("unbalanced quotes")
    out: list[str] = []
    chars = iter(text)
    for char in chars:
        if char == "\\":
            escaped = next(chars, "")
            if escaped not in ('"', "\\", ";"):
                raise RuleError(f"bad escape \\{escaped} in string")
            char = escaped
        out.append(char)
    return "".join(out)


class Msg(Option):
    def __init__(self, text: str | None) -> None:
        self.text = unquote(_required(text))

    def attach(self, body: RuleBody) -> None:
        body.msg = self.text


class _Number(Option):
    """An option whose argument is one number stored in a body field."""

    field = ""
    high = MAX32

    def __init__(self, text: str | None) -> None:
        self.value = parse_number(_required(text), 1, self.high)

    def attach(self, body: RuleBody) -> None:
        setattr(body, self.field, self.value)


class Sid(_Number):
    field = "sid"


class Gid(_Number):
    field = "gid"


class Rev(_Number):
    field = "rev"


class Priority(_Number):
    """``priority:`` wins over the classtype's priority whichever comes first: the classtype's is
    only filled in once every option is attached, when no priority was given."""

    field = "priority"
    high = MAX31


class Classtype(Option):
    def __init__(self, text: str | None) -> None:
        name = _required(text)
        if name not in CLASSTYPES:
            raise RuleError(f"unknown classtype {name!r}")
        self.name = name

    def attach(self, body: RuleBody) -> None:
        body.classtype = self.name


class Reference(Option):
    """``reference:<system>,<id>``, kept as (system, id)."""

    def __init__(self, text: str | None) -> None:
        system, comma, ident = _required(text).partition(",")
        if not comma or not system.strip() or not ident.strip():
            raise RuleError("needs <system>,<id>")
        self.ref = (system.strip(), ident.strip())

    def attach(self, body: RuleBody) -> None:
        body.references.append(self.ref)


class Metadata(Option):
    """``metadata:key value, key value``: each entry kept as written. Snort 2's ``service <name>``
    entries also name the rule's services."""

    def __init__(self, text: str | None) -> None:
        self.entries = [entry.strip() for entry in _required(text).split(",")]
        if not all(self.entries):
            raise RuleError("empty metadata entry")
        self.services = [
            value.strip() for key, _, value in (e.partition(" ") for e in self.entries) if key == "service"
        ]
        if not all(self.services):
            raise RuleError("metadata service needs a name")

    def attach(self, body: RuleBody) -> None:
        body.metadata.extend(self.entries)
        _add_services(body, self.services)


class Service(Option):
    """``service:http,ssl``: the application protocols the rule applies to."""

    def __init__(self, text: str | None) -> None:
        self.names = [name.strip() for name in _required(text).split(",")]
        if not all(self.names):
            raise RuleError("empty service name")

    def attach(self, body: RuleBody) -> None:
        _add_services(body, self.names)


def _add_services(body: RuleBody, names: list[str]) -> None:
    body.services.extend(name for name in names if name not in body.services)


register("msg", Msg)
register("sid", Sid)
register("gid", Gid)
register("rev", Rev)
register("priority", Priority)
register("classtype", Classtype)
register("reference", Reference)
register("metadata", Metadata)
register("service", Service)
