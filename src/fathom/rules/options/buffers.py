"""Buffer keywords: Snort 3 sticky buffers, their Suricata spellings, and the Snort 2 buffer
modifiers that move the content just before them.

A buffer keyword names the buffer later payload options read (``http_uri; content:"x";``). The
same bare keyword in a Snort 2 rule (``content:"x"; http_uri;``) instead moves that content to
the buffer and leaves the sticky buffer alone. Snort 3's snort2lua turns the Snort 2 form into a
sticky buffer placed before the content, and Suricata reads ``http_uri`` after a content as a
modifier and ``http.uri`` as sticky. The rule used here:

- a bare Snort 2 keyword (``http_uri``, ``http_header``, ... see ``_LEGACY``) is a modifier when the
  payload option just before it is a content still in ``pkt_data``, no sticky buffer is in force,
  and no content so far is written in Snort 3 form (``content:"x",nocase``);
- otherwise, and always for ``pkt_data``, ``file_data``, the dotted Suricata spellings and keywords
  with arguments, it is a sticky buffer;
- when a content in Snort 3 form comes later, the rule is Snort 3 after all: moves made so far are
  undone and read as sticky buffers (``content:"POST"; http_uri; content:"/a",nocase;`` puts
  ``POST`` in ``pkt_data`` and ``/a`` in ``http_uri``).

Buffer names given to the evaluator are Snort 3's keywords; a part or field is appended after a
colon: ``http_uri:path``, ``http_header:user-agent``, ``http_param:q`` (lower case).
"""

from __future__ import annotations

from fathom.rules.errors import RuleError
from fathom.rules.options.base import DEFAULT_BUFFER, Option, OptionFactory, PayloadOption, RuleBody, register

RAW_BUFFER = "raw_data"
BASE64_BUFFER = "base64_data"
URI_BUFFER = "http_uri"

# Snort 2 content modifiers that name a buffer; bare, they may move the content before them.
_LEGACY = (
    "http_uri",
    "http_raw_uri",
    "http_header",
    "http_raw_header",
    "http_method",
    "http_cookie",
    "http_raw_cookie",
    "http_client_body",
    "http_stat_code",
    "http_stat_msg",
)
# Snort 3 sticky buffers without arguments (besides the legacy names above).
_STICKY = (
    "pkt_data",
    "raw_data",
    "file_data",
    "js_data",
    "http_version",
    "http_true_ip",
    "http_raw_body",
    "http_raw_request",
    "http_raw_status",
    "http_trailer",
    "http_raw_trailer",
    "sip_header",
    "sip_body",
    "dce_stub_data",
    "vba_data",
)
# Suricata spellings (always sticky) -> Snort 3 buffer.
_SURICATA = {
    "http.uri": "http_uri",
    "http.uri.raw": "http_raw_uri",
    "http.method": "http_method",
    "http.header": "http_header",
    "http.header.raw": "http_raw_header",
    "http.cookie": "http_cookie",
    "http.request_body": "http_client_body",
    "http.response_body": "file_data",
    "http.stat_code": "http_stat_code",
    "http.stat_msg": "http_stat_msg",
    "http.protocol": "http_version",
    "http.user_agent": "http_header:user-agent",
    "http.host": "http_header:host",
    "file.data": "file_data",
}
_URI_PARTS = ("scheme", "host", "port", "path", "query", "fragment")


class Relocatable(PayloadOption):
    """A content a Snort 2 buffer modifier may move, and the evidence it gives of the rule's form."""

    # Written with Snort 3 comma sub-options: the rule is Snort 3.
    snort3_form: bool = False
    relative_follows_buffer = False
    # Set when a bare buffer keyword moved this content: the buffer it was moved to.
    moved_to: str | None = None

    def attach(self, body: RuleBody) -> None:
        super().attach(body)
        if self.snort3_form:
            read_as_sticky(body)

    def move(self, buffer: str) -> None:
        """Read this content in ``buffer`` (a Snort 2 modifier after it)."""
        self.buffer = buffer


