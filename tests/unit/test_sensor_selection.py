"""Which endpoints a host-mode config inspects, how events name them, and what the metrics sum."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson
import pytest
from prometheus_client import generate_latest
from prometheus_client.registry import CollectorRegistry

from fathom.apps.layer import AppLayer
from fathom.capture.pcapfile import open_capture
from fathom.cli import main
from fathom.config import ConfigError, parse_config
from fathom.engine import Engine
from fathom.events.schema import Event
from fathom.sensor.attribution import Attribution
from fathom.sensor.metrics import SensorCollector, Snapshot
from fathom.sensor.workloads import select
from tests.pcapbuild import as_pcapng, pcap
from tests.traffic import TcpConversation

ENDPOINTS = [
    {"name": "red1", "namespace": "red", "labels": {"app": "red1", "tier": "web"}, "interface": "cali-red1",
     "ips": ["10.240.0.11"]},
    {"name": "red2", "namespace": "red", "labels": {"app": "red2"}, "interface": "cali-red2",
     "ips": ["10.240.0.12"]},
    {"name": "blue1", "namespace": "blue", "labels": {"app": "blue1", "tier": "web"},
     "interface": "cali-blue1", "ips": ["10.240.0.21"]},
]  # fmt: skip


def config(*inspections: dict[str, str], **extra: Any) -> Any:
    return parse_config(
        {"endpoints": ENDPOINTS, "inspections": list(inspections), "node": "n1", **extra}, "host.yaml"
    )


def test_an_inspection_selects_only_endpoints_of_its_own_namespace() -> None:
    web = select(config({"name": "web", "namespace": "red", "selector": "tier == 'web'"}))
    assert web.interfaces == ("cali-red1",)
    assert web.inspections == {"red/web": ("red/red1",)}
    every = select(config({"name": "all", "namespace": "blue", "selector": "all()"}))
    assert every.interfaces == ("cali-blue1",)
    both = select(
        config(
            {"name": "a", "namespace": "red", "selector": "all()"},
            {"name": "b", "namespace": "red", "selector": "app in {'red2'}"},
        )
    )
    # An endpoint two inspections select is captured once.
    assert both.interfaces == ("cali-red1", "cali-red2")
    assert select(config()).interfaces == ()


def test_a_bad_selector_names_the_inspection_and_the_column() -> None:
    with pytest.raises(ConfigError) as caught:
        select(config({"name": "broken", "namespace": "red", "selector": "app == "}))
    message = str(caught.value)
    assert message.startswith("inspection red/broken: selector 'app == ': ")
    assert "column" in message


def test_endpoints_must_have_good_addresses_and_their_own_interfaces() -> None:
    bad_ip = [{**ENDPOINTS[0], "ips": ["10.240.0.300"]}]
    with pytest.raises(ConfigError, match=r"^host.yaml: endpoints.0.ips: "):
        parse_config({"endpoints": bad_ip}, "host.yaml")
    shared = [ENDPOINTS[0], {**ENDPOINTS[1], "interface": "cali-red1"}]
    with pytest.raises(ConfigError, match=r"^host.yaml: endpoints.1.interface: cali-red1 is red1's already$"):
        parse_config({"endpoints": shared}, "host.yaml")


class Lines:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def emit(self, event: Event) -> None:
        self.events.append(orjson.loads(event.json()))


def test_events_name_the_inspected_endpoint_and_both_sides(tmp_path: Path) -> None:
    selection = select(config({"name": "all", "namespace": "red", "selector": "all()"}))
    engine = Engine(layers=[AppLayer])
    engine.add_sink(Attribution(selection))
    lines = Lines()
    engine.add_sink(lines)
    conv = TcpConversation(client="10.240.0.11", server="10.240.0.21", dport=80).handshake()
    conv.client_sends(b"GET / HTTP/1.1\r\nHost: blue1\r\n\r\n").server_sends(b"HTTP/1.1 200 OK\r\n\r\n")
    # Captured on red1's interface, as a sensor's ring names it.
    records = [(int(ts), round(ts % 1 * 1e6), bytes(packet)) for ts, packet in conv.packets]
    capture = tmp_path / "red1.pcapng"
    capture.write_bytes(as_pcapng(pcap(records), "cali-red1"))
    with open_capture(str(capture)) as source:
        engine.run(source)
    engine.finish()
    (http,) = [e for e in lines.events if e["event_type"] == "http"]
    assert http["endpoint"] == {"namespace": "red", "pod": "red1", "labels": {"app": "red1", "tier": "web"},
                                "node": "n1", "interface": "cali-red1"}  # fmt: skip
    assert http["src_endpoint"]["pod"] == "red1"
    assert http["dest_endpoint"]["pod"] == "blue1"
    (flow,) = [e for e in lines.events if e["event_type"] == "flow"]
    assert "endpoint" not in flow


def scrape(collector: SensorCollector) -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return generate_latest(registry).decode()


def test_metrics_sum_the_workers_and_keep_what_a_dead_worker_counted() -> None:
    collector = SensorCollector()
    first = Snapshot(packets={("eth0",): 10}, alerts={("1", "21562", "1"): 2}, engine={"flow.created": 3})
    second = Snapshot(packets={("eth0",): 5, ("eth1",): 1}, engine={"flow.created": 1, "stream.gaps": 4})
    collector.update(0, first)
    collector.update(1, second)
    collector.retire(0)  # it died and restarts from zero
    collector.update(0, Snapshot(packets={("eth0",): 1}))
    text = scrape(collector)
    assert 'fathom_packets_total{interface="eth0"} 16.0' in text
    assert 'fathom_packets_total{interface="eth1"} 1.0' in text
    assert 'fathom_alerts_total{gid="1",severity="1",sid="21562"} 2.0' in text
    assert "fathom_flows_total 4.0" in text
    assert 'fathom_engine_events_total{counter="stream.gaps"} 4.0' in text
    assert "fathom_workers 2.0" in text


def test_the_grafana_dashboard_uses_only_metrics_the_sensor_serves() -> None:
    dashboard = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "fathom-sensor.json"
    used = set(re.findall(r"\bfathom_[a-z_]+", dashboard.read_text()))
    served = set()
    for line in scrape(SensorCollector()).splitlines():
        if line.startswith("# TYPE "):
            name, kind = line.split()[2:4]
            served.add(name + "_total" if kind == "counter" and not name.endswith("_total") else name)
    assert used <= served, sorted(used - served)
    assert len(used) >= 15


def test_the_sensor_refuses_a_bad_selector_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "host.yaml"
    config.write_text(
        "endpoints:\n  - {name: red1, namespace: red, interface: cali-red1}\n"
        'inspections:\n  - {name: red-dpi, namespace: red, selector: "app == "}\n'
    )
    assert main(["sensor", "--config", str(config), "--metrics", "off"]) == 1
    assert capsys.readouterr().err == (
        "fathom: error: inspection red/red-dpi: selector 'app == ': column 8: expected a quoted value after"
        " '==', found end of selector\n"
    )
