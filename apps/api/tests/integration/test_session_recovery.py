"""Allocation under contention and crash recovery: 50 concurrent creates by 10 users on 7 GPUs,
an API killed with SIGKILL (sessions re-adopted by pid + start time), orphans, and ≥ 50 create /
stop cycles with the API SIGKILLed at random moments — after which the service invariants hold."""
import json
import os
import random
import re
import signal
import threading
import time

import pytest
import requests

from conftest import ok, problem, run_threads, scaled, wait_until
from session_support import (wait_recovery_passes, create, db_sessions, gate, get_session, healthz, login_admin,
                             session_env, session_host, snapshots, start_session_server,
                             wait_status, workspace_path)


def process_gone(pid: int) -> bool:
    """Gone, or a zombie (re-parented to an init that does not reap, as in some containers)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def check_invariants(srv):
    rows = srv.db.query("SELECT id, status, gpu_id, active_gpu_id, upstream FROM sessions")
    active = [r for r in rows if r[1] in ("starting", "running", "stopping")]
    gpus = [r[3] for r in active]
    assert len(gpus) == len(set(gpus)), f"a GPU is held twice: {active}"
    for r in rows:
        if r[1] in ("stopped", "error"):
            assert r[3] is None
    for r in rows:
        if r[1] == "running":
            assert healthz(r[4]).status_code == 200, f"running row without a live IDE: {r}"
    return rows


def test_fifty_concurrent_creates_ten_users_seven_gpus(server_factory):
    srv = start_session_server(server_factory, GPU_COUNT="7", BLOCKING_POOL_THREADS="32")
    api = srv.api
    admin = login_admin(srv)
    users = [api.signup() for _ in range(10)]
    for u in users:
        ok(api.patch(f"/api/v1/admin/users/{u.user_id}", token=admin.token,
                     json={"max_concurrent_sessions": 8}))
    results = run_threads([(lambda u=u: create(api, u)) for u in users for _ in range(5)])
    codes = sorted(r.status_code for r in results)
    assert codes.count(201) == 7 and codes.count(409) == 43, codes
    for r in results:
        if r.status_code == 409:
            assert r.json()["code"] == "no_gpu_available"
    running = srv.db.query("SELECT gpu_id FROM sessions WHERE status = 'running'")
    assert sorted(int(g[0]) for g in running) == list(range(7))
    assert srv.db.query("SELECT COUNT(*) FROM sessions") == [("7",)]
    check_invariants(srv)


def test_database_refuses_a_double_allocation(server_factory):
    srv = start_session_server(server_factory)
    u = srv.api.signup()
    s = ok(create(srv.api, u), 201)["session"]
    with pytest.raises(Exception):
        srv.db.execute(
            "INSERT INTO sessions (id, user_id, tier, pack_id, status, gpu_id, active_gpu_id, slug, "
            "workspace, created_at, status_changed_at) VALUES ('x1', '" + u.user_id + "', 'public', "
            "'00000000-0000-0000-0000-000000000100', 'running', 0, 0, 'zzzzzzzz', 'w/x1', 0, 0)")
    assert s["gpu_id"] == 0


def test_api_sigkill_sessions_are_readopted(server_factory):
    srv = start_session_server(server_factory)
    u = srv.api.signup()
    s = ok(create(srv.api, u), 201)["session"]
    info = json.loads((workspace_path(srv, s) / "fake-ide.json").read_text())
    srv.kill()
    assert healthz(f"127.0.0.1:{info['port']}").status_code == 200  # survived the API
    srv.proc = None
    srv.spawn().wait_ready()
    wait_recovery_passes(srv, 2)  # two full passes over the re-adopted session
    assert get_session(srv.api, u, s["id"])["status"] == "running"
    assert gate(srv.api, u.token, session_host(s["slug"])).status_code == 200
    srv.api.post(f"/api/v1/sessions/{s['id']}/stop", token=u.token)
    wait_status(srv.api, u, s["id"], "stopped")
    assert wait_until(lambda: process_gone(info["pid"]), scaled(5))
    assert len(snapshots(srv, s)) == 1


def test_orphan_process_is_removed(server_factory):
    srv = start_session_server(server_factory)
    u = srv.api.signup()
    s = ok(create(srv.api, u), 201)["session"]
    info = json.loads((workspace_path(srv, s) / "fake-ide.json").read_text())
    srv.kill()
    # the row is gone from the active set behind the runtime's back
    srv.db.execute(f"UPDATE sessions SET status = 'error', active_gpu_id = NULL, "
                   f"error_message = 'test' WHERE id = '{s['id']}'")
    srv.proc = None
    srv.spawn().wait_ready()
    assert wait_until(lambda: process_gone(info["pid"]), scaled(10))
    assert wait_until(lambda: any(r.get("event") == "session.recovery.orphan_removed"
                                  for r in srv.log_records()), scaled(5))


def test_sigkill_during_create_stop_cycles_then_invariants_hold(server_factory):
    srv = start_session_server(server_factory, GPU_COUNT="3")
    api = srv.api
    admin = login_admin(srv)
    users = [api.signup() for _ in range(3)]
    rng = random.Random(1234)
    cycles = 0
    kills = 0
    deadline = time.monotonic() + scaled(150)
    while cycles < 50 and time.monotonic() < deadline:
        u = rng.choice(users)
        action = rng.random()
        cur = api.get("/api/v1/sessions/current", token=u.token).json()["data"]["session"]
        wait = rng.random() < 0.5

        def call(u=u, cur=cur, action=action, wait=wait):
            try:  # the API may be SIGKILLed under this request: that is the point
                if cur is None or action < 0.5:
                    create(api, u, wait=wait)
                else:
                    api.post(f"/api/v1/sessions/{cur['id']}/stop", token=u.token)
            except requests.RequestException:
                pass

        t = threading.Thread(target=call, daemon=True)
        t.start()
        if rng.random() < 0.3:
            time.sleep(rng.uniform(0, 0.4))
            srv.kill()
            kills += 1
            srv.proc = None
            srv.spawn().wait_ready()
        t.join(scaled(20))
        cycles += 1
    assert cycles >= 50 and kills >= 5
    # let recovery settle: nothing stays active forever (stop everything, then all terminal)
    for u in users:
        cur = api.get("/api/v1/sessions/current", token=u.token).json()["data"]["session"]
        if cur:
            api.post(f"/api/v1/sessions/{cur['id']}/stop", token=u.token)

    def settled():
        rows = srv.db.query("SELECT status FROM sessions WHERE status IN ('starting','running','stopping')")
        if rows:
            for u in users:
                cur = api.get("/api/v1/sessions/current", token=u.token).json()["data"]["session"]
                if cur and cur["status"] == "running":
                    api.post(f"/api/v1/sessions/{cur['id']}/stop", token=u.token)
        return not rows

    assert wait_until(settled, scaled(60), 0.5), srv.db.query("SELECT id, status, created_at FROM sessions")
    rows = check_invariants(srv)
    # every stopped row has its stop snapshot
    for sid, status, *_ in rows:
        if status == "stopped":
            ws = srv.db.query(f"SELECT user_id FROM sessions WHERE id = '{sid}'")[0][0]
            assert snapshots(srv, {"id": sid, "user_id": ws}), f"stopped {sid} has no snapshot"
    assert [r for r in rows if r[1] == "running"] == []


def lease_held(server) -> bool:
    return re.search(r"^medforge_session_recovery_lease 1$", server.api.get("/metrics").text,
                     re.M) is not None


def test_one_recovery_loop_per_database(server_factory):
    a = start_session_server(server_factory)
    b = server_factory.start(env=session_env(), db=a.db)
    assert wait_until(lambda: lease_held(a) != lease_held(b) and (lease_held(a) or lease_held(b)),
                      scaled(10), 0.1)
    holder, standby = (a, b) if lease_held(a) else (b, a)
    assert holder.api.get("/readyz").json()["checks"]["recovery_loop"] == "ok"
    assert standby.api.get("/readyz").json()["checks"]["recovery_loop"] == "standby"
    wait_recovery_passes(holder, 2)
    assert not lease_held(standby)  # still standing by while the holder renews
    # the holder goes away: the other takes over (its process is gone on this host: at once)
    assert holder.stop() == 0
    assert wait_until(lambda: lease_held(standby), scaled(10), 0.1)
    assert standby.api.get("/readyz").json()["checks"]["recovery_loop"] == "ok"
