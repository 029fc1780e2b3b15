"""The edge through the real Caddy with infra/caddy/Caddyfile (local mode: DOMAIN=localhost,
plain HTTP on a free port) in front of the real API with the `process` runtime and the stand-in
IDE (fake_ide.py, which reports the request it received at `/__echo…` and echoes websocket
frames at `/__ws`). Covers the three host kinds, every step of the session gate chain, the
login cookie never reaching a session, websockets, the API's origin guard and X-Forwarded-For
through Caddy. docs/edge.md describes what is tested here.

Stand-ins (test doubles): a tiny HTTP server as the web upstream (apps/web is routed, not tested,
here), a "spoof target" that must never be reached, and, for the fail-closed step only, a fake
gate that answers 200 without a usable X-Medforge-Upstream (the real API always sends one).
"""
from __future__ import annotations

import base64
import http.client
import json
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from conftest import (COOKIE_NAME, REPO_ROOT, Api, base_env, check_problem_body, free_port, ok,
                      problem, scaled, wait_until)
from session_support import create, login_admin, start_session_server, wait_status

CADDYFILE = REPO_ROOT / "infra" / "caddy" / "Caddyfile"


def caddy_bin() -> str:
    path = shutil.which("caddy")
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("caddy is missing: scripts/setup-deps.sh installs it")
        pytest.skip("caddy is not installed (apt-get install caddy)")
    return path


# --------------------------------------------------------------------------------------------
# Caddy and the stand-in servers
# --------------------------------------------------------------------------------------------


class Caddy:
    """`caddy run` with the project's Caddyfile on a free loopback port, state in a temp dir."""

    def __init__(self, workdir: pathlib.Path, api_upstream: str, web_upstream: str, name: str = "caddy"):
        self.port = free_port()
        self.workdir = workdir
        self.log_path = workdir / f"{name}.log"
        self.env = base_env()
        self.env.update({
            "DOMAIN": "localhost", "PUBLIC_SCHEME": "http", "MEDFORGE_HTTP_PORT": str(self.port),
            "API_UPSTREAM": api_upstream, "WEB_UPSTREAM": web_upstream,
            # Caddy keeps its state under HOME/XDG dirs: keep it in the test's temp dir
            "HOME": str(workdir), "XDG_DATA_HOME": str(workdir / "data"),
            "XDG_CONFIG_HOME": str(workdir / "config"),
        })
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Caddy":
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([caddy_bin(), "run", "--config", str(CADDYFILE), "--adapter", "caddyfile"],
                                     env=self.env, cwd=str(self.workdir), stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=subprocess.STDOUT)

        probe = requests.Session()
        probe.trust_env = False

        def up():
            if self.proc.poll() is not None:
                pytest.fail(f"caddy exited with {self.proc.returncode}:\n{self.log_path.read_text()[-3000:]}")
            try:
                return probe.get(f"http://127.0.0.1:{self.port}/", headers={"Host": "nothing.example"},
                                 timeout=1).status_code == 404
            except requests.RequestException:
                return False

        wait_until(up, scaled(15), 0.05, message="caddy listening")
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if getattr(self, "_log", None) is not None:
            self._log.close()

    def host(self, name: str) -> str:
        return f"{name}.localhost:{self.port}"

    def api(self) -> Api:
        return Api(f"http://127.0.0.1:{self.port}")


class Recorder:
    """A small HTTP server in a thread that records every request and answers with `answer`."""

    def __init__(self, answer):
        self.requests: list[dict] = []
        rec = self

        class Handler(BaseHTTPRequestHandler):
            def handle_any(self):
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                seen = {"method": self.command, "path": self.path, "headers": dict(self.headers.items())}
                rec.requests.append(seen)
                status, headers, body = answer(seen)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_HEAD = handle_any  # noqa: N815

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def web_stand_in_answer(seen):
    body = json.dumps({"web_stand_in": True, "path": seen["path"], "host": seen["headers"].get("Host")}).encode()
    return 200, {"Content-Type": "application/json"}, body


