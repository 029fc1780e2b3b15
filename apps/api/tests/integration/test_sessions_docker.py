"""The sessions plane with the `docker` runtime and the `zfs` store, through the API, against the
real services the `system` stage of scripts/test.sh starts (a throwaway dockerd with the session
image built by scripts/build-session-image.sh — real code-server — and zfs-fuse on a file-backed
pool). Skipped when those services are not given (MEDFORGE_REQUIRE_SERVICES=1 makes that a
failure; the system stage sets it).

The daemon outage is produced by taking away the socket path the API dials (DOCKER_HOST points
at a symlink to the daemon's socket): to the API that is exactly a daemon that cannot be reached,
and the daemon and its containers survive, so convergence can be checked."""
import json
import os
import pathlib
import socket
import subprocess
import time
import uuid

import pytest
import requests

from conftest import ok, problem, scaled, wait_until, shared_tmp
from session_support import (wait_recovery_passes, create, db_sessions, gate, get_session, login_admin, session_host,
                             start_session_server, wait_status)

DOCKER_HOST = os.environ.get("MEDFORGE_TEST_DOCKER_HOST", "")
IMAGE = os.environ.get("MEDFORGE_TEST_DOCKER_IMAGE", "")
SUBNET = os.environ.get("MEDFORGE_TEST_DOCKER_SUBNET", "")
ZFS_ROOT = os.environ.get("MEDFORGE_TEST_ZFS_ROOT", "")

if not (DOCKER_HOST and IMAGE and ZFS_ROOT):
    if os.environ.get("MEDFORGE_REQUIRE_SERVICES") == "1":
        raise RuntimeError("MEDFORGE_TEST_DOCKER_HOST/IMAGE and MEDFORGE_TEST_ZFS_ROOT must be set")
    pytest.skip("needs dockerd and zfs-fuse (scripts/test.sh system stage)", allow_module_level=True)

SOCKET = DOCKER_HOST.removeprefix("unix://")


