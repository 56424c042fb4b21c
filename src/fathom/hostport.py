"""``HOST:PORT`` as the command line takes it (``[ADDRESS]:PORT`` for IPv6)."""

from __future__ import annotations


def split_host_port(spec: str, *, default_host: str | None = None, any_port: bool = False) -> tuple[str, int]:
    """The host and port of ``spec``; an empty host is ``default_host`` (an error when None), and
    port 0 is taken only with ``any_port`` (a listener's "any free port"). Raises ValueError."""
    host, colon, port = spec.rpartition(":")
    host = host.removeprefix("[").removesuffix("]") or (default_host or "")
    if not colon or not host or not port.isdigit() or not (any_port or int(port) > 0) or int(port) > 65535:
        raise ValueError(f"{spec}: not HOST:PORT")
    return host, int(port)