@pytest.fixture(scope="module")
def edge(module_factory, tmp_path_factory):
    srv = start_session_server(module_factory)
    web = Recorder(web_stand_in_answer)
    spoof = Recorder(lambda seen: (200, {"Content-Type": "text/plain"}, b"spoof target reached\n"))
    caddy = Caddy(tmp_path_factory.mktemp("caddy"), srv.base_url.removeprefix("http://"), web.address)
    try:
        caddy.start()
        api = srv.api
        owner, other = api.signup(), api.signup()
        s = ok(create(api, owner), 201)["session"]
        yield {"srv": srv, "caddy": caddy, "web": web, "spoof": spoof, "owner": owner, "other": other,
               "session": s, "via": caddy.api()}
    finally:
        caddy.stop()
        web.close()
        spoof.close()


def session_host(edge, slug: str | None = None) -> str:
    return edge["caddy"].host(f"s-{slug or edge['session']['slug']}.medforge")


def get_session_path(edge, path, cookie: str | None = None, host: str | None = None, headers=None, **kw):
    h = {"Host": host or session_host(edge)}
    if cookie is not None:
        h["Cookie"] = cookie
    h.update(headers or {})
    return edge["via"].request(kw.pop("method", "GET"), path, headers=h, **kw)


def echo(edge, cookie: str | None = None, **kw) -> dict:
    r = get_session_path(edge, "/__echo/probe?x=1", cookie=cookie, **kw)
    assert r.status_code == 200, r.text
    return r.json()


def header_values(seen: dict, name: str) -> list[str]:
    return [v for k, v in seen["headers"] if k.lower() == name.lower()]


def gate_problem(resp, status: int, code: str) -> dict:
    """A gate answer passed through by forward_auth: the API's problem body, as it was."""
    assert resp.status_code == status, f"expected {status} {code}, got {resp.status_code}: {resp.text[:500]}"
    assert resp.headers["Content-Type"].startswith("application/problem+json"), resp.headers
    body = resp.json()
    check_problem_body(body, status, code)
    assert body["instance"] == "/api/v1/auth/session-proxy"
    return body


def login_cookie(user) -> str:
    return f"{COOKIE_NAME}={user.token}"


# --------------------------------------------------------------------------------------------
# Session hosts: the gate chain
# --------------------------------------------------------------------------------------------


def test_owner_reaches_the_ide_with_host_and_client_address(edge):
    owner, s = edge["owner"], edge["session"]
    r = get_session_path(edge, "/", login_cookie(owner))
    assert r.status_code == 200 and r.text.startswith("fake ide for "), r.text
    assert r.text.strip().endswith(s["workspace"])
    seen = echo(edge, login_cookie(owner))
    assert seen["method"] == "GET" and seen["path"] == "/__echo/probe?x=1"
    assert header_values(seen, "Host") == [session_host(edge)]  # Host preserved
    assert header_values(seen, "X-Forwarded-For") == ["127.0.0.1"]
    assert header_values(seen, "X-Medforge-User") == [owner.user_id]


def test_admin_reaches_the_ide(edge):
    admin = login_admin(edge["srv"])
    seen = echo(edge, login_cookie(admin))
    assert header_values(seen, "X-Medforge-User") == [admin.user_id]


def test_other_user_logged_out_and_bad_token(edge):
    gate_problem(get_session_path(edge, "/", login_cookie(edge["other"])), 403, "session_access_denied")
    gate_problem(get_session_path(edge, "/"), 401, "authentication_required")
    gate_problem(get_session_path(edge, "/", f"{COOKIE_NAME}=not-a-real-token"), 401, "authentication_required")
    # a personal access token does not open an IDE
    pat = edge["srv"].api.create_pat(edge["owner"])["token"]
    r = get_session_path(edge, "/", headers={"Authorization": f"Bearer {pat}"})
    assert r.status_code == 401


def test_stopped_session_is_404(edge):
    srv = edge["srv"]
    u = srv.api.signup()
    s = ok(create(srv.api, u), 201)["session"]
    assert get_session_path(edge, "/", login_cookie(u), host=session_host(edge, s["slug"])).status_code == 200
    srv.api.post(f"/api/v1/sessions/{s['id']}/stop", token=u.token)
    wait_status(srv.api, u, s["id"], "stopped")
    gate_problem(get_session_path(edge, "/", login_cookie(u), host=session_host(edge, s["slug"])), 404,
                 "session_not_found")


