"""MariaDB going away and coming back: requests that need the DB fail with 503 (never a crash or a
500), /readyz reports the database, and the API recovers without a restart once the server is back.

Runs in the MariaDB stage only; it starts and stops its own throwaway MariaDB so the shared one is
untouched."""
import os
import pathlib
import signal
import socket
import subprocess
import time

import pytest
import requests

from conftest import (API_BIN, REPO_ROOT, base_env, fake_ide_command, shared_tmp, free_port, problem, scaled, unique_email,
                      wait_until)

pytestmark = pytest.mark.skipif(os.environ.get("MEDFORGE_DB", "sqlite") != "mariadb",
                                reason="MariaDB outage test runs in the MariaDB stage")

SCRIPT = REPO_ROOT / "scripts" / "mariadb-throwaway.sh"


def mariadbd_cmdline(pid: int) -> list[str]:
    raw = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes()
    return [a.decode() for a in raw.split(b"\0") if a]


def test_api_survives_a_mariadb_restart(tmp_path):
    mdb = tmp_path / "mdb"
    subprocess.run([str(SCRIPT), "start", str(mdb)], check=True, capture_output=True)
    api = None
    try:
        base = (mdb / "url").read_text().strip()
        port = base.rsplit(":", 1)[1].rstrip("/")
        subprocess.run(["mariadb", "--no-defaults", "-h127.0.0.1", f"-P{port}", "-uroot",
                        "-pmedforge", "-e", "CREATE DATABASE outage"], check=True)
        api_port = free_port()
        env = base_env()
        env.update({"API_BIND": f"127.0.0.1:{api_port}", "DATABASE_URL": base + "outage",
                    "SESSION_SECRET": "s" * 64, "AUTH_RATE_LIMIT": "0",
                    "SESSION_PROCESS_COMMAND": fake_ide_command(), "SESSION_PROCESS_SANDBOX": "none",
                    "WORKSPACE_DIR_ROOT": str(shared_tmp() / "outage-ws")})
        api = subprocess.Popen([str(API_BIN)], env=env, cwd=tmp_path, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
        url = f"http://127.0.0.1:{api_port}"

        def healthy():
            try:
                return requests.get(url + "/healthz", timeout=1).status_code == 200
            except requests.RequestException:
                return False

        wait_until(healthy, scaled(20), message="API up")
        body = {"email": unique_email("outage"), "password": "correct-horse-battery"}
        assert requests.post(url + "/api/v1/auth/signup", json=body, timeout=10).status_code == 201

        # Kill the database server behind the API's back.
        pid = int((mdb / "pid").read_text().strip())
        cmd = mariadbd_cmdline(pid)
        os.kill(pid, signal.SIGKILL)
        def port_closed():
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", int(port))) != 0

        wait_until(port_closed, scaled(10), message="mariadbd gone")

        other = {"email": unique_email("during"), "password": "correct-horse-battery"}
        r = requests.post(url + "/api/v1/auth/signup", json=other, timeout=30)
        problem(r, 503, "database_unavailable")
        assert r.headers.get("Retry-After")
        problem(requests.get(url + "/readyz", timeout=30), 503, "not_ready")
        assert requests.get(url + "/healthz", timeout=5).status_code == 200
        assert api.poll() is None, "the API must not exit when its database goes away"

        # Bring it back on the same data directory and port: the API recovers by itself.
        restarted = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        assert restarted.pid > 0  # it rewrites DIR/pid itself (--pid-file), for the stop below

        def signup_works():
            try:
                return requests.post(url + "/api/v1/auth/signup", json=other,
                                     timeout=10).status_code == 201
            except requests.RequestException:
                return False

        wait_until(signup_works, scaled(30), interval_s=0.2, message="signup after restart")
        assert requests.get(url + "/readyz", timeout=10).status_code == 200
        login = requests.post(url + "/api/v1/auth/login", json=body, timeout=10)
        assert login.status_code == 200
    finally:
        if api is not None and api.poll() is None:
            api.send_signal(signal.SIGTERM)
            assert api.wait(timeout=scaled(15)) == 0
        subprocess.run([str(SCRIPT), "stop", str(mdb)], capture_output=True)
