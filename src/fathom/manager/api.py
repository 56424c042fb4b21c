"""The manager's HTTP interface: the REST API under /api/v1 (OpenAPI document at
/api/v1/openapi.json), /metrics, and the web UI's static files.

Every response carries a strict Content-Security-Policy and ``X-Content-Type-Options: nosniff``;
there is no CORS middleware, so browsers keep other origins out. Clients on loopback need no
token; others need a read token, or an admin token where the route changes something (ingestion
included). Everything posted is bounded before it is parsed.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import orjson
from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response, status
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST

from fathom import __version__
from fathom.manager.auth import Role, Tokens, is_loopback
from fathom.manager.docs import docs_router
from fathom.manager.metrics import ManagerMetrics
from fathom.manager.models import (
    SID_MAX,
    Alert,
    AlertDetail,
    AlertPage,
    Applications,
    FlowPage,
    Histogram,
    IngestResult,
    IsoTime,
    Sensor,
    SensorReport,
    Status,
    Suppression,
    SuppressionIn,
)
from fathom.manager.rule_text import RuleTexts
from fathom.manager.store import AlertFilter, CursorError, FlowFilter, Store, StoreError
from fathom.manager.times import to_us

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
MAX_BODY = 10 * 1024 * 1024
MAX_EVENTS = 10_000
UI_DIR = Path(__file__).resolve().parent / "ui"

_ID = r"^[0-9a-f]{32}$"
_NODE = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$"
# Filter values name namespaces and pods (Kubernetes: at most 253 characters).
_Name = Annotated[str | None, Query(min_length=1, max_length=253)]
_Sids = Annotated[list[Annotated[int, Query(ge=1, le=SID_MAX)]] | None, Query(max_length=100)]
_Severities = Annotated[list[Annotated[int, Query(ge=1, le=255)]] | None, Query(max_length=10)]
_Text = Annotated[
    str | None,
    Query(max_length=200, description="case-insensitive text in signature, addresses and pod names"),
]
_Since = Annotated[IsoTime | None, Query(description="ISO 8601; events at or after")]
_Until = Annotated[IsoTime | None, Query(description="ISO 8601; events before")]
_Limit = Annotated[int, Query(ge=1, le=1000)]
_Cursor = Annotated[
    str | None, Query(max_length=200, pattern=r"^[A-Za-z0-9_-]+$", description="the previous page's next")
]
_AlertId = Annotated[str, PathParam(pattern=_ID)]

_EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["event_type"],
    "properties": {
        "event_type": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,64}$"},
        "timestamp": {"type": "string", "format": "date-time"},
        "alert": {
            "type": "object",
            "properties": {
                "signature_id": {"type": "integer"},
                "severity": {"type": "integer"},
                "signature": {"type": "string"},
            },
        },
    },
}
_EVENTS_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "array",
                    # Any item may come; those that are no event are counted as rejected.
                    "items": {"anyOf": [_EVENT_SCHEMA, {}]},
                    # The bounds are not maxItems: past them the answer is 413, not 422.
                    "description": f"EVE events; at most {MAX_EVENTS}, in {MAX_BODY} bytes (else 413)",
                }
            }
        },
    }
}

_NOT_JSON: dict[int | str, dict[str, Any]] = {400: {"description": "the body is not JSON"}}

_Scope = MutableMapping[str, Any]
_Message = MutableMapping[str, Any]
_Asgi = Callable[
    [_Scope, Callable[[], Awaitable[_Message]], Callable[[_Message], Awaitable[None]]], Awaitable[None]
]


class SecurityHeaders:
    """Adds the CSP and nosniff headers to every HTTP response that has not set its own."""

    def __init__(self, app: _Asgi) -> None:
        self.app = app

    async def __call__(
        self,
        scope: _Scope,
        receive: Callable[[], Awaitable[_Message]],
        send: Callable[[_Message], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: _Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                for name, value in (
                    (b"content-security-policy", CSP),
                    (b"x-content-type-options", "nosniff"),
                ):
                    if name not in present:
                        headers.append((name, value.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


_bearer = HTTPBearer(auto_error=False, description="a read or admin token; none is needed from loopback")


def _guard(tokens: Tokens, needed: Role) -> Any:
    async def check(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
    ) -> None:
        if is_loopback(request.client.host if request.client else None):
            return
        role = tokens.role(credentials.credentials) if credentials is not None else None
        if role is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED, "a valid bearer token is needed", {"WWW-Authenticate": "Bearer"}
            )
        if role < needed:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "this needs an admin token")

    return Depends(check)


def _us(moment: datetime | None) -> int | None:
    return None if moment is None else to_us(moment)


def alert_filter(
    sid: _Sids = None,
    severity: _Severities = None,
    namespace: _Name = None,
    pod: _Name = None,
    since: _Since = None,
    until: _Until = None,
    q: _Text = None,
    dismissed: Annotated[bool, Query(description="include dismissed alerts")] = False,
    suppressed: Annotated[bool, Query(description="include suppressed alerts")] = False,
) -> AlertFilter:
    """Alerts of any listed sid and severity; a namespace or pod matches the inspected endpoint's
    or either side's."""
    return AlertFilter(
        sids=tuple(sid or ()),
        severities=tuple(severity or ()),
        namespace=namespace,
        pod=pod,
        since_us=_us(since),
        until_us=_us(until),
        q=q,
        dismissed=dismissed,
        suppressed=suppressed,
    )


