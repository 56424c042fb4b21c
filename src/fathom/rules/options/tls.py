"""``ssl_state`` and ``ssl_version`` (Snort's ips_ssl_state.cc and ips_ssl_version.cc).

Both take names separated by ``|`` or ``,``, each optionally negated with ``!``: the test holds
when the session has reached any named state (or uses any named version) or lacks any negated
one. Evaluating them needs what the TLS inspector will publish per flow; until then they are
parsed and checked, pass every packet, and the rule loads in part.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from fathom.rules.errors import RuleError
from fathom.rules.options.base import RuleBody, Test, register

if TYPE_CHECKING:
    from fathom.decode.packet import Packet
    from fathom.flow.flow import Flow

SSL_STATES = ("client_hello", "server_hello", "client_keyx", "server_keyx", "unknown")
SSL_VERSIONS = ("sslv2", "sslv3", "tls1.0", "tls1.1", "tls1.2", "tls1.3")


class _TlsTest(Test):
    keyword = ""
    names: tuple[str, ...] = ()

    def __init__(self, text: str | None) -> None:
        self.wanted: set[str] = set()
        self.unwanted: set[str] = set()
        for item in re.split(r"[|,]", text or ""):
            item = item.strip()
            negated = item.startswith("!")
            name = item[1:].strip() if negated else item
            if name not in self.names:
                raise RuleError(f"unknown {self.keyword} {name!r}; use {', '.join(self.names)}")
            (self.unwanted if negated else self.wanted).add(name)

    def attach(self, body: RuleBody) -> None:
        super().attach(body)
        body.partial.append(f"{self.keyword}: needs the TLS inspector")

    def test(self, pkt: Packet, flow: Flow, to_server: bool) -> bool:
        # Not checkable until the TLS inspector exists: the rule does not alert unverified.
        return False


class SslState(_TlsTest):
    keyword = "ssl_state"
    names = SSL_STATES


class SslVersion(_TlsTest):
    keyword = "ssl_version"
    names = SSL_VERSIONS


register("ssl_state", SslState)
register("ssl_version", SslVersion)
