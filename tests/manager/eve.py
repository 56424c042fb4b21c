"""EVE events for the manager's tests, shaped as Fathom writes them."""

from __future__ import annotations

from typing import Any

from fathom.events.timefmt import eve_timestamp

# 2026-11-21T20:00:00+0000: the tests' clock starts here.
T0 = 1_795_291_200.0


def at(seconds: float) -> str:
    """The EVE timestamp ``seconds`` after :data:`T0`."""
    return eve_timestamp(T0 + seconds)


def endpoint(
    namespace: str, pod: str, labels: dict[str, str] | None = None, node: str = "node1"
) -> dict[str, Any]:
    return {
        "namespace": namespace,
        "pod": pod,
        "labels": labels or {},
        "node": node,
        "interface": f"cali-{pod}",
    }


def alert(
    sid: int,
    seconds: float = 0.0,
    *,
    severity: int = 2,
    signature: str | None = None,
    src_ip: str = "10.0.0.1",
    dest_ip: str = "10.0.0.2",
    flow_id: int = 1,
    community_id: str = "1:abc=",
    app_proto: str = "http",
    **extra: Any,
) -> dict[str, Any]:
    """An alert event; ``extra`` adds fields (endpoint, src_endpoint, dest_endpoint, ...)."""
    return {
        "timestamp": at(seconds),
        "flow_id": flow_id,
        "event_type": "alert",
        "src_ip": src_ip,
        "src_port": 40000,
        "dest_ip": dest_ip,
        "dest_port": 80,
        "proto": "TCP",
        "community_id": community_id,
        "alert": {
            "action": "allowed",
            "gid": 1,
            "signature_id": sid,
            "rev": 1,
            "signature": signature or f"TEST signature {sid}",
            "category": "Misc activity",
            "severity": severity,
        },
        "app_proto": app_proto,
        **extra,
    }


def flow(
    seconds: float = 0.0,
    *,
    flow_id: int = 1,
    community_id: str = "1:abc=",
    app_proto: str = "http",
    protocol: str = "HTTP",
    application: str | None = None,
    category: str = "Web",
    to_server: int = 100,
    to_client: int = 200,
    src_ip: str = "10.0.0.1",
) -> dict[str, Any]:
    return {
        "timestamp": at(seconds),
        "flow_id": flow_id,
        "event_type": "flow",
        "src_ip": src_ip,
        "src_port": 40000,
        "dest_ip": "10.0.0.2",
        "dest_port": 80,
        "proto": "TCP",
        "community_id": community_id,
        "app_proto": app_proto,
        "app": {"protocol": protocol, "application": application, "category": category},
        "flow": {
            "pkts_toserver": 3,
            "pkts_toclient": 2,
            "bytes_toserver": to_server,
            "bytes_toclient": to_client,
            "start": at(seconds - 1),
            "end": at(seconds),
            "state": "closed",
            "reason": "shutdown",
            "alerted": False,
        },
    }


def http(
    seconds: float = 0.0, *, flow_id: int = 1, community_id: str = "1:abc=", url: str = "/"
) -> dict[str, Any]:
    return {
        "timestamp": at(seconds),
        "flow_id": flow_id,
        "event_type": "http",
        "src_ip": "10.0.0.1",
        "src_port": 40000,
        "dest_ip": "10.0.0.2",
        "dest_port": 80,
        "proto": "TCP",
        "community_id": community_id,
        "tx_id": 0,
        "http": {"hostname": "example.test", "url": url, "http_method": "GET", "status": 200},
    }
