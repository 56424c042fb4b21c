"""``fathom serve``: open the store, read the rules' text, and run the API under uvicorn.

The socket is bound here, before uvicorn starts, so that ``--listen 127.0.0.1:0`` works and the
line ``fathom serve: listening on http://HOST:PORT`` names the port actually bound. Retention runs
at start and then every hour, in a thread of its own. SIGTERM and SIGINT stop it gracefully:
requests under way finish, then the store is closed (exit status 0 for SIGTERM, 130 for SIGINT).
"""

from __future__ import annotations

import ipaddress
import os
import signal
import socket
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from fathom.hostport import split_host_port
from fathom.manager.store import Store, StoreError
from fathom.paths import data_dir

DEFAULT_LISTEN = "127.0.0.1:8765"
DEFAULT_RETENTION_DAYS = 30.0
RETENTION_INTERVAL_S = 3600.0


class ServeError(Exception):
    """What stops the manager from starting, as one line."""


class _Terminated(Exception):
    """SIGTERM, once uvicorn has shut down gracefully: uvicorn raises the signal again when it
    is done, and the default action would end the process before the store is closed."""


def _terminated(_signum: int, _frame: FrameType | None) -> None:
    raise _Terminated


@dataclass(frozen=True, slots=True)
class ServeSettings:
    listen: str = DEFAULT_LISTEN
    db: str | None = None
    tokens: str | None = None
    rules: tuple[str, ...] = ()
    retention_days: float = DEFAULT_RETENTION_DAYS


def default_db_path() -> Path:
    """``manager.db`` in the data directory (:func:`fathom.paths.data_dir`)."""
    return data_dir() / "manager.db"


def open_store(url: str | None) -> Store:
    """The store at ``url``: ``sqlite:///path`` (or a bare path), ``postgresql://...``, or None for
    the default SQLite file; migrated to the current schema. Raises StoreError."""
    if url is not None and url.startswith(("postgresql://", "postgres://")):
        from fathom.manager.postgres_store import PostgresBackend

        store = Store(PostgresBackend(url))
    else:
        from fathom.manager.sqlite_store import SqliteBackend

        if url is None:
            path = str(default_db_path())
        elif url.startswith("sqlite://"):
            path = url.removeprefix("sqlite://")
        elif "://" in url:
            raise StoreError(f"{url}: want sqlite:///PATH or postgresql://...")
        else:
            path = url
        store = Store(SqliteBackend(path))
    try:
        store.migrate()
    except StoreError:
        store.close()
        raise
    return store


def parse_listen(spec: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``[IPv6]:PORT``. Raises ServeError."""
    try:
        return split_host_port(spec, any_port=True)
    except ValueError:
        raise ServeError(f"--listen {spec}: want HOST:PORT") from None


def _loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _bind(host: str, port: int) -> socket.socket:
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        # IPPROTO_TCP said outright: asyncio sets TCP_NODELAY only on sockets that say so, and
        # without it each response (headers, then body) waits out the client's delayed ACK.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        raise ServeError(f"--listen {host}:{port}: {exc.strerror or exc}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _retention(store: Store, days: float, stop: threading.Event) -> None:
    while True:
        try:
            store.retain(days)
        except StoreError as exc:
            print(f"fathom serve: retention: {exc}", file=sys.stderr)
        if stop.wait(RETENTION_INTERVAL_S):
            return


def serve(settings: ServeSettings) -> int:
    """Run the manager until it is stopped (SIGINT, SIGTERM). Raises ServeError."""
    import uvicorn

    from fathom.manager.api import create_app
    from fathom.manager.auth import TokenError, load_tokens
    from fathom.manager.rule_text import load_rule_texts
    from fathom.rules.loader import BUNDLED_RULES

    host, port = parse_listen(settings.listen)
    try:
        tokens = load_tokens(settings.tokens)
    except TokenError as exc:
        raise ServeError(f"--tokens {exc}") from None
    if not tokens.configured and not _loopback_host(host):
        raise ServeError(
            f"--listen {settings.listen}: not a loopback address, and no tokens "
            "(--tokens FILE, FATHOM_ADMIN_TOKEN, FATHOM_READ_TOKEN)"
        )
    rule_files = list(settings.rules) or [str(BUNDLED_RULES)]
    for path in rule_files:
        if not os.path.exists(path):
            raise ServeError(f"--rules {path}: not found")
    rules, problems = load_rule_texts(rule_files)
    if problems:
        print(
            f"fathom serve: {len(problems)} rules not read; `fathom rules check` lists them", file=sys.stderr
        )
    try:
        store = open_store(settings.db)
    except StoreError as exc:
        raise ServeError(f"--db: {exc}") from None
    previous = signal.signal(signal.SIGTERM, _terminated)
    stop = threading.Event()
    retention = threading.Thread(
        target=_retention, args=(store, settings.retention_days, stop), name="retention", daemon=True
    )
    try:
        sock = _bind(host, port)
        if settings.retention_days > 0:
            retention.start()
        app = create_app(store, tokens, rules)
        config = uvicorn.Config(app, log_level="warning", access_log=False, server_header=False)
        bound_host, bound_port = sock.getsockname()[:2]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        print(f"fathom serve: listening on http://{shown}:{bound_port}", file=sys.stderr, flush=True)
        uvicorn.Server(config).run(sockets=[sock])
    except _Terminated:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        stop.set()
        if retention.is_alive():
            retention.join(timeout=10)  # a pass under way ends before the store closes
        store.close()
    return 0
