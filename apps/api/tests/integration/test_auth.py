"""Signup, login, logout, /me, cookies, token storage, rate limiting."""

from __future__ import annotations

import hashlib
import statistics
import time

import pytest

from conftest import (
    ADMIN_EMAIL, COOKIE_DOMAIN, COOKIE_MAX_AGE, COOKIE_NAME, DEFAULT_PASSWORD, HEX64_RE,
    URLSAFE_TOKEN_RE, UUID4_RE, RawConn, ok, problem, session_set_cookie, unique_email,
)

SIGNUP = "/api/v1/auth/signup"
LOGIN = "/api/v1/auth/login"
LOGOUT = "/api/v1/auth/logout"
ME = "/api/v1/me"


def assert_session_cookie(resp, secure: bool = False) -> str:
    c = session_set_cookie(resp)
    assert URLSAFE_TOKEN_RE.match(c.value), f"token is not >=32 bytes of URL-safe base64: {c.value!r}"
    a = c.attrs
    assert a.get("path") == "/", c.raw
    assert a.get("domain") == COOKIE_DOMAIN, c.raw
    assert a.get("max-age") == COOKIE_MAX_AGE, c.raw
    assert "httponly" in a, c.raw
    assert a.get("samesite", "").lower() == "lax", c.raw
    if secure:
        assert "secure" in a, c.raw
    else:
        assert "secure" not in a, c.raw
    return c.value


# ------------------------------------------------------------------------------------------
# signup
# ------------------------------------------------------------------------------------------


def test_signup_creates_user_and_sets_cookie(api):
    email = unique_email("signup")
    r = api.post(SIGNUP, json={"email": email, "password": DEFAULT_PASSWORD})
    data = ok(r, 201)
    assert set(data) == {"user_id", "email", "role"}, data
    assert UUID4_RE.match(data["user_id"]), data
    assert data["email"] == email
    assert data["role"] == "user"
    token = assert_session_cookie(r)

    me = ok(api.get(ME, token=token))
    assert me == {
        "user_id": data["user_id"],
        "email": email,
        "display_name": "user-" + data["user_id"][:8],
        "role": "user",
        "max_concurrent_sessions": 1,
    }


def test_signup_email_is_trimmed_and_lowercased(api):
    local = unique_email("MiXeD").split("@")[0]
    r = api.post(SIGNUP, json={"email": f"  {local.upper()}@Example.COM \t", "password": DEFAULT_PASSWORD})
    data = ok(r, 201)
    assert data["email"] == f"{local.lower()}@example.com"
    # login with yet another casing works
    r = api.post(LOGIN, json={"email": f"{local.lower()}@EXAMPLE.com", "password": DEFAULT_PASSWORD})
    assert ok(r)["user_id"] == data["user_id"]


def test_signup_duplicate_email_conflicts(api, user):
    r = api.post(SIGNUP, json={"email": user.email, "password": "another-password"})
    problem(r, 409, "email_taken")
    assert not [h for h in r.raw.headers.getlist("Set-Cookie") if h.startswith(COOKIE_NAME + "=") and "Max-Age=0" not in h]
    r = api.post(SIGNUP, json={"email": "  " + user.email.upper(), "password": "another-password"})
    problem(r, 409, "email_taken")


@pytest.mark.parametrize("body", [
    {"email": "no-at-sign.example.com", "password": DEFAULT_PASSWORD},
    {"email": "@example.com", "password": DEFAULT_PASSWORD},
    {"email": "user@", "password": DEFAULT_PASSWORD},
    {"email": "", "password": DEFAULT_PASSWORD},
    {"email": "   ", "password": DEFAULT_PASSWORD},
    {"email": "a" * 310 + "@example.com", "password": DEFAULT_PASSWORD},  # 322 chars > 320
    {"email": "short-pw@example.com", "password": "1234567"},
    {"email": "long-pw@example.com", "password": "x" * 129},
    {"email": "no-password@example.com"},
    {"password": DEFAULT_PASSWORD},
    {},
    {"email": 12, "password": DEFAULT_PASSWORD},
    {"email": "types@example.com", "password": 12345678},
    {"email": ["list@example.com"], "password": DEFAULT_PASSWORD},
    {"email": None, "password": DEFAULT_PASSWORD},
    {"email": "unknown-field@example.com", "password": DEFAULT_PASSWORD, "role": "admin"},
], ids=lambda b: "-".join(f"{k}={str(v)[:12]}" for k, v in b.items()) or "empty")
def test_signup_validation(api, body):
    r = api.post(SIGNUP, json=body)
    problem(r, 422, "request_validation_failed")
    assert "Set-Cookie" not in r.headers