def docker(method: str, path: str, body=None):
    """One Engine API call over the daemon's own socket (the test's view, not the API's)."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(30)
    s.connect(SOCKET)
    data = json.dumps(body).encode() if body is not None else b""
    req = (f"{method} /v1.41{path} HTTP/1.0\r\nHost: d\r\nContent-Type: application/json\r\n"
           f"Content-Length: {len(data)}\r\n\r\n").encode() + data
    s.sendall(req)
    out = b""
    while chunk := s.recv(65536):
        out += chunk
    s.close()
    head, _, payload = out.partition(b"\r\n\r\n")
    status = int(head.split()[1])
    return status, (json.loads(payload) if payload.strip().startswith((b"{", b"[")) else payload)


def zfs_snapshots(dataset: str) -> list[str]:
    r = subprocess.run(["zfs", "list", "-H", "-t", "snapshot", "-o", "name", "-r", dataset],
                       capture_output=True, text=True)
    return [l for l in r.stdout.split() if l.split("@")[0] == dataset]


@pytest.fixture
def link_dir():
    d = shared_tmp() / f"dock-{uuid.uuid4().hex[:8]}"
    d.mkdir()
    link = d / "docker.sock"
    link.symlink_to(SOCKET)
    yield link
    for p in d.iterdir():
        p.unlink()
    d.rmdir()


@pytest.fixture
def dsrv(server_factory, link_dir):
    net = f"mf-test-{uuid.uuid4().hex[:6]}"
    srv = start_session_server(
        server_factory,
        SESSION_RUNTIME="docker", DOCKER_HOST=f"unix://{link_dir}", PACK_IMAGE=IMAGE,
        SESSION_GPU_MODE="none", PUBLIC_SESSIONS_NETWORK=net,
        **({"PUBLIC_SESSIONS_SUBNET": SUBNET} if SUBNET else {}),
        WORKSPACE_STORE="zfs", WORKSPACE_ZFS_ROOT=ZFS_ROOT, SESSION_WORKSPACE_QUOTA_GB="1",
        SESSION_CONTAINER_START_TIMEOUT_SECONDS="60", SESSION_CONTAINER_STOP_TIMEOUT_SECONDS="5")
    yield srv
    # leave nothing of this test on the shared daemon
    srv.stop()
    status, items = docker("GET", "/containers/json?all=true")
    for c in items if status == 200 else []:
        if any(n.startswith("/mf-session-") for n in c["Names"]):
            docker("DELETE", f"/containers/{c['Id']}?force=true")
    docker("DELETE", f"/networks/{net}")


def dataset_of(s) -> str:
    return f"{ZFS_ROOT}/{s['workspace']}"


def test_docker_zfs_session_end_to_end(dsrv):
    api = dsrv.api
    u = api.signup()
    s = ok(create(api, u), 201)["session"]
    g = gate(api, u.token, session_host(s["slug"]))
    assert g.status_code == 200
    upstream = g.headers["X-Medforge-Upstream"]
    assert upstream.endswith(":8080") and not upstream.startswith("127.")
    assert requests.get(f"http://{upstream}/healthz", timeout=5).status_code == 200
    status, info = docker("GET", f"/containers/mf-session-{s['slug']}/json")
    assert status == 200 and info["Config"]["User"] == "1000:1000"
    assert info["Config"]["Labels"]["medforge.session_id"] == s["id"]
    ds = dataset_of(s)
    quota = subprocess.run(["zfs", "get", "-H", "-o", "value", "quota", ds], capture_output=True,
                           text=True).stdout.strip()
    assert quota == "1G"
    api.post(f"/api/v1/sessions/{s['id']}/stop", token=u.token)
    wait_status(api, u, s["id"], "stopped", deadline_s=30)
    snaps = zfs_snapshots(ds)
    assert len(snaps) == 1 and "@stop-" in snaps[0]
    assert docker("GET", f"/containers/mf-session-{s['slug']}/json")[0] == 404


def test_container_killed_behind_the_api(dsrv):
    api = dsrv.api
    u = api.signup()
    s = ok(create(api, u), 201)["session"]
    assert docker("POST", f"/containers/mf-session-{s['slug']}/kill")[0] == 204
    t0 = time.monotonic()
    done = wait_status(api, u, s["id"], "error", deadline_s=15)
    assert time.monotonic() - t0 < scaled(5)
    assert done["error_message"].startswith("container exited unexpectedly")
    assert any("@death-" in n for n in zfs_snapshots(dataset_of(s)))
    assert docker("GET", f"/containers/mf-session-{s['slug']}/json")[0] == 404


def test_orphan_container_is_removed(dsrv):
    status, body = docker("POST", "/containers/create?name=mf-session-orphanzz",
                          {"Image": IMAGE, "Labels": {"medforge.session_id": "none"}})
    assert status == 201, body
    assert docker("POST", f"/containers/{body['Id']}/start")[0] in (204, 304)
    assert wait_until(lambda: docker("GET", "/containers/mf-session-orphanzz/json")[0] == 404,
                      scaled(15), 0.25)
    assert any(r.get("event") == "session.recovery.orphan_removed" for r in dsrv.log_records())


def test_daemon_unreachable_then_back(dsrv, link_dir):
    api = dsrv.api
    a, b = api.signup(), api.signup()
    sa = ok(create(api, a), 201)["session"]
    link_dir.unlink()  # the API can no longer reach the daemon
    try:
        body = problem(api.get("/readyz"), 503, "not_ready")
        assert any(e["loc"] == ["runtime"] for e in body["errors"])
        problem(create(api, b), 503, "runtime_unavailable")
        assert len(db_sessions(dsrv)) == 1  # no row for the refused create
        wait_recovery_passes(dsrv, 2)  # passes fail meanwhile; nothing is declared dead
        assert get_session(api, a, sa["id"])["status"] == "running"
        assert dsrv.db.query("SELECT COUNT(*) FROM sessions WHERE active_gpu_id IS NOT NULL") == [("1",)]
    finally:
        link_dir.symlink_to(SOCKET)
    assert wait_until(lambda: api.get("/readyz").status_code == 200, scaled(30), 0.5)
    sb = ok(create(api, b), 201)["session"]
    assert {sa["gpu_id"], sb["gpu_id"]} == {0, 1}
    assert get_session(api, a, sa["id"])["status"] == "running"
