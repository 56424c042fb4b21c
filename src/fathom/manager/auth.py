"""Who may call the API: bearer tokens, read-only or admin, and loopback clients without one.

Tokens come from a file (``--tokens FILE``) and from ``FATHOM_ADMIN_TOKEN`` / ``FATHOM_READ_TOKEN``.
The file is either lines ``admin:TOKEN`` / ``read:TOKEN`` (``#`` comments and blank lines allowed)
or YAML, ``admin: TOKEN`` or ``admin: [TOKEN, ...]`` and the same for ``read``. An admin token may
do everything a read token may. Tokens are compared with :func:`hmac.compare_digest`, against every
configured token, so the time taken says nothing about which one came close.
"""

from __future__ import annotations

import enum
import hmac
import ipaddress
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import yaml

_LINE = re.compile(r"(admin|read):(\S+)\Z")
_ENV = (("admin", "FATHOM_ADMIN_TOKEN"), ("read", "FATHOM_READ_TOKEN"))


class Role(enum.IntEnum):
    READ = 1
    ADMIN = 2


class TokenError(ValueError):
    """A tokens file that cannot be read or understood."""


@dataclass(frozen=True, slots=True)
class Tokens:
    admin: tuple[bytes, ...] = ()
    read: tuple[bytes, ...] = ()

    @property
    def configured(self) -> bool:
        return bool(self.admin or self.read)

    def role(self, token: str) -> Role | None:
        """The role ``token`` grants, or None. Every configured token is compared."""
        given = token.encode()
        admin = _any_equal(given, self.admin)
        read = _any_equal(given, self.read)
        return Role.ADMIN if admin else Role.READ if read else None


def _any_equal(given: bytes, tokens: Iterable[bytes]) -> bool:
    found = False
    for token in tokens:
        found |= hmac.compare_digest(given, token)
    return found


def is_loopback(host: str | None) -> bool:
    """Whether a client address is on this machine: 127.0.0.0/8, ::1, or IPv4-mapped loopback."""
    if host is None:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def load_tokens(path: str | None, environ: Mapping[str, str] = os.environ) -> Tokens:
    """The tokens of the file at ``path`` (if any) and of the environment. Raises TokenError."""
    found: dict[str, list[str]] = {"admin": [], "read": []}
    if path is not None:
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise TokenError(f"{path}: {getattr(exc, 'strerror', None) or exc}") from None
        for role, tokens in _parse(text, path).items():
            found[role].extend(tokens)
    for role, variable in _ENV:
        value = environ.get(variable, "").strip()
        if value:
            found[role].append(value)
    return Tokens(
        admin=tuple(t.encode() for t in found["admin"]),
        read=tuple(t.encode() for t in found["read"]),
    )


def _parse(text: str, path: str) -> dict[str, list[str]]:
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line and not line.startswith("#")]
    matches = [_LINE.match(line) for line in lines]
    if all(matches):
        parsed: dict[str, list[str]] = {"admin": [], "read": []}
        for match in matches:
            assert match is not None
            parsed[match[1]].append(match[2])
        return parsed
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or "unreadable"
        raise TokenError(f"{path}: neither 'role:TOKEN' lines nor YAML ({problem})") from None
    if not isinstance(data, dict) or not set(data) <= {"admin", "read"}:
        raise TokenError(f"{path}: want 'admin:TOKEN' / 'read:TOKEN' lines, or YAML with keys admin and read")
    parsed = {}
    for role, value in data.items():
        values = value if isinstance(value, list) else [value]
        if not all(
            isinstance(v, str) and v.strip() and not any(c.isspace() for c in v.strip()) for v in values
        ):
            raise TokenError(f"{path}: {role}: each token is one word of text")
        parsed[role] = [v.strip() for v in values]
    return parsed
