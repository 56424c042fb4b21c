"""How each service the wizard names is written out: Suricata's ``app_proto``, and nDPI's protocol
name and category for the flow event's ``app`` object.

Services are named in Snort's words (``ssl``, ``netbios-ssn``) where Snort has one, because rules
gate on them; Suricata's ``app_proto`` differs for a few. nDPI's names and categories are those of
its protocol table (``ndpi_main.c``), as nDPI prints them (``[proto: 91/TLS][cat: Web/5]``).
"""

from __future__ import annotations

from fathom.flow.flow import AppName


def _entries() -> dict[str, AppName]:
    rows = (
        # service, app_proto (Suricata's name, else the service's), nDPI protocol, nDPI category
        ("bittorrent", "bittorrent", "BitTorrent", "Download"),
        ("dce_http_proxy", "dcerpc", "DCE_RPC", "RPC"),
        ("dce_http_server", "dcerpc", "DCE_RPC", "RPC"),
        ("dcerpc", "dcerpc", "DCE_RPC", "RPC"),
        ("dhcp", "dhcp", "DHCP", "Network"),
        ("discord", "discord", "Discord", "Collaborative"),
        ("dnp3", "dnp3", "DNP3", "IoT-Scada"),
        ("dns", "dns", "DNS", "Network"),
        ("dropbox", "dropbox", "Dropbox", "Cloud"),
        ("dtls", "dtls", "DTLS", "Web"),
        ("ftp", "ftp", "FTP_CONTROL", "Download"),
        ("ftp-data", "ftp-data", "FTP_DATA", "Download"),
        ("http", "http", "HTTP", "Web"),
        ("http2", "http2", "HTTP2", "Web"),
        ("icmp", "icmp", "ICMP", "Network"),
        ("icmpv6", "icmpv6", "ICMPV6", "Network"),
        ("imap", "imap", "IMAP", "Email"),
        ("irc", "irc", "IRC", "Chat"),
        ("kerberos", "krb5", "Kerberos", "Network"),
        ("ldap", "ldap", "LDAP", "System"),
        ("mdns", "mdns", "MDNS", "Network"),
        ("modbus", "modbus", "Modbus", "IoT-Scada"),
        ("mqtt", "mqtt", "MQTT", "RPC"),
        ("mysql", "mysql", "MySQL", "Database"),
        ("netbios-dgm", "netbios-dgm", "NetBIOS", "System"),
        ("netbios-ns", "netbios-ns", "NetBIOS", "System"),
        # SMB in NetBIOS session framing (on 139 and 445 alike), as nDPI's NetBIOS dissector
        # names it; SMB guessed from port 445 alone is nDPI's SMBv23.
        ("netbios-ssn", "smb", "NetBIOS", "System"),
        ("smb", "smb", "SMBv23", "System"),
        ("nntp", "nntp", "NNTP", "Email"),
        ("ntp", "ntp", "NTP", "System"),
        ("openvpn", "openvpn", "OpenVPN", "VPN"),
        ("pop3", "pop3", "POP3", "Email"),
        ("postgresql", "pgsql", "PostgreSQL", "Database"),
        ("quic", "quic", "QUIC", "Web"),
        ("rdp", "rdp", "RDP", "RemoteAccess"),
        ("redis", "redis", "RESP", "Database"),
        ("rtp", "rtp", "RTP", "Media"),
        ("rtsp", "rtsp", "RTSP", "Media"),
        ("sip", "sip", "SIP", "VoIP"),
        ("smtp", "smtp", "SMTP", "Email"),
        ("snmp", "snmp", "SNMP", "Network"),
        ("spotify", "spotify", "Spotify", "Music"),
        ("ssdp", "ssdp", "SSDP", "System"),
        ("ssh", "ssh", "SSH", "RemoteAccess"),
        ("ssl", "tls", "TLS", "Web"),
        # TLS known by its application data records (no handshake seen): no SSL inspector.
        ("tls-data", "tls", "TLS", "Web"),
        ("stun", "stun", "STUN", "Network"),
        ("sunrpc", "sunrpc", "RPC", "RPC"),
        ("syslog", "syslog", "Syslog", "System"),
        ("tds", "tds", "MsSQL-TDS", "Database"),
        ("telnet", "telnet", "Telnet", "RemoteAccess"),
        ("tftp", "tftp", "TFTP", "DataTransfer"),
        ("whatsapp", "whatsapp", "WhatsApp", "Chat"),
        ("wins", "wins", "WINS", "System"),
        ("wireguard", "wireguard", "WireGuard", "VPN"),
    )
    return {service: AppName(*names) for service, *names in rows}


CATALOG = _entries()


def app_name(service: str) -> AppName:
    """How flows of ``service`` are written out; a service without an entry keeps its own name,
    uncategorised as nDPI says it."""
    info = CATALOG.get(service)
    return info if info is not None else AppName(service, service, "Unspecified")
