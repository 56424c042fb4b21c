"""What the UI tests feed the manager: real ``fathom analyze`` runs over captures.

* a corpus capture with many community-rule alerts (``parity_p03``: one conversation per rule);
* a crafted HTTP request whose URI and User-Agent carry markup meant to run in a browser, with two
  rules of our own that fire on it, one of them at priority 4, so that every severity shows.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from scapy.utils import wrpcap

from tests.traffic import TcpConversation

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "data" / "corpus" / "parity"
ALERTS_CAPTURE = CORPUS / "parity_p03.pcap"
# One HTTP POST that trips a community rule (sid 21562) once, in another conversation.
LAB_CAPTURE = CORPUS / "parity_calico_demo.pcap"

SCRIPT_PAYLOAD = "<script>window.__pwned=1</script>"
IMG_PAYLOAD = '<img src=x onerror="window.__pwned=1">'
HOSTILE_URI = f"/search?q={SCRIPT_PAYLOAD}"
HOSTILE_HOST = "shop.example"
HOSTILE_CLIENT = ("10.1.2.3", 43210)
HOSTILE_SERVER = ("10.9.8.7", 80)
# Just after the corpus capture's last packet, so the hostile alerts are the newest.
HOSTILE_TIME = 1795293580.0  # 2026-11-21T20:39:40Z

URI_SID = 9000001
AGENT_SID = 9000002
URI_SIGNATURE = "INDICATOR-OBFUSCATION markup in HTTP request URI"
AGENT_SIGNATURE = "POLICY-OTHER markup in HTTP User-Agent"
HOSTILE_RULES = (
    f'alert http any any -> any any (msg:"{URI_SIGNATURE}"; flow:to_server,established; http_uri; '
    f'content:"<script>",nocase; classtype:web-application-attack; sid:{URI_SID}; rev:1;)\n'
    f'alert http any any -> any any (msg:"{AGENT_SIGNATURE}"; flow:to_server,established; '
    f'http_header; content:"onerror=",nocase; classtype:policy-violation; priority:4; '
    f"sid:{AGENT_SID}; rev:2;)\n"
)

Event = dict[str, Any]


def write_hostile_capture(path: Path) -> Path:
    request = (
        f"GET {HOSTILE_URI} HTTP/1.1\r\nHost: {HOSTILE_HOST}\r\nUser-Agent: {IMG_PAYLOAD}\r\n"
        "Accept: */*\r\n\r\n"
    ).encode()
    response = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 2\r\n\r\nok"
    conversation = TcpConversation(
        client=HOSTILE_CLIENT[0],
        server=HOSTILE_SERVER[0],
        sport=HOSTILE_CLIENT[1],
        dport=HOSTILE_SERVER[1],
        ts=HOSTILE_TIME,
    )
    conversation.handshake().client_sends(request).server_sends(response).client_acks().close()
    packets = []
    for ts, packet in conversation.packets:
        packet.time = ts
        packets.append(packet)
    wrpcap(str(path), packets)
    return path


def analyze(capture: Path, out: Path, rules: Path | None = None) -> list[Event]:
    """The EVE events of ``fathom analyze CAPTURE`` (the bundled rules, or ``rules``)."""
    command = [sys.executable, "-m", "fathom.cli", "analyze", str(capture), "--eve", str(out), "-q"]
    if rules is not None:
        command += ["--rules", str(rules)]
    subprocess.run(command, check=True, timeout=300)
    return [json.loads(line) for line in out.read_text().splitlines() if line]


def alerts(events: list[Event]) -> list[Event]:
    return [e for e in events if e["event_type"] == "alert"]
