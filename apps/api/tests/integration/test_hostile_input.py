"""Hostile input: malformed/deep/huge JSON, invalid UTF-8, oversize bodies and headers, slowloris.
Every answer is a 4xx problem+json, the server stays up, and nothing is persisted."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest
import requests

from conftest import (
    DEFAULT_PASSWORD, RawConn, check_raw_problem, ok, problem, scaled, unique_email,
)

SIGNUP = "/api/v1/auth/signup"
LOGIN = "/api/v1/auth/login"
JSON_HEADERS = {"Content-Type": "application/json"}
LIMIT = 64 * 1024


@pytest.fixture(scope="module")
def server_env():
    return {"HTTP_HEADER_TIMEOUT_SECONDS": "2"}


def user_count(server) -> int:
    return int(server.db.query("SELECT COUNT(*) FROM users")[0][0])


def assert_up(server):
    assert server.alive(), server.output_tail()
    r = requests.get(server.base_url + "/healthz", timeout=5)
    assert r.status_code == 200


HOSTILE_BODIES = {
    "deep-arrays": b"[" * 10000 + b"]" * 10000,
    "deep-objects": b'{"a":' * 10000 + b"1" + b"}" * 10000,
    "deep-in-field": b'{"email":' + b"[" * 10000 + b"]" * 10000 + b',"password":"12345678"}',
    "deep-unterminated": b"[" * 60000,
    "invalid-utf8": b'{"email":"\xff\xfe@example.com","password":"12345678"}',
    "invalid-utf8-overlong": b'{"email":"\xc0\xafx@example.com","password":"12345678"}',
    "lone-surrogate": b'{"email":"\\ud800x@example.com","password":"12345678"}',
    "raw-nul": b'{"email":"a\x00@example.com","password":"12345678"}',
    "huge-exponent": b'{"email": 1e999999}',
    "huge-exponent-password": b'{"email":"huge@example.com","password":1e999999}',
    "huge-integer": b'{"email":"huge@example.com","password":' + b"9" * 5000 + b"}",
    "negative-huge": b'{"email":"huge@example.com","password":-1e400}',
    "nan": b'{"email":"nan@example.com","password":NaN}',
    "infinity": b'{"email":"inf@example.com","password":Infinity}',
    "empty": b"",
    "whitespace": b"   \n\t ",
    "null": b"null",
    "array": b'["a@example.com","12345678"]',
    "string": b'"a@example.com"',
    "number": b"12345678",
    "truncated": b'{"email":"t@example.com","password":"1234',
    "trailing-garbage": b'{"email":"t@example.com","password":"12345678"} xyz',
    "two-documents": b'{"email":"t@example.com","password":"12345678"}{"email":"u@example.com"}',
    "single-quotes": b"{'email':'t@example.com','password':'12345678'}",
    "comments": b'{"email":"t@example.com", /* hi */ "password":"12345678"}',
    "trailing-comma": b'{"email":"t@example.com","password":"12345678",}',
    "unescaped-control": b'{"email":"t\n@example.com","password":"12345678"}',
    "nested-email": b'{"email":{"$ne":null},"password":"12345678"}',
    "bool-password": b'{"email":"b@example.com","password":true}',
    "many-keys": b"{" + b",".join(b'"k%d":1' % i for i in range(5000)) + b"}",
    "unknown-field-padding": (b'{"email":"pad@example.com","password":"12345678","pad":"'
                              + b"a" * (LIMIT - 200) + b'"}'),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_BODIES))
def test_hostile_json_bodies_are_422(server, api, name):
    before = user_count(server)
    body = HOSTILE_BODIES[name]
    for path in (SIGNUP, LOGIN):
        r = api.post(path, data=body, headers=JSON_HEADERS)
        problem(r, 422, "request_validation_failed")
    assert user_count(server) == before
    assert_up(server)


def test_hostile_patch_me_bodies(server, api):
    u = api.signup()
    for name in ("deep-objects", "invalid-utf8", "huge-exponent", "null", "array", "trailing-garbage"):
        r = api.patch("/api/v1/me", token=u.token, data=HOSTILE_BODIES[name], headers=JSON_HEADERS)
        problem(r, 422, "request_validation_failed")
    r = api.patch("/api/v1/me", token=u.token, data=b'{"display_name":"\xff\xfe"}', headers=JSON_HEADERS)
    problem(r, 422, "request_validation_failed")
    r = api.patch("/api/v1/me", token=u.token, data=b'{"display_name":"a\\u0000b"}', headers=JSON_HEADERS)
    assert r.status_code in (200, 422), r.text  # NUL is legal JSON; either stored verbatim or refused
    assert_up(server)


# ------------------------------------------------------------------------------------------
# body size
# ------------------------------------------------------------------------------------------


def test_body_over_64k_is_413(server, api):
    before = user_count(server)
    payload = json.dumps({"email": unique_email("big"), "password": DEFAULT_PASSWORD, "pad": "a" * LIMIT})
    r = api.post(SIGNUP, data=payload.encode(), headers=JSON_HEADERS)
    problem(r, 413, "payload_too_large")
    assert user_count(server) == before
    assert_up(server)


def test_content_length_checked_before_reading(server):
    """A huge Content-Length is refused from the header alone: no body is ever sent."""
    with RawConn(server.port, timeout=5) as c:
        c.send(f"POST {SIGNUP} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               f"Content-Length: {10 * 1024 ** 3}\r\n\r\n".encode())
        t0 = time.monotonic()
        resp = c.read_response()
        assert time.monotonic() - t0 < 2
    check_raw_problem(resp, 413, "payload_too_large")
    with RawConn(server.port, timeout=5) as c:
        c.send(f"POST {SIGNUP} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               f"Content-Length: {LIMIT + 1}\r\n\r\n".encode())
        resp = c.read_response()
    check_raw_problem(resp, 413, "payload_too_large")
    assert_up(server)


def test_chunked_body_limit_enforced_while_reading(server):
    """A chunked body is cut off once it passes 64 KiB, without waiting for its end."""
    chunk = b"a" * (LIMIT + 4096)
    with RawConn(server.port, timeout=5) as c:
        c.send(f"POST {SIGNUP} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               "Transfer-Encoding: chunked\r\n\r\n".encode())
        c.send(b'%x\r\n{"email":"' % 10 + b"\r\n")
        c.send(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
        # no terminating chunk: the server must answer on its own
        resp = c.read_response()
    check_raw_problem(resp, 413, "payload_too_large")
    assert_up(server)


def test_small_chunked_body_is_accepted(server, api):
    body = json.dumps({"email": unique_email("chunked"), "password": DEFAULT_PASSWORD}).encode()

    def gen():
        yield body[:10]
        yield body[10:]

    r = api.post(SIGNUP, data=gen(), headers=JSON_HEADERS)
    ok(r, 201)


# ------------------------------------------------------------------------------------------
# headers
# ------------------------------------------------------------------------------------------


def test_one_huge_header_is_431(server):
    with RawConn(server.port, timeout=5) as c:
        c.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (64 * 1024) + b"\r\n\r\n")
        resp = c.read_response()
    check_raw_problem(resp, 431, "headers_too_large")
    assert_up(server)


def test_many_headers_over_16k_is_431(server):
    headers = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 100) for i in range(200))  # ~22 KiB
    with RawConn(server.port, timeout=5) as c:
        c.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n")
        resp = c.read_response()
    check_raw_problem(resp, 431, "headers_too_large")
    assert_up(server)


def test_headers_under_limit_are_fine(server, api):
    r = api.get("/healthz", headers={"X-Pad": "a" * (8 * 1024)})
    assert r.status_code == 200


def test_huge_cookie_header_is_431(server):
    with RawConn(server.port, timeout=5) as c:
        c.send(b"GET /api/v1/me HTTP/1.1\r\nHost: x\r\nCookie: " + b"a=b; " * 8000 + b"\r\n\r\n")
        resp = c.read_response()
    check_raw_problem(resp, 431, "headers_too_large")
    assert_up(server)


@pytest.mark.parametrize("raw", [
    b"GET /api/v1/me%00 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /api/v1/%zz HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /api/v1/../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Nul: a\x00b\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
    b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
    b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
])
def test_malformed_requests_are_4xx(server, raw):
    with RawConn(server.port, timeout=5) as c:
        c.send(raw)
        resp = c.read_response()
    assert 400 <= resp.status < 500, (resp.status, resp.body)
    assert b"/etc/passwd" not in resp.body or resp.status == 404
    assert b"root:" not in resp.body
    assert_up(server)


# ------------------------------------------------------------------------------------------
# slowloris
# ------------------------------------------------------------------------------------------


def test_slowloris_is_disconnected_and_others_are_served(server):
    closed_after: list[float] = []
    started = threading.Event()

    def slow_client():
        s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        t0 = time.monotonic()
        try:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            started.set()
            s.settimeout(1.0)
            while time.monotonic() - t0 < 15:
                try:
                    s.sendall(b"a")
                except (BrokenPipeError, ConnectionResetError):
                    closed_after.append(time.monotonic() - t0)
                    return
                try:
                    data = s.recv(4096)
                except socket.timeout:
                    continue
                except ConnectionResetError:
                    closed_after.append(time.monotonic() - t0)
                    return
                if not data:
                    closed_after.append(time.monotonic() - t0)
                    return
                # a 408/400 response is fine; keep reading until the close
        finally:
            s.close()

    t = threading.Thread(target=slow_client, daemon=True)
    t.start()
    assert started.wait(scaled(5)), "the slow client could not connect"
    t0 = time.monotonic()
    r = requests.get(server.base_url + "/healthz", timeout=5)
    assert r.status_code == 200 and time.monotonic() - t0 < 1.0
    t.join(timeout=20)
    assert closed_after, "slowloris connection still open after 15 s"
    assert closed_after[0] <= scaled(10), f"slowloris closed only after {closed_after[0]:.1f}s"
    assert_up(server)


def test_idle_connection_without_request_is_closed(server):
    with RawConn(server.port, timeout=5) as c:
        assert c.wait_closed(scaled(10)), "a connection that never sends a request is kept open"