@pytest.mark.parametrize("name, answer", [
    ("s-zzzzzzzz.medforge", "session_not_found"),        # a well-formed slug nobody has
    ("s-abc.medforge", "session_host_not_found"),        # bad slug grammar: the API says so
    ("s-abcdefg1.medforge", "caddy"),                    # not base32: Caddy already refuses it
    ("x.medforge", "caddy"),                             # not s-…: Caddy's own 404
    ("www.medforge", "caddy"),
    ("s-{slug}.x.medforge", "caddy"),                    # extra label: no site matches
    ("s-{slug}.medforge.example", "caddy"),              # another domain: only the catch-all site
])
def test_unknown_slug_and_bad_hosts_are_404(edge, name, answer):
    host = edge["caddy"].host(name.format(slug=edge["session"]["slug"]))
    r = get_session_path(edge, "/", login_cookie(edge["owner"]), host=host)
    if answer == "caddy":
        assert r.status_code == 404 and r.text == "Not Found", (host, r.status_code, r.text)
    else:
        gate_problem(r, 404, answer)


@pytest.mark.parametrize("path", ["/api/v1/auth/session-proxy", "/api/v1/auth/session-proxy?x=1",
                                  "/API/v1/auth/Session-Proxy", "/api/v1/auth/session-proxy/extra"])
def test_gate_path_on_a_session_host_is_403(edge, path):
    r = get_session_path(edge, path, login_cookie(edge["owner"]))
    assert r.status_code == 403 and r.text == "Forbidden", (path, r.status_code, r.text)
    assert "X-Medforge-Upstream" not in r.headers


def test_spoofed_upstream_and_user_headers_have_no_effect(edge):
    owner, other, spoof = edge["owner"], edge["other"], edge["spoof"]
    before = len(spoof.requests)
    spoofed = {"X-Medforge-Upstream": spoof.address, "X-Medforge-User": other.user_id}
    seen = echo(edge, login_cookie(owner), headers=spoofed)
    assert header_values(seen, "X-Medforge-User") == [owner.user_id]
    upstream = header_values(seen, "X-Medforge-Upstream")
    assert len(upstream) == 1 and upstream[0] != spoof.address
    assert seen["workspace"].endswith(edge["session"]["workspace"])  # the owner's own IDE answered
    # without a login, or as another user, the spoofed upstream is not reached either
    gate_problem(get_session_path(edge, "/", headers=spoofed), 401, "authentication_required")
    gate_problem(get_session_path(edge, "/", login_cookie(other), headers=spoofed), 403, "session_access_denied")
    assert len(spoof.requests) == before, spoof.requests[before:]


@pytest.mark.parametrize("before, after", [
    ("{login}", ""),
    ("{login}; a=1", "a=1"),
    ("a=1; {login}", "a=1"),
    ("a=1; {login}; b=2", "a=1; b=2"),
    ("a=1;{login};b=2", "a=1;b=2"),
    # cookies whose names merely contain the login cookie's name stay
    ("x{name}=k1; {login}; {name}_2=k2", "x{name}=k1; {name}_2=k2"),
])
def test_login_cookie_never_reaches_the_session(edge, before, after):
    """Wherever the login cookie stands, the session gets the other cookies, unchanged, and
    never the token (the only-cookie case leaves an empty Cookie header)."""
    login, token = login_cookie(edge["owner"]), edge["owner"].token
    seen = echo(edge, before.format(login=login, name=COOKIE_NAME))
    assert header_values(seen, "Cookie") == [after.format(name=COOKIE_NAME)], seen["headers"]
    assert token not in json.dumps(seen["headers"]), seen["headers"]


def test_login_cookie_removed_from_every_cookie_header(edge):
    """HTTP/1.1 clients may send several Cookie lines; each one is cleaned."""
    owner = edge["owner"]
    c = http.client.HTTPConnection("127.0.0.1", edge["caddy"].port, timeout=10)
    c.putrequest("GET", "/__echo/multi", skip_host=True)
    c.putheader("Host", session_host(edge))
    c.putheader("Cookie", "a=1")
    c.putheader("Cookie", login_cookie(owner))
    c.putheader("Cookie", "b=2")
    c.endheaders()
    r = c.getresponse()
    body = r.read()
    c.close()
    assert r.status == 200, body
    seen = json.loads(body)
    cookies = header_values(seen, "Cookie")
    assert owner.token not in json.dumps(seen["headers"]), cookies
    assert "a=1" in cookies and "b=2" in cookies, cookies


