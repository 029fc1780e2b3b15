"""Several API processes on one database: shared auth state, revocation across processes, and a
concurrent first start (migration lock)."""

from __future__ import annotations

import time

from conftest import bearer_refused, ok, problem, run_threads, scaled, wait_until

ME = "/api/v1/me"
# Another process may serve a token from its cache for at most 5 s; allow scheduling/poll slack.
CACHE_BOUND_S = scaled(6.0)


def _pair(server_factory, admin=False):
    a = server_factory.start(name="A", admin=admin)
    b = server_factory.start(name="B", db=a.db)
    return a, b


def test_session_valid_on_both_processes(server_factory):
    a, b = _pair(server_factory)
    u = a.api.signup()
    assert ok(b.api.get(ME, token=u.token))["user_id"] == u.user_id
    # login on B, use on A
    t = b.api.relogin(u)
    assert ok(a.api.get(ME, token=t))["user_id"] == u.user_id


def test_logout_on_one_process_is_seen_by_the_other(server_factory):
    a, b = _pair(server_factory)
    u = a.api.signup()
    # warm both processes' caches with the token
    ok(a.api.get(ME, token=u.token))
    ok(b.api.get(ME, token=u.token))

    ok(a.api.post("/api/v1/auth/logout", token=u.token))
    t0 = time.monotonic()
    problem(a.api.get(ME, token=u.token), 401, "authentication_required")  # at once on A
    wait_until(lambda: b.api.get(ME, token=u.token).status_code == 401, scaled(8), 0.1,
               "process B to refuse the logged-out token")
    elapsed = time.monotonic() - t0
    assert elapsed <= CACHE_BOUND_S, f"B served a revoked token for {elapsed:.1f}s (> 5 s cache bound)"
    problem(b.api.get(ME, token=u.token), 401, "authentication_required")


def test_password_change_revokes_other_sessions_across_processes(server_factory):
    a, b = _pair(server_factory)
    u = a.api.signup()
    other = b.api.relogin(u)
    ok(b.api.get(ME, token=other))
    t0 = time.monotonic()
    ok(a.api.patch(ME, token=u.token, json={"current_password": u.password, "new_password": "changed-on-A-123"}))
    wait_until(lambda: b.api.get(ME, token=other).status_code == 401, scaled(8), 0.1,
               "process B to refuse the other session after a password change")
    assert time.monotonic() - t0 <= CACHE_BOUND_S
    ok(b.api.get(ME, token=u.token))  # the session that changed the password lives on


def test_token_revocation_across_processes(server_factory):
    a, b = _pair(server_factory)
    u = a.api.signup()
    pat = a.api.create_pat(u)
    ok(b.api.get(ME, bearer=pat["token"]))
    ok(a.api.delete(f"/api/v1/me/tokens/{pat['id']}", token=u.token))
    bearer_refused(a.api.get(ME, bearer=pat["token"]))
    t0 = time.monotonic()
    wait_until(lambda: b.api.get(ME, bearer=pat["token"]).status_code == 401, scaled(8), 0.1,
               "process B to refuse a deleted personal access token")
    assert time.monotonic() - t0 <= CACHE_BOUND_S


def test_signup_race_on_two_processes(server_factory):
    a, b = _pair(server_factory)
    email = "race@example.com"
    body = {"email": email, "password": "race-password-1"}
    results = run_threads([lambda: a.api.post("/api/v1/auth/signup", json=body),
                           lambda: b.api.post("/api/v1/auth/signup", json=body)] * 2)
    codes = sorted(r.status_code for r in results)
    assert codes == [201, 409, 409, 409], [(r.status_code, r.text) for r in results]
    for r in results:
        if r.status_code == 409:
            problem(r, 409, "email_taken")


def test_concurrent_first_start_on_fresh_database(server_factory):
    db = server_factory.new_db()
    servers = [server_factory.create(db=db, name=f"P{i}") for i in range(3)]
    for s in servers:
        s.spawn()
    for s in servers:
        s.wait_ready()
    versions = db.query("SELECT version FROM schema_migrations")
    assert len(versions) == len(set(versions)), f"a migration was recorded twice: {versions}"
    u = servers[0].api.signup()
    for s in servers:
        assert ok(s.api.get(ME, token=u.token))["user_id"] == u.user_id
