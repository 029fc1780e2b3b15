"""Python reference for the proxy-gate benchmark: GET /api/v1/auth/session-proxy.

The decision of the C++ gate (the sessions spec, "The proxy gate"), in the same order, written
the way a FastAPI developer would, and without any cache:

1. The Host header, lower-cased (ASCII), its port and one trailing dot stripped, must be exactly
   `s-<8 chars a-z2-7>.medforge.<DOMAIN>` -> else 404 session_host_not_found.
2. Exactly one `medforge_session` cookie holding a plausible token; HMAC-SHA256(SESSION_SECRET,
   token) hex looked up in auth_sessions joined to users: not revoked, before expires_at (the idle
   expiry, slid on use) and before created_at + AUTH_MAX_TTL_SECONDS -> else 401. When the
   credential was last seen a minute ago or more, the idle expiry is slid (one conditional UPDATE:
   at most once a minute per token, whatever the number of workers, since the row is re-read on
   every request).
3. A session with that slug in status `running` (and an upstream) -> else 404 session_not_found.
4. The caller owns it or is an admin -> else 403 session_access_denied.
5. 200 with X-Medforge-Upstream and X-Medforge-User.

Connections: one sqlite3 connection per worker process, opened when the worker imports this
module, used by the `async def` handler on the event loop thread. Each query is an indexed point
lookup of a few microseconds, so running it inline on the loop is what a FastAPI developer would
do; opening a connection per request would cost more than the queries themselves.

Configuration (environment): REFERENCE_SQLITE_PATH (the SQLite file medforge-api migrated; a
`sqlite://` prefix is accepted), SESSION_SECRET, DOMAIN (default localhost), and optionally
COOKIE_NAME, AUTH_IDLE_TTL_SECONDS, AUTH_MAX_TTL_SECONDS with medforge-api's defaults.

    REFERENCE_SQLITE_PATH=/tmp/x.db SESSION_SECRET=... DOMAIN=localhost \
      /usr/bin/python3 -m uvicorn gate_reference:app --workers 1 --loop uvloop --http httptools
"""
import hashlib
import hmac
import os
import re
import sqlite3
import time
import uuid
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

DB_PATH = os.environ["REFERENCE_SQLITE_PATH"].removeprefix("sqlite://")
SECRET = os.environ["SESSION_SECRET"].encode()
DOMAIN = os.environ.get("DOMAIN", "localhost").lower()
COOKIE = os.environ.get("COOKIE_NAME", "medforge_session")
IDLE_TTL_US = int(os.environ.get("AUTH_IDLE_TTL_SECONDS", "604800")) * 1_000_000
MAX_TTL_US = int(os.environ.get("AUTH_MAX_TTL_SECONDS", "2592000")) * 1_000_000
SLIDE_INTERVAL_US = 60 * 1_000_000

SUFFIX = ".medforge." + DOMAIN
SLUG = re.compile(r"[a-z2-7]{8}")
PLAUSIBLE_TOKEN = re.compile(r"[A-Za-z0-9_-]{20,128}")

AUTH_QUERY = (
    "SELECT a.id, a.created_at, a.expires_at, a.revoked_at, a.last_seen_at, u.id, u.role "
    "FROM auth_sessions a JOIN users u ON u.id = a.user_id WHERE a.token_hash = ?"
)
SLIDE = (
    "UPDATE auth_sessions SET last_seen_at = ?, expires_at = ? "
    "WHERE id = ? AND revoked_at IS NULL AND last_seen_at <= ?"
)
SESSION_QUERY = "SELECT id, user_id, upstream FROM sessions WHERE slug = ? AND status = 'running'"

# One connection per worker process: uvicorn imports this module in each worker. Autocommit: the
# lookups take no transaction, the slide is one statement. (FastAPI 0.92, Debian's, predates the
# `lifespan=` argument, so the connection is opened at import rather than in a lifespan.)
# mode=rw: a wrong path fails here instead of creating an empty database.
db = sqlite3.connect(f"file:{quote(DB_PATH)}?mode=rw", uri=True, isolation_level=None,
                     check_same_thread=False)
db.execute("PRAGMA busy_timeout=5000")
db.execute("PRAGMA synchronous=NORMAL")  # as medforge-api sets it; WAL is the file's own mode

app = FastAPI()


def slug_from_host(host: str | None) -> str | None:
    if not host or len(host) > 255 or not host.isascii():
        return None
    colon = host.find(":")
    if colon >= 0:
        port = host[colon + 1 :]
        if not port or len(port) > 5 or not port.isdigit():
            return None
        host = host[:colon]
    if host.endswith("."):
        host = host[:-1]
    host = host.lower()
    if len(host) != 10 + len(SUFFIX) or not host.startswith("s-") or not host.endswith(SUFFIX):
        return None
    slug = host[2:10]
    return slug if SLUG.fullmatch(slug) else None


def session_cookies(request: Request) -> list[str]:
    """Every value of the session cookie across the Cookie headers (a duplicate is refused)."""
    out = []
    for header in request.headers.getlist("cookie"):
        for pair in header.split(";"):
            name, eq, value = pair.partition("=")
            if not eq or name.strip(" \t") != COOKIE:
                continue
            value = value.strip(" \t")
            if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
                value = value[1:-1]
            out.append(value)
    return out


def problem(request_id: str, status: int, code: str, detail: str) -> JSONResponse:
    return JSONResponse(
        {
            "type": f"https://medforge.dev/problems/{code}",
            "title": code.replace("_", " "),
            "status": status,
            "detail": detail,
            "code": code,
            "request_id": request_id,
        },
        status_code=status,
        media_type="application/problem+json",
        headers={"X-Request-Id": request_id, "Cache-Control": "no-store"},
    )


@app.get("/api/v1/auth/session-proxy")
async def session_proxy(request: Request) -> Response:
    request_id = str(uuid.uuid4())
    slug = slug_from_host(request.headers.get("host"))
    if slug is None:
        return problem(request_id, 404, "session_host_not_found", "This is not a session host.")

    tokens = session_cookies(request)
    token = tokens[0] if len(tokens) == 1 else ""
    if not PLAUSIBLE_TOKEN.fullmatch(token):
        return problem(request_id, 401, "authentication_required", "Log in to use this route.")
    digest = hmac.new(SECRET, token.encode(), hashlib.sha256).hexdigest()
    row = db.execute(AUTH_QUERY, (digest,)).fetchone()
    now = time.time_ns() // 1000
    if row is None or row[3] is not None or now >= row[2] or now >= row[1] + MAX_TTL_US:
        return problem(request_id, 401, "authentication_required", "Log in to use this route.")
    credential_id, _, _, _, last_seen_at, user_id, role = row
    if now - last_seen_at >= SLIDE_INTERVAL_US:
        db.execute(SLIDE, (now, now + IDLE_TTL_US, credential_id, now - SLIDE_INTERVAL_US))

    session = db.execute(SESSION_QUERY, (slug,)).fetchone()
    if session is None or session[2] is None:
        return problem(request_id, 404, "session_not_found", "No running session at this address.")
    if session[1] != user_id and role != "admin":
        return problem(
            request_id, 403, "session_access_denied", "This session belongs to someone else."
        )
    return Response(
        status_code=200,
        media_type="text/plain",
        headers={
            "X-Medforge-Upstream": session[2],
            "X-Medforge-User": user_id,
            "X-Request-Id": request_id,
            "Cache-Control": "no-store",
        },
    )
