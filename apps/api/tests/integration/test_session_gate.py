"""The proxy gate (`GET /api/v1/auth/session-proxy`, Caddy's forward_auth): host grammar first,
then the cookie, then a running session with that slug, then ownership (or admin). 200 always
carries both X-Medforge-Upstream and X-Medforge-User, from the database, never from the request."""
import pytest

from conftest import problem, ok, wait_until, scaled
from session_support import create, gate, login_admin, session_host, start_session_server, wait_status


@pytest.fixture(scope="module")
def gate_env(module_factory):
    srv = start_session_server(module_factory)
    api = srv.api
    owner, other = api.signup(), api.signup()
    s = ok(create(api, owner), 201)["session"]
    return srv, owner, other, s


def test_owner_admin_other_anonymous(gate_env):
    srv, owner, other, s = gate_env
    api = srv.api
    host = session_host(s["slug"])
    r = gate(api, owner.token, host)
    assert r.status_code == 200
    up = r.headers["X-Medforge-Upstream"]
    assert up and r.headers["X-Medforge-User"] == owner.user_id
    admin = login_admin(srv)
    r = gate(api, admin.token, host)
    assert r.status_code == 200 and r.headers["X-Medforge-Upstream"] == up
    assert r.headers["X-Medforge-User"] == admin.user_id
    problem(gate(api, other.token, host), 403, "session_access_denied")
    problem(gate(api, None, host), 401)
    problem(gate(api, "not-a-real-token", host), 401)
    # a personal access token is not a browser cookie
    pat = api.create_pat(owner)["token"]
    r = api.get("/api/v1/auth/session-proxy", bearer=pat, headers={"Host": host})
    assert r.status_code == 401


@pytest.mark.parametrize("variant", [
    lambda h: h.upper(),
    lambda h: h + ".",
    lambda h: h + ":8080",
    lambda h: h.upper() + ".:443",
])
def test_host_normalisation_accepts(gate_env, variant):
    srv, owner, _, s = gate_env
    assert gate(srv.api, owner.token, variant(session_host(s["slug"]))).status_code == 200


@pytest.mark.parametrize("host", [
    "medforge.localhost",
    "api.medforge.localhost",
    "s-abcdefgh.medforge.example.com",
    "x.s-{slug}.medforge.localhost",
    "s-{slug}.x.medforge.localhost",
    "s-{slug}.medforge.localhost.evil.com",
    "s-{slug}x.medforge.localhost",
    "s-abc.medforge.localhost",
    "s-abcdefg1.medforge.localhost",
    "s-abcdefg8.medforge.localhost",
    "s-{slug}.medforge.localhost..",
    "s-{slug}.medforge.localhost:abc",
    "s_{slug}.medforge.localhost",
    "",
])
def test_bad_or_tricky_hosts_are_404(gate_env, host):
    srv, owner, _, s = gate_env
    problem(gate(srv.api, owner.token, host.format(slug=s["slug"])), 404, "session_host_not_found")


def test_unknown_slug_and_host_check_before_auth(gate_env):
    srv, owner, _, _ = gate_env
    problem(gate(srv.api, owner.token, session_host("zzzzzzzz")), 404, "session_not_found")
    # a non-session host is 404 even without a cookie (host is checked first)
    problem(gate(srv.api, None, "evil.example.com"), 404, "session_host_not_found")


def test_spoofed_headers_are_ignored(gate_env):
    srv, owner, other, s = gate_env
    host = session_host(s["slug"])
    real = gate(srv.api, owner.token, host).headers["X-Medforge-Upstream"]
    r = gate(srv.api, owner.token, host, headers={"X-Medforge-Upstream": "10.9.9.9:22",
                                                   "X-Medforge-User": other.user_id,
                                                   "X-User-Id": other.user_id,
                                                   "X-Forwarded-Host": "s-zzzzzzzz.medforge.localhost"})
    assert r.status_code == 200
    assert r.headers["X-Medforge-Upstream"] == real
    assert r.headers["X-Medforge-User"] == owner.user_id
    problem(gate(srv.api, other.token, host, headers={"X-Medforge-User": owner.user_id}), 403)


def test_stopped_session_is_404_within_the_cache_window(module_factory):
    srv = start_session_server(module_factory)
    u = srv.api.signup()
    s = ok(create(srv.api, u), 201)["session"]
    host = session_host(s["slug"])
    assert gate(srv.api, u.token, host).status_code == 200
    srv.api.post(f"/api/v1/sessions/{s['id']}/stop", token=u.token)
    # the stop request clears this process's cache entry at once
    problem(gate(srv.api, u.token, host), 404, "session_not_found")
    wait_status(srv.api, u, s["id"], "stopped")
    problem(gate(srv.api, u.token, host), 404, "session_not_found")


def test_session_stopped_behind_the_cache_goes_404_within_seconds(module_factory):
    srv = start_session_server(module_factory)
    u = srv.api.signup()
    s = ok(create(srv.api, u), 201)["session"]
    host = session_host(s["slug"])
    assert gate(srv.api, u.token, host).status_code == 200
    # another process (simulated by a direct write) ended the session
    srv.db.execute(f"UPDATE sessions SET status = 'stopped', active_gpu_id = NULL WHERE id = '{s['id']}'")
    assert wait_until(lambda: gate(srv.api, u.token, host).status_code == 404, scaled(4), 0.2)
