"""The sessions plane through the API, with the real `process` runtime and `dir` store: create
(wait and ?wait=false), allocation and caps, stop with snapshot, events, continuing from a
snapshot, start failures, the refusal paths, the admin routes, /readyz and /metrics. The IDE is
the stand-in fake_ide.py; test_sessions_code_server.py runs the real code-server."""
import json
import pathlib
import re
import threading
import time

import pytest

from conftest import problem, ok, ok_list, wait_until, scaled, fake_ide_command
from session_support import (IS_ROOT, wait_recovery_passes, create, db_sessions, gate, get_session, healthz, login_admin,
                             read_events, session_env, session_host, snapshots, start_session_server,
                             wait_status, workspace_path)

SLUG_RE = re.compile(r"^[a-z2-7]{8}$")


@pytest.fixture
def srv(server_factory):
    return start_session_server(server_factory)


def test_create_run_gate_stop_snapshot(srv):
    api = srv.api
    u = api.signup()
    r = create(api, u)
    s = ok(r, 201)["session"]
    assert s["status"] == "running" and s["gpu_id"] == 0 and SLUG_RE.match(s["slug"])
    assert s["url"] == f"http://s-{s['slug']}.medforge.localhost:8080/"
    assert s["workspace"] == f"{u.user_id}/{s['id']}" and s["started_at"]
    assert ok(api.get("/api/v1/sessions/current", token=u.token))["session"]["id"] == s["id"]
    items, meta = ok_list(api.get("/api/v1/sessions", token=u.token))
    assert [i["id"] for i in items] == [s["id"]] and meta["limit"] == 20

    g = gate(api, u.token, session_host(s["slug"]))
    assert g.status_code == 200, g.text
    upstream = g.headers["X-Medforge-Upstream"]
    assert re.match(r"^127\.0\.0\.1:\d+$", upstream)
    assert g.headers["X-Medforge-User"] == u.user_id
    h = healthz(upstream)
    assert h.status_code == 200 and h.json()["status"] == "alive"

    ws = workspace_path(srv, s)
    info = json.loads((ws / "fake-ide.json").read_text())
    assert pathlib.Path(info["cwd"]) == ws
    if IS_ROOT:
        import pwd
        assert info["uid"] == pwd.getpwnam("medforge-session").pw_uid
    (ws / "notes.txt").write_text("kept")

    r = api.post(f"/api/v1/sessions/{s['id']}/stop", token=u.token)
    assert ok(r, 202)["message"]
    done = wait_status(api, u, s["id"], "stopped")
    assert done["stopped_at"] and done["error_message"] is None
    snaps = snapshots(srv, s)
    assert len(snaps) == 1 and re.search(r"@stop-\d{13}$", snaps[0].name)
    assert (snaps[0] / "notes.txt").read_text() == "kept"
    # the IDE is gone, the gate says so, the GPU is free
    with pytest.raises(Exception):
        healthz(upstream)
    problem(gate(api, u.token, session_host(s["slug"])), 404, "session_not_found")
    assert db_sessions(srv, f"id = '{s['id']}'")[0][3] is None
    # stop again: still 202
    assert api.post(f"/api/v1/sessions/{s['id']}/stop", token=u.token).status_code == 202
    assert ok(api.get("/api/v1/sessions/current", token=u.token))["session"] is None

    events = read_events(api, u, s["id"])
    assert [e["kind"] for e in events] == ["starting", "running", "stopping", "stopped"]
    assert all(e["at"] for e in events)
    # Last-Event-ID resumes after that event
    later = read_events(api, u, s["id"], headers={"Last-Event-ID": str(events[1]["id"])})
    assert [e["kind"] for e in later] == ["stopping", "stopped"]


def test_wait_false_returns_202_and_events_follow_the_start(server_factory):
    srv = start_session_server(server_factory, SESSION_PROCESS_COMMAND=fake_ide_command("--delay", "1"))
    u = srv.api.signup()
    s = ok(create(srv.api, u, wait=False), 202)["session"]
    assert s["status"] == "starting"
    events = []
    reader = threading.Thread(target=lambda: events.extend(read_events(srv.api, u, s["id"])))
    reader.start()
    wait_status(srv.api, u, s["id"], "running")
    srv.api.post(f"/api/v1/sessions/{s['id']}/stop", token=u.token)
    reader.join(scaled(30))
    assert [e["kind"] for e in events] == ["starting", "running", "stopping", "stopped"]
    assert events[0]["event"] == "starting" and int(events[0]["sse_id"]) == events[0]["id"]


