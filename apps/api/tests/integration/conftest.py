"""Black-box integration tests for the MedForge C++ API (`medforge-api`) and CLI (`medforge`).

Run with Debian's interpreter (pytest + requests, stdlib otherwise):

    MEDFORGE_BIN_DIR=build/release /usr/bin/python3 -m pytest apps/api/tests/integration -q

Environment:
    MEDFORGE_BIN_DIR            folder holding `medforge-api` and `medforge` (default <repo>/build/release)
    MEDFORGE_DB                 `sqlite` (default) or `mariadb`
    MEDFORGE_TEST_MARIADB_URL   for mariadb: `mariadb://root:medforge@127.0.0.1:PORT/` (a database
                                per server is created with the `mariadb` client and dropped after)
    MEDFORGE_TEST_TIMEOUT_SCALE multiplies start/stop deadlines (e.g. 3 under ASan); default 1

Every server runs in its own temporary directory on a free loopback port; nothing outside the temp
directories (and, for mariadb, the per-test databases) is touched.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import json
import os
import pathlib
import re
import secrets
import signal
import socket
import sqlite3
import subprocess
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass
from http.cookiejar import DefaultCookiePolicy
from typing import Any, Callable, Iterable

import pytest
import requests

# --------------------------------------------------------------------------------------------
# Locations and constants
# --------------------------------------------------------------------------------------------

HERE = pathlib.Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[3]  # apps/api/tests/integration -> repo root


def _bin_dir() -> pathlib.Path:
    d = os.environ.get("MEDFORGE_BIN_DIR")
    if d:
        p = pathlib.Path(d)
        return p if p.is_absolute() else (REPO_ROOT / p)
    return REPO_ROOT / "build" / "release"


BIN_DIR = _bin_dir()
API_BIN = BIN_DIR / "medforge-api"
CLI_BIN = BIN_DIR / "medforge"
WORKER_BIN = BIN_DIR / "medforge-worker"

DB_DIALECT = os.environ.get("MEDFORGE_DB", "sqlite").strip().lower() or "sqlite"
TIMEOUT_SCALE = float(os.environ.get("MEDFORGE_TEST_TIMEOUT_SCALE", "1") or "1")

READY_DEADLINE_S = 20.0 * TIMEOUT_SCALE
STOP_DEADLINE_S = 15.0 * TIMEOUT_SCALE
HTTP_TIMEOUT_S = 10.0 * TIMEOUT_SCALE

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "admin-password-0123"
DEFAULT_PASSWORD = "correct-horse-battery"

COOKIE_NAME = "medforge_session"
COOKIE_DOMAIN = ".medforge.localhost"
COOKIE_MAX_AGE = "2592000"

WEB_ORIGIN = "http://medforge.localhost:8080"
API_ORIGIN = "http://api.medforge.localhost:8080"
SESSION_ORIGIN = "http://s-abcdefgh.medforge.localhost:8080"

UUID4_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
TIMESTAMP_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9-]{1,64}$")
HEX64_RE = re.compile(r"^[0-9a-f]{64}$")
URLSAFE_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{43,}$")  # >= 32 bytes, URL-safe base64, unpadded

# Environment variables the server/CLI reads; stripped from the inherited environment so a
# developer's shell cannot leak into a test server.
_CONFIG_VARS = {
    "API_BIND", "DATABASE_URL", "DOMAIN", "PUBLIC_SCHEME", "PUBLIC_PORT", "SESSION_SECRET",
    "COOKIE_NAME", "COOKIE_DOMAIN", "COOKIE_SECURE", "COOKIE_SAMESITE", "AUTH_IDLE_TTL_SECONDS",
    "AUTH_MAX_TTL_SECONDS", "TRUSTED_PROXIES", "AUTH_RATE_LIMIT", "METRICS_ALLOW",
    "MEDFORGE_BOOTSTRAP_ADMIN_EMAIL", "MEDFORGE_BOOTSTRAP_ADMIN_PASSWORD", "MEDFORGE_ADMIN_PASSWORD",
    "SESSION_RUNTIME", "DOCKER_HOST", "SESSION_GPU_MODE", "PACK_IMAGE", "WORKSPACE_STORE",
    "WORKSPACE_DIR_ROOT", "WORKSPACE_ZFS_ROOT", "GPU_DISCOVERY", "GPU_COUNT", "GPU_IDS",
    "COMPETITIONS_DIR", "DATASETS_ROOT", "SUBMISSIONS_DIR", "LOG_LEVEL",
    "HTTP_HEADER_TIMEOUT_SECONDS", "HTTP_IDLE_TIMEOUT_SECONDS", "HTTP_BODY_TIMEOUT_SECONDS",
    "SHUTDOWN_GRACE_SECONDS", "API_THREADS", "BLOCKING_POOL_THREADS", "BLOCKING_QUEUE_MAX",
    "SESSION_RECOVERY_ENABLED", "SESSION_PROCESS_COMMAND", "SESSION_PROCESS_USER",
    "SESSION_PROCESS_SANDBOX", "AUTO_SCORE_ON_SUBMIT", "SUBMISSION_UPLOAD_MAX_BYTES",
    "SCORING_LEASE_SECONDS", "SCORING_MAX_ATTEMPTS", "MEDFORGE_FAULT_SCORING_DELAY_MS",
    "MEDFORGE_API_URL", "MEDFORGE_TOKEN", "SESSION_STOP_ON_SHUTDOWN", "SESSION_POLL_INTERVAL_SECONDS",
    "SESSION_CONTAINER_START_TIMEOUT_SECONDS", "SESSION_CONTAINER_STOP_TIMEOUT_SECONDS",
    "SESSION_IDLE_TIMEOUT_SECONDS", "SESSION_WORKSPACE_QUOTA_GB", "SESSION_RUNTIME_USE_SUDO",
    "PUBLIC_SESSIONS_NETWORK", "SESSION_POLL_BACKOFF_MAX_SECONDS",
}

# Session processes run as an unprivileged user, which must be able to reach their workspace and
# the stand-in IDE: both live under a world-traversable (0711) directory, not under pytest's
# private (0700) tmp tree.
SHARED_TMP = pathlib.Path(os.environ.get("TMPDIR", "/tmp")) / f"medforge-it-{os.getpid()}"
FAKE_IDE_SRC = HERE / "fake_ide.py"


def shared_tmp() -> pathlib.Path:
    if not SHARED_TMP.is_dir():
        SHARED_TMP.mkdir(mode=0o711, parents=True, exist_ok=True)
        SHARED_TMP.chmod(0o711)
        ide = SHARED_TMP / "fake_ide.py"
        ide.write_bytes(FAKE_IDE_SRC.read_bytes())
        ide.chmod(0o755)
    return SHARED_TMP


def fake_ide_command(*args: str) -> str:
    """SESSION_PROCESS_COMMAND running the stand-in IDE (see fake_ide.py) with extra args."""
    return " ".join(["/usr/bin/python3", str(shared_tmp() / "fake_ide.py"), "{port}", "{workspace}",
                     *args])


def scaled(seconds: float) -> float:
    return seconds * TIMEOUT_SCALE


# --------------------------------------------------------------------------------------------
# Small utilities
# --------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.com"


def wait_until(predicate: Callable[[], Any], deadline_s: float, interval_s: float = 0.05,
               message: str = "condition") -> Any:
    """Poll `predicate` until it returns a truthy value or the deadline passes (then fail)."""
    end = time.monotonic() + deadline_s
    last = None
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() >= end:
            pytest.fail(f"timed out after {deadline_s:.1f}s waiting for {message} (last={last!r})")
        time.sleep(interval_s)


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _CONFIG_VARS}
    env.setdefault("LANG", "C.UTF-8")
    return env


# --------------------------------------------------------------------------------------------
# Databases (identical tests for both dialects)
# --------------------------------------------------------------------------------------------

_db_counter = itertools.count(1)
# MariaDB `DROP DATABASE` costs fsyncs; drop in the background and wait at session end.
_drop_pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="db-drop")


class TestDatabase:
    """One database for one server (or a group of servers sharing it)."""

    __test__ = False  # not a pytest test class

    def __init__(self, tmpdir: pathlib.Path):
        self.dialect = DB_DIALECT
        # token hashes are keyed with SESSION_SECRET: every server on this database shares it
        self.secret = secrets.token_hex(32)
        if self.dialect == "sqlite":
            self.path = tmpdir / "medforge.db"
            self.url = f"sqlite:///{self.path}"
        elif self.dialect == "mariadb":
            base = os.environ.get("MEDFORGE_TEST_MARIADB_URL")
            if not base:
                pytest.fail("MEDFORGE_DB=mariadb needs MEDFORGE_TEST_MARIADB_URL")
            if not base.endswith("/"):
                base += "/"
            parsed = urllib.parse.urlparse(base)
            self.host = parsed.hostname or "127.0.0.1"
            self.port = parsed.port or 3306
            self.user = urllib.parse.unquote(parsed.username or "root")
            self.password = urllib.parse.unquote(parsed.password or "")
            self.name = f"mf_it_{os.getpid()}_{next(_db_counter)}_{secrets.token_hex(3)}"
            self._mariadb(f"CREATE DATABASE `{self.name}` CHARACTER SET utf8mb4")
            self.url = f"{base}{self.name}"
        else:
            pytest.fail(f"unknown MEDFORGE_DB={self.dialect!r}")

    def _mariadb_cmd(self) -> list[str]:
        cmd = ["mariadb", "--no-defaults", f"-h{self.host}", f"-P{self.port}", f"-u{self.user}"]
        if self.password:
            cmd.append(f"-p{self.password}")
        return cmd

    def _mariadb(self, sql: str, database: str | None = None) -> str:
        cmd = self._mariadb_cmd() + ["-N", "-B"]
        if database:
            cmd.append(database)
        cmd += ["-e", sql]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        if res.returncode != 0:
            raise RuntimeError(f"mariadb failed ({res.returncode}): {res.stderr.strip()}")
        return res.stdout

    def query(self, sql: str) -> list[tuple[str | None, ...]]:
        """Run a read-only query; every value comes back as str (or None)."""
        if self.dialect == "sqlite":
            con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=10)
            try:
                rows = con.execute(sql).fetchall()
            finally:
                con.close()
            return [tuple(None if v is None else str(v) for v in r) for r in rows]
        out = self._mariadb(sql, database=self.name)
        rows = []
        for line in out.splitlines():
            rows.append(tuple(None if v == "NULL" else v for v in line.split("\t")))
        return rows

    def execute(self, sql: str) -> None:
        """Run a write statement directly (tests that set up states the API cannot produce)."""
        if self.dialect == "sqlite":
            con = sqlite3.connect(str(self.path), timeout=10)
            try:
                con.execute(sql)
                con.commit()
            finally:
                con.close()
        else:
            self._mariadb(sql, database=self.name)

    def tables(self) -> set[str]:
        if self.dialect == "sqlite":
            return {r[0] for r in self.query("SELECT name FROM sqlite_master WHERE type='table'")}
        return {r[0] for r in self.query("SHOW TABLES")}

    def drop(self) -> None:
        if self.dialect == "mariadb":
            def _drop():
                try:
                    self._mariadb(f"DROP DATABASE IF EXISTS `{self.name}`")
                except Exception:  # best effort cleanup
                    pass
            _drop_pool.submit(_drop)


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------


def require_binaries() -> None:
    missing = [str(p) for p in (API_BIN, CLI_BIN) if not os.access(p, os.X_OK)]
    if missing:
        pytest.fail(f"binaries not built: {', '.join(missing)} (set MEDFORGE_BIN_DIR)")


def run_cli(args: list[str], db: TestDatabase | None = None, *, input: str | None = None,
            env: dict[str, str] | None = None, cwd: pathlib.Path | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess:
    require_binaries()
    e = base_env()
    if db is not None:
        e["DATABASE_URL"] = db.url
    e.setdefault("LOG_LEVEL", "info")
    if env:
        e.update(env)
    return subprocess.run([str(CLI_BIN), *args], input=input, capture_output=True, text=True,
                          env=e, cwd=str(cwd) if cwd else None, timeout=scaled(timeout))


def create_admin_cli(db: TestDatabase, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD,
                     cwd: pathlib.Path | None = None) -> subprocess.CompletedProcess:
    res = run_cli(["admin", "create", "--email", email], db, input=password + "\n", cwd=cwd)
    assert res.returncode == 0, f"medforge admin create failed: rc={res.returncode}\n{res.stdout}\n{res.stderr}"
    return res


# --------------------------------------------------------------------------------------------
# HTTP client wrapper
# --------------------------------------------------------------------------------------------


@dataclass
class User:
    email: str
    password: str
    user_id: str
    role: str
    token: str  # raw medforge_session cookie value


class Api:
    """Thin wrapper over requests that never stores cookies; credentials are explicit.

    Every method returns the `requests.Response`. `token=` sends `Cookie: medforge_session=<token>`,
    `bearer=` sends `Authorization: Bearer <bearer>`.
    """

    def __init__(self, base_url: str):
        self.base_url = base_url.rstrip("/")
        self.http = requests.Session()
        self.http.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))  # store nothing
        self.http.trust_env = False  # no proxies from the environment

    def url(self, path: str) -> str:
        return self.base_url + path

    def request(self, method: str, path: str, *, token: str | None = None, bearer: str | None = None,
                headers: dict[str, str] | None = None, **kw) -> requests.Response:
        h = dict(headers or {})
        if token is not None:
            h["Cookie"] = f"{COOKIE_NAME}={token}"
        if bearer is not None:
            h["Authorization"] = f"Bearer {bearer}"
        kw.setdefault("timeout", HTTP_TIMEOUT_S)
        kw.setdefault("allow_redirects", False)
        resp = self.http.request(method, self.url(path), headers=h, **kw)
        self.http.cookies.clear()
        return resp

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def patch(self, path, **kw):
        return self.request("PATCH", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def options(self, path, **kw):
        return self.request("OPTIONS", path, **kw)

    # -- auth helpers ------------------------------------------------------------------------

    def signup(self, email: str | None = None, password: str = DEFAULT_PASSWORD, **kw) -> User:
        email = email or unique_email()
        r = self.post("/api/v1/auth/signup", json={"email": email, "password": password}, **kw)
        assert r.status_code == 201, f"signup failed: {r.status_code} {r.text}"
        d = r.json()["data"]
        return User(email=d["email"], password=password, user_id=d["user_id"], role=d["role"],
                    token=session_cookie_value(r))

    def login(self, email: str, password: str, **kw) -> User:
        r = self.post("/api/v1/auth/login", json={"email": email, "password": password}, **kw)
        assert r.status_code == 200, f"login failed: {r.status_code} {r.text}"
        d = r.json()["data"]
        return User(email=d["email"], password=password, user_id=d["user_id"], role=d["role"],
                    token=session_cookie_value(r))

    def relogin(self, user: User) -> str:
        """A second, independent auth session for `user`; returns its token."""
        return self.login(user.email, user.password).token

    def create_pat(self, user: User, name: str = "script") -> dict:
        r = self.post("/api/v1/me/tokens", token=user.token, json={"name": name})
        assert r.status_code == 201, f"token create failed: {r.status_code} {r.text}"
        return r.json()["data"]


# --------------------------------------------------------------------------------------------
# Cookies and response checks
# --------------------------------------------------------------------------------------------


def set_cookie_headers(resp: requests.Response) -> list[str]:
    return list(resp.raw.headers.getlist("Set-Cookie"))


@dataclass
class SetCookie:
    name: str
    value: str
    attrs: dict[str, str]  # lower-cased attribute name -> value ("" for flags)
    raw: str


def parse_set_cookie(raw: str) -> SetCookie:
    parts = [p.strip() for p in raw.split(";")]
    name, _, value = parts[0].partition("=")
    attrs: dict[str, str] = {}
    for p in parts[1:]:
        if not p:
            continue
        k, _, v = p.partition("=")
        k = k.strip().lower()
        assert k not in attrs, f"duplicate cookie attribute {k!r} in {raw!r}"
        attrs[k] = v.strip()
    return SetCookie(name=name.strip(), value=value.strip(), attrs=attrs, raw=raw)


def session_set_cookie(resp: requests.Response) -> SetCookie:
    cookies = [parse_set_cookie(h) for h in set_cookie_headers(resp)]
    mine = [c for c in cookies if c.name == COOKIE_NAME]
    assert len(mine) == 1, f"expected exactly one {COOKIE_NAME} Set-Cookie, got {set_cookie_headers(resp)!r}"
    return mine[0]


def session_cookie_value(resp: requests.Response) -> str:
    c = session_set_cookie(resp)
    assert c.value, f"empty session cookie in {c.raw!r}"
    return c.value


_LEAK_MARKERS = ("/work/", "/home/", ".cpp", ".hpp", "SELECT ", "INSERT ", "UPDATE ", "sqlite3_",
                 "UNIQUE constraint", "Traceback", "what():", "std::", "terminate called")


def assert_no_leak(text: str) -> None:
    for m in _LEAK_MARKERS:
        assert m not in text, f"error body leaks internals ({m!r}): {text!r}"


def assert_meta(body: dict, resp_headers) -> dict:
    meta = body.get("meta")
    assert isinstance(meta, dict), f"missing meta: {body!r}"
    assert meta.get("api_version") == "v1", meta
    rid = meta.get("request_id")
    assert isinstance(rid, str) and REQUEST_ID_RE.match(rid), meta
    assert resp_headers.get("X-Request-Id") == rid, (resp_headers.get("X-Request-Id"), rid)
    ts = meta.get("timestamp")
    assert isinstance(ts, str) and TIMESTAMP_RE.match(ts), f"bad meta.timestamp {ts!r}"
    return meta


def ok(resp: requests.Response, status: int = 200) -> Any:
    """Assert a success envelope with `status`; return `data`."""
    assert resp.status_code == status, (
        f"{resp.request.method} {resp.request.path_url}: expected {status}, got {resp.status_code}: {resp.text[:2000]}")
    ctype = resp.headers.get("Content-Type", "")
    assert ctype.split(";")[0].strip() == "application/json", f"content-type {ctype!r}"
    body = resp.json()
    assert set(body) >= {"data", "meta"}, body
    assert_meta(body, resp.headers)
    return body["data"]


def ok_list(resp: requests.Response, status: int = 200) -> tuple[list, dict]:
    data = ok(resp, status)
    body = resp.json()
    meta = body["meta"]
    assert isinstance(data, list), f"list route returned non-list data: {data!r}"
    for k in ("limit", "next_cursor", "has_more"):
        assert k in meta, f"list meta lacks {k!r}: {meta!r}"
    assert isinstance(meta["limit"], int)
    assert isinstance(meta["has_more"], bool)
    assert meta["next_cursor"] is None or isinstance(meta["next_cursor"], str)
    assert meta["has_more"] == (meta["next_cursor"] is not None), meta
    return data, meta


def problem(resp: requests.Response, status: int, code: str | None = None) -> dict:
    """Assert an RFC 7807 problem response; return its body."""
    assert resp.status_code == status, (
        f"{resp.request.method} {resp.request.path_url}: expected {status}"
        f"{' ' + code if code else ''}, got {resp.status_code}: {resp.text[:2000]}")
    ctype = resp.headers.get("Content-Type", "")
    assert ctype.split(";")[0].strip() == "application/problem+json", f"content-type {ctype!r}: {resp.text[:500]}"
    assert_no_leak(resp.text)
    body = resp.json()
    check_problem_body(body, status, code)
    path = urllib.parse.urlsplit(resp.request.url).path
    assert body["instance"] == path, f"instance {body['instance']!r} != {path!r}"
    assert body["request_id"] == resp.headers.get("X-Request-Id"), (body["request_id"], resp.headers.get("X-Request-Id"))
    return body


# A refused `Authorization: Bearer` credential answers 401 with one of these codes (the server
# distinguishes an unknown/revoked token and a malformed header from a missing login).
BEARER_401_CODES = ("invalid_token", "invalid_authorization", "authentication_required")


def bearer_refused(resp: requests.Response) -> dict:
    body = problem(resp, 401)
    assert body["code"] in BEARER_401_CODES, body
    return body


def check_problem_body(body: dict, status: int, code: str | None) -> None:
    for k in ("type", "title", "status", "detail", "instance", "code", "request_id"):
        assert k in body, f"problem lacks {k!r}: {body!r}"
    assert isinstance(body["type"], str) and body["type"].startswith("https://medforge.dev/problems/"), body
    assert isinstance(body["title"], str) and body["title"], body
    assert isinstance(body["detail"], str), body
    assert body["status"] == status, body
    assert isinstance(body["code"], str) and re.match(r"^[a-z][a-z0-9_]*$", body["code"]), body
    if code is not None:
        assert body["code"] == code, f"expected code {code!r}, got {body['code']!r}: {body!r}"
    if status == 422:
        errs = body.get("errors")
        assert isinstance(errs, list) and errs, f"422 without errors list: {body!r}"
        for e in errs:
            assert isinstance(e, dict) and {"loc", "msg", "type"} <= set(e), f"bad error item {e!r}"


# --------------------------------------------------------------------------------------------
# Raw socket HTTP helpers (pipelining, malformed requests, duplicate headers, slowloris)
# --------------------------------------------------------------------------------------------


@dataclass
class RawResponse:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def header_all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def json(self) -> Any:
        return json.loads(self.body)


class RawConn:
    """A plain TCP connection speaking HTTP/1.1 by hand."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""
        self.eof = False

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _fill(self) -> bool:
        if self.eof:
            return False
        try:
            chunk = self.sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            chunk = b""
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def _read_until(self, marker: bytes) -> bytes:
        while marker not in self.buf:
            if not self._fill():
                raise EOFError(f"connection closed before {marker!r}; have {self.buf[:200]!r}")
        idx = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:idx], self.buf[idx:]
        return out

    def _read_exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            if not self._fill():
                raise EOFError("connection closed mid-body")
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_response(self, head_only: bool = False) -> RawResponse:
        head = self._read_until(b"\r\n\r\n").decode("latin-1")
        lines = head.split("\r\n")
        m = re.match(r"^HTTP/1\.[01] (\d{3}) ?(.*)$", lines[0])
        assert m, f"bad status line {lines[0]!r}"
        headers = []
        for line in lines[1:]:
            if not line:
                continue
            k, _, v = line.partition(":")
            headers.append((k.strip(), v.strip()))
        resp = RawResponse(int(m.group(1)), m.group(2), headers, b"")
        if head_only or resp.status in (204, 304) or 100 <= resp.status < 200:
            return resp
        te = (resp.header("Transfer-Encoding") or "").lower()
        cl = resp.header("Content-Length")
        if "chunked" in te:
            body = b""
            while True:
                size_line = self._read_until(b"\r\n").strip()
                size = int(size_line.split(b";")[0], 16)
                if size == 0:
                    self._read_until(b"\r\n")  # no trailers expected
                    break
                body += self._read_exact(size)
                self._read_exact(2)
            resp.body = body
        elif cl is not None:
            resp.body = self._read_exact(int(cl))
        else:
            while self._fill():
                pass
            resp.body, self.buf = self.buf, b""
        return resp

    def wait_closed(self, timeout: float) -> bool:
        """True if the peer closes (EOF/reset) within `timeout`; data received meanwhile is kept."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.sock.settimeout(max(0.01, min(0.5, end - time.monotonic())))
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            except (ConnectionResetError, BrokenPipeError):
                self.eof = True
                return True
            if not chunk:
                self.eof = True
                return True
            self.buf += chunk
        return False


def raw_request(port: int, data: bytes, timeout: float = 10.0) -> RawResponse:
    with RawConn(port, timeout=timeout) as c:
        c.send(data)
        return c.read_response()


def check_raw_problem(resp: RawResponse, status: int, code: str | None = None) -> dict:
    assert resp.status == status, f"expected {status}, got {resp.status}: {resp.body[:500]!r}"
    ctype = resp.header("Content-Type") or ""
    assert ctype.split(";")[0].strip() == "application/problem+json", f"content-type {ctype!r}: {resp.body[:300]!r}"
    assert_no_leak(resp.body.decode("utf-8", "replace"))
    body = resp.json()
    check_problem_body(body, status, code)
    assert body["request_id"] == resp.header("X-Request-Id"), (body, resp.headers)
    return body


# --------------------------------------------------------------------------------------------
# Server processes
# --------------------------------------------------------------------------------------------


_ws_counter = itertools.count(1)


def _workspace_root(prefix: str = "ws") -> pathlib.Path:
    d = shared_tmp() / f"{prefix}{next(_ws_counter)}"
    d.mkdir(mode=0o711)
    d.chmod(0o711)
    return d


class Server:
    """One `medforge-api` process on a free loopback port, with its own temp dir."""

    def __init__(self, db: TestDatabase, workdir: pathlib.Path, env: dict[str, str] | None = None,
                 name: str = "api"):
        require_binaries()
        self.db = db
        self.workdir = workdir
        self.name = name
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.secret = db.secret
        self.stdout_path = workdir / f"{name}.stdout.log"
        self.stderr_path = workdir / f"{name}.stderr.log"
        self.env = base_env()
        self.env.update({
            "API_BIND": f"127.0.0.1:{self.port}",
            "DATABASE_URL": db.url,
            "SESSION_SECRET": self.secret,
            "AUTH_RATE_LIMIT": "0",
            "LOG_LEVEL": "info",
            "DOMAIN": "localhost",
            "WORKSPACE_DIR_ROOT": str(_workspace_root()),
            "SESSION_PROCESS_COMMAND": fake_ide_command(),
            "SESSION_PROCESS_SANDBOX": "none",
            "DATASETS_ROOT": str(_workspace_root("ds")),
            "SUBMISSIONS_DIR": str(workdir / "submissions"),
        })
        competitions = REPO_ROOT / "apps" / "api" / "data" / "competitions"
        if competitions.is_dir():
            self.env["COMPETITIONS_DIR"] = str(competitions)
        if env:
            for k, v in env.items():
                if v is None:
                    self.env.pop(k, None)
                else:
                    self.env[k] = v
        self.proc: subprocess.Popen | None = None
        self.api = Api(self.base_url)
        self.returncode: int | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def spawn(self) -> "Server":
        self._out = open(self.stdout_path, "wb")
        self._err = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen([str(API_BIN)], env=self.env, cwd=str(self.workdir),
                                     stdin=subprocess.DEVNULL, stdout=self._out, stderr=self._err)
        return self

    def wait_ready(self, deadline_s: float = READY_DEADLINE_S) -> "Server":
        end = time.monotonic() + deadline_s
        probe = requests.Session()
        probe.trust_env = False
        while True:
            if self.proc.poll() is not None:
                pytest.fail(f"{self.name} exited early with {self.proc.returncode}\n{self.output_tail()}")
            try:
                r = probe.get(self.base_url + "/healthz", timeout=1)
                if r.status_code == 200:
                    return self
            except requests.RequestException:
                pass
            if time.monotonic() >= end:
                self.kill()
                pytest.fail(f"{self.name} not healthy within {deadline_s}s\n{self.output_tail()}")
            time.sleep(0.05)

    def start(self) -> "Server":
        return self.spawn().wait_ready()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, deadline_s: float = STOP_DEADLINE_S) -> int:
        """SIGTERM and wait; returns the exit code (kills and fails if it does not exit in time)."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=deadline_s)
            except subprocess.TimeoutExpired:
                self.kill()
                pytest.fail(f"{self.name} did not exit within {deadline_s}s of SIGTERM\n{self.output_tail()}")
        self.returncode = self.proc.returncode
        self._close_files()
        return self.returncode

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._close_files()

    def _close_files(self) -> None:
        for f in (getattr(self, "_out", None), getattr(self, "_err", None)):
            if f is not None and not f.closed:
                f.close()

    # -- logs --------------------------------------------------------------------------------

    def stdout_text(self) -> str:
        return self.stdout_path.read_text("utf-8", "replace") if self.stdout_path.exists() else ""

    def stderr_text(self) -> str:
        return self.stderr_path.read_text("utf-8", "replace") if self.stderr_path.exists() else ""

    def log_records(self) -> list[dict]:
        recs = []
        for line in self.stdout_text().splitlines():
            line = line.strip()
            if line:
                try:
                    recs.append(json.loads(line))
                except ValueError:
                    recs.append({"__unparsed__": line})
        return recs

    def output_tail(self, n: int = 4000) -> str:
        return f"--- stdout ---\n{self.stdout_text()[-n:]}\n--- stderr ---\n{self.stderr_text()[-n:]}"


