"""Envelope, request ids, problem+json, routing errors, CORS, origin guard, metrics, OpenAPI,
connection handling (pipelining, idle connections, graceful shutdown) and logs."""

from __future__ import annotations

import json
import re
import socket
import time
import uuid

import pytest
import requests

from conftest import (
    API_ORIGIN, SESSION_ORIGIN, TIMESTAMP_RE, WEB_ORIGIN, RawConn, ok, problem,
    scaled, session_cookie_value, unique_email, wait_until,
)

ROUTES = [
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/api/v1/openapi.json"),
    ("POST", "/api/v1/auth/signup"),
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/logout"),
    ("GET", "/api/v1/me"),
    ("PATCH", "/api/v1/me"),
    ("GET", "/api/v1/me/tokens"),
    ("POST", "/api/v1/me/tokens"),
    ("DELETE", "/api/v1/me/tokens/{id}"),
    ("GET", "/api/v1/admin/users"),
    ("PATCH", "/api/v1/admin/users/{id}"),
]


# ------------------------------------------------------------------------------------------
# health
# ------------------------------------------------------------------------------------------


def _status_field(body):
    return body["data"]["status"] if "data" in body else body.get("status")


def test_healthz(api):
    r = api.get("/healthz")
    assert r.status_code == 200
    assert _status_field(r.json()) == "ok"
    assert r.headers.get("X-Request-Id")


def test_readyz(api):
    r = api.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.headers.get("X-Request-Id")


# ------------------------------------------------------------------------------------------
# envelope and request ids
# ------------------------------------------------------------------------------------------


def test_success_envelope(api, user):
    r = api.get("/api/v1/me", token=user.token)
    ok(r)
    meta = r.json()["meta"]
    assert TIMESTAMP_RE.match(meta["timestamp"])


def test_request_id_generated_and_unique(api):
    ids = {api.get("/api/v1/me").headers["X-Request-Id"] for _ in range(5)}
    assert len(ids) == 5


@pytest.mark.parametrize("rid", ["abc-123", "A" * 64, "0", "f47ac10b-58cc-4372-a567-0e02b2c3d479"])
def test_client_request_id_is_echoed(api, user, rid):
    r = api.get("/api/v1/me", token=user.token, headers={"X-Request-Id": rid})
    assert r.headers["X-Request-Id"] == rid
    assert ok(r) and r.json()["meta"]["request_id"] == rid
    r = api.get("/api/v1/me", headers={"X-Request-Id": rid})  # problems too
    assert problem(r, 401)["request_id"] == rid


@pytest.mark.parametrize("rid", ["A" * 65, "has space", "semi;colon", "under_score", "ünïcode", "a/b", "<script>"])
def test_bad_client_request_id_is_replaced(api, rid):
    r = api.get("/healthz", headers={"X-Request-Id": rid.encode("utf-8")})
    got = r.headers.get("X-Request-Id")
    assert got and got != rid and re.match(r"^[A-Za-z0-9-]{1,64}$", got), got
    r = api.get("/api/v1/me", headers={"X-Request-Id": rid.encode("utf-8")})
    body = problem(r, 401)
    assert body["request_id"] != rid


def test_unknown_query_parameter_is_ignored(api, user):
    assert api.get("/healthz?foo=bar&x").status_code == 200
    assert ok(api.get("/api/v1/me?unexpected=1", token=user.token))["user_id"] == user.user_id


# ------------------------------------------------------------------------------------------
# routing errors
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/nope", "/api/v1/nope", "/api/v2/me", "/api/v1/me/tokens/x/y",
                                  "/api/v1/admin", "/API/V1/ME"])
def test_unknown_route_404(api, path):
    body = problem(api.get(path), 404, "route_not_found")
    assert body["instance"] == path


@pytest.mark.parametrize("method,path,allowed", [
    ("POST", "/healthz", {"GET"}),
    ("DELETE", "/api/v1/me", {"GET", "PATCH"}),
    ("PUT", "/api/v1/me", {"GET", "PATCH"}),
    ("GET", "/api/v1/auth/login", {"POST"}),
    ("GET", "/api/v1/auth/signup", {"POST"}),
    ("PATCH", "/api/v1/me/tokens", {"GET", "POST"}),
    ("GET", "/api/v1/me/tokens/00000000-0000-4000-8000-000000000000", {"DELETE"}),
    ("POST", "/api/v1/admin/users", {"GET"}),
])
def test_wrong_method_405(api, method, path, allowed):
    r = api.request(method, path)
    problem(r, 405, "method_not_allowed")
    allow = {m.strip().upper() for m in r.headers.get("Allow", "").split(",") if m.strip()}
    assert allowed <= allow, f"Allow {r.headers.get('Allow')!r} lacks {allowed}"
    assert not (allow - allowed - {"HEAD", "OPTIONS"}), f"Allow {r.headers.get('Allow')!r} lists extra methods"


# ------------------------------------------------------------------------------------------
# origin guard and CORS
# ------------------------------------------------------------------------------------------