def test_signup_rejected_input_is_not_persisted(api):
    email = unique_email("notpersisted")
    problem(api.post(SIGNUP, json={"email": email, "password": DEFAULT_PASSWORD, "role": "admin"}),
            422, "request_validation_failed")
    # the same email is still free, and the account is a plain user
    u = api.signup(email)
    assert u.role == "user"


def test_password_length_bounds_are_inclusive(api):
    u8 = api.signup(password="12345678")
    u128 = api.signup(password="p" * 128)
    api.login(u8.email, "12345678")
    api.login(u128.email, "p" * 128)


def test_signup_accepts_json_with_charset(api):
    import json as _json
    body = _json.dumps({"email": unique_email("charset"), "password": DEFAULT_PASSWORD})
    r = api.post(SIGNUP, data=body.encode(), headers={"Content-Type": "application/json; charset=utf-8"})
    ok(r, 201)


def test_signup_non_json_content_type_is_415(api):
    r = api.post(SIGNUP, data=f"email={unique_email()}&password={DEFAULT_PASSWORD}",
                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    problem(r, 415, "unsupported_media_type")
    r = api.post(LOGIN, data='{"email":"a@b.c","password":"12345678"}', headers={"Content-Type": "text/plain"})
    problem(r, 415, "unsupported_media_type")


# ------------------------------------------------------------------------------------------
# login
# ------------------------------------------------------------------------------------------


def test_login_issues_a_new_independent_session(api, user):
    r = api.post(LOGIN, json={"email": user.email, "password": user.password})
    data = ok(r)
    assert data == {"user_id": user.user_id, "email": user.email, "role": "user"}
    token = assert_session_cookie(r)
    assert token != user.token
    assert ok(api.get(ME, token=token))["user_id"] == user.user_id
    assert ok(api.get(ME, token=user.token))["user_id"] == user.user_id  # the old one still works


def test_login_bad_credentials_same_answer(api, user):
    bad_pw = api.post(LOGIN, json={"email": user.email, "password": "wrong-password"})
    unknown = api.post(LOGIN, json={"email": unique_email("nobody"), "password": "wrong-password"})
    b1 = problem(bad_pw, 401, "invalid_credentials")
    b2 = problem(unknown, 401, "invalid_credentials")
    for k in ("type", "title", "status", "detail", "code"):
        assert b1[k] == b2[k], (k, b1, b2)
    for r in (bad_pw, unknown):
        assert not any(h.startswith(COOKIE_NAME + "=") and "Max-Age=0" not in h
                       for h in r.raw.headers.getlist("Set-Cookie")), r.headers


def test_login_timing_does_not_reveal_unknown_email(api, user):
    """Unknown emails must cost a password hash too (loose bound: at least 30% of a bad password)."""

    def timed(email):
        t0 = time.perf_counter()
        r = api.post(LOGIN, json={"email": email, "password": "wrong-password"})
        dt = time.perf_counter() - t0
        assert r.status_code == 401, r.text
        return dt

    bad = [timed(user.email) for _ in range(3)]
    unknown = [timed(unique_email("ghost")) for _ in range(3)]
    assert statistics.median(unknown) >= 0.3 * statistics.median(bad), (bad, unknown)


def test_login_validation(api):
    problem(api.post(LOGIN, json={"email": "x@example.com"}), 422, "request_validation_failed")
    problem(api.post(LOGIN, json={"email": "x@example.com", "password": 5}), 422, "request_validation_failed")
    problem(api.post(LOGIN, json={"email": "x@example.com", "password": "12345678", "remember": True}),
            422, "request_validation_failed")
    problem(api.post(LOGIN, data=b'{"email": "x@example.com", "password": ', headers={"Content-Type": "application/json"}),
            422, "request_validation_failed")


# ------------------------------------------------------------------------------------------
# logout
# ------------------------------------------------------------------------------------------


def test_logout_revokes_only_the_presented_token(api, user):
    second = api.relogin(user)
    r = api.post(LOGOUT, token=second)
    ok(r)
    c = session_set_cookie(r)
    assert c.attrs.get("max-age") == "0", c.raw
    assert c.attrs.get("path") == "/", c.raw
    assert c.attrs.get("domain") == COOKIE_DOMAIN, c.raw
    assert c.value in ("", '""'), c.raw
    problem(api.get(ME, token=second), 401, "authentication_required")
    assert ok(api.get(ME, token=user.token))["user_id"] == user.user_id
    # a second logout with the dead token is still a 200 that clears the cookie
    r = api.post(LOGOUT, token=second)
    ok(r)
    assert session_set_cookie(r).attrs.get("max-age") == "0"


def test_logout_anonymous_is_ok(api):
    r = api.post(LOGOUT)
    ok(r)
    assert session_set_cookie(r).attrs.get("max-age") == "0"


def test_logout_with_garbage_cookie_is_ok(api):
    ok(api.post(LOGOUT, token="not-a-real-token"))


# ------------------------------------------------------------------------------------------
# identity
# ------------------------------------------------------------------------------------------


def test_me_requires_authentication(api):
    problem(api.get(ME), 401, "authentication_required")
    problem(api.get(ME, token="x" * 43), 401, "authentication_required")
    problem(api.get(ME, token=""), 401, "authentication_required")


def test_identity_headers_are_ignored(api, user, admin):
    spoof = {
        "X-User-Id": admin.user_id,
        "X-Medforge-User": admin.user_id,
        "X-Forwarded-User": ADMIN_EMAIL,
        "X-Remote-User": ADMIN_EMAIL,
        "X-Medforge-Role": "admin",
    }
    problem(api.get(ME, headers=spoof), 401, "authentication_required")
    problem(api.get("/api/v1/admin/users", headers=spoof), 401, "authentication_required")
    # with a real user cookie the spoofed headers do not change who the caller is
    me = ok(api.get(ME, token=user.token, headers=spoof))
    assert me["user_id"] == user.user_id and me["role"] == "user"
    problem(api.get("/api/v1/admin/users", token=user.token, headers=spoof), 403, "admin_required")


def test_two_session_cookies_in_one_header_are_refused(api, user, other_user):
    for cookie in (
        f"{COOKIE_NAME}={user.token}; {COOKIE_NAME}={other_user.token}",
        f"{COOKIE_NAME}={user.token}; {COOKIE_NAME}={user.token}",
        f"{COOKIE_NAME}={user.token}; theme=dark; {COOKIE_NAME}=planted",
    ):
        problem(api.get(ME, headers={"Cookie": cookie}), 401, "duplicate_session_cookie")
    # unrelated cookies next to one session cookie are fine
    ok(api.get(ME, headers={"Cookie": f"theme=dark; {COOKIE_NAME}={user.token}; other=1"}))


def test_two_session_cookies_in_two_headers_are_refused(server, user, other_user):
    req = (f"GET {ME} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
           f"Cookie: {COOKIE_NAME}={user.token}\r\n"
           f"Cookie: {COOKIE_NAME}={other_user.token}\r\n"
           "Connection: close\r\n\r\n").encode()
    with RawConn(server.port) as c:
        c.send(req)
        resp = c.read_response()
    assert resp.status == 401, resp
    body = resp.json()
    assert body["code"] == "duplicate_session_cookie", body

    req = (f"GET {ME} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
           f"Cookie: theme=dark\r\n"
           f"Cookie: {COOKIE_NAME}={user.token}\r\n"
           "Connection: close\r\n\r\n").encode()
    with RawConn(server.port) as c:
        c.send(req)
        resp = c.read_response()
    assert resp.status == 200, (resp.status, resp.body)


def test_database_stores_only_hashes(api, server):
    u = api.signup(unique_email("hashcheck"), password="Hash-Check-Pass-1")
    second = api.relogin(u)
    db = server.db
    rows = db.query(f"SELECT s.token_hash FROM auth_sessions s JOIN users u ON u.id = s.user_id "
                    f"WHERE u.email = '{u.email}'")
    assert len(rows) == 2, rows
    everything = " ".join(str(v) for r in db.query("SELECT * FROM auth_sessions") for v in r)
    for tok in (u.token, second):
        assert tok not in everything
        assert hashlib.sha256(tok.encode()).hexdigest() not in everything, "token hash is not keyed (plain SHA-256)"
    for (h,) in rows:
        assert HEX64_RE.match(h), h
    (pw_hash,) = db.query(f"SELECT password_hash FROM users WHERE email = '{u.email}'")[0]
    assert pw_hash.startswith("$argon2id$"), pw_hash
    assert "Hash-Check-Pass-1" not in " ".join(str(v) for r in db.query("SELECT * FROM users") for v in r)


# ------------------------------------------------------------------------------------------
# PATCH /me
# ------------------------------------------------------------------------------------------


def test_patch_me_display_name(api, user):
    data = ok(api.patch(ME, token=user.token, json={"display_name": "Dr. Ada"}))
    assert data["display_name"] == "Dr. Ada"
    assert ok(api.get(ME, token=user.token))["display_name"] == "Dr. Ada"
    ok(api.patch(ME, token=user.token, json={"display_name": "x" * 64}))
    ok(api.patch(ME, token=user.token, json={"display_name": "é" * 64}))  # characters, not bytes
    for bad in ("", "x" * 65, 5, ["x"]):
        problem(api.patch(ME, token=user.token, json={"display_name": bad}), 422, "request_validation_failed")
    assert ok(api.get(ME, token=user.token))["display_name"] == "é" * 64


def test_patch_me_closed_schema(api, user):
    for body in ({"role": "admin"}, {"max_concurrent_sessions": 8}, {"display_name": "ok", "extra": 1}):
        problem(api.patch(ME, token=user.token, json=body), 422, "request_validation_failed")
    me = ok(api.get(ME, token=user.token))
    assert me["role"] == "user" and me["max_concurrent_sessions"] == 1
    assert me["display_name"] == "user-" + me["user_id"][:8]


def test_patch_me_email(api, user, other_user):
    new_local = unique_email("renamed").split("@")[0]
    data = ok(api.patch(ME, token=user.token, json={"email": f" {new_local.upper()}@Example.org "}))
    assert data["email"] == f"{new_local}@example.org"
    api.login(f"{new_local}@example.org", user.password)
    problem(api.post(LOGIN, json={"email": user.email, "password": user.password}), 401, "invalid_credentials")
    problem(api.patch(ME, token=user.token, json={"email": other_user.email.upper()}), 409, "email_taken")
    problem(api.patch(ME, token=user.token, json={"email": "not-an-email"}), 422, "request_validation_failed")


def test_patch_me_password_change(api, user):
    other_session = api.relogin(user)
    new_pw = "brand-new-password-42"

    problem(api.patch(ME, token=user.token, json={"new_password": new_pw}), 403, "current_password_incorrect")
    problem(api.patch(ME, token=user.token, json={"new_password": new_pw, "current_password": "wrong-wrong"}),
            403, "current_password_incorrect")
    problem(api.patch(ME, token=user.token, json={"new_password": "short", "current_password": user.password}),
            422, "request_validation_failed")
    # nothing changed so far
    ok(api.get(ME, token=other_session))

    ok(api.patch(ME, token=user.token, json={"new_password": new_pw, "current_password": user.password}))
    # the other session of this user is refused immediately (same process); the current one survives
    problem(api.get(ME, token=other_session), 401, "authentication_required")
    assert ok(api.get(ME, token=user.token))["user_id"] == user.user_id
    problem(api.post(LOGIN, json={"email": user.email, "password": user.password}), 401, "invalid_credentials")
    api.login(user.email, new_pw)


def test_patch_me_password_change_does_not_touch_other_users(api, user, other_user):
    ok(api.patch(ME, token=user.token, json={"new_password": "yet-another-pass", "current_password": user.password}))
    ok(api.get(ME, token=other_user.token))


# ------------------------------------------------------------------------------------------
# Secure cookie variant
# ------------------------------------------------------------------------------------------


def test_cookie_secure_flag_when_configured(server_factory):
    srv = server_factory.start(env={"COOKIE_SECURE": "true"})
    r = srv.api.post(SIGNUP, json={"email": unique_email("secure"), "password": DEFAULT_PASSWORD})
    ok(r, 201)
    assert_session_cookie(r, secure=True)
    r = srv.api.post(LOGOUT)
    assert "secure" in session_set_cookie(r).attrs


# ------------------------------------------------------------------------------------------
# Rate limiting
# ------------------------------------------------------------------------------------------


def _login_attempt(api, xff: str | None = None, email: str | None = None):
    headers = {"X-Forwarded-For": xff} if xff else {}
    return api.post(LOGIN, json={"email": email or unique_email("rl"), "password": "wrong-password"},
                    headers=headers)


def _assert_limited(r):
    problem(r, 429, "rate_limit_exceeded")
    ra = r.headers.get("Retry-After")
    assert ra is not None and ra.isdigit() and 0 < int(ra) <= 60, f"Retry-After {ra!r}"


def test_rate_limit_per_client_address(server_factory):
    srv = server_factory.start(env={"AUTH_RATE_LIMIT": "3/60"})
    api = srv.api

    # direct peer (127.0.0.1, no X-Forwarded-For): 3 allowed, the 4th refused
    for _ in range(3):
        problem(_login_attempt(api), 401, "invalid_credentials")
    _assert_limited(_login_attempt(api))
    _assert_limited(api.post(SIGNUP, json={"email": unique_email("rl"), "password": DEFAULT_PASSWORD}))
    # other routes are not rate limited
    assert api.get("/healthz").status_code == 200

    # the peer is a trusted proxy: X-Forwarded-For decides the bucket
    for _ in range(3):
        problem(_login_attempt(api, "10.0.0.1"), 401, "invalid_credentials")
    _assert_limited(_login_attempt(api, "10.0.0.1"))
    problem(_login_attempt(api, "10.0.0.2"), 401, "invalid_credentials")  # a separate bucket

    # right-most untrusted entry: "10.0.0.9, 127.0.0.1" is client 10.0.0.9
    for _ in range(3):
        problem(_login_attempt(api, "10.0.0.9, 127.0.0.1"), 401, "invalid_credentials")
    _assert_limited(_login_attempt(api, "10.0.0.9"))
    # a spoofed left-most entry does not buy a fresh bucket
    _assert_limited(_login_attempt(api, "1.2.3.4, 10.0.0.9"))

    # signup and login share one bucket
    for r in (_login_attempt(api, "10.0.0.3"), _login_attempt(api, "10.0.0.3")):
        problem(r, 401, "invalid_credentials")
    r = api.post(SIGNUP, json={"email": unique_email("rl"), "password": DEFAULT_PASSWORD},
                 headers={"X-Forwarded-For": "10.0.0.3"})
    ok(r, 201)
    _assert_limited(api.post(SIGNUP, json={"email": unique_email("rl"), "password": DEFAULT_PASSWORD},
                             headers={"X-Forwarded-For": "10.0.0.3"}))


def test_rate_limit_ignores_forwarded_for_from_untrusted_peer(server_factory):
    srv = server_factory.start(env={"AUTH_RATE_LIMIT": "3/60", "TRUSTED_PROXIES": "10.1.1.1"})
    for i in range(1, 4):
        problem(_login_attempt(srv.api, f"10.0.0.{i}"), 401, "invalid_credentials")
    _assert_limited(_login_attempt(srv.api, "10.0.0.4"))
    _assert_limited(_login_attempt(srv.api))
