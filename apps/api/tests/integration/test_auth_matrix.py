"""Every route x {anonymous, user, other_user, admin} has an asserted expectation.

`test_matrix_covers_every_route` compares the table with the (method, path) pairs of the server's
own OpenAPI document (generated from its router), so a new route without a row fails the suite.
"""

from __future__ import annotations

import json
import pathlib
import re
import uuid
from dataclasses import dataclass
from typing import Callable

import pytest

from conftest import REPO_ROOT, Api, User, problem, unique_email

ANON, USER, OTHER, ADMIN = "anonymous", "user", "other_user", "admin"
PRINCIPALS = (ANON, USER, OTHER, ADMIN)


@dataclass
class Ctx:
    api: Api
    users: dict[str, User | None]

    def creds(self, who: str) -> dict:
        u = self.users[who]
        return {} if u is None else {"token": u.token}

    def fresh_creds(self, who: str) -> dict:
        """A disposable auth session for `who` (for calls that revoke it)."""
        u = self.users[who]
        return {} if u is None else {"token": self.api.relogin(u)}


@dataclass
class Row:
    expect: dict[str, int]
    call: Callable[[Ctx, str], object]
    codes: dict[int, str] | None = None  # expected problem code per error status


def _all(status: int) -> dict[str, int]:
    return {p: status for p in PRINCIPALS}


def _user_route(status: int) -> dict[str, int]:
    return {ANON: 401, USER: status, OTHER: status, ADMIN: status}


def _admin_route(status: int) -> dict[str, int]:
    return {ANON: 401, USER: 403, OTHER: 403, ADMIN: status}


def _delete_users_token(c: Ctx, who: str):
    pat = c.api.create_pat(c.users[USER], "matrix")  # always owned by USER
    return c.api.delete(f"/api/v1/me/tokens/{pat['id']}", **c.creds(who))


def _login(c: Ctx, who: str):
    # anonymous logs in with USER's credentials; the others with their own
    u = c.users[who] or c.users[USER]
    return c.api.post("/api/v1/auth/login", json={"email": u.email, "password": u.password}, **c.creds(who))


_SAMPLE = (pathlib.Path(__file__).resolve().parents[2] / "data" / "competitions" / "titanic-survival"
           / "sample_submission.csv").read_bytes()


def _upload(c: Ctx, who: str):
    return c.api.post("/api/v1/competitions/titanic-survival/submissions?filename=m.csv",
                      data=_SAMPLE, headers={"Content-Type": "text/csv"}, **c.creds(who))


def _users_submission(c: Ctx) -> str:
    """One submission owned by USER (made once per module)."""
    if not hasattr(c, "submission_id"):
        r = _upload(c, USER)
        assert r.status_code == 201, r.text
        c.submission_id = r.json()["data"]["submission"]["id"]
    return c.submission_id


def _create_competition(c: Ctx, who: str):
    # titanic's bundle under a fresh slug (the admin's call creates it)
    bundle = REPO_ROOT / "apps" / "api" / "data" / "competitions" / "titanic-survival"
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["slug"] = f"matrix-{uuid.uuid4().hex[:8]}"
    files = {"manifest": ("manifest.json", json.dumps(manifest).encode(), "application/json")}
    for field in ("holdout_labels", "test_ids", "sample_submission"):
        files[field] = (f"{field}.csv", (bundle / f"{field}.csv").read_bytes(), "text/csv")
    return c.api.post("/api/v1/admin/competitions", files=files, **c.creds(who))


_session_cache: dict[str, dict] = {}


def _session_user(c: Ctx) -> User:
    """USER, allowed 8 concurrent sessions (another row sets the cap back to 1)."""
    r = c.api.patch(f"/api/v1/admin/users/{c.users[USER].user_id}",
                    json={"max_concurrent_sessions": 8}, token=c.users[ADMIN].token)
    assert r.status_code == 200, r.text
    return c.users[USER]