ALLOWED_ORIGINS = [WEB_ORIGIN, API_ORIGIN, "http://localhost:3000", "http://127.0.0.1:5555"]
FORBIDDEN_ORIGINS = [
    SESSION_ORIGIN,
    "http://S-ABCDEFGH.medforge.localhost:8080",
    "https://evil.example",
    "null",
    "http://medforge.localhost.evil.com",
    "http://medforge.localhost.evil.com:8080",
    "http://evilmedforge.localhost:8080",
    "http://localhost.evil.com:3000",
]


@pytest.mark.parametrize("origin", ALLOWED_ORIGINS)
def test_origin_allowed(api, origin):
    ok(api.post("/api/v1/auth/logout", headers={"Origin": origin}))


def test_origin_absent_allowed(api, user):
    ok(api.patch("/api/v1/me", token=user.token, json={"display_name": "no-origin"}))


@pytest.mark.parametrize("origin", FORBIDDEN_ORIGINS)
def test_origin_forbidden(api, user, origin):
    problem(api.post("/api/v1/auth/logout", token=user.token, headers={"Origin": origin}), 403, "origin_not_allowed")
    ok(api.get("/api/v1/me", token=user.token))  # the refused logout did not revoke anything
    problem(api.patch("/api/v1/me", token=user.token, json={"display_name": "csrf"}, headers={"Origin": origin}),
            403, "origin_not_allowed")
    assert ok(api.get("/api/v1/me", token=user.token))["display_name"] != "csrf"
    problem(api.post("/api/v1/me/tokens", token=user.token, json={"name": "csrf"}, headers={"Origin": origin}),
            403, "origin_not_allowed")
    problem(api.post("/api/v1/auth/login", json={"email": user.email, "password": user.password},
                     headers={"Origin": origin}), 403, "origin_not_allowed")
    # safe methods are not origin-guarded
    ok(api.get("/api/v1/me", token=user.token, headers={"Origin": origin}))


@pytest.mark.parametrize("origin", [WEB_ORIGIN, API_ORIGIN])
def test_cors_allowed_origin(api, user, origin):
    r = api.get("/api/v1/me", token=user.token, headers={"Origin": origin})
    ok(r)
    assert r.headers.get("Access-Control-Allow-Origin") == origin
    assert r.headers.get("Access-Control-Allow-Credentials") == "true"


@pytest.mark.parametrize("origin", [SESSION_ORIGIN, "https://evil.example", "null"])
def test_cors_refused_origin(api, user, origin):
    r = api.get("/api/v1/me", token=user.token, headers={"Origin": origin})
    ok(r)
    assert "Access-Control-Allow-Origin" not in r.headers
    assert r.headers.get("Access-Control-Allow-Credentials") != "true"


def test_cors_preflight(api):
    r = api.options("/api/v1/me", headers={
        "Origin": WEB_ORIGIN,
        "Access-Control-Request-Method": "PATCH",
        "Access-Control-Request-Headers": "content-type",
    })
    assert r.status_code == 204, (r.status_code, r.text)
    assert r.headers.get("Access-Control-Allow-Origin") == WEB_ORIGIN
    assert r.headers.get("Access-Control-Allow-Credentials") == "true"
    methods = {m.strip().upper() for m in r.headers.get("Access-Control-Allow-Methods", "").split(",")}
    assert "PATCH" in methods, r.headers

    r = api.options("/api/v1/me", headers={"Origin": SESSION_ORIGIN, "Access-Control-Request-Method": "PATCH"})
    assert "Access-Control-Allow-Origin" not in r.headers, r.headers
    r = api.options("/api/v1/me", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "PATCH"})
    assert "Access-Control-Allow-Origin" not in r.headers, r.headers


# ------------------------------------------------------------------------------------------
# metrics
# ------------------------------------------------------------------------------------------


def test_metrics_from_loopback(api):
    api.get("/healthz")
    r = api.get("/metrics")
    assert r.status_code == 200, r.text
    assert r.headers.get("Content-Type", "").startswith("text/plain"), r.headers
    assert "medforge_http_requests_total" in r.text
    assert re.search(r"^# TYPE medforge_http_requests_total counter$", r.text, re.M), r.text[:2000]


