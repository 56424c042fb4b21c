"""Which services have a protocol log, and their parsers: adding a log is one entry here.

Keys are the wizard's service names (Snort's, as in :mod:`fathom.apps.catalog`)."""

from __future__ import annotations

from fathom.apps.logs.base import LogParser
from fathom.apps.logs.dhcp import DhcpLog
from fathom.apps.logs.dns import DnsLog, MdnsLog
from fathom.apps.logs.dtls import DtlsLog
from fathom.apps.logs.ftp import FtpLog
from fathom.apps.logs.quic import QuicLog
from fathom.apps.logs.sip import SipLog
from fathom.apps.logs.smb import SmbLog
from fathom.apps.logs.smtp import SmtpLog
from fathom.apps.logs.ssh import SshLog

PARSERS: dict[str, type[LogParser]] = {
    "dhcp": DhcpLog,
    "dns": DnsLog,
    "dtls": DtlsLog,
    "ftp": FtpLog,
    "mdns": MdnsLog,
    "netbios-ssn": SmbLog,
    "quic": QuicLog,
    "sip": SipLog,
    "smb": SmbLog,
    "smtp": SmtpLog,
    "ssh": SshLog,
    # STUN flows for the DTLS they may carry (ICE, RFC 7983); STUN itself has no log.
    "stun": DtlsLog,
}
