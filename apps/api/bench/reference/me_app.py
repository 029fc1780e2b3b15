"""Python reference for the benchmark of GET /api/v1/me.

The same work as the C++ route without its cache: the cookie's token is HMAC-hashed, looked up in
the same SQLite file MedForge wrote (auth_sessions joined with users), checked for revocation and
expiry, and the idle-TTL slide is written at most once a minute. FastAPI `async def`, run with one
uvicorn worker, uvloop and httptools (see bench_me.sh).
"""
import hashlib
import hmac
import os
import sqlite3
import time
import uuid
from datetime import datetime, timezone

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

DB_PATH = os.environ["REFERENCE_SQLITE_PATH"]
SECRET = os.environ["SESSION_SECRET"].encode()
COOKIE = "medforge_session"
IDLE_TTL_US = 604800 * 1_000_000
MAX_TTL_US = 2592000 * 1_000_000

app = FastAPI()
conn = sqlite3.connect(DB_PATH, check_same_thread=False, isolation_level=None)
conn.execute("PRAGMA journal_mode=WAL")
conn.execute("PRAGMA busy_timeout=5000")

QUERY = (
    "SELECT a.id, a.created_at, a.expires_at, a.revoked_at, a.last_seen_at, u.id, u.email, "
    "u.display_name, u.role, u.max_concurrent_sessions FROM auth_sessions a JOIN users u "
    "ON u.id = a.user_id WHERE a.token_hash = ?"
)


def problem(status: int, code: str) -> JSONResponse:
    return JSONResponse(
        {"type": f"https://medforge.dev/problems/{code}", "status": status, "code": code},
        status_code=status,
        media_type="application/problem+json",
    )


@app.get("/api/v1/me")
async def me(request: Request):
    token = request.cookies.get(COOKIE)
    if not token:
        return problem(401, "authentication_required")
    digest = hmac.new(SECRET, token.encode(), hashlib.sha256).hexdigest()
    row = conn.execute(QUERY, (digest,)).fetchone()
    now = int(time.time() * 1_000_000)
    if row is None or row[3] is not None or now >= row[2] or now >= row[1] + MAX_TTL_US:
        return problem(401, "authentication_required")
    if now - row[4] >= 60_000_000:
        conn.execute(
            "UPDATE auth_sessions SET last_seen_at = ?, expires_at = ? WHERE id = ? AND last_seen_at < ?",
            (now, now + IDLE_TTL_US, row[0], now - 60_000_000),
        )
    request_id = str(uuid.uuid4())
    return JSONResponse(
        {
            "data": {
                "user_id": row[5],
                "email": row[6],
                "display_name": row[7],
                "role": row[8],
                "max_concurrent_sessions": row[9],
            },
            "meta": {
                "request_id": request_id,
                "api_version": "v1",
                "timestamp": datetime.now(timezone.utc).isoformat(),
            },
        },
        headers={"X-Request-Id": request_id},
    )
