"""infra/host/bootstrap.sh: its plan (--dry-run) and the decisions it makes from what is there.
Its networks and firewall steps run for real in test_firewall.py, against a dockerd in a
namespace; the packages step cannot run here (it installs from Docker's and NVIDIA's
repositories), so only its plan is checked."""

import re
import shutil
import stat

import pytest

from conftest import BOOTSTRAP, run

EXAMPLE = """\
# MedForge compose settings
DOMAIN=medforge.example.org
SESSION_SECRET=
MARIADB_PASSWORD=change-me
MARIADB_ROOT_PASSWORD="<generate>"
export API_ADMIN_PASSWORD=kept-as-given
PACK_IMAGE=medforge/pack-default@sha256:0123
NOT_A_SECRET_LIST=
"""
NO_DOCKER = {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}


@pytest.fixture
def compose(tmp_path):
    (tmp_path / ".env.example").write_text(EXAMPLE)
    (tmp_path / "docker-compose.yml").write_text("services: {}\n")
    return tmp_path


def bootstrap(*args, env=None, check=True):
    return run([BOOTSTRAP, *args], env=env, check=check)


def listing(directory):
    return sorted((p.name, p.stat().st_mtime_ns) for p in directory.iterdir())


def test_dry_run_prints_the_plan_and_changes_nothing(compose):
    before = listing(compose)
    r = bootstrap("--dry-run", "--skip", "packages", "--compose-dir", compose, env=NO_DOCKER)
    out = r.stdout
    assert "steps: zfs networks firewall boot env images" in out
    assert "infra/zfs/setup.sh" in out and "infra/firewall/setup.sh" in out
    assert ("docker network create --driver bridge --subnet 172.31.0.0/24 "
            "--ip-range 172.31.0.128/25 medforge-control") in out
    assert ("docker network create --driver bridge --subnet 172.30.0.0/24 "
            "--ip-range 172.30.0.128/25 medforge-public-sessions") in out
    assert ("docker network create --driver bridge --subnet 172.29.0.0/24 "
            "--ip-range 172.29.0.128/25 --internal medforge-private-sessions") in out
    assert ("generating: SESSION_SECRET MARIADB_PASSWORD MARIADB_ROOT_PASSWORD") in out
    assert "would run: docker compose" in out and "build" in out
    assert listing(compose) == before, "--dry-run wrote into the compose directory"


def test_packages_plan_follows_what_is_installed():
    r = bootstrap("--dry-run", "--only", "packages", "--no-gpu", check=False)
    out = r.stdout + r.stderr
    if shutil.which("zpool") and shutil.which("zfs"):
        assert "ZFS tools are installed" in out
    else:
        assert "zfsutils-linux" in out
    assert "--no-gpu: skipping the NVIDIA container toolkit" in out
    docker = shutil.which("docker")
    has_compose = docker and run(["docker", "compose", "version"], check=False).returncode == 0
    if has_compose:
        assert "Docker with the compose plugin is installed" in out
        assert r.returncode == 0
    elif docker:
        # A distribution's docker without the compose plugin is not replaced silently.
        assert "a real run would stop here: docker is installed but 'docker compose'" in out
        assert r.returncode == 1
    else:
        assert "docker-compose-plugin" in out and "download.docker.com" in out


def test_env_is_written_once_with_fresh_secrets(compose):
    env_file = compose / ".env"
    out = bootstrap("--only", "env", "--compose-dir", compose).stdout
    assert "generated: SESSION_SECRET MARIADB_PASSWORD MARIADB_ROOT_PASSWORD" in out
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    written = env_file.read_text()
    values = dict(re.findall(r"^(?:export )?([A-Z_]+)=(.*)$", written, re.M))
    secrets = [values[k] for k in ("SESSION_SECRET", "MARIADB_PASSWORD", "MARIADB_ROOT_PASSWORD")]
    for value in secrets:
        assert re.fullmatch(r"[0-9a-f]{64}", value), value
    assert len(set(secrets)) == 3, "each secret must be its own random value"
    # Everything that is not a placeholder secret is copied as it is, comments included.
    assert values["API_ADMIN_PASSWORD"] == "kept-as-given"
    assert "export API_ADMIN_PASSWORD=kept-as-given" in written
    assert values["NOT_A_SECRET_LIST"] == ""
    assert values["DOMAIN"] == "medforge.example.org"
    assert written.startswith("# MedForge compose settings\n")
    assert len(written.splitlines()) == len(EXAMPLE.splitlines())

    # A second run, dry or real, keeps the existing .env byte for byte.
    dry = bootstrap("--dry-run", "--only", "env", "--compose-dir", compose).stdout
    assert "exists; leaving it as it is" in dry
    again = bootstrap("--only", "env", "--compose-dir", compose).stdout
    assert "exists; leaving it as it is" in again
    assert env_file.read_text() == written
    assert sorted(p.name for p in compose.iterdir()) == [".env", ".env.example",
                                                          "docker-compose.yml"]

    # Another install gets other secrets.
    env_file.unlink()
    bootstrap("--only", "env", "--compose-dir", compose)
    assert env_file.read_text() != written


def test_missing_env_example_fails_clearly(tmp_path):
    for dry in ([], ["--dry-run"]):
        r = bootstrap(*dry, "--only", "env", "--compose-dir", tmp_path, check=False)
        assert r.returncode == 1, (dry, r.stdout, r.stderr)
        assert f"{tmp_path}/.env.example is missing" in r.stderr, r.stderr
        assert not (tmp_path / ".env").exists()


def test_usage():
    for args, text in ((["--only", "nope"], "unknown step 'nope'"),
                       (["--only", "env", "--skip", "zfs"], "not both"),
                       (["--frobnicate"], "unknown argument")):
        r = bootstrap(*args, check=False)
        assert r.returncode == 2 and text in r.stderr, (args, r.stderr)
    usage = bootstrap("--help").stdout
    for word in ("packages", "zfs", "networks", "firewall", "boot", "env", "images",
                 "--dry-run", "--only", "--skip", "--no-gpu", "--compose-dir",
                 "172.31.0.0/24", "172.30.0.0/24", "172.29.0.0/24", "never overwritten"):
        assert word in usage, word