def _requests_total(text: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith("medforge_http_requests_total"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_metrics_count_requests(api):
    before = _requests_total(api.get("/metrics").text)
    for _ in range(5):
        api.get("/api/v1/me")
    after = _requests_total(api.get("/metrics").text)
    assert after - before >= 5, (before, after)


def test_metrics_forbidden_outside_allow_list(server_factory):
    srv = server_factory.start(env={"METRICS_ALLOW": "10.0.0.0/8"})
    problem(srv.api.get("/metrics"), 403, "metrics_forbidden")
    assert srv.api.get("/healthz").status_code == 200


# ------------------------------------------------------------------------------------------
# OpenAPI
# ------------------------------------------------------------------------------------------


def openapi_operations(doc: dict) -> set[tuple[str, str]]:
    ops = set()
    for path, item in doc["paths"].items():
        norm = re.sub(r"\{[^}]+\}", "{id}", path)
        for method in item:
            if method.lower() in {"get", "put", "post", "delete", "patch", "head", "options", "trace"}:
                ops.add((method.upper(), norm))
    return ops


def test_openapi_document(api):
    r = api.get("/api/v1/openapi.json")
    assert r.status_code == 200
    assert r.headers.get("Content-Type", "").split(";")[0] == "application/json"
    doc = r.json()
    doc = doc.get("data", doc) if "openapi" not in doc else doc
    assert doc["openapi"] == "3.1.0"
    assert isinstance(doc.get("info", {}).get("title"), str)
    ops = openapi_operations(doc)
    missing = set(ROUTES) - ops
    assert not missing, f"OpenAPI lacks {sorted(missing)}"


# ------------------------------------------------------------------------------------------
# connection handling
# ------------------------------------------------------------------------------------------


def test_keep_alive_reuses_connection(server):
    with RawConn(server.port) as c:
        for i in range(3):
            c.send(f"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: ka-{i}\r\n\r\n".encode())
            resp = c.read_response()
            assert resp.status == 200
            assert resp.header("X-Request-Id") == f"ka-{i}"


def test_pipelined_requests_answered_in_order(server):
    with RawConn(server.port) as c:
        c.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: first\r\n\r\n"
               b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: second\r\n\r\n")
        r1 = c.read_response()
        r2 = c.read_response()
    assert (r1.status, r1.header("X-Request-Id")) == (200, "first")
    assert (r2.status, r2.header("X-Request-Id")) == (200, "second")


@pytest.mark.parametrize("garbage", [
    b"THIS IS NOT HTTP\r\n\r\n",
    b"GET\r\n\r\n",
    b"\x00\x01\x02\x03\r\n\r\n",
    b"GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nBad Header Without Colon\r\n\r\n",
])
def test_garbage_request_gets_400_and_close(server, garbage):
    with RawConn(server.port) as c:
        c.send(garbage)
        resp = c.read_response()
        assert resp.status == 400, (resp.status, resp.body)
        assert c.wait_closed(5), "connection left open after a malformed request"
    assert server.api.get("/healthz").status_code == 200


def test_idle_connections_do_not_block_new_requests(server):
    socks = []
    try:
        for _ in range(200):
            socks.append(socket.create_connection(("127.0.0.1", server.port), timeout=5))
        t0 = time.monotonic()
        r = requests.get(server.base_url + "/healthz", timeout=5)
        assert r.status_code == 200
        assert time.monotonic() - t0 < 2.0
        # half-sent requests on a few of them do not block either
        for s in socks[:20]:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        t0 = time.monotonic()
        assert requests.get(server.base_url + "/healthz", timeout=5).status_code == 200
        assert time.monotonic() - t0 < 2.0
    finally:
        for s in socks:
            s.close()


def test_sigterm_exits_zero_and_closes_keepalive(server_factory):
    srv = server_factory.start()
    with RawConn(srv.port) as c:
        c.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert c.read_response().status == 200
        t0 = time.monotonic()
        rc = srv.stop()
        assert rc == 0, srv.output_tail()
        assert c.wait_closed(max(0.5, scaled(15) - (time.monotonic() - t0))), "keep-alive connection not closed"
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", srv.port), timeout=2).close()


# ------------------------------------------------------------------------------------------
# logs
# ------------------------------------------------------------------------------------------


def test_request_log_line(server, api):
    rid = "logtest-" + uuid.uuid4().hex
    api.get("/healthz", headers={"X-Request-Id": rid})

    def find():
        return [rec for rec in server.log_records() if rec.get("request_id") == rid]

    recs = wait_until(find, scaled(5), message="a log line carrying the request id")
    assert all("event" in rec for rec in recs), recs


def test_logs_are_json_and_never_contain_secrets(server_factory):
    srv = server_factory.start()
    api = srv.api
    password = "Secret-Pass-Do-Not-Log-1"
    new_password = "Other-Secret-Never-Logged-2"
    email = unique_email("logs")
    r = api.post("/api/v1/auth/signup", json={"email": email, "password": password})
    t1 = session_cookie_value(r)
    t2 = api.login(email, password).token
    api.post("/api/v1/auth/login", json={"email": email, "password": password + "x"})
    pat = api.post("/api/v1/me/tokens", token=t1, json={"name": "ci"}).json()["data"]["token"]
    api.get("/api/v1/me", bearer=pat)
    api.patch("/api/v1/me", token=t1, json={"current_password": password, "new_password": new_password})
    api.get("/api/v1/me", token=t2)
    api.post("/api/v1/auth/logout", token=t1)
    assert srv.stop() == 0

    out = srv.stdout_text()
    everything = out + srv.stderr_text()
    for secret in (password, new_password, t1, t2, pat):
        assert secret not in everything, f"log leaks a secret: {secret[:6]}…"
    lines = [ln for ln in out.splitlines() if ln.strip()]
    assert lines, "no log output on stdout"
    for ln in lines:
        rec = json.loads(ln)
        assert isinstance(rec, dict) and isinstance(rec.get("event"), str), ln
    assert any("request_id" in json.loads(ln) for ln in lines)
