"""Network namespaces for live-capture tests: traffic between two namespaces that crosses the root
namespace over a pair of veth ends, the way a pod's traffic crosses its host-side veth::

    ns A: a0 (ADDR_A) ==veth== root: <name>a  --tc mirred--  root: <name>b ==veth== ns B: b0 (ADDR_B)

The two root-namespace ends are joined by tc redirects, without addresses, routes or IPv6, so the
root namespace passes the packets on without handling them and nothing can leave the machine.
Capturing on either root end sees both directions. Static neighbour entries keep ARP out of the
captures, and IPv6 is off everywhere so that no router solicitation or MLD report turns up.

Names carry the test process's pid and a counter, so parallel test workers never share one.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path as FsPath
from types import TracebackType

ADDR_A = "10.231.0.1"
ADDR_B = "10.231.0.2"
MAC_A = "02:fa:00:00:00:01"
MAC_B = "02:fa:00:00:00:02"
PREFIX = 24
ROOT = FsPath(__file__).resolve().parents[1]
_serial = itertools.count()


def available() -> str | None:
    """Why live-capture tests cannot run here, or None when they can."""
    if os.geteuid() != 0:
        return "needs root for network namespaces and AF_PACKET"
    missing = [tool for tool in ("ip", "tc") if shutil.which(tool) is None]
    if missing:
        return f"needs {' and '.join(missing)} (iproute2)"
    return None


def run(cmd: Sequence[str], check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(list(cmd), text=True, capture_output=True, timeout=timeout)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {result.stderr.strip()}")
    return result


def in_ns(ns: str, *cmd: str) -> list[str]:
    return ["ip", "netns", "exec", ns, *cmd]


def python_in(ns: str, script: str, *args: str) -> list[str]:
    """The command that runs ``script`` with this interpreter inside ``ns``."""
    return in_ns(ns, sys.executable, "-c", script, *args)


class Path:
    """Namespaces A and B joined through two root-namespace veth ends; a context manager that
    builds them and removes them, even on error."""

    def __init__(self, offloads: bool = False) -> None:
        name = f"fx{os.getpid() % 100_000}{next(_serial)}"
        self.name = name
        self.ns_a = f"fathom-{name}-a"
        self.ns_b = f"fathom-{name}-b"
        # The capture points, in the root namespace.
        self.root_a = f"{name}a"
        self.root_b = f"{name}b"
        # Off by default, so that packets carry finished checksums and MTU-sized segments.
        self.offloads = offloads
        self._servers: list[subprocess.Popen[str]] = []

    def __enter__(self) -> Path:
        try:
            self.create()
        except BaseException:
            self.destroy()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.destroy()

    def create(self) -> None:
        for ns in (self.ns_a, self.ns_b):
            run(["ip", "netns", "add", ns])
            for key in ("all", "default", "lo"):
                run(
                    in_ns(ns, "sh", "-c", f"echo 1 > /proc/sys/net/ipv6/conf/{key}/disable_ipv6"), check=False
                )
            run(["ip", "-n", ns, "link", "set", "lo", "up"])
        self._veth(self.root_a, self.ns_a, "a0", ADDR_A, MAC_A, ADDR_B, MAC_B)
        self._veth(self.root_b, self.ns_b, "b0", ADDR_B, MAC_B, ADDR_A, MAC_A)
        for src, dst in ((self.root_a, self.root_b), (self.root_b, self.root_a)):
            run(["tc", "qdisc", "add", "dev", src, "clsact"])
            self._redirect(src, dst)
        for ifname in (self.root_a, self.root_b):
            run(["ip", "link", "set", ifname, "up"])

    def _veth(
        self, root_end: str, ns: str, inner: str, addr: str, mac: str, peer: str, peer_mac: str
    ) -> None:
        run(["ip", "link", "add", root_end, "type", "veth", "peer", "name", inner,
             "netns", ns, "address", mac])  # fmt: skip
        # The root end must stay silent: no IPv6 link-local address, no neighbour discovery.
        ipv6 = FsPath(f"/proc/sys/net/ipv6/conf/{root_end}/disable_ipv6")
        if ipv6.exists():
            ipv6.write_text("1")
        run(["ip", "-n", ns, "addr", "add", f"{addr}/{PREFIX}", "dev", inner])
        run(["ip", "-n", ns, "link", "set", inner, "up"])
        run(["ip", "-n", ns, "neigh", "replace", peer, "lladdr", peer_mac, "dev", inner, "nud", "permanent"])
        if not self.offloads and shutil.which("ethtool"):
            run(in_ns(ns, "ethtool", "-K", inner, "tx", "off", "tso", "off", "gso", "off"), check=False)

    @staticmethod
    def _redirect(src: str, dst: str) -> None:
        """Everything arriving on ``src`` leaves by ``dst``."""
        run(["tc", "filter", "del", "dev", src, "ingress"], check=False)
        run(["tc", "filter", "add", "dev", src, "ingress", "protocol", "all", "prio", "1", "u32", "match",
             "u32", "0", "0", "action", "mirred", "egress", "redirect", "dev", dst])  # fmt: skip

    def destroy(self) -> None:
        for proc in self._servers:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        self._servers.clear()
        for ns in (self.ns_a, self.ns_b):
            for pid in run(["ip", "netns", "pids", ns], check=False).stdout.split():
                run(["kill", "-KILL", pid], check=False)
            run(["ip", "netns", "del", ns], check=False)
        # Deleting a namespace deletes the veth ends in it, and with them their root-side peers;
        # these catch a build that stopped half way.
        for ifname in (self.root_a, self.root_b):
            run(["ip", "link", "del", ifname], check=False)

    # -- changing the path under a capture

    def delete_root_a(self) -> None:
        run(["ip", "link", "del", self.root_a])

    def recreate_root_a(self) -> None:
        self._veth(self.root_a, self.ns_a, "a0", ADDR_A, MAC_A, ADDR_B, MAC_B)
        run(["tc", "qdisc", "add", "dev", self.root_a, "clsact"])
        self._redirect(self.root_a, self.root_b)
        # A redirect names its target device by index, not by name: point B's at the new one.
        self._redirect(self.root_b, self.root_a)
        run(["ip", "link", "set", self.root_a, "up"])

    def set_root_a(self, up: bool) -> None:
        run(["ip", "link", "set", self.root_a, "up" if up else "down"])

    # -- programs in the namespaces

    def python(self, ns: str, script: str, *args: str, timeout: float = 30) -> str:
        """Run ``script`` in ``ns`` to its end; its standard output."""
        result = subprocess.run(
            python_in(ns, script, *args), text=True, capture_output=True, timeout=timeout, cwd=ROOT
        )
        if result.returncode != 0:
            raise RuntimeError(f"script in {ns} failed: {result.stderr.strip()}")
        return result.stdout

    def serve(self, ns: str, script: str, *args: str) -> subprocess.Popen[str]:
        """Start ``script`` in ``ns`` and return once it prints its first line (``ready``)."""
        proc = subprocess.Popen(
            python_in(ns, script, *args), text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT
        )
        self._servers.append(proc)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if line.strip() != "ready":
            proc.kill()
            _, err = proc.communicate()
            raise RuntimeError(f"server in {ns} did not start: {err.strip()}")
        return proc

    def finish(self, proc: subprocess.Popen[str], timeout: float = 30) -> str:
        """Wait for a server to end; the rest of its output."""
        out, err = proc.communicate(timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"server failed: {err.strip()}")
        return out
