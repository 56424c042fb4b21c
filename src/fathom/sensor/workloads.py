"""Which endpoints are inspected: each inspection's Calico selector, confined to its namespace,
chooses endpoints; the sensor captures exactly their interfaces.

As in Calico, an endpoint selected by several inspections is inspected once; traffic between two
inspected endpoints is seen on both their interfaces, so each of them gets its own alerts.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from ipaddress import ip_address
from typing import Any

from fathom.config import ConfigError, EndpointConfig, FathomConfig, InspectionConfig
from fathom.selector import Selector, SelectorError, parse_selector


@dataclass(frozen=True, slots=True)
class Workload:
    """An endpoint as events name it: Calico's WorkloadEndpoint fields that matter to a reader."""

    namespace: str
    pod: str
    labels: dict[str, str]
    node: str
    interface: str

    def as_json(self) -> dict[str, Any]:
        return {
            "namespace": self.namespace,
            "pod": self.pod,
            "labels": self.labels,
            "node": self.node,
            "interface": self.interface,
        }


@dataclass(frozen=True, slots=True)
class Selection:
    """What the sensor inspects: interfaces in a stable order, the workload behind each captured
    interface, every known workload by address, and each inspection's selected pods."""

    interfaces: tuple[str, ...] = ()
    inspected: dict[str, Workload] = field(default_factory=dict)
    by_address: dict[bytes, Workload] = field(default_factory=dict)
    # "namespace/name" of each inspection -> the pods it selects ("namespace/pod").
    inspections: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # The node these endpoints run on.
    node: str = ""


def compile_selector(inspection: InspectionConfig) -> Selector:
    """The inspection's selector, confined to its namespace as Calico confines a namespaced
    resource's; a bad one is a ConfigError naming the inspection and the column."""
    try:
        return parse_selector(inspection.selector).confined_to(inspection.namespace)
    except SelectorError as exc:
        raise ConfigError(
            f"inspection {inspection.namespace}/{inspection.name}: selector {inspection.selector!r}: {exc}"
        ) from None


def _workload(endpoint: EndpointConfig, node: str) -> Workload:
    return Workload(endpoint.namespace, endpoint.name, dict(endpoint.labels), node, endpoint.interface)


def select(config: FathomConfig) -> Selection:
    """The selection the config declares (its endpoints and inspections). Raises ConfigError."""
    node = config.node or socket.gethostname()
    selectors = [(inspection, compile_selector(inspection)) for inspection in config.inspections]
    inspected: dict[str, Workload] = {}
    chosen: dict[str, tuple[str, ...]] = {}
    for inspection, selector in selectors:
        pods = []
        for endpoint in config.endpoints:
            if selector.matches(endpoint.labels, namespace=endpoint.namespace):
                inspected[endpoint.interface] = _workload(endpoint, node)
                pods.append(f"{endpoint.namespace}/{endpoint.name}")
        chosen[f"{inspection.namespace}/{inspection.name}"] = tuple(pods)
    by_address = {
        ip_address(ip).packed: _workload(endpoint, node)
        for endpoint in config.endpoints
        for ip in endpoint.ips
    }
    return Selection(tuple(sorted(inspected)), inspected, by_address, chosen, node)
