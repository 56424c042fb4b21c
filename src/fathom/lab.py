"""The Calico DPI lab on one machine: four pods as network namespaces on one bridge.

red/red1, red/red2, blue/blue1 and blue/blue2 each have a veth pair whose host end is on the
bridge, as Calico's ``cali*`` interfaces are; red2 and blue1 serve HTTP on port 80. The lab's
request is the one Calico's DPI walkthrough sends, which the community rule sid 21562 (a
Bredolab check-in) matches. Only addresses inside these namespaces carry traffic.

Needs root and iproute2. Used by ``fathom demo`` and by the end-to-end tests.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType

from fathom.config import EndpointConfig

BRIDGE = "fth-lab0"
PREFIX = 24
# (namespace, pod, address); the namespaces and host-side interfaces are named fth-<pod>.
PODS = (
    ("red", "red1", "10.240.0.11"),
    ("red", "red2", "10.240.0.12"),
    ("blue", "blue1", "10.240.0.21"),
    ("blue", "blue2", "10.240.0.22"),
)
SERVERS = ("red2", "blue1")
HTTP_PORT = 80
# The lab's four requests: (client, server).
REQUESTS = (("red1", "red2"), ("red1", "blue1"), ("blue2", "red2"), ("blue2", "blue1"))
LAB_SID = 21562

# A server that answers every request with 200 and its body length (http.server answers POST
# with 501; the lab's clients should see a working service).
_SERVER = """
import http.server, sys
class Handler(http.server.BaseHTTPRequestHandler):
    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        body = b"ok\\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    do_GET = do_POST = do_PUT = _answer
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), Handler).serve_forever()
"""


class LabError(Exception):
    """The lab could not be built; the message names the command that failed."""


def _run(cmd: Sequence[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(list(cmd), text=True, capture_output=True, check=False)
    if check and done.returncode != 0:
        raise LabError(f"{' '.join(cmd)}: {done.stderr.strip() or f'exit {done.returncode}'}")
    return done


def netns(pod: str) -> str:
    return f"fth-{pod}"


def interface(pod: str) -> str:
    return f"fth-{pod}"


def in_pod(pod: str, *cmd: str) -> list[str]:
    return ["ip", "netns", "exec", netns(pod), *cmd]


@dataclass(frozen=True, slots=True)
class Pod:
    namespace: str
    name: str
    address: str

    @property
    def endpoint(self) -> EndpointConfig:
        return EndpointConfig(
            name=self.name,
            namespace=self.namespace,
            labels={"app": self.name},
            interface=interface(self.name),
            ips=(self.address,),
        )


class Lab:
    """Context manager: the pods exist inside the block and are gone after it, even on error."""

    def __init__(self) -> None:
        self.pods = {name: Pod(namespace, name, address) for namespace, name, address in PODS}
        self.servers: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> Lab:
        try:
            self.up()
        except BaseException:
            self.down()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.down()

    @property
    def endpoints(self) -> list[EndpointConfig]:
        return [pod.endpoint for pod in self.pods.values()]

    def up(self) -> None:
        self.down()
        _run(["ip", "link", "add", BRIDGE, "type", "bridge"])
        _run(["ip", "link", "set", BRIDGE, "up"])
        for pod in self.pods.values():
            self._add_pod(pod)
        for name in SERVERS:
            self._serve(self.pods[name])

    def _add_pod(self, pod: Pod) -> None:
        ns, host_if = netns(pod.name), interface(pod.name)
        _run(["ip", "netns", "add", ns])
        _run(in_pod(pod.name, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"))
        _run(in_pod(pod.name, "ip", "link", "set", "lo", "up"))
        _run(["ip", "link", "add", host_if, "type", "veth", "peer", "name", "eth0", "netns", ns])
        _run(["ip", "link", "set", host_if, "master", BRIDGE, "up"])
        # No IPv6 chatter (router solicitations) from the host side into the captures.
        _run(["sysctl", "-qw", f"net.ipv6.conf.{host_if}.disable_ipv6=1"], check=False)
        _run(in_pod(pod.name, "ip", "addr", "add", f"{pod.address}/{PREFIX}", "dev", "eth0"))
        _run(in_pod(pod.name, "ip", "link", "set", "eth0", "up"))
        # Whole frames with finished checksums on the capture side, as a NIC without offloads.
        for args in (in_pod(pod.name, "ethtool", "-K", "eth0"), ["ethtool", "-K", host_if]):
            _run([*args, "tx", "off", "tso", "off", "gso", "off", "gro", "off"], check=False)

    def _serve(self, pod: Pod) -> None:
        server = subprocess.Popen(
            in_pod(pod.name, sys.executable, "-c", _SERVER, pod.address, str(HTTP_PORT)),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.servers.append(server)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            probe = [
                sys.executable,
                "-c",
                f"import socket; socket.create_connection(('{pod.address}', {HTTP_PORT}), 1)",
            ]
            if _run(in_pod(pod.name, *probe), check=False).returncode == 0:
                return
            time.sleep(0.1)
        raise LabError(f"{pod.name}: the HTTP server did not start")

    def request(self, client: str, server: str) -> int:
        """The lab's request from ``client`` to ``server``; curl's exit status."""
        url = f"http://{self.pods[server].address}:{HTTP_PORT}"
        cmd = ["curl", "-s", "-o", "/dev/null", "-m", "5", url, "-H", "User-Agent: Mozilla/4.0",
               "-XPOST", "--data-raw", "smk=1234"]  # fmt: skip
        return _run(in_pod(client, *cmd), check=False).returncode

    def down(self) -> None:
        for server in self.servers:
            server.kill()
            server.wait()
        self.servers.clear()
        for pod in self.pods.values():
            ns = netns(pod.name)
            for pid in _run(["ip", "netns", "pids", ns], check=False).stdout.split():
                _run(["kill", "-KILL", pid], check=False)
            _run(["ip", "netns", "del", ns], check=False)
            _run(["ip", "link", "del", interface(pod.name)], check=False)
        _run(["ip", "link", "del", BRIDGE], check=False)
