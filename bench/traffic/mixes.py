"""The fixed client workloads, one per capture, as steps of curl and dig jobs.

Jobs within a step run in parallel, steps run one after another. Every list comes from a seeded
PRNG, so the same capture name always produces the same requests in the same order.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.traffic.content import Content
from bench.traffic.dns import ZONE
from bench.traffic.topology import ADDR_SERVERS, NS_CLIENT, in_ns

WWW = f"www.{ZONE}"
STATIC = f"static.{ZONE}"
SECURE = f"secure.{ZONE}"
# Name -> address for both curl --resolve and the DNS server, so the two always agree.
HOSTS = {WWW: ADDR_SERVERS[0], STATIC: ADDR_SERVERS[1], SECURE: ADDR_SERVERS[0]}
HTTP_PORTS = (80, 8080)
HTTPS_PORT = 443
DNS_SERVER = ADDR_SERVERS[0]
HTTP_ORIGINS = tuple(f"http://{host}:{port}" for host in (WWW, STATIC) for port in HTTP_PORTS)
HTTPS_ORIGIN = f"https://{SECURE}"


@dataclass(frozen=True)
class Job:
    name: str
    argv: list[str]
    kind: str  # "curl" or "dig": decides how the output is checked
    expected: int  # transfers (curl) or answered queries (dig)


Step = list[Job]


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def curl_job(workdir: Path, name: str, urls: Sequence[str], http10: bool = False) -> Job:
    """One curl process fetching urls in order; HTTP/1.1 reuses one connection, HTTP/1.0 opens one each.

    The URL list goes in a config file: tens of thousands of URLs do not fit on a command line.
    """
    lines = ["silent", "show-error", "insecure", "http1.0" if http10 else "http1.1"]
    lines += [f"resolve = {_quote(f'{host}:{port}:{addr}')}"
              for host, addr in HOSTS.items() for port in (*HTTP_PORTS, HTTPS_PORT)]  # fmt: skip
    # One line per transfer: status and whether it opened a connection, checked afterwards.
    lines.append(f"write-out = {_quote('%{http_code} %{num_connects}' + chr(10))}")
    for url in urls:
        lines += [f"url = {_quote(url)}", 'output = "/dev/null"']
    config = workdir / f"{name}.curlrc"
    config.write_text("\n".join(lines) + "\n")
    return Job(name, in_ns(NS_CLIENT, "curl", "-K", str(config)), "curl", len(urls))


def dns_queries(rng: random.Random, count: int) -> list[str]:
    """A realistic-ish spread: mostly A lookups in the zone, some AAAA, some names that do not exist."""
    queries = []
    for _ in range(count):
        roll = rng.random()
        if roll < 0.1:
            queries.append(f"{rng.choice(list(HOSTS))} A")
        elif roll < 0.75:
            queries.append(f"host-{rng.randrange(5000)}.{ZONE} A")
        elif roll < 0.85:
            queries.append(f"host-{rng.randrange(5000)}.{ZONE} AAAA")
        else:
            queries.append(f"gone-{rng.randrange(5000)}.example.test A")
    return queries


def dig_job(workdir: Path, name: str, queries: Sequence[str]) -> Job:
    batch = workdir / f"{name}.dig"
    batch.write_text("\n".join(queries) + "\n")
    argv = in_ns(NS_CLIENT, "dig", f"@{DNS_SERVER}", "+tries=1", "+time=2", "+noall", "+comments",
                 "-f", str(batch))  # fmt: skip
    return Job(name, argv, "dig", len(queries))


def bytes_mix(content: Content, workdir: Path) -> list[Step]:
    """~300 MB: long bulk transfers over HTTP and TLS, keep-alive connections, a little DNS."""
    rng = random.Random(1)
    www, static = HTTP_ORIGINS[0], HTTP_ORIGINS[3]
    bulk = [curl_job(workdir, f"bulk-{i}", [www + path]) for i, path in enumerate(content.bulk)]
    steps: list[Step] = [[dig_job(workdir, "dns-a", dns_queries(rng, 100))]]
    # Two bulk downloads at a time so flows interleave on the wire, as they do on a real link.
    steps += [bulk[i : i + 2] for i in range(0, len(bulk), 2)]
    steps.append([
        curl_job(workdir, "keepalive-www", [www + rng.choice(content.medium) for _ in range(250)]),
        curl_job(workdir, "keepalive-static", [static + rng.choice(content.medium) for _ in range(250)]),
    ])  # fmt: skip
    steps.append([curl_job(workdir, f"tls-bulk-{i}", [HTTPS_ORIGIN + content.bulk[i]]) for i in (3, 4, 5)])
    steps.append([
        curl_job(workdir, "tls-keepalive", [HTTPS_ORIGIN + rng.choice(content.medium) for _ in range(100)]),
        dig_job(workdir, "dns-b", dns_queries(rng, 100)),
    ])  # fmt: skip
    return steps


FLOW_HTTP_CONNECTIONS = 30_000
FLOW_CURLS = 4
FLOW_TLS_CONNECTIONS = 400
FLOW_DNS_QUERIES = 3_000


def flows_mix(content: Content, workdir: Path) -> list[Step]:
    """~33 000 flows: short HTTP/1.0 connections (one per URL), short TLS connections, DNS lookups."""
    rng = random.Random(2)
    per_curl = FLOW_HTTP_CONNECTIONS // FLOW_CURLS
    jobs = [
        curl_job(workdir, f"short-{c}",
                 [rng.choice(HTTP_ORIGINS) + rng.choice(content.small) for _ in range(per_curl)], http10=True)
        for c in range(FLOW_CURLS)
    ]  # fmt: skip
    jobs.append(curl_job(workdir, "short-tls",
                         [HTTPS_ORIGIN + rng.choice(content.small) for _ in range(FLOW_TLS_CONNECTIONS)],
                         http10=True))  # fmt: skip
    half = FLOW_DNS_QUERIES // 2
    jobs += [dig_job(workdir, f"dns-{d}", dns_queries(rng, half)) for d in range(2)]
    return [jobs]


def small_mix(content: Content, workdir: Path) -> list[Step]:
    """A handful of exchanges of each kind: a smoke test that finishes in well under a second."""
    rng = random.Random(3)
    www = HTTP_ORIGINS[0]
    pages = [www + "/index.html", www + content.small[0], www + content.small[1]]
    return [
        [dig_job(workdir, "dns", [f"{WWW} A", f"{SECURE} A", f"{STATIC} AAAA", *dns_queries(rng, 5)])],
        [curl_job(workdir, "keepalive", pages)],
        [curl_job(workdir, "http10", [HTTP_ORIGINS[3] + content.small[2]], http10=True)],
        [curl_job(workdir, "tls", [HTTPS_ORIGIN + "/index.html", HTTPS_ORIGIN + content.small[3]])],
    ]


MIXES: dict[str, Callable[[Content, Path], list[Step]]] = {
    "bytes": bytes_mix,
    "flows": flows_mix,
    "small": small_mix,
}