class ServerFactory:
    """Starts servers (and databases) on demand; stops everything at teardown, asserting exit 0."""

    def __init__(self, tmp_root: pathlib.Path):
        self.tmp_root = tmp_root
        self.servers: list[Server] = []
        self.dbs: list[TestDatabase] = []
        self._n = itertools.count(1)

    def new_workdir(self) -> pathlib.Path:
        d = self.tmp_root / f"srv{next(self._n)}"
        d.mkdir(parents=True, exist_ok=True)
        return d

    def new_db(self) -> TestDatabase:
        d = self.new_workdir()
        db = TestDatabase(d)
        self.dbs.append(db)
        return db

    def create(self, env: dict[str, str] | None = None, db: TestDatabase | None = None,
               admin: bool = False, name: str | None = None) -> Server:
        """A not-yet-started server. `admin=True` first creates ADMIN_EMAIL with the CLI."""
        workdir = self.new_workdir()
        if db is None:
            db = TestDatabase(workdir)
            self.dbs.append(db)
        if admin:
            create_admin_cli(db, cwd=workdir)
        srv = Server(db, workdir, env=env, name=name or f"api{len(self.servers) + 1}")
        self.servers.append(srv)
        return srv

    def start(self, env: dict[str, str] | None = None, db: TestDatabase | None = None,
              admin: bool = False, name: str | None = None) -> Server:
        return self.create(env=env, db=db, admin=admin, name=name).start()

    def close(self) -> None:
        errors = []
        for srv in self.servers:
            if srv.proc is None:
                continue
            was_alive = srv.alive()
            try:
                rc = srv.stop()
            except BaseException as e:  # noqa: BLE001 - keep stopping the others
                srv.kill()
                errors.append(f"{srv.name}: {e}")
                continue
            if rc != 0:
                how = "after SIGTERM" if was_alive else "on its own (it had died before teardown)"
                errors.append(f"{srv.name} exited with {rc} {how}\n{srv.output_tail()}")
        for db in self.dbs:
            db.drop()
        if errors:
            pytest.fail("\n\n".join(errors))