def test_user_cap_and_admin_raise(srv):
    api = srv.api
    u = api.signup()
    first = ok(create(api, u), 201)["session"]
    p = problem(create(api, u), 409, "session_limit_reached")
    assert p["max_concurrent_sessions"] == 1
    admin = login_admin(srv)
    ok(api.patch(f"/api/v1/admin/users/{u.user_id}", token=admin.token,
                 json={"max_concurrent_sessions": 2}))
    second = ok(create(api, u), 201)["session"]
    assert {first["gpu_id"], second["gpu_id"]} == {0, 1}
    assert len(db_sessions(srv, "status = 'running'")) == 2


def test_no_gpu_available_and_gpu_admin(server_factory):
    srv = start_session_server(server_factory, GPU_COUNT="2")
    api = srv.api
    admin = login_admin(srv)
    gpus = ok(api.get("/api/v1/admin/gpus", token=admin.token))
    assert [(g["id"], g["enabled"], g["session_id"]) for g in gpus] == [(0, True, None), (1, True, None)]
    g0 = ok(api.patch("/api/v1/admin/gpus/0", token=admin.token, json={"enabled": False}))
    assert g0["enabled"] is False
    a, b = api.signup(), api.signup()
    sa = ok(create(api, a), 201)["session"]
    assert sa["gpu_id"] == 1  # GPU 0 is disabled
    problem(create(api, b), 409, "no_gpu_available")
    gpus = ok(api.get("/api/v1/admin/gpus", token=admin.token))
    assert gpus[1]["session_id"] == sa["id"]
    # disabling a GPU in use leaves its session alone
    ok(api.patch("/api/v1/admin/gpus/1", token=admin.token, json={"enabled": False}))
    assert get_session(api, a, sa["id"])["status"] == "running"
    ok(api.patch("/api/v1/admin/gpus/0", token=admin.token, json={"enabled": True}))
    assert ok(create(api, b), 201)["session"]["gpu_id"] == 0
    problem(api.patch("/api/v1/admin/gpus/9", token=admin.token, json={"enabled": True}), 404, "gpu_not_found")
    problem(api.patch("/api/v1/admin/gpus/x", token=admin.token, json={"enabled": True}), 404, "gpu_not_found")
    problem(api.patch("/api/v1/admin/gpus/0", token=admin.token, json={"enabled": "yes"}), 422)
    problem(api.patch("/api/v1/admin/gpus/0", token=admin.token, json={}), 422)


def test_refusals_write_nothing(srv):
    api = srv.api
    u = api.signup()
    problem(create(api, u, tier="private"), 501, "tier_not_available")
    problem(create(api, u, tier="gold"), 422)
    problem(create(api, u, pack_id="nope"), 404, "pack_not_found")
    problem(create(api, u, extra=1), 422)
    problem(create(api, u, from_session_id="not-a-uuid"), 422)
    problem(create(api, u, from_session_id="00000000-0000-4000-8000-000000000000"), 404, "session_not_found")
    problem(api.post("/api/v1/sessions?wait=maybe", token=u.token, json={}), 422)
    problem(api.post("/api/v1/sessions", token=u.token, data="{", headers={"Content-Type": "application/json"}), 422)
    problem(api.post("/api/v1/sessions", token=u.token, data="[]", headers={"Content-Type": "application/json"}), 422)
    srv.db.execute("INSERT INTO packs (id, name, tier, image_ref, created_at, deprecated_at) VALUES "
                   "('old-pack', 'old', 'public', '', 0, 1)")
    srv.db.execute("INSERT INTO packs (id, name, tier, image_ref, created_at) VALUES "
                   "('priv-pack', 'priv', 'private', '', 0)")
    problem(create(api, u, pack_id="old-pack"), 409, "pack_deprecated")
    problem(create(api, u, pack_id="priv-pack"), 422, "pack_tier_mismatch")
    assert db_sessions(srv) == []
    problem(api.get("/api/v1/sessions?status=bogus", token=u.token), 422)
    problem(api.get("/api/v1/sessions/not-a-uuid", token=u.token), 404, "session_not_found")
    problem(api.post("/api/v1/sessions/00000000-0000-4000-8000-000000000000/stop", token=u.token), 404)