def read_as_sticky(body: RuleBody) -> None:
    """Undo Snort 2 moves made before the rule showed Snort 3 form: each keyword that moved a
    content becomes the sticky buffer for the options after it."""
    current = DEFAULT_BUFFER
    undone = False
    for option in body.payload:
        moved = option.moved_to if isinstance(option, Relocatable) else None
        if option.fixed_buffer:
            continue
        if moved is not None:
            assert isinstance(option, Relocatable)
            option.moved_to = None
            option.buffer = current
            current = moved
            undone = True
        elif option.buffer == DEFAULT_BUFFER and not option.buffer_named:
            option.buffer = current
        else:
            current = option.buffer
    if undone:
        body.buffer = current


def legacy_target(body: RuleBody) -> Relocatable | None:
    """The content a bare Snort 2 buffer keyword would move, or None when it is sticky."""
    if body.buffer != DEFAULT_BUFFER or not body.payload:
        return None
    last = body.payload[-1]
    if not isinstance(last, Relocatable) or last.buffer != DEFAULT_BUFFER:
        return None
    if any(isinstance(opt, Relocatable) and opt.snort3_form for opt in body.payload):
        return None
    return last


class StickyBuffer(Option):
    """Sets the buffer later payload options read."""

    def __init__(self, buffer: str) -> None:
        self.buffer = buffer

    def attach(self, body: RuleBody) -> None:
        body.buffer = self.buffer
        body.buffer_named = True


class LegacyBuffer(StickyBuffer):
    """A bare keyword that is a Snort 2 modifier after a content, else a sticky buffer."""

    def attach(self, body: RuleBody) -> None:
        target = legacy_target(body)
        if target is None:
            super().attach(body)
            return
        target.move(self.buffer)
        target.moved_to = self.buffer


class Rawbytes(Option):
    """Snort 2 ``rawbytes``: the content before it reads the packet before normalization."""

    def __init__(self, args: str | None) -> None:
        if args:
            raise RuleError("takes no argument")

    def attach(self, body: RuleBody) -> None:
        last = body.payload[-1] if body.payload else None
        if not isinstance(last, Relocatable):
            raise RuleError("needs a content before it")
        last.move(RAW_BUFFER)


def _no_args(buffer: str, legacy: bool) -> OptionFactory:
    def factory(args: str | None) -> Option:
        if args is not None and args.strip():
            raise RuleError("takes no argument")
        return LegacyBuffer(buffer) if legacy else StickyBuffer(buffer)

    return factory


def _uri_factory(keyword: str) -> OptionFactory:
    """http_uri / http_raw_uri, optionally with one URI part (Snort 3)."""

    def factory(args: str | None) -> Option:
        if args is None or not args.strip():
            return LegacyBuffer(keyword)
        part = args.strip()
        if part not in _URI_PARTS:
            raise RuleError(f"unknown URI part ({part}); expected one of {', '.join(_URI_PARTS)}")
        return StickyBuffer(f"{keyword}:{part}")

    return factory


def _header_factory(keyword: str) -> OptionFactory:
    """http_header / http_raw_header, optionally ``field NAME`` (Snort 3)."""

    def factory(args: str | None) -> Option:
        if args is None or not args.strip():
            return LegacyBuffer(keyword)
        field = ""
        for part in args.split(","):
            key, _, value = part.strip().partition(" ")
            if key == "field" and value.strip():
                field = value.strip().lower()
            elif key not in ("request", "with_header", "with_body", "with_trailer"):
                raise RuleError(f"unknown argument ({part.strip()})")
        return StickyBuffer(f"{keyword}:{field}" if field else keyword)

    return factory


def http_param(args: str | None) -> Option:
    """http_param:"name"[,nocase]: the value of one request parameter."""
    parts = [p.strip() for p in (args or "").split(",")]
    name = parts[0].strip('"')
    if not name:
        raise RuleError("needs a parameter name")
    for extra in parts[1:]:
        if extra != "nocase":
            raise RuleError(f"unknown argument ({extra})")
    return StickyBuffer(f"http_param:{name.lower()}")


def _register_all() -> None:
    for keyword in _LEGACY:
        if keyword in ("http_uri", "http_raw_uri"):
            register(keyword, _uri_factory(keyword))
        elif keyword in ("http_header", "http_raw_header"):
            register(keyword, _header_factory(keyword))
        else:
            register(keyword, _no_args(keyword, legacy=True))
    for keyword in _STICKY:
        register(keyword, _no_args(keyword, legacy=False))
    for keyword, buffer in _SURICATA.items():
        register(keyword, _no_args(buffer, legacy=False))
    register("http_param", http_param)
    register("rawbytes", Rawbytes)


_register_all()