def _new_session(c: Ctx) -> dict:
    u = _session_user(c)
    r = c.api.post("/api/v1/sessions", json={}, token=u.token)
    assert r.status_code == 201, r.text
    return r.json()["data"]["session"]


def _running_session(c: Ctx) -> dict:
    if "running" not in _session_cache:
        _session_cache["running"] = _new_session(c)
    return _session_cache["running"]


def _stopped_session(c: Ctx) -> dict:
    if "stopped" not in _session_cache:
        s = _new_session(c)
        u = c.users[USER]
        c.api.post(f"/api/v1/sessions/{s['id']}/stop", token=u.token)
        import time
        for _ in range(300):
            if c.api.get(f"/api/v1/sessions/{s['id']}", token=u.token).json()["data"]["status"] == "stopped":
                break
            time.sleep(0.1)
        _session_cache["stopped"] = s
    return _session_cache["stopped"]


def _gate(c: Ctx, who: str):
    s = _running_session(c)
    return c.api.get("/api/v1/auth/session-proxy", headers={"Host": f"s-{s['slug']}.medforge.localhost"},
                     **c.creds(who))


AUTH_CODES = {401: "authentication_required"}
ADMIN_CODES = {401: "authentication_required", 403: "admin_required"}

MATRIX: dict[tuple[str, str], Row] = {
    ("GET", "/healthz"): Row(_all(200), lambda c, w: c.api.get("/healthz", **c.creds(w))),
    ("GET", "/readyz"): Row(_all(200), lambda c, w: c.api.get("/readyz", **c.creds(w))),
    ("GET", "/metrics"): Row(_all(200), lambda c, w: c.api.get("/metrics", **c.creds(w))),
    ("GET", "/api/v1/openapi.json"): Row(_all(200), lambda c, w: c.api.get("/api/v1/openapi.json", **c.creds(w))),
    ("POST", "/api/v1/auth/signup"): Row(
        _all(201), lambda c, w: c.api.post("/api/v1/auth/signup", **c.creds(w),
                                           json={"email": unique_email("matrix"), "password": "matrix-password"})),
    ("POST", "/api/v1/auth/login"): Row(_all(200), _login),
    ("POST", "/api/v1/auth/logout"): Row(_all(200), lambda c, w: c.api.post("/api/v1/auth/logout", **c.fresh_creds(w))),
    ("GET", "/api/v1/me"): Row(_user_route(200), lambda c, w: c.api.get("/api/v1/me", **c.creds(w)), AUTH_CODES),
    ("PATCH", "/api/v1/me"): Row(
        _user_route(200), lambda c, w: c.api.patch("/api/v1/me", json={"display_name": "matrix"}, **c.creds(w)),
        AUTH_CODES),
    ("GET", "/api/v1/me/tokens"): Row(_user_route(200), lambda c, w: c.api.get("/api/v1/me/tokens", **c.creds(w)),
                                      AUTH_CODES),
    ("POST", "/api/v1/me/tokens"): Row(
        _user_route(201), lambda c, w: c.api.post("/api/v1/me/tokens", json={"name": "matrix"}, **c.creds(w)),
        AUTH_CODES),
    ("DELETE", "/api/v1/me/tokens/{id}"): Row(
        {ANON: 401, USER: 200, OTHER: 404, ADMIN: 404}, _delete_users_token,
        {401: "authentication_required", 404: "token_not_found"}),
    ("GET", "/api/v1/admin/users"): Row(_admin_route(200), lambda c, w: c.api.get("/api/v1/admin/users", **c.creds(w)),
                                        ADMIN_CODES),
    ("PATCH", "/api/v1/admin/users/{id}"): Row(
        _admin_route(200),
        lambda c, w: c.api.patch(f"/api/v1/admin/users/{c.users[USER].user_id}",
                                 json={"max_concurrent_sessions": 1}, **c.creds(w)),
        ADMIN_CODES),
    ("GET", "/api/v1/competitions"): Row(_all(200), lambda c, w: c.api.get("/api/v1/competitions", **c.creds(w))),
    ("GET", "/api/v1/competitions/{slug}"): Row(
        _all(200), lambda c, w: c.api.get("/api/v1/competitions/titanic-survival", **c.creds(w))),
    ("GET", "/api/v1/competitions/{slug}/files/{name}"): Row(
        _all(200),
        lambda c, w: c.api.get("/api/v1/competitions/titanic-survival/files/sample_submission.csv",
                               **c.creds(w))),
    ("POST", "/api/v1/competitions/{slug}/submissions"): Row(_user_route(201), _upload, AUTH_CODES),
    ("GET", "/api/v1/competitions/{slug}/submissions/me"): Row(
        _user_route(200),
        lambda c, w: c.api.get("/api/v1/competitions/titanic-survival/submissions/me", **c.creds(w)),
        AUTH_CODES),
    ("GET", "/api/v1/submissions/{id}"): Row(
        {ANON: 401, USER: 200, OTHER: 403, ADMIN: 200},
        lambda c, w: c.api.get(f"/api/v1/submissions/{_users_submission(c)}", **c.creds(w)),
        {401: "authentication_required", 403: "not_owner"}),
    ("GET", "/api/v1/competitions/{slug}/leaderboard"): Row(
        _all(200), lambda c, w: c.api.get("/api/v1/competitions/titanic-survival/leaderboard",
                                          **c.creds(w))),
    ("GET", "/api/v1/competitions/{slug}/leaderboard/history"): Row(
        _all(200), lambda c, w: c.api.get(
            "/api/v1/competitions/titanic-survival/leaderboard/history", **c.creds(w))),
    ("GET", "/api/v1/admin/submissions"): Row(
        _admin_route(200), lambda c, w: c.api.get("/api/v1/admin/submissions", **c.creds(w)),
        ADMIN_CODES),
    ("POST", "/api/v1/admin/submissions/{id}/score"): Row(
        _admin_route(202),
        lambda c, w: c.api.post(f"/api/v1/admin/submissions/{_users_submission(c)}/score",
                                **c.creds(w)),
        ADMIN_CODES),
    ("GET", "/api/v1/datasets"): Row(_all(200), lambda c, w: c.api.get("/api/v1/datasets", **c.creds(w))),
    ("GET", "/api/v1/datasets/{slug}"): Row(
        _all(200), lambda c, w: c.api.get("/api/v1/datasets/titanic", **c.creds(w))),
    ("GET", "/api/v1/datasets/{slug}/files/{path}"): Row(
        _all(200), lambda c, w: c.api.get("/api/v1/datasets/titanic/files/test_ids.csv", **c.creds(w))),
    ("POST", "/api/v1/admin/competitions"): Row(_admin_route(201), _create_competition, ADMIN_CODES),
    ("GET", "/api/v1/auth/session-proxy"): Row(
        {ANON: 401, USER: 200, OTHER: 403, ADMIN: 200}, _gate,
        {401: "authentication_required", 403: "session_access_denied"}),
    ("GET", "/api/v1/sessions"): Row(_user_route(200), lambda c, w: c.api.get("/api/v1/sessions", **c.creds(w)),
                                     AUTH_CODES),
    ("GET", "/api/v1/sessions/current"): Row(
        _user_route(200), lambda c, w: c.api.get("/api/v1/sessions/current", **c.creds(w)), AUTH_CODES),
    ("POST", "/api/v1/sessions"): Row(
        {ANON: 401, USER: 501, OTHER: 501, ADMIN: 501},
        lambda c, w: c.api.post("/api/v1/sessions", json={"tier": "private"}, **c.creds(w)),
        {401: "authentication_required", 501: "tier_not_available"}),
    ("GET", "/api/v1/sessions/{id}"): Row(
        {ANON: 401, USER: 200, OTHER: 404, ADMIN: 404},
        lambda c, w: c.api.get(f"/api/v1/sessions/{_running_session(c)['id']}", **c.creds(w)),
        {401: "authentication_required", 404: "session_not_found"}),
    ("POST", "/api/v1/sessions/{id}/stop"): Row(
        {ANON: 401, USER: 202, OTHER: 404, ADMIN: 404},
        lambda c, w: c.api.post(f"/api/v1/sessions/{_stopped_session(c)['id']}/stop", **c.creds(w)),
        {401: "authentication_required", 404: "session_not_found"}),
    ("GET", "/api/v1/sessions/{id}/events"): Row(
        {ANON: 401, USER: 200, OTHER: 404, ADMIN: 404},
        lambda c, w: c.api.get(f"/api/v1/sessions/{_stopped_session(c)['id']}/events", **c.creds(w)),
        {401: "authentication_required", 404: "session_not_found"}),
    ("GET", "/api/v1/admin/sessions"): Row(
        _admin_route(200), lambda c, w: c.api.get("/api/v1/admin/sessions", **c.creds(w)), ADMIN_CODES),
    ("POST", "/api/v1/admin/sessions/{id}/stop"): Row(
        _admin_route(202),
        lambda c, w: c.api.post(f"/api/v1/admin/sessions/{_stopped_session(c)['id']}/stop", **c.creds(w)),
        ADMIN_CODES),
    ("GET", "/api/v1/admin/gpus"): Row(
        _admin_route(200), lambda c, w: c.api.get("/api/v1/admin/gpus", **c.creds(w)), ADMIN_CODES),
    ("PATCH", "/api/v1/admin/gpus/{id}"): Row(
        _admin_route(200), lambda c, w: c.api.patch("/api/v1/admin/gpus/6", json={"enabled": True}, **c.creds(w)),
        ADMIN_CODES),
    ("PATCH", "/api/v1/admin/competitions/{slug}"): Row(
        _admin_route(200),
        lambda c, w: c.api.patch("/api/v1/admin/competitions/titanic-survival",
                                 json={"status": "active"}, **c.creds(w)),
        ADMIN_CODES),
    ("GET", "/api/v1/status"): Row(
        _admin_route(200), lambda c, w: c.api.get("/api/v1/status", **c.creds(w)), ADMIN_CODES),
}