def test_other_users_cannot_see_or_stop(srv):
    api = srv.api
    owner, other = api.signup(), api.signup()
    s = ok(create(api, owner), 201)["session"]
    problem(api.get(f"/api/v1/sessions/{s['id']}", token=other.token), 404, "session_not_found")
    problem(api.post(f"/api/v1/sessions/{s['id']}/stop", token=other.token), 404)
    problem(api.get(f"/api/v1/sessions/{s['id']}/events", token=other.token), 404)
    assert ok_list(api.get("/api/v1/sessions", token=other.token))[0] == []
    assert get_session(api, owner, s["id"])["status"] == "running"
    admin = login_admin(srv)
    items, _ = ok_list(api.get(f"/api/v1/admin/sessions?status=running&user_id={owner.user_id}", token=admin.token))
    assert [i["id"] for i in items] == [s["id"]]
    problem(api.get("/api/v1/admin/sessions?user_id=bad", token=admin.token), 422)
    assert ok(api.post(f"/api/v1/admin/sessions/{s['id']}/stop", token=admin.token), 202)
    wait_status(api, owner, s["id"], "stopped")


def test_start_failure_is_error_and_frees_the_gpu(server_factory):
    srv = start_session_server(server_factory, SESSION_PROCESS_COMMAND=fake_ide_command("--exit-after", "0.2", "--delay", "0.5"))
    api = srv.api
    u = api.signup()
    p = problem(create(api, u), 500, "session_start_failed")
    rows = db_sessions(srv)
    assert len(rows) == 1 and rows[0][1] == "error" and rows[0][3] is None
    assert rows[0][4].startswith("create failed: ")
    assert p["session_id"] == rows[0][0]
    # the GPU and the user's slot are free again
    assert srv.db.query("SELECT COUNT(*) FROM sessions WHERE active_gpu_id IS NOT NULL") == [("0",)]
    recs = [r for r in srv.log_records() if r.get("event") == "session.start_failed"]
    assert recs and recs[0]["session_id"] == rows[0][0] and recs[0]["correlation_id"]


def test_start_timeout(server_factory):
    srv = start_session_server(server_factory, SESSION_PROCESS_COMMAND=fake_ide_command("--delay", "30"),
                               SESSION_CONTAINER_START_TIMEOUT_SECONDS="2")
    u = srv.api.signup()
    t0 = time.monotonic()
    problem(create(srv.api, u), 500, "session_start_failed")
    assert time.monotonic() - t0 < scaled(10)
    assert "did not answer /healthz" in db_sessions(srv)[0][4]


def test_stop_during_start_wins(server_factory):
    # a long poll interval: the stop must be finished by the wake-ups, not by a periodic pass
    srv = start_session_server(server_factory, SESSION_PROCESS_COMMAND=fake_ide_command("--delay", "2"),
                               SESSION_POLL_INTERVAL_SECONDS="60")
    api = srv.api
    u = api.signup()
    result = {}
    t = threading.Thread(target=lambda: result.update(r=create(api, u)))
    t.start()
    assert wait_until(lambda: db_sessions(srv), scaled(5))
    sid = db_sessions(srv)[0][0]
    assert ok(api.post(f"/api/v1/sessions/{sid}/stop", token=u.token), 202)
    t.join(scaled(30))
    problem(result["r"], 409, "session_stopped_during_start")
    s = wait_status(api, u, sid, "stopped", deadline_s=5)
    assert s["status"] == "stopped"
    # nothing left listening
    assert srv.db.query("SELECT COUNT(*) FROM sessions WHERE active_gpu_id IS NOT NULL") == [("0",)]


def test_continue_from_snapshot(srv):
    api = srv.api
    u = api.signup()
    s1 = ok(create(api, u), 201)["session"]
    problem(create(api, u, from_session_id=s1["id"]), 409)  # still active (cap or active)
    (workspace_path(srv, s1) / "model.txt").write_text("epoch 7")
    api.post(f"/api/v1/sessions/{s1['id']}/stop", token=u.token)
    wait_status(api, u, s1["id"], "stopped")
    s2 = ok(create(api, u, from_session_id=s1["id"]), 201)["session"]
    assert (workspace_path(srv, s2) / "model.txt").read_text() == "epoch 7"
    other = api.signup()
    problem(create(api, other, from_session_id=s1["id"]), 404, "session_not_found")


def test_runtime_unavailable_writes_no_row(server_factory):
    srv = start_session_server(server_factory, SESSION_PROCESS_COMMAND="/nonexistent/ide {port} {workspace}")
    u = srv.api.signup()
    problem(create(srv.api, u), 503, "runtime_unavailable")
    assert db_sessions(srv) == []
    r = srv.api.get("/readyz")
    body = problem(r, 503, "not_ready")
    assert any(e["loc"] == ["runtime"] for e in body["errors"])


