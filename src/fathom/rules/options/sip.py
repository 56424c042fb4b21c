"""SIP rule options, evaluated as Snort 3's ``ips_sip_method.cc`` and ``ips_sip_stat_code.cc`` do,
on what the SIP inspector found in the packet's data (:mod:`fathom.apps.sip`): ``sip_method``
on a request's method, ``sip_stat_code`` on a response's code. They read the ``sip_method`` and
``sip_stat_code`` buffers, which exist only on a flow whose service is SIP, and leave the cursor
and the sticky buffer as they were."""

from __future__ import annotations

import re

from fathom.rules.errors import RuleError
from fathom.rules.options.base import InspectorCheck, register

_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
# Snort's limit on the codes one sip_stat_code lists.
_MAX_CODES = 20


class SipMethod(InspectorCheck):
    """``sip_method:invite,cancel`` or ``sip_method:!bye``: the request's method, in any case."""

    def __init__(self, args: str | None) -> None:
        super().__init__("sip_method")
        items = [item.strip() for item in (args or "").split(",")]
        self.negated = False
        self.methods: set[bytes] = set()
        for index, item in enumerate(items):
            negated = item.startswith("!")
            name = item[1:].strip() if negated else item
            if not _TOKEN.fullmatch(name):
                raise RuleError(f"bad SIP method {item!r}")
            if (negated and len(items) > 1) or (index and self.negated):
                raise RuleError("Only one method is allowed with ! for sip_method")
            self.negated = negated
            self.methods.add(name.upper().encode())

    def holds(self, data: bytes) -> bool:
        return self.negated != (data.upper() in self.methods)


class SipStatCode(InspectorCheck):
    """``sip_stat_code:200,4``: the response's code, or its class for a single digit."""

    def __init__(self, args: str | None) -> None:
        super().__init__("sip_stat_code")
        self.codes: set[int] = set()
        items = [item.strip() for item in (args or "").split(",")]
        if len(items) > _MAX_CODES:
            raise RuleError(f"at most {_MAX_CODES} status codes")
        for item in items:
            if not item.isdigit() or int(item) > 999:
                raise RuleError(f"bad SIP status code {item!r}")
            if 10 <= int(item) < 100:
                raise RuleError("Status code specified is not a single digit or a 3 digit number")
            self.codes.add(int(item))

    def holds(self, data: bytes) -> bool:
        code = int(data)
        return code in self.codes or code // 100 in self.codes


register("sip_method", SipMethod)
register("sip_stat_code", SipStatCode)