# --------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def _binaries_present():
    require_binaries()
    yield
    _drop_pool.shutdown(wait=True)
    _kill_leftover_ides()
    import shutil
    shutil.rmtree(SHARED_TMP, ignore_errors=True)


def _kill_leftover_ides() -> None:
    """Session processes whose API was SIGKILLed on purpose and never told to stop them (they are
    meant to outlive their API) would outlive the test run: end those started from SHARED_TMP."""
    marker = str(SHARED_TMP).encode()
    for pid_dir in pathlib.Path("/proc").iterdir():
        if not pid_dir.name.isdigit() or int(pid_dir.name) == os.getpid():
            continue
        try:
            cmdline = (pid_dir / "cmdline").read_bytes()
        except OSError:
            continue
        if marker in cmdline:
            try:
                os.kill(int(pid_dir.name), signal.SIGKILL)
            except OSError:
                pass


@pytest.fixture
def server_factory(tmp_path):
    f = ServerFactory(tmp_path)
    try:
        yield f
    finally:
        f.close()


@pytest.fixture(scope="module")
def module_factory(tmp_path_factory):
    f = ServerFactory(tmp_path_factory.mktemp("mod"))
    try:
        yield f
    finally:
        f.close()


@pytest.fixture(scope="module")
def server_env() -> dict[str, str]:
    """Extra env for the module's default server; a test module may override this fixture."""
    return {}


@pytest.fixture(scope="module")
def server(module_factory, server_env) -> Server:
    """The module's default server: admin created with the CLI beforehand, rate limit off."""
    return module_factory.start(env=server_env, admin=True, name="default")


@pytest.fixture(scope="module")
def api(server) -> Api:
    return server.api


@pytest.fixture(scope="module")
def admin(api) -> User:
    u = api.login(ADMIN_EMAIL, ADMIN_PASSWORD)
    assert u.role == "admin"
    return u


@pytest.fixture
def user(api) -> User:
    return api.signup()


@pytest.fixture
def other_user(api) -> User:
    return api.signup(unique_email("other"))


def run_threads(fns: Iterable[Callable[[], Any]]) -> list[Any]:
    """Run callables concurrently; return their results in order (re-raising the first error)."""
    fns = list(fns)
    results: list[Any] = [None] * len(fns)
    errors: list[BaseException | None] = [None] * len(fns)

    def wrap(i, fn):
        try:
            results[i] = fn()
        except BaseException as e:  # noqa: BLE001
            errors[i] = e

    threads = [threading.Thread(target=wrap, args=(i, fn), daemon=True) for i, fn in enumerate(fns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    for e in errors:
        if e is not None:
            raise e
    return results