@pytest.fixture(scope="module")
def ctx(api, admin) -> Ctx:
    return Ctx(api, {ANON: None, USER: api.signup(unique_email("m-user")),
                     OTHER: api.signup(unique_email("m-other")), ADMIN: admin})


def _norm(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{id}", path)


def test_matrix_covers_every_route(api):
    doc = api.get("/api/v1/openapi.json").json()
    doc = doc if "paths" in doc else doc.get("data", doc)
    served = set()
    for path, item in doc["paths"].items():
        for method in item:
            if method.lower() in {"get", "put", "post", "delete", "patch", "head", "options", "trace"}:
                served.add((method.upper(), _norm(path)))
    table = {(m, _norm(p)) for m, p in MATRIX}
    missing_rows = served - table
    stale_rows = table - served
    assert not missing_rows, f"routes without an auth-matrix row: {sorted(missing_rows)}"
    assert not stale_rows, f"auth-matrix rows for routes the server does not document: {sorted(stale_rows)}"


@pytest.mark.parametrize("who", PRINCIPALS)
@pytest.mark.parametrize("route", list(MATRIX), ids=lambda r: f"{r[0]} {r[1]}")
def test_auth_matrix(ctx, route, who):
    row = MATRIX[route]
    expected = row.expect[who]
    r = row.call(ctx, who)
    assert r.status_code == expected, (
        f"{route[0]} {route[1]} as {who}: expected {expected}, got {r.status_code}: {r.text[:500]}")
    if expected >= 400:
        problem(r, expected, (row.codes or {}).get(expected))
