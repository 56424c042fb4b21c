"""``ssl_state`` and ``ssl_version``, as Snort's ips_ssl_state.cc and ips_ssl_version.cc evaluate
them on what its SSL inspector found (:mod:`fathom.apps.tls_state`): the handshake messages of the
PDU being inspected, and the versions the session has shown.

Both take names separated by ``|`` or ``,``, each optionally negated with ``!``. As in Snort, the
named flags and the negated ones make one test: ``(flags & session) ^ negated`` is not zero.
"""

from __future__ import annotations

import re

from fathom.apps import tls_state
from fathom.rules.errors import RuleError
from fathom.rules.options.base import InspectorCheck, register

SSL_STATES = {
    "client_hello": tls_state.CLIENT_HELLO,
    "server_hello": tls_state.SERVER_HELLO,
    "client_keyx": tls_state.CLIENT_KEYX,
    "server_keyx": tls_state.SERVER_KEYX,
    "unknown": tls_state.UNKNOWN,
}
SSL_VERSIONS = {
    "sslv2": tls_state.SSLV2,
    "sslv3": tls_state.SSLV3,
    "tls1.0": tls_state.TLS10,
    "tls1.1": tls_state.TLS11,
    "tls1.2": tls_state.TLS12,
}


class _TlsCheck(InspectorCheck):
    keyword = ""
    names: dict[str, int] = {}

    def __init__(self, text: str | None) -> None:
        super().__init__(tls_state.SSL_FLAGS_BUFFER)
        self.flags = self.negated = 0
        for item in re.split(r"[|,]", text or ""):
            item = item.strip()
            negated = item.startswith("!")
            name = item[1:].strip() if negated else item
            flag = self.names.get(name)
            if flag is None:
                raise RuleError(f"unknown {self.keyword} {name!r}; use {', '.join(self.names)}")
            self.flags |= flag
            if negated:
                self.negated |= flag

    def holds(self, data: bytes) -> bool:
        return bool((self.flags & int.from_bytes(data, "big")) ^ self.negated)


class SslState(_TlsCheck):
    keyword = "ssl_state"
    names = SSL_STATES


class SslVersion(_TlsCheck):
    keyword = "ssl_version"
    names = SSL_VERSIONS


register("ssl_state", SslState)
register("ssl_version", SslVersion)