def test_request_body_reaches_the_ide(edge):
    """forward_auth asks with GET; the original method and body still reach the session."""
    payload = "x" * 5000 + "\nend"
    r = get_session_path(edge, "/__echo/upload", login_cookie(edge["owner"]), method="POST", data=payload,
                         headers={"Content-Type": "text/plain"})
    assert r.status_code == 200, r.text
    seen = r.json()
    assert seen["method"] == "POST" and seen["body"] == payload


def ws_handshake(port: int, host: str, cookie: str | None) -> tuple[socket.socket, bytes, bytes]:
    key = base64.b64encode(os.urandom(16)).decode()
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    lines = [f"GET /__ws HTTP/1.1", f"Host: {host}", "Upgrade: websocket", "Connection: Upgrade",
             f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13", f"Origin: http://{host}"]
    if cookie:
        lines.append(f"Cookie: {cookie}")
    s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            break
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    return s, head, rest


def test_websocket_passes_through_the_gate(edge):
    host = session_host(edge)
    s, head, rest = ws_handshake(edge["caddy"].port, host, login_cookie(edge["owner"]))
    try:
        assert head.split(b"\r\n")[0].split(b" ")[1] == b"101", head
        msg = b"hello through caddy"
        mask = os.urandom(4)
        s.sendall(bytes([0x81, 0x80 | len(msg)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(msg)))
        want = bytes([0x81, len(msg)]) + msg
        buf = rest
        while len(buf) < len(want):
            chunk = s.recv(4096)
            assert chunk, "connection closed before the echo"
            buf += chunk
        assert buf == want
    finally:
        s.close()
    # no login: the upgrade is refused by the gate
    s, head, _ = ws_handshake(edge["caddy"].port, host, None)
    s.close()
    assert head.split(b"\r\n")[0].split(b" ")[1] == b"401", head


# --------------------------------------------------------------------------------------------
# Web and API hosts; the API behind Caddy
# --------------------------------------------------------------------------------------------


def test_web_host_api_paths_reach_the_api_the_rest_the_web(edge):
    via, web, caddy = edge["via"], edge["web"], edge["caddy"]
    host = caddy.host("medforge")
    r = via.get("/api/v1/competitions", headers={"Host": host})
    data = ok(r)
    assert isinstance(data, list) and r.headers.get("X-Request-Id")
    me = ok(via.get("/api/v1/me", token=edge["owner"].token, headers={"Host": host}))
    assert me["user_id"] == edge["owner"].user_id
    problem(via.get("/api/v1/no-such-route", headers={"Host": host}), 404, "route_not_found")
    before = len(web.requests)
    for path in ("/", "/competitions/titanic-survival?tab=1", "/_next/static/x.js", "/apifoo"):
        r = via.get(path, headers={"Host": host})
        assert r.status_code == 200 and r.json() == {"web_stand_in": True, "path": path, "host": host}, (path, r.text)
    assert len(web.requests) == before + 4
    assert not any(rq["path"].startswith("/api/") for rq in web.requests)


def test_api_host_reaches_the_api(edge):
    via, caddy = edge["via"], edge["caddy"]
    host = caddy.host("api.medforge")
    assert via.get("/healthz", headers={"Host": host}).json()["status"] == "ok"
    me = ok(via.get("/api/v1/me", token=edge["owner"].token, headers={"Host": host}))
    assert me["user_id"] == edge["owner"].user_id
    before = len(edge["web"].requests)
    assert via.get("/", headers={"Host": host}).status_code == 404  # the API's own 404, not the web
    assert len(edge["web"].requests) == before


@pytest.mark.parametrize("name", ["medforge", "api.medforge"])
def test_state_changing_call_from_a_session_origin_is_refused(edge, name):
    via, caddy, srv = edge["via"], edge["caddy"], edge["srv"]
    u = srv.api.signup()
    host = caddy.host(name)
    session_origin = f"http://{session_host(edge)}"
    r = via.post("/api/v1/sessions", token=u.token, json={},
                 headers={"Host": host, "Origin": session_origin})
    problem(r, 403, "origin_not_allowed")
    problem(via.post("/api/v1/auth/logout", token=u.token, headers={"Host": host, "Origin": session_origin}),
            403, "origin_not_allowed")
    assert ok(srv.api.get("/api/v1/me", token=u.token))["user_id"] == u.user_id  # still logged in
    # the same call from the web origin is allowed
    r = via.post("/api/v1/auth/logout", token=u.token,
                 headers={"Host": host, "Origin": f"http://{caddy.host('medforge')}"})
    assert r.status_code in (200, 204), r.text
    assert srv.api.get("/api/v1/me", token=u.token).status_code == 401


def test_api_sees_the_client_address_not_a_spoofed_one(edge):
    """Caddy sets X-Forwarded-For from the real peer (ignoring the client's), and the API trusts
    Caddy (TRUSTED_PROXIES covers 127.0.0.1): a request from 127.0.0.2 is logged as 127.0.0.2."""
    srv, caddy = edge["srv"], edge["caddy"]
    ids = []
    for host in (caddy.host("api.medforge"), caddy.host("medforge"), session_host(edge)):
        c = http.client.HTTPConnection("127.0.0.1", caddy.port, timeout=10, source_address=("127.0.0.2", 0))
        path = "/__echo/xff" if host.startswith("s-") else "/api/v1/me"
        c.request("GET", path, headers={"Host": host, "X-Forwarded-For": "203.0.113.9",
                                         "Cookie": login_cookie(edge["owner"])})
        r = c.getresponse()
        body = r.read()
        c.close()
        assert r.status == 200, body
        if host.startswith("s-"):
            assert header_values(json.loads(body), "X-Forwarded-For") == ["127.0.0.2"]
        else:
            ids.append(r.getheader("X-Request-Id"))

    def logged():  # log lines are flushed within a second
        recs = {rec.get("request_id"): rec for rec in srv.log_records() if rec.get("event") == "http.request"}
        gate_seen = any(rec.get("route") == "/api/v1/auth/session-proxy" and rec.get("client") == "127.0.0.2"
                        for rec in recs.values())
        return all(i in recs for i in ids) and gate_seen and [recs[i] for i in ids]

    recs = wait_until(logged, scaled(5), 0.1,
                      message="request log lines, and the gate's, with the client's address")
    assert [rec["client"] for rec in recs] == ["127.0.0.2", "127.0.0.2"], recs


# --------------------------------------------------------------------------------------------
# Fail closed: a gate answer without a usable upstream (fault injection)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("upstream_header", [None, "", "   ", "not-a-host-port"])
def test_missing_or_empty_upstream_is_502(tmp_path, edge, upstream_header):
    """A fake gate answering 200 without a usable X-Medforge-Upstream: Caddy answers 502 and
    reaches nothing, even when the client names an upstream itself."""
    spoof = edge["spoof"]

    def fake_gate(seen):
        headers = {"X-Medforge-User": "someone"}
        if upstream_header is not None:
            headers["X-Medforge-Upstream"] = upstream_header
        return 200, headers, b""

    gate = Recorder(fake_gate)
    caddy = Caddy(tmp_path, gate.address, edge["web"].address, name="caddy-fault")
    try:
        caddy.start()
        before = len(spoof.requests)
        r = caddy.api().get("/", headers={"Host": caddy.host("s-abcdefgh.medforge"),
                                          "X-Medforge-Upstream": spoof.address})
        assert r.status_code == 502 and r.text == "Bad Gateway", (r.status_code, r.text)
        assert len(spoof.requests) == before
        assert gate.requests and gate.requests[-1]["path"] == "/api/v1/auth/session-proxy"
        # the gate saw the original host, and not the client's upstream header
        assert gate.requests[-1]["headers"]["Host"] == caddy.host("s-abcdefgh.medforge")
        assert "X-Medforge-Upstream" not in gate.requests[-1]["headers"]
    finally:
        caddy.stop()
        gate.close()


# --------------------------------------------------------------------------------------------
# The configuration itself
# --------------------------------------------------------------------------------------------


def adapt(env: dict[str, str], caddyfile: pathlib.Path = CADDYFILE) -> dict:
    e = base_env()
    e.update(env)
    res = subprocess.run([caddy_bin(), "adapt", "--config", str(caddyfile), "--adapter", "caddyfile"],
                         env=e, capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def test_local_mode_is_plain_http_on_loopback():
    cfg = adapt({"DOMAIN": "localhost", "PUBLIC_SCHEME": "http"})
    (server,) = cfg["apps"]["http"]["servers"].values()
    assert server["listen"] == ["127.0.0.1:8080"]
    assert "tls" not in cfg["apps"] and cfg["admin"] == {"disabled": True}
    hosts = [m["host"] for r in server["routes"] for m in r.get("match", [])]
    assert hosts == [["medforge.localhost"], ["*.medforge.localhost"]]


def test_production_mode_wildcard_certificate_and_http3(tmp_path):
    """Production needs the Cloudflare DNS plugin, which Debian's Caddy lacks: everything else
    in https.caddy is checked here with the acme_dns line left out."""
    src = (CADDYFILE.parent / "https.caddy").read_text()
    assert re.search(r"^\s*acme_dns cloudflare \{env\.CLOUDFLARE_API_TOKEN\}$", src, re.M)
    (tmp_path / "https.caddy").write_text(re.sub(r"^\s*acme_dns .*$", "", src, flags=re.M))
    shutil.copy(CADDYFILE, tmp_path / "Caddyfile")
    cfg = adapt({"DOMAIN": "example.org", "PUBLIC_SCHEME": "https", "ACME_EMAIL": "ops@example.org"},
                tmp_path / "Caddyfile")
    (server,) = cfg["apps"]["http"]["servers"].values()
    assert server["listen"] == [":443"]
    assert server.get("protocols") == ["h1", "h2", "h3"]
    hosts = [m["host"] for r in server["routes"] for m in r.get("match", [])]
    assert hosts == [["medforge.example.org"], ["*.medforge.example.org"]]
    assert cfg["apps"]["http"]["http_port"] == 80
    # certificates for exactly two names: the wildcard covers api. and every s-<slug>.
    (policy,) = cfg["apps"]["tls"]["automation"]["policies"]
    assert policy["subjects"] == ["medforge.example.org", "*.medforge.example.org"]
    assert {i["email"] for i in policy["issuers"]} == {"ops@example.org"}


# --------------------------------------------------------------------------------------------
# The real code-server behind the gate (skipped where it is not installed; required in CI)
# --------------------------------------------------------------------------------------------


def test_code_server_through_caddy(server_factory, tmp_path):
    from test_sessions_code_server import code_server_bin

    cs = code_server_bin()
    sandbox = "bwrap" if shutil.which("bwrap") else "none"
    srv = start_session_server(
        server_factory,
        SESSION_PROCESS_COMMAND=f"{cs} --auth none --bind-addr 127.0.0.1:{{port}} --disable-telemetry {{workspace}}",
        SESSION_PROCESS_SANDBOX=sandbox, SESSION_CONTAINER_START_TIMEOUT_SECONDS="30",
        SESSION_CONTAINER_STOP_TIMEOUT_SECONDS="5")
    web = Recorder(web_stand_in_answer)
    caddy = Caddy(tmp_path, srv.base_url.removeprefix("http://"), web.address)
    try:
        caddy.start()
        u = srv.api.signup()
        s = ok(create(srv.api, u), 201)["session"]
        host = caddy.host(f"s-{s['slug']}.medforge")
        assert s["url"] == f"http://s-{s['slug']}.medforge.localhost:8080/"
        via = caddy.api()
        r = via.get("/", token=u.token, headers={"Host": host})
        assert r.status_code == 302 and r.headers["Location"].startswith("./?folder="), r.headers
        page = via.get("/" + r.headers["Location"].removeprefix("./"), token=u.token, headers={"Host": host})
        assert page.status_code == 200 and "code-server" in page.text.lower(), page.text[:300]
        asset = via.get("/_static/src/browser/media/favicon-dark-support.svg", token=u.token, headers={"Host": host})
        assert asset.status_code == 200 and asset.headers["Content-Type"] == "image/svg+xml"
        assert via.get("/", headers={"Host": host}).status_code == 401
        # VS Code's websocket (code-server checks that Origin matches the preserved Host)
        key = base64.b64encode(os.urandom(16)).decode()
        for cookie, status in ((login_cookie(u), b"101"), (None, b"401")):
            sock = socket.create_connection(("127.0.0.1", caddy.port), timeout=10)
            req = (f"GET /?reconnectionToken=0b1c2d3e-4f50-4617-8899-aabbccddeeff&reconnection=false"
                   f"&skipWebSocketFrames=false HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
                   f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                   f"Origin: http://{host}\r\n" + (f"Cookie: {cookie}\r\n" if cookie else "") + "\r\n")
            sock.sendall(req.encode())
            head = b""
            while b"\r\n" not in head:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                head += chunk
            sock.close()
            assert head.split(b" ")[1] == status, (cookie is not None, head[:200])
    finally:
        caddy.stop()
        web.close()
