"""Personal access tokens: create (shown once), list (no secrets), revoke, Bearer auth."""

from __future__ import annotations

import hashlib
import json
import uuid

import pytest

from conftest import (
    bearer_refused, HEX64_RE, TIMESTAMP_RE, UUID4_RE, ok, ok_list, problem,
)

TOKENS = "/api/v1/me/tokens"
ME = "/api/v1/me"


def test_create_token(api, user):
    r = api.post(TOKENS, token=user.token, json={"name": "laptop script"})
    data = ok(r, 201)
    assert {"id", "name", "token", "created_at"} <= set(data), data
    assert not {"token_hash", "hash", "secret"} & set(data), data
    assert UUID4_RE.match(data["id"]), data
    assert data["name"] == "laptop script"
    assert data["token"].startswith("mfp_") and len(data["token"]) >= 4 + 43, data["token"]
    assert TIMESTAMP_RE.match(data["created_at"]), data
    assert "Set-Cookie" not in r.headers


def test_bearer_token_authenticates(api, user):
    pat = api.create_pat(user)
    me = ok(api.get(ME, bearer=pat["token"]))
    assert me["user_id"] == user.user_id and me["email"] == user.email
    # a PAT can do what the user can, e.g. list its tokens
    items, _ = ok_list(api.get(TOKENS, bearer=pat["token"]))
    assert pat["id"] in {t["id"] for t in items}


def test_list_tokens_has_no_secrets(api, user, other_user):
    a = api.create_pat(user, "alpha")
    b = api.create_pat(user, "beta")
    theirs = api.create_pat(other_user, "theirs")
    r = api.get(TOKENS, token=user.token)
    items, meta = ok_list(r)
    assert {t["id"] for t in items} == {a["id"], b["id"]}
    for t in items:
        assert set(t) == {"id", "name", "created_at", "last_used_at"}, t
        assert TIMESTAMP_RE.match(t["created_at"])
        assert t["last_used_at"] is None or TIMESTAMP_RE.match(t["last_used_at"])
    for secret in (a["token"], b["token"], theirs["token"], a["token"][4:]):
        assert secret not in r.text
    assert {t["name"] for t in items} == {"alpha", "beta"}


def test_tokens_stored_hashed(api, server, user):
    pat = api.create_pat(user, "hashed")
    rows = server.db.query(f"SELECT token_hash FROM access_tokens WHERE id = '{pat['id']}'")
    assert len(rows) == 1, rows
    (h,) = rows[0]
    assert HEX64_RE.match(h), h
    dump = " ".join(str(v) for r in server.db.query("SELECT * FROM access_tokens") for v in r)
    assert pat["token"] not in dump and pat["token"][4:] not in dump
    assert hashlib.sha256(pat["token"].encode()).hexdigest() not in dump


def test_delete_token(api, user):
    pat = api.create_pat(user, "to-delete")
    keep = api.create_pat(user, "to-keep")
    ok(api.delete(f"{TOKENS}/{pat['id']}", token=user.token))
    bearer_refused(api.get(ME, bearer=pat["token"]))
    ok(api.get(ME, bearer=keep["token"]))
    ok(api.get(ME, token=user.token))
    problem(api.delete(f"{TOKENS}/{pat['id']}", token=user.token), 404, "token_not_found")


def test_token_can_revoke_itself(api, user):
    pat = api.create_pat(user, "self")
    ok(api.delete(f"{TOKENS}/{pat['id']}", bearer=pat["token"]))
    bearer_refused(api.get(ME, bearer=pat["token"]))


def test_cannot_delete_someone_elses_token(api, user, other_user, admin):
    pat = api.create_pat(user, "mine")
    problem(api.delete(f"{TOKENS}/{pat['id']}", token=other_user.token), 404, "token_not_found")
    problem(api.delete(f"{TOKENS}/{pat['id']}", token=admin.token), 404, "token_not_found")
    ok(api.get(ME, bearer=pat["token"]))


def test_delete_unknown_token(api, user):
    problem(api.delete(f"{TOKENS}/{uuid.uuid4()}", token=user.token), 404, "token_not_found")


@pytest.mark.parametrize("body", [{}, {"name": 5}, {"name": None}, {"name": ["a"]}, {"name": "x", "scope": "all"}],
                         ids=lambda b: json.dumps(b))
def test_create_token_validation(api, user, body):
    problem(api.post(TOKENS, token=user.token, json=body), 422, "request_validation_failed")


def test_token_routes_need_auth(api):
    problem(api.get(TOKENS), 401, "authentication_required")
    problem(api.post(TOKENS, json={"name": "x"}), 401, "authentication_required")
    problem(api.delete(f"{TOKENS}/{uuid.uuid4()}"), 401, "authentication_required")


@pytest.mark.parametrize("bearer", ["mfp_" + "A" * 43, "mfp_", "garbage", "mfp_" + "x" * 5000], ids=["unknown", "empty", "garbage", "huge"])
def test_invalid_bearer_is_401(api, bearer):
    bearer_refused(api.get(ME, bearer=bearer))


def test_bearer_is_the_only_credential_when_present(api, user):
    # an invalid bearer is not rescued by a valid cookie
    bearer_refused(api.get(ME, bearer="mfp_" + "B" * 43, token=user.token))
    # a valid bearer wins over another user's cookie
    pat = api.create_pat(user)
    other = api.signup()
    assert ok(api.get(ME, bearer=pat["token"], token=other.token))["user_id"] == user.user_id


def test_malformed_authorization_header(api, user):
    for value in ("Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "bearer"):
        bearer_refused(api.get(ME, headers={"Authorization": value}))
        # a malformed Authorization header is not rescued by a valid cookie either
        bearer_refused(api.get(ME, headers={"Authorization": value}, token=user.token))


def test_pat_survives_logout(api, user):
    """PATs are independent of auth sessions: logging out does not revoke them."""
    pat = api.create_pat(user, "survives-logout")
    second = api.relogin(user)
    ok(api.post("/api/v1/auth/logout", token=second))
    ok(api.get(ME, bearer=pat["token"]))
