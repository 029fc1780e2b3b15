"""Admin routes: user list (pagination), user updates, and admin bootstrap at start."""

from __future__ import annotations

import uuid

import pytest

from conftest import (
    TIMESTAMP_RE, UUID4_RE, ok, ok_list, problem, scaled, unique_email, wait_until,
)

USERS = "/api/v1/admin/users"
USER_FIELDS = {"user_id", "email", "display_name", "role", "max_concurrent_sessions", "active_sessions", "created_at"}


def check_user_item(item: dict) -> None:
    assert set(item) == USER_FIELDS, item
    assert UUID4_RE.match(item["user_id"]), item
    assert item["role"] in ("user", "admin"), item
    assert isinstance(item["max_concurrent_sessions"], int) and 1 <= item["max_concurrent_sessions"] <= 8
    assert isinstance(item["active_sessions"], int) and item["active_sessions"] >= 0
    assert TIMESTAMP_RE.match(item["created_at"]), item


def all_users(api, admin, limit: int) -> list[dict]:
    out, cursor, pages = [], None, 0
    while True:
        params = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        items, meta = ok_list(api.get(USERS, token=admin.token, params=params))
        assert meta["limit"] == limit
        assert len(items) <= limit
        out.extend(items)
        pages += 1
        assert pages < 1000, "pagination does not terminate"
        if not meta["has_more"]:
            return out
        assert len(items) == limit, "a non-final page is short"
        cursor = meta["next_cursor"]


def test_list_users(api, admin, user):
    items, meta = ok_list(api.get(USERS, token=admin.token))
    assert meta["limit"] == 50
    for it in items:
        check_user_item(it)
    by_id = {it["user_id"]: it for it in all_users(api, admin, limit=500)}
    mine = by_id[user.user_id]
    assert mine["email"] == user.email
    assert mine["role"] == "user"
    assert mine["display_name"] == "user-" + mine["user_id"][:8]
    assert mine["max_concurrent_sessions"] == 1
    assert mine["active_sessions"] == 0
    assert by_id[admin.user_id]["role"] == "admin"


def test_list_users_pagination(api, admin):
    created = {api.signup(unique_email("page")).user_id for _ in range(3)}
    everyone = all_users(api, admin, limit=500)
    for limit in (1, 2):
        paged = all_users(api, admin, limit=limit)
        ids = [u["user_id"] for u in paged]
        assert len(ids) == len(set(ids)), "a user appears on two pages"
        assert set(ids) == {u["user_id"] for u in everyone}
        assert created <= set(ids)


@pytest.mark.parametrize("limit", ["0", "501", "-1", "abc", "1.5", "99999999999999999999999", "1e2"])
def test_invalid_limit(api, admin, limit):
    problem(api.get(USERS, token=admin.token, params={"limit": limit}), 400, "invalid_limit")


@pytest.mark.parametrize("cursor", ["garbage", "!!!!", "eyJ4IjoxfQ", "a" * 300, "%00", "null"])
def test_invalid_cursor(api, admin, cursor):
    problem(api.get(USERS, token=admin.token, params={"cursor": cursor}), 400, "invalid_cursor")


def test_list_users_limit_bounds(api, admin):
    items, meta = ok_list(api.get(USERS, token=admin.token, params={"limit": 1}))
    assert len(items) == 1 and meta["limit"] == 1
    _, meta = ok_list(api.get(USERS, token=admin.token, params={"limit": 500}))
    assert meta["limit"] == 500


def test_admin_routes_refuse_non_admins(api, user):
    problem(api.get(USERS), 401, "authentication_required")
    problem(api.patch(f"{USERS}/{user.user_id}", json={"role": "admin"}), 401, "authentication_required")
    problem(api.get(USERS, token=user.token), 403, "admin_required")
    problem(api.patch(f"{USERS}/{user.user_id}", token=user.token, json={"role": "admin"}), 403, "admin_required")
    assert ok(api.get("/api/v1/me", token=user.token))["role"] == "user"


def test_patch_user_role(api, admin, user):
    data = ok(api.patch(f"{USERS}/{user.user_id}", token=admin.token, json={"role": "admin"}))
    check_user_item(data)
    assert data["role"] == "admin" and data["user_id"] == user.user_id
    wait_until(lambda: api.get(USERS, token=user.token).status_code == 200, scaled(6), 0.1,
               "promoted user to reach admin routes")
    assert ok(api.get("/api/v1/me", token=user.token))["role"] == "admin"
    ok(api.patch(f"{USERS}/{user.user_id}", token=admin.token, json={"role": "user"}))
    wait_until(lambda: api.get(USERS, token=user.token).status_code == 403, scaled(6), 0.1,
               "demoted user to lose admin routes")


