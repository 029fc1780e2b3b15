"""GET /api/v1/status, the admin's host dashboard: who may read it, every documented field with
values checked against what this machine and the database say, counts that follow new users,
sessions and submissions, and the three nvidia-smi states. This machine has no GPU: the `ok`
and `failed` states use a script named nvidia-smi on PATH that prints output captured on an
H200 host (apps/api/tests/unit/fixtures/nvidia-smi-h200-usage.csv) or fails."""
from __future__ import annotations

import os
import pathlib
import stat

import pytest

from conftest import ADMIN_EMAIL, ADMIN_PASSWORD, REPO_ROOT, TIMESTAMP_RE, ok, problem, unique_email, wait_until, scaled
from session_support import create, session_env, wait_status

STATUS = "/api/v1/status"
TOP = {"generated_at", "gpu_discovery", "nvidia_smi", "gpus", "host", "pools", "counts"}
GPU = {"id", "name", "uuid", "enabled", "session_id", "utilization_percent", "memory_used_mib",
       "memory_total_mib", "temperature_c"}
LIVE = ("utilization_percent", "memory_used_mib", "memory_total_mib", "temperature_c")
HOST = {"cpu_count", "load_1m", "load_5m", "load_15m", "memory_total_bytes", "memory_available_bytes",
        "process", "disks"}
DISK = {"name", "path", "total_bytes", "free_bytes", "available_bytes", "error"}
SESSION_STATUSES = {"starting", "running", "stopping", "stopped", "error", "total"}
SUBMISSION_STATUSES = {"queued", "scoring", "scored", "failed", "total"}
H200_USAGE = (REPO_ROOT / "apps/api/tests/unit/fixtures/nvidia-smi-h200-usage.csv").read_text()
H100_NAMES = (REPO_ROOT / "apps/api/tests/unit/fixtures/nvidia-smi-h100.csv").read_text()
SAMPLE = (REPO_ROOT / "apps/api/data/competitions/titanic-survival/sample_submission.csv").read_bytes()


@pytest.fixture(scope="module")
def server_env():
    return session_env(BLOCKING_POOL_THREADS="6")


def status(api, admin) -> dict:
    data = ok(api.get(STATUS, token=admin.token))
    assert set(data) == TOP, data
    return data


def meminfo_bytes(key: str) -> int:
    for line in pathlib.Path("/proc/meminfo").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name == key:
            return int(rest.split()[0]) * 1024
    raise AssertionError(key)


def test_only_admins_may_read_it(api, user, admin):
    problem(api.get(STATUS), 401, "authentication_required")
    problem(api.get(STATUS, token=user.token), 403, "admin_required")
    ok(api.get(STATUS, token=admin.token))