def test_docker_without_an_image_is_refused_before_allocation(server_factory, tmp_path):
    # The check comes before the runtime is contacted, so no dockerd is needed: the socket
    # named here does not exist.
    srv = start_session_server(server_factory, SESSION_RUNTIME="docker", PACK_IMAGE="",
                               DOCKER_HOST=f"unix://{tmp_path}/no-docker.sock")
    u = srv.api.signup()
    body = problem(create(srv.api, u), 503, "runtime_unavailable")
    assert "PACK_IMAGE" in body["detail"]
    assert db_sessions(srv) == []
    assert "medforge_gpus_free 7" in srv.api.get("/metrics").text


def test_malformed_last_event_id_is_422(srv):
    api = srv.api
    u = api.signup()
    s = ok(create(api, u), 201)["session"]
    for bad in ("abc", "-1", "1.5", "99999999999999999999999"):
        r = api.get(f"/api/v1/sessions/{s['id']}/events", token=u.token,
                    headers={"Accept": "text/event-stream", "Last-Event-ID": bad})
        body = problem(r, 422, "request_validation_failed")
        assert body["errors"][0]["loc"] == ["header", "Last-Event-ID"], bad


def test_readyz_and_metrics(srv):
    r = srv.api.get("/readyz")
    assert r.status_code == 200, r.text
    checks = r.json()["checks"]
    assert checks["runtime"] == "ok" and checks["workspace_store"] == "ok"
    assert checks["recovery_loop"] in ("ok", "starting")
    assert wait_until(lambda: srv.api.get("/readyz").json()["checks"]["recovery_loop"] == "ok", scaled(5))
    u = srv.api.signup()
    ok(create(srv.api, u), 201)
    m = srv.api.get("/metrics").text
    assert 'medforge_sessions{status="running"} 1' in m
    assert "medforge_gpus_free 6" in m


def test_process_killed_behind_the_api_becomes_error_with_death_snapshot(srv):
    api = srv.api
    u = api.signup()
    s = ok(create(api, u), 201)["session"]
    info = json.loads((workspace_path(srv, s) / "fake-ide.json").read_text())
    import os
    import signal
    t0 = time.monotonic()
    os.kill(info["pid"], signal.SIGKILL)
    done = wait_status(api, u, s["id"], "error", deadline_s=10)
    assert time.monotonic() - t0 < scaled(3.5)  # within one 1 s poll interval (+ pass time)
    assert done["error_message"].startswith("container exited unexpectedly")
    snaps = snapshots(srv, s)
    assert len(snaps) == 1 and "@death-" in snaps[0].name
    assert db_sessions(srv, f"id = '{s['id']}'")[0][3] is None


def test_idle_session_is_stopped(server_factory):
    srv = start_session_server(server_factory, SESSION_PROCESS_COMMAND=fake_ide_command("--heartbeat", "600"),
                               SESSION_IDLE_TIMEOUT_SECONDS="2")
    u = srv.api.signup()
    s = ok(create(srv.api, u), 201)["session"]
    wait_status(srv.api, u, s["id"], "stopped", deadline_s=15)
    kinds = [e["message"] for e in read_events(srv.api, u, s["id"])]
    assert any("idle" in m for m in kinds)


def test_busy_session_is_not_stopped_for_idleness(server_factory):
    srv = start_session_server(server_factory, SESSION_IDLE_TIMEOUT_SECONDS="2")
    u = srv.api.signup()
    t0 = time.monotonic()
    s = ok(create(srv.api, u), 201)["session"]
    # recovery passes until the session is older than the 2 s idle window, then one more: each
    # looked at its (fresh) heartbeat and left it running
    while time.monotonic() - t0 < 2.5:
        wait_recovery_passes(srv, 1)
    wait_recovery_passes(srv, 1)
    assert get_session(srv.api, u, s["id"])["status"] == "running"


def test_deliberate_shutdown_stops_sessions_with_snapshots(server_factory):
    srv = start_session_server(server_factory, SESSION_STOP_ON_SHUTDOWN="true")
    u = srv.api.signup()
    s = ok(create(srv.api, u), 201)["session"]
    info = json.loads((workspace_path(srv, s) / "fake-ide.json").read_text())
    assert srv.stop() == 0
    row = db_sessions(srv, f"id = '{s['id']}'")[0]
    assert row[1] == "stopped"
    assert len(snapshots(srv, s)) == 1
    from test_session_recovery import process_gone
    assert process_gone(info["pid"])
