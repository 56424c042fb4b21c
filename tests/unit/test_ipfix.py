"""IPFIX export, decoded by a real collector: tshark reads each flow's record back."""

from __future__ import annotations

import shutil
import socket
import struct
import subprocess
from pathlib import Path

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.utils import wrpcap

from fathom.apps.layer import AppLayer
from fathom.capture.pcapfile import open_capture
from fathom.engine import Engine
from fathom.events.ipfix import MAX_MESSAGE, TEMPLATE_EVERY, IpfixExporter
from fathom.events.schema import FlowEvent
from fathom.flow.flow import Flow

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "samples" / "demo.pcap"
FIELDS = (
    "cflow.srcaddr", "cflow.dstaddr", "cflow.srcport", "cflow.dstport", "cflow.protocol",
    "cflow.initiator_packets", "cflow.responder_packets", "cflow.appl_name",
    "cflow.application_category_name",
)  # fmt: skip


@pytest.mark.skipif(shutil.which("tshark") is None, reason="needs tshark (bench/setup.sh installs it)")
def test_tshark_decodes_every_flow_with_its_application(tmp_path: Path) -> None:
    collector = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    collector.bind(("127.0.0.1", 0))
    collector.settimeout(5)
    exporter = IpfixExporter("127.0.0.1", collector.getsockname()[1])
    engine = Engine(layers=[AppLayer])
    engine.add_sink(exporter)
    with open_capture(str(DEMO)) as reader:
        engine.run(reader)
    engine.finish()
    exporter.close()
    messages = [collector.recv(65535) for _ in range(exporter.messages)]
    collector.close()
    capture = tmp_path / "ipfix.pcap"
    wrpcap(str(capture), [Ether() / IP(dst="127.0.0.1") / UDP(sport=50000, dport=4739) / m for m in messages])
    out = subprocess.run(
        ["tshark", "-r", str(capture), "-d", "udp.port==4739,cflow", "-T", "fields",
         "-E", "occurrence=a", "-E", "aggregator=|", *(arg for f in FIELDS for arg in ("-e", f))],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    columns = [line.split("\t") for line in out.stdout.splitlines()]
    # One row per message; each field lists its values in the message's records.
    records = [values for row in columns for values in zip(*(col.split("|") for col in row), strict=True)]
    assert len(records) == 11 == exporter.records
    apps = sorted((r[4], r[3], r[7], r[8]) for r in records)
    assert apps == [("17", "53", "DNS", "Network")] * 8 + [
        ("6", "443", "TLS", "Web"),
        ("6", "80", "HTTP", "Web"),
        ("6", "8080", "HTTP", "Web"),
    ]
    http = next(r for r in records if r[3] == "80")
    assert (http[0], http[1]) == ("10.199.0.1", "10.199.0.2")
    assert int(http[5]) > 0 and int(http[6]) > 0


def test_messages_fit_a_frame_carry_templates_again_and_count_records_in_sequence() -> None:
    collector = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    collector.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    collector.bind(("127.0.0.1", 0))
    collector.settimeout(5)
    exporter = IpfixExporter("127.0.0.1", collector.getsockname()[1])
    for serial in range(1, 2001):
        v6 = serial % 3 == 0
        src, dst = (
            (bytes(15) + b"\x01", bytes(15) + b"\x02") if v6 else (b"\x0a\x00\x00\x01", b"\x0a\x00\x00\x02")
        )
        flow = Flow(serial, src, dst, 40000 + serial % 1000, 53, 17, 6 if v6 else 4, 0, 0, 10.0, 1, 0)
        flow.pkts_ts = 1
        exporter.emit(FlowEvent(flow, flow.last, serial))
    exporter.close()
    sequences, template_sets = [], 0
    for _ in range(exporter.messages):
        message = collector.recv(65535)
        assert len(message) <= MAX_MESSAGE
        _, length, _, sequence, _ = struct.unpack_from("!HHIII", message)
        assert length == len(message)
        sequences.append(sequence)
        off = 16
        while off < length:
            set_id, set_length = struct.unpack_from("!HH", message, off)
            template_sets += set_id == 2
            off += set_length
    collector.close()
    assert exporter.records == 2000 and exporter.send_errors == 0
    assert exporter.messages > TEMPLATE_EVERY
    assert template_sets == -(-exporter.messages // TEMPLATE_EVERY)
    assert sequences[0] == 0 and sequences == sorted(sequences)
