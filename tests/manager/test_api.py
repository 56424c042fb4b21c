"""The manager's HTTP API over a real store (SQLite and PostgreSQL): ingestion and its bounds,
queries, detail, suppressions, sensors, tokens, headers, /metrics, the UI's files, the OpenAPI
document, a schemathesis fuzz run against a real uvicorn server, and ``fathom serve`` itself."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.core.result import Ok
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import ignored_auth, positive_data_acceptance

from fathom.manager.api import CSP, MAX_BODY, MAX_EVENTS, create_app
from fathom.manager.auth import Role, TokenError, Tokens, is_loopback, load_tokens
from fathom.manager.docs import DOCS_CSP
from fathom.manager.rows import event_id
from fathom.manager.rule_text import load_rule_texts
from fathom.manager.serve import default_db_path
from fathom.manager.sqlite_store import SqliteBackend
from fathom.manager.store import Store
from tests.manager import eve
from tests.manager.eve import endpoint
from tests.manager.server import ServeProcess, run_serve, serving

LOCAL = ("127.0.0.1", 40000)
REMOTE = ("10.0.0.5", 1234)
ADMIN = "admin-0123456789abcdef"
READ = "read-0123456789abcdef"
TOKENS = Tokens(admin=(ADMIN.encode(),), read=(READ.encode(),))
RULE = 'alert tcp any any -> any 80 ( msg:"TEST rule 100"; content:"x"; sid:100; rev:3; )'


@pytest.fixture
def app(store: Store, tmp_path: Path) -> FastAPI:
    ui = tmp_path / "ui"
    ui.mkdir()
    (ui / "index.html").write_text("<!doctype html><title>Fathom</title><script src='/ui/app.js'></script>")
    (ui / "app.js").write_text("document.title = 'Fathom';\n")
    rules_file = tmp_path / "test.rules"
    rules_file.write_text(
        RULE.replace("rev:3", "rev:1").replace("TEST rule 100", "old") + "\n" + RULE + "\n"
        'alert tcp any any -> any any ( msg:"gid 3"; gid:3; sid:100; rev:1; )\n'
    )
    rules, problems = load_rule_texts([str(rules_file)])
    assert problems == []
    return create_app(store, TOKENS, rules, ui_dir=ui)


def client(app: FastAPI, address: tuple[str, int] = LOCAL, token: str | None = None) -> TestClient:
    headers = {"Authorization": f"Bearer {token}"} if token else None
    return TestClient(app, client=address, headers=headers)


@pytest.fixture
def local(app: FastAPI) -> TestClient:
    return client(app)


def test_posted_events_are_stored_and_listed(local: TestClient) -> None:
    events = [
        eve.alert(100, 1, endpoint=endpoint("red", "red1")),
        eve.alert(200, 2),
        eve.flow(3),
        eve.http(2),
    ]
    response = local.post("/api/v1/events", json=[*events, 5, {"no": "type"}])
    assert response.status_code == 200
    assert response.json() == {"accepted": 4, "duplicates": 0, "suppressed": 0, "rejected": 2}
    assert local.post("/api/v1/events", json=events).json() == {
        "accepted": 0,
        "duplicates": 4,
        "suppressed": 0,
        "rejected": 0,
    }
    page = local.get("/api/v1/alerts").json()
    assert page == {
        "items": [
            {**events[1], "id": event_id(events[1]), "dismissed": False, "suppressed_by": None},
            {**events[0], "id": event_id(events[0]), "dismissed": False, "suppressed_by": None},
        ],
        "next": None,
    }
    assert local.post("/api/v1/events", json=[]).json() == {
        "accepted": 0,
        "duplicates": 0,
        "suppressed": 0,
        "rejected": 0,
    }


def test_ingestion_bounds(local: TestClient) -> None:
    over = b"[" + b" " * MAX_BODY + b"]"
    response = local.post("/api/v1/events", content=over, headers={"Content-Type": "application/json"})
    assert response.status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: the bound holds as the body streams in
        yield b"["
        for _ in range(11):
            yield b" " * (1024 * 1024)
        yield b"]"

    assert local.post("/api/v1/events", content=chunks()).status_code == 413
    assert local.post("/api/v1/events", json=[{}] * (MAX_EVENTS + 1)).status_code == 413
    at_bound = local.post("/api/v1/events", json=[{"event_type": "stats", "n": n} for n in range(MAX_EVENTS)])
    assert at_bound.json()["accepted"] == MAX_EVENTS
    assert local.post("/api/v1/events", content=b"[{").status_code == 400
    assert local.post("/api/v1/events", content=b"\xff\xfe").status_code == 400
    assert local.post("/api/v1/events", json={"event_type": "alert"}).status_code == 422
    assert local.post("/api/v1/events", content=b"[1]", headers={"Content-Length": "x"}).status_code == 400


def test_alert_filters_and_paging_over_http(local: TestClient) -> None:
    events = [
        eve.alert(100, 0, severity=1, endpoint=endpoint("red", "red1")),
        eve.alert(100, 60, severity=2, signature="Curl User-Agent"),
        eve.alert(200, 120, severity=3, dest_endpoint=endpoint("blue", "blue1")),
    ]
    red, curl, blue = (event_id(e) for e in events)
    local.post("/api/v1/events", json=events)

    def listed(**params: Any) -> list[str]:
        response = local.get("/api/v1/alerts", params=params)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert listed() == [blue, curl, red]
    assert listed(sid=100) == [curl, red]
    assert listed(severity=[1, 3]) == [blue, red]
    assert listed(namespace="blue") == [blue]
    assert listed(pod="red1") == [red]
    assert listed(q="curl") == [curl]
    assert listed(since=eve.at(60)) == [blue, curl]  # EVE's own +0000 form
    assert listed(since="2026-11-21T20:01:00Z", until="2026-11-21T20:02:00+00:00") == [curl]
    first = local.get("/api/v1/alerts", params={"limit": 2}).json()
    assert [i["id"] for i in first["items"]] == [blue, curl]
    rest = local.get("/api/v1/alerts", params={"limit": 2, "cursor": first["next"]}).json()
    assert ([i["id"] for i in rest["items"]], rest["next"]) == ([red], None)
    for bad in ({"limit": 0}, {"limit": 1001}, {"cursor": "garbage"}, {"sid": 2**40}, {"since": "soon"}):
        assert local.get("/api/v1/alerts", params=bad).status_code == 422, bad
    histogram = local.get("/api/v1/alerts/histogram", params={"bucket": 120}).json()
    assert histogram == {
        "buckets": [
            {"start": eve.at(0), "counts": {"1": 1, "2": 1, "3": 0, "4": 0}},
            {"start": eve.at(120), "counts": {"1": 0, "2": 0, "3": 1, "4": 0}},
        ]
    }


def test_alert_detail_and_dismiss(local: TestClient) -> None:
    alert = eve.alert(100, 1, flow_id=9)
    flow = eve.flow(2, flow_id=9)
    http = eve.http(0.5, flow_id=9, url="/<script>alert(1)</script>")
    local.post("/api/v1/events", json=[alert, flow, http, eve.alert(100, 1, flow_id=10)])
    detail = local.get(f"/api/v1/alerts/{event_id(alert)}").json()
    assert detail == {
        "alert": {**alert, "id": event_id(alert), "dismissed": False, "suppressed_by": None},
        "flow": flow,
        "context": [http],
        "rule": RULE,  # rev 3 over rev 1; gid 1, not the gid 3 rule of the same sid
    }
    assert local.get(f"/api/v1/alerts/{'0' * 32}").status_code == 404
    assert local.get("/api/v1/alerts/not-an-id").status_code == 422
    dismissed = local.post(f"/api/v1/alerts/{event_id(alert)}/dismiss")
    assert dismissed.status_code == 200
    assert dismissed.json() == {**alert, "id": event_id(alert), "dismissed": True, "suppressed_by": None}
    assert event_id(alert) not in [i["id"] for i in local.get("/api/v1/alerts").json()["items"]]
    assert event_id(alert) in [i["id"] for i in local.get("/api/v1/alerts?dismissed=true").json()["items"]]
    assert local.post(f"/api/v1/alerts/{'0' * 32}/dismiss").status_code == 404


def test_flows_and_applications(local: TestClient) -> None:
    flows = [
        eve.flow(0, flow_id=1, to_server=10, to_client=10),
        eve.flow(1, flow_id=2, app_proto="tls", protocol="TLS", application="youtube", to_server=5000),
    ]
    local.post("/api/v1/events", json=flows)
    page = local.get("/api/v1/flows", params={"app_proto": "tls"}).json()
    assert page == {"items": [{**flows[1], "id": event_id(flows[1])}], "next": None}
    assert local.get("/api/v1/applications").json() == {
        "applications": [
            {
                "app_proto": "tls",
                "protocol": "TLS",
                "application": "youtube",
                "category": "Web",
                "flows": 1,
                "bytes": 5200,
            },
            {
                "app_proto": "http",
                "protocol": "HTTP",
                "application": None,
                "category": "Web",
                "flows": 1,
                "bytes": 20,
            },
        ],
        "categories": [{"category": "Web", "flows": 2, "bytes": 5220}],
    }
    assert local.get("/api/v1/applications", params={"until": eve.at(1)}).json()["categories"] == [
        {"category": "Web", "flows": 1, "bytes": 20}
    ]


def test_sensor_reports_and_status(local: TestClient) -> None:
    report = {
        "node": "node1",
        "interfaces": {"cali-a": "up", "cali-b": "down"},
        "inspections": {"red/dpi": ["red/a"]},
        "counters": {"packets": 42},
        "version": "0.1.0",
    }
    response = local.post("/api/v1/sensors/node1", json=report)
    assert response.status_code == 200
    sensor = response.json()
    assert {k: v for k, v in sensor.items() if k != "last_seen"} == {
        "node": "node1",
        "interfaces": {"cali-a": "up", "cali-b": "down"},
        "counters": {"packets": 42},
        "version": "0.1.0",
    }
    assert local.get("/api/v1/status").json() == {
        "sensors": [sensor],
        "inspections": [
            {"namespace": "red", "name": "dpi", "nodes": {"node1": {"active": True, "pods": ["red/a"]}}}
        ],
    }
    for bad in (
        {**report, "node": "node2"},
        {**report, "interfaces": {"cali-a": "sideways"}},
        {**report, "counters": {"packets": 2**64}},
        {**report, "version": "0.1\x00"},
        {**report, "extra": 1},
    ):
        assert local.post("/api/v1/sensors/node1", json=bad).status_code == 422, bad
    assert local.post("/api/v1/sensors/bad node", json=report).status_code == 422


def test_suppressions_over_http(local: TestClient) -> None:
    red = eve.alert(100, 1, endpoint=endpoint("red", "red1", {"app": "web"}))
    blue = eve.alert(100, 2, endpoint=endpoint("blue", "blue1"))
    local.post("/api/v1/events", json=[red])
    bad = local.post("/api/v1/suppressions", json={"name": "x", "sids": [100], "selector": "namespace == "})
    assert bad.status_code == 422
    (error,) = bad.json()["detail"]
    assert error["loc"] == ["body", "selector"] and "column 14" in error["msg"]
    for invalid in (
        {"name": "x", "sids": []},
        {"name": "", "sids": [1]},
        {"name": "x", "sids": [0]},
        {"name": "x\x00", "sids": [1]},
        {"name": "x", "sids": [1], "start": eve.at(10), "end": eve.at(5)},
    ):
        assert local.post("/api/v1/suppressions", json=invalid).status_code == 422, invalid
    created = local.post(
        "/api/v1/suppressions",
        json={
            "name": "red web",
            "description": "known scanner",
            "selector": "namespace == 'red' && label.app == 'web'",
            "sids": [100, 100, 7],
            "start": eve.at(0),
        },
    )
    assert created.status_code == 201
    suppression = created.json()
    assert {k: v for k, v in suppression.items() if k not in ("id", "created")} == {
        "name": "red web",
        "description": "known scanner",
        "selector": "namespace == 'red' && label.app == 'web'",
        "sids": [7, 100],
        "start": eve.at(0),
        "end": None,
        "suppressed": 1,  # the alert already stored
    }
    assert local.post("/api/v1/events", json=[blue]).json()["suppressed"] == 0
    assert [i["id"] for i in local.get("/api/v1/alerts").json()["items"]] == [event_id(blue)]
    shown = local.get("/api/v1/alerts", params={"suppressed": "true"}).json()["items"]
    assert [(i["id"], i["suppressed_by"]) for i in shown] == [
        (event_id(blue), None),
        (event_id(red), suppression["id"]),
    ]
    assert local.get("/api/v1/suppressions").json() == [suppression]
    assert local.delete(f"/api/v1/suppressions/{suppression['id']}").status_code == 204
    assert local.delete(f"/api/v1/suppressions/{suppression['id']}").status_code == 404
    assert local.get("/api/v1/suppressions").json() == []
    assert [i["id"] for i in local.get("/api/v1/alerts").json()["items"]] == [event_id(blue), event_id(red)]


# (method, path, role it needs): every route that holds or changes data.
ROUTES = [
    ("POST", "/api/v1/events", Role.ADMIN),
    ("GET", "/api/v1/alerts", Role.READ),
    ("GET", "/api/v1/alerts/histogram", Role.READ),
    ("GET", f"/api/v1/alerts/{'0' * 32}", Role.READ),
    ("POST", f"/api/v1/alerts/{'0' * 32}/dismiss", Role.ADMIN),
    ("GET", "/api/v1/flows", Role.READ),
    ("GET", "/api/v1/applications", Role.READ),
    ("POST", "/api/v1/sensors/node1", Role.ADMIN),
    ("GET", "/api/v1/status", Role.READ),
    ("GET", "/api/v1/suppressions", Role.READ),
    ("POST", "/api/v1/suppressions", Role.ADMIN),
    ("DELETE", f"/api/v1/suppressions/{'0' * 32}", Role.ADMIN),
    ("GET", "/metrics", Role.READ),
]
BODIES = {
    "/api/v1/events": [],
    "/api/v1/sensors/node1": {},
    "/api/v1/suppressions": {"name": "n", "sids": [1]},
}


def _call(c: TestClient, method: str, path: str) -> httpx.Response:
    body = BODIES.get(path) if method == "POST" else None
    response: httpx.Response = c.request(method, path, json=body)
    return response


def test_tokens_are_needed_except_on_loopback(app: FastAPI) -> None:
    for method, path, needed in ROUTES:
        for address in (LOCAL, ("127.8.9.10", 1), ("::1", 1), ("::ffff:127.0.0.1", 1)):
            assert _call(client(app, address), method, path).status_code in (200, 201, 204, 404), (
                address,
                path,
            )
        anonymous = _call(client(app, REMOTE), method, path)
        assert anonymous.status_code == 401, path
        assert anonymous.headers["www-authenticate"] == "Bearer"
        assert _call(client(app, REMOTE, "wrong"), method, path).status_code == 401
        assert _call(client(app, REMOTE, ADMIN + "x"), method, path).status_code == 401
        as_reader = _call(client(app, REMOTE, READ), method, path).status_code
        as_admin = _call(client(app, REMOTE, ADMIN), method, path).status_code
        if needed is Role.ADMIN:
            assert as_reader == 403, path
        else:
            assert as_reader in (200, 404), path
        assert as_admin in (200, 201, 204, 404), path
    # Basic credentials are no bearer token.
    basic = client(app, REMOTE).get("/api/v1/alerts", headers={"Authorization": "Basic YTpi"})
    assert basic.status_code == 401
    # The UI's files and the API's description need none.
    for path in ("/", "/ui/app.js", "/api/v1/openapi.json", "/api/v1/docs"):
        assert client(app, REMOTE).get(path).status_code == 200, path


def test_loopback_addresses() -> None:
    assert [is_loopback(h) for h in ("127.0.0.1", "127.255.0.1", "::1", "::ffff:127.0.0.2")] == [True] * 4
    assert [is_loopback(h) for h in ("10.0.0.5", "::ffff:10.0.0.1", "testclient", "", None, "::")] == [
        False
    ] * 6


def test_token_files(tmp_path: Path) -> None:
    lines = tmp_path / "tokens"
    lines.write_text("# the manager's tokens\nadmin:aaaa\n\nread:rrrr\nread:ssss\n")
    tokens = load_tokens(str(lines), environ={})
    assert tokens == Tokens(admin=(b"aaaa",), read=(b"rrrr", b"ssss"))
    assert [tokens.role(t) for t in ("aaaa", "rrrr", "ssss", "aaa", "", "aaaaa")] == [
        Role.ADMIN,
        Role.READ,
        Role.READ,
        None,
        None,
        None,
    ]
    yaml_file = tmp_path / "tokens.yaml"
    yaml_file.write_text("admin: [a1, a2]\nread: r1\n")
    assert load_tokens(str(yaml_file), environ={"FATHOM_READ_TOKEN": " r2 "}) == Tokens(
        admin=(b"a1", b"a2"), read=(b"r1", b"r2")
    )
    assert load_tokens(None, environ={"FATHOM_ADMIN_TOKEN": "e"}) == Tokens(admin=(b"e",))
    assert not load_tokens(None, environ={}).configured
    for text in ("admin: [1, 2]\n", "writer: x\n", "- a\n", "admin: 'two words'\n", "admin: [\n"):
        yaml_file.write_text(text)
        with pytest.raises(TokenError):
            load_tokens(str(yaml_file), environ={})
    with pytest.raises(TokenError, match="missing"):
        load_tokens(str(tmp_path / "missing"), environ={})


def test_every_response_sends_the_csp_and_no_cors(app: FastAPI) -> None:
    local = client(app)
    responses = [
        local.get("/api/v1/alerts"),
        local.get("/api/v1/alerts/nope"),
        local.get("/api/v1/nothing-here"),
        local.post("/api/v1/events", content=b"{"),
        local.get("/"),
        local.get("/ui/app.js"),
        local.get("/ui/missing.js"),
        local.get("/metrics"),
        local.get("/api/v1/openapi.json"),
        client(app, REMOTE).get("/api/v1/alerts"),
    ]
    for response in responses:
        assert response.headers["content-security-policy"] == CSP, response.url
        assert response.headers["x-content-type-options"] == "nosniff"
    docs = local.get("/api/v1/docs")
    assert docs.headers["content-security-policy"] == DOCS_CSP
    assert "/api/v1/openapi.json" in local.get("/api/v1/docs/start.js").text
    preflight = local.options(
        "/api/v1/alerts",
        headers={"Origin": "https://elsewhere.example", "Access-Control-Request-Method": "GET"},
    )
    cross = local.get("/api/v1/alerts", headers={"Origin": "https://elsewhere.example"})
    for response in (preflight, cross):
        assert not any(name.startswith("access-control-") for name in response.headers)


def test_the_ui_is_served(app: FastAPI, tmp_path: Path, store: Store) -> None:
    local = client(app)
    index = local.get("/")
    assert index.status_code == 200 and index.headers["content-type"].startswith("text/html")
    assert index.text == (tmp_path / "ui" / "index.html").read_text()
    head = local.head("/")
    assert (head.status_code, head.content) == (200, b"")
    script = local.get("/ui/app.js")
    assert script.text == "document.title = 'Fathom';\n"
    assert script.headers["content-type"].startswith("text/javascript")
    assert local.get("/ui/../test.rules").status_code == 404
    empty = tmp_path / "no-ui"
    empty.mkdir()
    assert client(create_app(store, ui_dir=empty)).get("/").status_code == 404


def test_the_openapi_document(local: TestClient) -> None:
    document = local.get("/api/v1/openapi.json").json()
    assert document["openapi"].startswith("3.")
    assert set(document["paths"]) == {
        "/api/v1/events",
        "/api/v1/alerts",
        "/api/v1/alerts/histogram",
        "/api/v1/alerts/{alert_id}",
        "/api/v1/alerts/{alert_id}/dismiss",
        "/api/v1/flows",
        "/api/v1/applications",
        "/api/v1/sensors/{node}",
        "/api/v1/status",
        "/api/v1/suppressions",
        "/api/v1/suppressions/{suppression_id}",
    }
    events_body = document["paths"]["/api/v1/events"]["post"]["requestBody"]["content"]["application/json"]
    assert events_body["schema"]["type"] == "array"
    # A token is optional: loopback needs none.
    assert document["paths"]["/api/v1/alerts"]["get"]["security"] == [{"HTTPBearer": []}, {}]
    assert document["components"]["securitySchemes"] == {
        "HTTPBearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "a read or admin token; none is needed from loopback",
        }
    }


def _samples(text: str) -> dict[str, float]:
    found = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            found[name] = float(value)
    return found


def test_metrics(local: TestClient) -> None:
    suppression = local.post("/api/v1/suppressions", json={"name": "s", "sids": [3]}).json()
    events = [
        eve.alert(1, severity=1),
        eve.alert(2, severity=1),
        eve.alert(3, severity=3),
        eve.alert(4, severity=99),
        eve.flow(),
        {"event_type": "made_up", "n": 1},
    ]
    local.post("/api/v1/events", json=[*events, "junk"])
    local.post("/api/v1/events", json=events[:2])
    samples = _samples(local.get("/metrics").text)
    expected = {
        'fathom_manager_events_ingested_total{event_type="alert"}': 4,
        'fathom_manager_events_ingested_total{event_type="flow"}': 1,
        'fathom_manager_events_ingested_total{event_type="other"}': 1,
        'fathom_manager_alerts_total{severity="1"}': 2,
        'fathom_manager_alerts_total{severity="2"}': 0,
        'fathom_manager_alerts_total{severity="3"}': 1,
        'fathom_manager_alerts_total{severity="4"}': 0,
        'fathom_manager_alerts_total{severity="other"}': 1,
        "fathom_manager_duplicates_total": 2,
        "fathom_manager_rejected_total": 1,
        "fathom_manager_suppressed_total": 1,
        "fathom_manager_ingest_seconds_count": 2,
        'fathom_manager_store_rows{table="alerts"}': 4,
        'fathom_manager_store_rows{table="flows"}': 1,
        'fathom_manager_store_rows{table="protocol_events"}': 1,
        'fathom_manager_store_rows{table="suppressions"}': 1,
        'fathom_manager_store_rows{table="sensors"}': 0,
    }
    assert {name: samples.get(name) for name in expected} == expected
    assert samples["fathom_manager_store_bytes"] > 0
    assert local.get("/api/v1/suppressions").json()[0]["suppressed"] == 1 == suppression["suppressed"] + 1


def test_a_locked_database_answers_503_and_ingestion_can_be_retried(tmp_path: Path) -> None:
    path = str(tmp_path / "locked.db")
    store = Store(SqliteBackend(path, busy_timeout=0.05))
    store.migrate()
    local = client(create_app(store))
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    response = local.post("/api/v1/events", json=[eve.alert(1)])
    assert response.status_code == 503
    assert "locked" in response.json()["detail"]
    other.execute("ROLLBACK")
    assert local.post("/api/v1/events", json=[eve.alert(1)]).json()["accepted"] == 1
    other.close()
    store.close()


# ---------------------------------------------------------------- schemathesis


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_fuzz_finds_no_server_error(app: FastAPI, mode: GenerationMode) -> None:
    """Schemathesis generates requests from the OpenAPI document for every operation, valid ones
    and invalid ones, and runs its checks on each response: no 5xx; status codes, content types
    and bodies as documented; invalid requests refused. Two checks are left out, for what the
    document cannot say: a token is optional on loopback, where these requests come from
    (ignored_auth); and a valid-looking request may still be refused with 422, for a cursor this
    API did not write, a selector that does not parse, or a window that ends before it starts
    (positive_data_acceptance)."""
    with serving(app) as url:
        schema = schemathesis.openapi.from_url(f"{url}/api/v1/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations() if isinstance(result, Ok)]
        assert len(operations) == 12
        for operation in operations:
            if (
                mode is GenerationMode.NEGATIVE
                and not operation.body
                and not list(operation.iter_parameters())
            ):
                continue  # nothing in the request to make invalid

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
            def check(case: Any) -> None:
                case.call_and_validate(excluded_checks=[ignored_auth, positive_data_acceptance])

            check()


# ---------------------------------------------------------------- fathom serve


def test_fathom_serve_on_the_default_sqlite_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    serve = ServeProcess(["--listen", "127.0.0.1:0"], env={"FATHOM_DATA_DIR": str(data)})
    try:
        with httpx.Client(base_url=serve.url) as http:
            events = [eve.alert(21562, 1), eve.alert(1, 2)]
            assert http.post("/api/v1/events", json=events).json()["accepted"] == 2
            detail = http.get(f"/api/v1/alerts/{event_id(events[0])}").json()
            # The bundled community ruleset gives the rule's text.
            assert detail["rule"].startswith("alert tcp $HOME_NET any -> $EXTERNAL_NET $HTTP_PORTS")
            assert "sid:21562;" in detail["rule"]
            assert http.get("/api/v1/openapi.json").status_code == 200
            assert http.get("/metrics").status_code == 200
    finally:
        serve.stop()
    assert serve.process.returncode == 0
    db = sqlite3.connect(data / "manager.db")
    assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert db.execute("SELECT COUNT(*) FROM alerts").fetchone() == (2,)
    db.close()


def test_fathom_serve_refuses_what_it_cannot_do(tmp_path: Path) -> None:
    db = f"sqlite://{tmp_path / 'm.db'}"
    cases = [
        (["--listen", "0.0.0.0:0", "--db", db], "not a loopback address, and no tokens"),
        (["--listen", "nowhere", "--db", db], "want HOST:PORT"),
        (["--listen", "127.0.0.1:0", "--db", "mysql://x"], "want sqlite:///PATH or postgresql://"),
        (["--listen", "127.0.0.1:0", "--db", db, "--rules", str(tmp_path / "none.rules")], "not found"),
        (["--listen", "127.0.0.1:0", "--db", db, "--tokens", str(tmp_path / "none")], "--tokens"),
    ]
    for args, message in cases:
        result = run_serve(args, env={"FATHOM_ADMIN_TOKEN": "", "FATHOM_READ_TOKEN": ""})
        assert result.returncode == 1, args
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("fathom: error: serve: "), (
            result.stderr
        )
        assert message in result.stderr


def test_fathom_serve_listens_beyond_loopback_with_tokens(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text(f"admin:{ADMIN}\nread:{READ}\n")
    serve = ServeProcess(
        ["--listen", "0.0.0.0:0", "--db", f"sqlite://{tmp_path / 'm.db'}", "--tokens", str(tokens)]
    )
    try:
        port = serve.url.rsplit(":", 1)[1]
        assert serve.url.startswith("http://0.0.0.0:")
        assert httpx.get(f"http://127.0.0.1:{port}/api/v1/status").json() == {
            "sensors": [],
            "inspections": [],
        }
    finally:
        serve.stop()


def test_default_db_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FATHOM_DATA_DIR", str(tmp_path))
    assert default_db_path() == tmp_path / "manager.db"
    monkeypatch.delenv("FATHOM_DATA_DIR")
    monkeypatch.setattr("os.geteuid", lambda: 0)
    assert default_db_path() == Path("/var/lib/fathom/manager.db")
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_db_path() == tmp_path / ".local/share/fathom/manager.db"


def test_alert_item_json_is_the_event(local: TestClient) -> None:
    # What the sender wrote comes back field for field, packet text included.
    hostile = eve.alert(
        1, http={"url": "/<img src=x onerror=alert(1)>", "http_user_agent": "<script>x</script>"}
    )
    local.post("/api/v1/events", content=json.dumps([hostile]).encode())
    (item,) = local.get("/api/v1/alerts").json()["items"]
    assert item["http"] == hostile["http"]