def flow_filter(
    namespace: _Name = None,
    pod: _Name = None,
    app_proto: _Name = None,
    since: _Since = None,
    until: _Until = None,
    q: _Text = None,
) -> FlowFilter:
    return FlowFilter(
        namespace=namespace, pod=pod, since_us=_us(since), until_us=_us(until), q=q, app_proto=app_proto
    )


def _not_found(what: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"no such {what}")


def _invalid(location: tuple[str, ...], message: str) -> HTTPException:
    """A 422 shaped as FastAPI's own validation errors, as the OpenAPI document describes them."""
    return HTTPException(422, [{"type": "value_error", "loc": list(location), "msg": message}])


def create_app(
    store: Store, tokens: Tokens | None = None, rules: RuleTexts | None = None, ui_dir: Path = UI_DIR
) -> FastAPI:
    """The manager's ASGI application over ``store``."""
    tokens = tokens or Tokens()
    rules = rules or RuleTexts()
    metrics = ManagerMetrics(store)
    read = _guard(tokens, Role.READ)
    admin = _guard(tokens, Role.ADMIN)
    app = FastAPI(
        title="Fathom manager",
        version=__version__,
        description="Alerts, flows and sensors of Fathom deep packet inspection.",
        openapi_url="/api/v1/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    app.add_middleware(SecurityHeaders)
    app.include_router(docs_router())

    @app.exception_handler(StoreError)
    async def store_unavailable(_request: Request, exc: StoreError) -> JSONResponse:
        return JSONResponse({"detail": f"store unavailable: {exc}"}, status.HTTP_503_SERVICE_UNAVAILABLE)

    @app.exception_handler(CursorError)
    async def bad_cursor(_request: Request, exc: CursorError) -> JSONResponse:
        return JSONResponse({"detail": _invalid(("query", "cursor"), str(exc)).detail}, 422)

    def ingest(body: bytes) -> IngestResult:
        started = time.perf_counter()
        try:
            items = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, f"not JSON: {exc}") from None
        if not isinstance(items, list):
            raise _invalid(("body",), "want a JSON array of events")
        if len(items) > MAX_EVENTS:
            raise HTTPException(413, f"at most {MAX_EVENTS} events per request")
        result = store.ingest(items)
        metrics.record(result, time.perf_counter() - started)
        return IngestResult(
            accepted=result.accepted,
            duplicates=result.duplicates,
            suppressed=result.suppressed,
            rejected=result.rejected,
        )

    @app.post(
        "/api/v1/events",
        dependencies=[admin],
        openapi_extra=_EVENTS_BODY,
        responses={
            **_NOT_JSON,
            413: {"description": "over the bounds"},
            422: {"description": "not an array"},
        },
    )
    async def post_events(request: Request) -> IngestResult:
        """Ingest a JSON array of EVE events. Items that are not event objects are rejected one by
        one; an event already stored is a duplicate, so a batch may be sent again safely."""
        declared = request.headers.get("content-length", "0")
        if not declared.isdigit():
            raise HTTPException(status.HTTP_400_BAD_REQUEST, "bad Content-Length")
        if int(declared) > MAX_BODY:
            raise HTTPException(413, f"at most {MAX_BODY} bytes per request")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                raise HTTPException(413, f"at most {MAX_BODY} bytes per request")
        return await run_in_threadpool(ingest, bytes(body))

    @app.get("/api/v1/alerts", dependencies=[read])
    def get_alerts(
        f: Annotated[AlertFilter, Depends(alert_filter)], limit: _Limit = 100, cursor: _Cursor = None
    ) -> AlertPage:
        """Alerts, newest first; dismissed and suppressed ones only when asked for."""
        return store.alerts(f, limit, cursor)

    @app.get("/api/v1/alerts/histogram", dependencies=[read])
    def get_histogram(
        f: Annotated[AlertFilter, Depends(alert_filter)],
        bucket: Annotated[int, Query(ge=1, le=366 * 86_400, description="seconds")] = 60,
    ) -> Histogram:
        """Counts of the alerts the same filters select, by severity, per bucket of time."""
        return store.histogram(f, bucket)

    @app.get(
        "/api/v1/alerts/{alert_id}", dependencies=[read], responses={404: {"description": "no such alert"}}
    )
    def get_alert(alert_id: _AlertId) -> AlertDetail:
        """An alert with its flow, the protocol events of its flow, and its rule's text."""
        detail = store.alert_detail(alert_id, rules.get)
        if detail is None:
            raise _not_found("alert")
        return detail

    @app.post(
        "/api/v1/alerts/{alert_id}/dismiss",
        dependencies=[admin],
        responses={404: {"description": "no such alert"}},
    )
    def dismiss_alert(alert_id: _AlertId) -> Alert:
        alert = store.dismiss(alert_id)
        if alert is None:
            raise _not_found("alert")
        return alert

    @app.get("/api/v1/flows", dependencies=[read])
    def get_flows(
        f: Annotated[FlowFilter, Depends(flow_filter)], limit: _Limit = 100, cursor: _Cursor = None
    ) -> FlowPage:
        """Flow events, newest first."""
        return store.flows(f, limit, cursor)

    @app.get("/api/v1/applications", dependencies=[read])
    def get_applications(since: _Since = None, until: _Until = None) -> Applications:
        """Flows and bytes by application and by category, most bytes first."""
        return store.applications(_us(since), _us(until))

    @app.post("/api/v1/sensors/{node}", dependencies=[admin], responses=_NOT_JSON)
    def post_sensor(node: Annotated[str, PathParam(pattern=_NODE)], report: SensorReport) -> Sensor:
        """A sensor's report of its interfaces, inspections and counters."""
        if report.node is not None and report.node != node:
            raise _invalid(("body", "node"), "differs from the node in the path")
        return store.report_sensor(node, report)

    @app.get("/api/v1/status", dependencies=[read])
    def get_status() -> Status:
        """Sensors and their counters; DPI inspections and the nodes that apply them."""
        return store.status()

    @app.get("/api/v1/suppressions", dependencies=[read])
    def get_suppressions() -> list[Suppression]:
        return store.suppressions()

    @app.post(
        "/api/v1/suppressions", dependencies=[admin], status_code=status.HTTP_201_CREATED, responses=_NOT_JSON
    )
    def post_suppression(new: SuppressionIn) -> Suppression:
        """Suppress alerts of these sids within the window whose attributes the selector matches.
        It applies at ingestion, and to the stored alerts it covers."""
        return store.add_suppression(new)

    @app.delete(
        "/api/v1/suppressions/{suppression_id}",
        dependencies=[admin],
        status_code=status.HTTP_204_NO_CONTENT,
        responses={404: {"description": "no such suppression"}},
    )
    def delete_suppression(suppression_id: Annotated[str, PathParam(pattern=_ID)]) -> Response:
        """Delete a suppression; the alerts it held that no other covers are shown again."""
        if not store.delete_suppression(suppression_id):
            raise _not_found("suppression")
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @app.get("/metrics", dependencies=[read], include_in_schema=False)
    def get_metrics() -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    def index() -> FileResponse:
        page = ui_dir / "index.html"
        if not page.is_file():
            raise HTTPException(status.HTTP_404_NOT_FOUND, "the web UI is not installed")
        return FileResponse(page)

    app.mount("/ui", StaticFiles(directory=ui_dir, check_dir=False), name="ui")
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, saying that the bearer token is optional (``{}``, no security, is an
    alternative): a client on loopback needs none."""
    if app.openapi_schema is None:
        document = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        for operations in document.get("paths", {}).values():
            for operation in operations.values():
                if "security" in operation:
                    operation["security"].append({})
        app.openapi_schema = document
    return app.openapi_schema
