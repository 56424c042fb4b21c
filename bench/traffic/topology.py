"""Two network namespaces joined by a veth pair: a client side and a server side.

Only addresses inside these namespaces ever carry traffic, so nothing leaves the machine.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from types import TracebackType

NS_CLIENT = "fbench-cli"
NS_SERVER = "fbench-srv"
IF_CLIENT = "fbench-c0"
IF_SERVER = "fbench-s0"
# Fixed MACs and addresses keep captures comparable run to run.
MAC_CLIENT = "02:fb:00:00:00:01"
MAC_SERVER = "02:fb:00:00:00:02"
ADDR_CLIENT = "10.199.0.1"
ADDR_SERVERS = ("10.199.0.2", "10.199.0.3")
PREFIX = 24

# Per-namespace sysctls: no IPv6 chatter (router solicitations, MLD) in the captures; a wide
# ephemeral port range and no TIME_WAIT reuse, so tens of thousands of short connections each get
# their own 4-tuple instead of merging into one flow.
_SYSCTLS = {
    "net.ipv6.conf.all.disable_ipv6": "1",
    "net.ipv6.conf.default.disable_ipv6": "1",
    "net.ipv4.ip_local_port_range": "1024 65000",
    "net.ipv4.tcp_tw_reuse": "0",
}


def run(cmd: Sequence[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(cmd), check=check, text=True, capture_output=True)


def in_ns(ns: str, *cmd: str) -> list[str]:
    return ["ip", "netns", "exec", ns, *cmd]


def namespace_exists(ns: str) -> bool:
    return ns in run(["ip", "netns", "list"]).stdout.split()


def remove_namespace(ns: str) -> None:
    """Delete a namespace, first ending processes left in it (a crashed earlier run's servers)."""
    if not namespace_exists(ns):
        return
    pids = run(["ip", "netns", "pids", ns], check=False).stdout.split()
    for pid in pids:
        run(["kill", "-KILL", pid], check=False)
    run(["ip", "netns", "del", ns], check=False)


def teardown() -> None:
    for ns in (NS_CLIENT, NS_SERVER):
        remove_namespace(ns)
    # A run that died between creating the pair and moving it leaves the ends in the root namespace.
    for ifname in (IF_CLIENT, IF_SERVER):
        run(["ip", "link", "del", ifname], check=False)


def disable_offloads(ns: str, ifname: str) -> None:
    """Without this the kernel hands tcpdump 64 KB super-segments with unfinished checksums."""
    result = run(in_ns(ns, "ethtool", "-K", ifname, "tx", "off", "rx", "off", "tso", "off",
                       "gso", "off", "gro", "off"), check=False)  # fmt: skip
    if result.returncode != 0:
        print(f"warning: ethtool -K {ifname} failed: {result.stderr.strip()}", file=sys.stderr)


def setup() -> None:
    teardown()
    for ns in (NS_CLIENT, NS_SERVER):
        run(["ip", "netns", "add", ns])
        for key, value in _SYSCTLS.items():
            run(in_ns(ns, "sysctl", "-qw", f"{key}={value}"))
        run(in_ns(ns, "ip", "link", "set", "lo", "up"))
    run(["ip", "link", "add", IF_CLIENT, "netns", NS_CLIENT, "address", MAC_CLIENT, "type", "veth",
         "peer", "name", IF_SERVER, "netns", NS_SERVER, "address", MAC_SERVER])  # fmt: skip
    run(in_ns(NS_CLIENT, "ip", "addr", "add", f"{ADDR_CLIENT}/{PREFIX}", "dev", IF_CLIENT))
    for addr in ADDR_SERVERS:
        run(in_ns(NS_SERVER, "ip", "addr", "add", f"{addr}/{PREFIX}", "dev", IF_SERVER))
    for ns, ifname in ((NS_CLIENT, IF_CLIENT), (NS_SERVER, IF_SERVER)):
        run(in_ns(ns, "ip", "link", "set", ifname, "mtu", "1500", "up"))
        disable_offloads(ns, ifname)


class Topology:
    """Context manager: namespaces exist inside the block and are gone after it, even on error."""

    def __enter__(self) -> Topology:
        try:
            setup()
        except BaseException:
            teardown()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        teardown()
