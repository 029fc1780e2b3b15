"""Helpers for the session tests: a server running the `process` runtime with the stand-in IDE
(fake_ide.py) on a `dir` store, waiting for session states, and reading SSE streams."""
from __future__ import annotations

import json
import re
import os
import pathlib
import time

import requests

from conftest import ADMIN_EMAIL, ADMIN_PASSWORD, fake_ide_command, wait_until, scaled

SESSION_DOMAIN = "medforge.localhost"
IS_ROOT = os.geteuid() == 0


def session_env(**extra: str) -> dict[str, str]:
    env = {
        "SESSION_RUNTIME": "process",
        "WORKSPACE_STORE": "dir",
        "GPU_COUNT": "7",
        "SESSION_POLL_INTERVAL_SECONDS": "1",
        "SESSION_CONTAINER_START_TIMEOUT_SECONDS": "15",
        "SESSION_CONTAINER_STOP_TIMEOUT_SECONDS": "3",
        # a test's teardown (SIGTERM) stops its sessions, so no IDE outlives its test
        "SESSION_STOP_ON_SHUTDOWN": "true",
    }
    env.update(extra)
    return env


def start_session_server(factory, db=None, admin=True, **extra):
    return factory.start(env=session_env(**extra), db=db, admin=admin)


def login_admin(server):
    return server.api.login(ADMIN_EMAIL, ADMIN_PASSWORD)


def create(api, user, wait=True, **body):
    path = "/api/v1/sessions" + ("" if wait else "?wait=false")
    return api.post(path, token=user.token, json=body)


def get_session(api, user, sid):
    r = api.get(f"/api/v1/sessions/{sid}", token=user.token)
    assert r.status_code == 200, r.text
    return r.json()["data"]


def wait_status(api, user, sid, statuses, deadline_s=20.0):
    if isinstance(statuses, str):
        statuses = {statuses}
    seen = {}

    def check():
        seen["s"] = get_session(api, user, sid)
        return seen["s"]["status"] in statuses

    assert wait_until(check, scaled(deadline_s), 0.1), f"session {sid} not in {statuses}: {seen.get('s')}"
    return seen["s"]


def gate(api, token=None, host=None, headers=None):
    h = dict(headers or {})
    if host is not None:
        h["Host"] = host
    return api.get("/api/v1/auth/session-proxy", token=token, headers=h)


def session_host(slug: str) -> str:
    return f"s-{slug}.{SESSION_DOMAIN}"


def healthz(upstream: str):
    return requests.get(f"http://{upstream}/healthz", timeout=3)


def workspace_path(server, session) -> pathlib.Path:
    return pathlib.Path(server.env["WORKSPACE_DIR_ROOT"]) / session["workspace"]


def snapshots(server, session) -> list[pathlib.Path]:
    base = pathlib.Path(server.env["WORKSPACE_DIR_ROOT"]) / ".snapshots" / session["user_id"]
    if not base.is_dir():
        return []
    return sorted(p for p in base.iterdir() if p.name.startswith(session["id"] + "@"))


def read_events(api, user, sid, timeout=30.0, headers=None):
    """Reads the SSE stream to its end; returns the parsed events (dicts)."""
    h = {"Accept": "text/event-stream"}
    h.update(headers or {})
    r = api.get(f"/api/v1/sessions/{sid}/events", token=user.token, headers=h, stream=True,
                timeout=scaled(timeout))
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/event-stream")
    events = []
    cur = {}
    for raw in r.iter_lines(decode_unicode=True):
        if raw == "":
            if "data" in cur:
                events.append(json.loads(cur["data"]) | {"event": cur.get("event"), "sse_id": cur.get("id")})
            cur = {}
            continue
        if raw.startswith(":"):
            continue
        k, _, v = raw.partition(": ")
        cur[k] = v
    return events


def db_sessions(server, where="1=1"):
    return server.db.query(f"SELECT id, status, gpu_id, active_gpu_id, error_message FROM sessions WHERE {where}")


def recovery_passes(server) -> int:
    """Recovery passes this server has finished (ok + failed), from /metrics."""
    text = server.api.get("/metrics").text
    return sum(int(m) for m in re.findall(r'^medforge_session_recovery_passes_total\{result="\w+"\} (\d+)$',
                                           text, re.M))


def wait_recovery_passes(server, n: int, deadline_s: float = 15.0) -> None:
    """Waits until `n` more recovery passes have finished (instead of sleeping)."""
    start = recovery_passes(server)
    wait_until(lambda: recovery_passes(server) >= start + n, scaled(deadline_s), 0.1,
               message=f"{n} recovery passes")