def test_fields_and_values(server, api, admin):
    d = status(api, admin)
    assert TIMESTAMP_RE.match(d["generated_at"]), d["generated_at"]
    assert d["gpu_discovery"] == "static"
    assert d["nvidia_smi"] == "absent"

    # GPUs: the inventory rows of /admin/gpus, with no live figures under static discovery.
    rows = ok(api.get("/api/v1/admin/gpus", token=admin.token))
    assert [g["id"] for g in d["gpus"]] == list(range(7))
    for g, row in zip(d["gpus"], rows):
        assert set(g) == GPU, g
        assert {k: g[k] for k in row} == row
        assert all(g[k] is None for k in LIVE), g

    host = d["host"]
    assert set(host) == HOST, host
    assert host["cpu_count"] == os.cpu_count()
    for k in ("load_1m", "load_5m", "load_15m"):
        assert isinstance(host[k], (int, float)) and 0 <= host[k] < 1000, host
    # MemTotal never changes; MemAvailable does, so only its range is checked.
    assert host["memory_total_bytes"] == meminfo_bytes("MemTotal")
    assert 0 < host["memory_available_bytes"] <= host["memory_total_bytes"]
    proc = host["process"]
    assert set(proc) == {"pid", "rss_bytes", "started_at", "uptime_seconds", "version"}
    assert proc["pid"] == server.proc.pid
    assert 1 << 20 < proc["rss_bytes"] < host["memory_total_bytes"]
    assert TIMESTAMP_RE.match(proc["started_at"]) and proc["started_at"] <= d["generated_at"]
    assert 0 <= proc["uptime_seconds"] < 3600
    assert proc["version"] == api.get("/api/v1/openapi.json").json()["info"]["version"]

    disks = {x["name"]: x for x in host["disks"]}
    assert set(disks) == {"workspaces", "submissions"}
    for x in disks.values():
        assert set(x) == DISK, x
    ws = disks["workspaces"]
    assert ws["path"] == server.env["WORKSPACE_DIR_ROOT"] and ws["error"] is None
    st = os.statvfs(ws["path"])
    assert ws["total_bytes"] == st.f_blocks * st.f_frsize
    assert 0 <= ws["available_bytes"] <= ws["free_bytes"] <= ws["total_bytes"]
    sub = disks["submissions"]
    assert sub["path"] == server.env["SUBMISSIONS_DIR"]
    if os.path.isdir(sub["path"]):
        assert sub["error"] is None and sub["total_bytes"] == os.statvfs(sub["path"]).f_blocks * st.f_frsize
    else:
        assert sub["error"] == "No such file or directory" and sub["total_bytes"] is None

    pools = d["pools"]
    # the pool holds the blocking threads plus 4 (background worker, session loop, spare)
    assert pools["database"]["size"] == 6 + 4
    assert 0 <= pools["database"]["in_use"] <= pools["database"]["size"]
    blocking = pools["blocking"]
    assert blocking["threads"] == 6 and blocking["queue_max"] == 1024
    assert 1 <= blocking["queued"] <= blocking["queue_max"]  # this request is on the pool
    readyz = api.get("/readyz").json()
    assert pools["health"] == {"status": "ready", "checks": readyz["checks"]}
    assert pools["health"]["checks"]["database"] == "ok"

    counts = d["counts"]
    assert set(counts) == {"sessions", "users", "competitions", "submissions", "datasets"}
    assert set(counts["sessions"]) == SESSION_STATUSES
    assert set(counts["submissions"]) == SUBMISSION_STATUSES
    assert set(counts["competitions"]) == {"active", "closed", "total"}
    db = server.db
    assert counts["users"]["total"] == int(db.query("SELECT COUNT(*) FROM users")[0][0])
    assert counts["users"]["admins"] == int(db.query("SELECT COUNT(*) FROM users WHERE role = 'admin'")[0][0]) >= 1
    assert counts["competitions"]["active"] == int(
        db.query("SELECT COUNT(*) FROM competitions WHERE status = 'active'")[0][0]) >= 1
    assert counts["datasets"] == int(db.query("SELECT COUNT(*) FROM datasets")[0][0]) >= 1
    for group in ("sessions", "competitions", "submissions"):
        c = counts[group]
        assert c["total"] == sum(v for k, v in c.items() if k != "total"), c


def test_openapi_describes_every_field(api):
    doc = api.get("/api/v1/openapi.json").json()
    op = doc["paths"]["/api/v1/status"]["get"]
    assert {"401", "403"} <= set(op["responses"])
    data = op["responses"]["200"]["content"]["application/json"]["schema"]["properties"]["data"]
    props = data["properties"]
    assert set(props) == TOP
    assert props["gpus"]["type"] == ["array", "null"]
    assert set(props["gpus"]["items"]["properties"]) == GPU
    assert set(props["host"]["properties"]) == HOST
    assert set(props["host"]["properties"]["disks"]["items"]["properties"]) == DISK
    assert set(props["pools"]["properties"]) == {"database", "blocking", "health"}
    assert set(props["counts"]["properties"]) == {"sessions", "users", "competitions", "submissions", "datasets"}


