"""GPU inventory sync at API start: static (GPU_COUNT / GPU_IDS) and nvidia-smi discovery. This
machine has no GPU, so nvidia-smi is a script on PATH printing output captured on an H100 host
(apps/api/tests/unit/fixtures/nvidia-smi-h100.csv) plus a second line; a missing nvidia-smi must
not stop the API."""
import os
import stat

from conftest import REPO_ROOT

H100 = (REPO_ROOT / "apps/api/tests/unit/fixtures/nvidia-smi-h100.csv").read_text()


def gpu_rows(server):
    return server.db.query("SELECT id, name, uuid, enabled FROM gpu_devices ORDER BY id")


def test_static_inventory_from_count_then_ids(server_factory):
    db = server_factory.new_db()
    s = server_factory.start(env={"GPU_COUNT": "3"}, db=db)
    assert [r[0] for r in gpu_rows(s)] == ["0", "1", "2"]
    s.stop()
    s = server_factory.start(env={"GPU_IDS": "1,2"}, db=db)
    # GPU 0 is gone: disabled, never deleted
    assert [(r[0], r[3]) for r in gpu_rows(s)] == [("0", "0"), ("1", "1"), ("2", "1")]


def test_nvidia_smi_discovery(server_factory, tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "nvidia-smi"
    fake.write_text("#!/bin/sh\ncat <<'OUT'\n" + H100 + "1, NVIDIA H100 80GB HBM3, GPU-22222222\nOUT\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    s = server_factory.start(env={"GPU_DISCOVERY": "nvidia-smi",
                                  "PATH": f"{bindir}:{os.environ.get('PATH', '')}"})
    assert gpu_rows(s) == [("0", "NVIDIA H100 80GB HBM3", "GPU-1c90579f-960e-e13d-fc64-688ee3de88db", "1"),
                           ("1", "NVIDIA H100 80GB HBM3", "GPU-22222222", "1")]


def test_missing_nvidia_smi_is_logged_and_the_api_still_starts(server_factory, tmp_path):
    s = server_factory.start(env={"GPU_DISCOVERY": "nvidia-smi", "PATH": str(tmp_path)})
    assert s.api.get("/healthz").status_code == 200
    events = [r for r in s.log_records() if r.get("event") == "gpu.discovery_failed"]
    assert events and "nvidia-smi" in events[0]["error"]
    assert gpu_rows(s) == []
