"""The API image's runtime-prebuilt target, built by scripts/build-api-image.sh --debootstrap
(a Debian base made by debootstrap, imported, built with no network) from prebuilt binaries, and
run the way docker-compose.yml runs it: the three programs start, as the non-root medforge user,
with every shared library; migrations and an admin against a real MariaDB; medforge-api reaches
the Docker socket through its group, is ready, and is healthy by the image's own HEALTHCHECK;
the worker drains the queue. A login made under one SESSION_SECRET is refused under another.

Needs a Docker daemon and MariaDB (the `images` stage of scripts/test.sh starts throwaway ones):
MEDFORGE_TEST_DOCKER_HOST, MEDFORGE_TEST_MARIADB_URL, and the binaries in MEDFORGE_BIN_DIR (else
build/release). Skipped without them; MEDFORGE_REQUIRE_SERVICES=1 makes that a failure."""
import json
import os
import re
import socket
import subprocess
import time
import uuid
from urllib.parse import urlparse

import pytest
import requests

from deploy_support import ROOT, bin_dir

DOCKER_HOST = os.environ.get("MEDFORGE_TEST_DOCKER_HOST", "")
MARIADB_URL = os.environ.get("MEDFORGE_TEST_MARIADB_URL", "")
BINARIES = bin_dir()

if not (DOCKER_HOST and MARIADB_URL and BINARIES):
    if os.environ.get("MEDFORGE_REQUIRE_SERVICES") == "1":
        raise RuntimeError("MEDFORGE_TEST_DOCKER_HOST, MEDFORGE_TEST_MARIADB_URL and the binaries "
                           "(MEDFORGE_BIN_DIR or build/release) must be given")
    pytest.skip("needs dockerd, MariaDB and built binaries (scripts/test.sh images stage)",
                allow_module_level=True)

ENV = {**os.environ, "DOCKER_HOST": DOCKER_HOST}
PROGRAMS = ("medforge-api", "medforge-worker", "medforge")
SECRET_A = "a" * 40
SECRET_B = "b" * 40