def test_counts_follow_users_sessions_and_submissions(api, admin):
    before = status(api, admin)["counts"]
    u = api.signup(unique_email("status"))
    after = status(api, admin)["counts"]
    assert after["users"] == {"total": before["users"]["total"] + 1, "admins": before["users"]["admins"]}

    s = ok(create(api, u), 201)["session"]
    d = status(api, admin)
    running = d["counts"]["sessions"]
    assert running["running"] == before["sessions"]["running"] + 1
    assert running["total"] == before["sessions"]["total"] + 1
    held = [g for g in d["gpus"] if g["session_id"] == s["id"]]
    assert [g["id"] for g in held] == [s["gpu_id"]]

    ok(api.post(f"/api/v1/sessions/{s['id']}/stop", token=u.token), 202)
    wait_status(api, u, s["id"], "stopped")
    stopped = status(api, admin)["counts"]["sessions"]
    assert stopped["running"] == before["sessions"]["running"]
    assert stopped["stopped"] == before["sessions"]["stopped"] + 1

    r = api.post("/api/v1/competitions/titanic-survival/submissions?filename=s.csv", data=SAMPLE,
                 headers={"Content-Type": "text/csv"}, token=u.token)
    assert r.status_code == 201, r.text
    subs = status(api, admin)["counts"]["submissions"]
    assert subs["total"] == before["submissions"]["total"] + 1
    # the upload is scored in the background: queued or scoring now, scored soon
    assert wait_until(lambda: status(api, admin)["counts"]["submissions"]["scored"]
                      == before["submissions"]["scored"] + 1, scaled(20)), "the submission was never scored"


def fake_nvidia_smi(tmp_path: pathlib.Path, usage: str) -> dict[str, str]:
    """A PATH whose nvidia-smi answers the inventory query with the H100 capture and the usage
    query with `usage` (shell: what the script does for it)."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "nvidia-smi"
    fake.write_text("#!/bin/sh\n"
                    'case "$1" in\n'
                    "  --query-gpu=index,name,uuid) cat <<'OUT'\n" + H100_NAMES + "1, NVIDIA H200, GPU-22222222\nOUT\n"
                    "  ;;\n"
                    "  *) " + usage + "\n  ;;\nesac\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    return {"GPU_DISCOVERY": "nvidia-smi", "PATH": f"{bindir}:{os.environ.get('PATH', '')}"}


def admin_status(srv) -> dict:
    return ok(srv.api.get(STATUS, token=srv.api.login(ADMIN_EMAIL, ADMIN_PASSWORD).token))


def test_nvidia_smi_ok_gives_live_figures(server_factory, tmp_path):
    usage = "cat <<'OUT'\n" + H200_USAGE + "1, [N/A], 12, 143771, [N/A]\nOUT"
    srv = server_factory.start(env=session_env(**fake_nvidia_smi(tmp_path, usage)), admin=True)
    d = admin_status(srv)
    assert d["gpu_discovery"] == "nvidia-smi" and d["nvidia_smi"] == "ok"
    g0, g1 = d["gpus"]
    assert (g0["name"], g0["uuid"]) == ("NVIDIA H100 80GB HBM3", "GPU-1c90579f-960e-e13d-fc64-688ee3de88db")
    assert {k: g0[k] for k in LIVE} == {"utilization_percent": 0, "memory_used_mib": 0,
                                        "memory_total_mib": 143771, "temperature_c": 34}
    assert {k: g1[k] for k in LIVE} == {"utilization_percent": None, "memory_used_mib": 12,
                                        "memory_total_mib": 143771, "temperature_c": None}


def test_nvidia_smi_failing_or_garbled_is_reported(server_factory, tmp_path):
    srv = server_factory.start(env=session_env(**fake_nvidia_smi(tmp_path, "echo 'driver gone' >&2; exit 9")),
                               admin=True)
    d = admin_status(srv)
    assert d["nvidia_smi"] == "failed: nvidia-smi failed (exit status 9): driver gone"
    assert [g["id"] for g in d["gpus"]] == [0, 1]
    assert all(g[k] is None for g in d["gpus"] for k in LIVE)
    # the rest of the dashboard is still there
    assert d["pools"]["health"]["status"] == "ready" and d["counts"]["users"]["admins"] == 1

    (tmp_path / "bin" / "nvidia-smi").write_text("#!/bin/sh\necho 'NVIDIA-SMI has failed'\n")
    d = admin_status(srv)
    assert d["nvidia_smi"].startswith("failed: nvidia-smi output line 1: expected"), d["nvidia_smi"]


def test_nvidia_smi_missing_is_absent(server_factory, tmp_path):
    # GPU_DISCOVERY=nvidia-smi but no nvidia-smi on PATH: the API starts (see test_gpu_inventory)
    # and the dashboard says absent.
    srv = server_factory.start(env=session_env(GPU_DISCOVERY="nvidia-smi", PATH=str(tmp_path)), admin=True)
    d = admin_status(srv)
    assert d["gpu_discovery"] == "nvidia-smi" and d["nvidia_smi"] == "absent"