def test_patch_user_max_concurrent_sessions(api, admin, user):
    data = ok(api.patch(f"{USERS}/{user.user_id}", token=admin.token, json={"max_concurrent_sessions": 8}))
    assert data["max_concurrent_sessions"] == 8
    data = ok(api.patch(f"{USERS}/{user.user_id}", token=admin.token, json={"max_concurrent_sessions": 1}))
    assert data["max_concurrent_sessions"] == 1
    data = ok(api.patch(f"{USERS}/{user.user_id}", token=admin.token,
                        json={"max_concurrent_sessions": 3, "role": "user"}))
    assert data["max_concurrent_sessions"] == 3 and data["role"] == "user"
    assert ok(api.get("/api/v1/me", token=user.token))["max_concurrent_sessions"] == 3


@pytest.mark.parametrize("body", [
    {"max_concurrent_sessions": 0},
    {"max_concurrent_sessions": 9},
    {"max_concurrent_sessions": -1},
    {"max_concurrent_sessions": "2"},
    {"max_concurrent_sessions": 2.5},
    {"role": "superuser"},
    {"role": ""},
    {"role": 1},
    {"email": "new@example.com"},
    {"display_name": "x"},
    {"new_password": "short"},
    {"new_password": "x" * 129},
    {"role": "admin", "unknown": True},
], ids=lambda b: "-".join(f"{k}={str(v)[:10]}" for k, v in b.items()))
def test_patch_user_validation(api, admin, user, body):
    problem(api.patch(f"{USERS}/{user.user_id}", token=admin.token, json=body), 422, "request_validation_failed")
    me = ok(api.get("/api/v1/me", token=user.token))
    assert me["role"] == "user" and me["max_concurrent_sessions"] == 1


def test_patch_unknown_user(api, admin):
    problem(api.patch(f"{USERS}/{uuid.uuid4()}", token=admin.token, json={"role": "admin"}), 404, "user_not_found")


def test_admin_sets_password_and_revokes_tokens(api, admin, user):
    second = api.relogin(user)
    data = ok(api.patch(f"{USERS}/{user.user_id}", token=admin.token, json={"new_password": "admin-chosen-pass"}))
    check_user_item(data)
    for tok in (user.token, second):
        problem(api.get("/api/v1/me", token=tok), 401, "authentication_required")
    problem(api.post("/api/v1/auth/login", json={"email": user.email, "password": user.password}),
            401, "invalid_credentials")
    fresh = api.login(user.email, "admin-chosen-pass")
    ok(api.get("/api/v1/me", token=fresh.token))
    ok(api.get("/api/v1/me", token=admin.token))  # the admin's own session is untouched


def test_bootstrap_admin_from_env(server_factory):
    email, password = "boot-admin@example.com", "bootstrap-pass-123"
    srv = server_factory.start(env={"MEDFORGE_BOOTSTRAP_ADMIN_EMAIL": email,
                                    "MEDFORGE_BOOTSTRAP_ADMIN_PASSWORD": password})
    boot = srv.api.login(email, password)
    assert boot.role == "admin"
    ok(srv.api.get(USERS, token=boot.token))
    assert srv.stop() == 0

    # an admin exists now: a second start with other bootstrap values creates nobody and
    # does not reset the existing admin's password
    srv2 = server_factory.start(db=srv.db, env={"MEDFORGE_BOOTSTRAP_ADMIN_EMAIL": "second-boot@example.com",
                                               "MEDFORGE_BOOTSTRAP_ADMIN_PASSWORD": "second-pass-456"})
    problem(srv2.api.post("/api/v1/auth/login", json={"email": "second-boot@example.com",
                                                      "password": "second-pass-456"}), 401, "invalid_credentials")
    assert srv2.api.login(email, password).role == "admin"


def test_bootstrap_admin_skipped_when_cli_admin_exists(server_factory):
    srv = server_factory.start(admin=True, env={"MEDFORGE_BOOTSTRAP_ADMIN_EMAIL": "late-boot@example.com",
                                                "MEDFORGE_BOOTSTRAP_ADMIN_PASSWORD": "late-boot-pass"})
    problem(srv.api.post("/api/v1/auth/login", json={"email": "late-boot@example.com",
                                                     "password": "late-boot-pass"}), 401, "invalid_credentials")