def docker(*args, check=True, timeout=120) -> subprocess.CompletedProcess:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, env=ENV,
                          timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed ({proc.returncode}):\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(what: str, predicate, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def image() -> str:
    t0 = time.monotonic()
    proc = subprocess.run([str(ROOT / "scripts/build-api-image.sh"), "--debootstrap",
                           "--prebuilt", str(BINARIES)],
                          capture_output=True, text=True, env={
                              **ENV, "MEDFORGE_API_IMAGE_TAG": "medforge/api:images-test"},
                          timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    image_id = proc.stdout.strip()
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", image_id), proc.stdout
    print(f"image built in {time.monotonic() - t0:.0f} s")
    return image_id


@pytest.fixture(scope="module")
def database():
    """A fresh database on the throwaway server: (url for the containers, mariadb CLI args)."""
    u = urlparse(MARIADB_URL)
    name = "mf_images_" + uuid.uuid4().hex[:8]
    cli = ["mariadb", "--no-defaults", "-h", u.hostname, "-P", str(u.port), "-u", u.username,
           f"-p{u.password}"]
    subprocess.run([*cli, "-e", f"CREATE DATABASE {name}"], check=True, timeout=30)
    yield MARIADB_URL.rstrip("/") + "/" + name, [*cli, name]
    subprocess.run([*cli, "-e", f"DROP DATABASE IF EXISTS {name}"], timeout=30)


def run_in(image_id: str, *argv, env=None, network="none") -> subprocess.CompletedProcess:
    flags = ["--rm", "--network", network]
    for k, v in (env or {}).items():
        flags += ["-e", f"{k}={v}"]
    return docker("run", *flags, image_id, *argv, check=False)


def test_programs_run_and_match_the_binaries(image):
    for program in PROGRAMS:
        inside = run_in(image, program, "--version")
        assert inside.returncode == 0, inside.stderr
        outside = subprocess.run([str(BINARIES / program), "--version"], capture_output=True,
                                 text=True, check=True)
        assert inside.stdout == outside.stdout, program


def test_every_shared_library_is_there(image):
    proc = run_in(image, "ldd", *[f"/usr/local/bin/{p}" for p in PROGRAMS])
    assert proc.returncode == 0, proc.stderr
    assert "not found" not in proc.stdout, proc.stdout


def test_runs_as_the_medforge_user(image):
    config = json.loads(docker("image", "inspect", image).stdout)[0]["Config"]
    assert config["User"] == "medforge"
    proc = run_in(image, "id")
    assert proc.stdout.startswith("uid=10001(medforge) gid=10001(medforge)"), proc.stdout
    # The data the API and the worker share (the named volume copies it from the image).
    proc = run_in(image, "stat", "-c", "%U %a %n", "/var/lib/medforge/submissions",
                  "/var/lib/medforge/competitions/titanic-survival/manifest.json")
    assert proc.stdout.split("\n")[0].startswith("medforge 750"), proc.stdout
    assert proc.stdout.split("\n")[1].startswith("medforge "), proc.stdout


def test_sudo_allows_only_the_zfs_store_commands(image):
    listed = run_in(image, "sudo", "-n", "-l")
    assert listed.returncode == 0, listed.stderr
    rules = re.findall(r"\(root\) NOPASSWD: (.*)", listed.stdout)
    assert rules == ["/usr/sbin/zfs, /usr/bin/chown, /usr/bin/chmod"], listed.stdout
    assert run_in(image, "sudo", "-n", "chmod", "--version").returncode == 0
    assert run_in(image, "sudo", "-n", "/usr/sbin/zfs", "-?").returncode in (0, 2)
    denied = run_in(image, "sudo", "-n", "id")
    assert denied.returncode != 0 and "password is required" in denied.stderr


def test_migrate_admin_api_and_worker_against_mariadb(image, database):
    url, mariadb = database
    prod = {"DATABASE_URL": url, "DOMAIN": "example.org", "SESSION_SECRET": SECRET_A}

    # Migrations (twice: the second run has nothing to do).
    migrations = {p.name.split("_")[0] for p in (ROOT / "apps/api/migrations").glob("*.sql")}
    for _ in range(2):
        proc = run_in(image, "medforge", "migrate", env=prod, network="host")
        assert proc.returncode == 0, proc.stderr
        assert f"schema version {len(migrations)}" in proc.stdout + proc.stderr
    applied = subprocess.run([*mariadb, "-N", "-e", "SELECT COUNT(*) FROM schema_migrations"],
                             capture_output=True, text=True, check=True).stdout.strip()
    assert int(applied) == len(migrations)

    proc = run_in(image, "medforge", "admin", "create", "--email", "ops@example.org",
                  env={**prod, "MEDFORGE_ADMIN_PASSWORD": "correct horse battery"}, network="host")
    assert proc.returncode == 0, proc.stderr

    # The API as compose runs it: non-root, the socket through its group, docker runtime.
    socket_path = DOCKER_HOST.removeprefix("unix://")
    gid = os.stat(socket_path).st_gid
    port = free_port()
    api_env = {**prod, "API_BIND": f"127.0.0.1:{port}", "SESSION_RUNTIME": "docker",
               "SESSION_GPU_MODE": "none", "GPU_COUNT": "1", "WORKSPACE_STORE": "dir",
               "AUTH_RATE_LIMIT": "0", "COOKIE_SECURE": "false"}

    def start_api(secret: str) -> str:
        flags = ["-d", "--network", "host", "--group-add", str(gid),
                 "-v", f"{socket_path}:/var/run/docker.sock",
                 "--health-interval", "1s", "--health-start-period", "1s"]
        for k, v in {**api_env, "SESSION_SECRET": secret}.items():
            flags += ["-e", f"{k}={v}"]
        return docker("run", *flags, image).stdout.strip()

    base = f"http://127.0.0.1:{port}"
    container = start_api(SECRET_A)
    try:
        def ready():
            try:
                r = requests.get(f"{base}/readyz", timeout=2)
            except requests.ConnectionError:
                return None
            return r if r.status_code == 200 else None

        r = wait_until("/readyz 200", ready, timeout=60)
        assert r.json()["checks"]["runtime"] == "ok"
        assert r.json()["checks"]["database"] == "ok"

        def health():
            state = json.loads(docker("inspect", container).stdout)[0]["State"]
            return state["Health"]["Status"] == "healthy" and state

        wait_until("the image's HEALTHCHECK to pass", health, timeout=30)

        login = requests.post(f"{base}/api/v1/auth/login", timeout=10,
                              json={"email": "ops@example.org", "password": "correct horse battery"})
        assert login.status_code == 200, login.text
        # Read from the header: the cookie's Domain (.medforge.example.org) is not 127.0.0.1.
        m = re.search(r"medforge_session=([^;]+)", login.headers.get("Set-Cookie", ""))
        assert m, login.headers
        cookie = m.group(1)
        me = requests.get(f"{base}/api/v1/me", cookies={"medforge_session": cookie}, timeout=10)
        assert me.status_code == 200 and me.json()["data"]["role"] == "admin", me.text
    finally:
        logs = docker("logs", container, check=False).stdout
        docker("rm", "-f", container, check=False)

    assert '"event":"api.listening"' in logs

    # Another SESSION_SECRET: every stored token hash is an HMAC under the old one.
    container = start_api(SECRET_B)
    try:
        wait_until("/readyz 200", ready, timeout=60)
        me = requests.get(f"{base}/api/v1/me", cookies={"medforge_session": cookie}, timeout=10)
        assert me.status_code == 401, me.text
    finally:
        docker("rm", "-f", container, check=False)

    # The worker (same image, as compose runs it) drains the queue and exits 0.
    proc = run_in(image, "medforge-worker", "--once", env=prod, network="host")
    assert proc.returncode == 0, proc.stderr
