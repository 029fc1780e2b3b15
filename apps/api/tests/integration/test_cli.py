"""The `medforge` CLI (version, migrate, admin create) and start-up config validation."""

from __future__ import annotations

import re
import subprocess

import pytest

from conftest import (
    API_BIN, base_env, free_port, ok, problem, run_cli, scaled,
)


def test_version(tmp_path):
    res = run_cli(["--version"], cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert re.search(r"\d+\.\d+", res.stdout), res.stdout


def test_unknown_subcommand_fails(tmp_path):
    res = run_cli(["definitely-not-a-command"], cwd=tmp_path)
    assert res.returncode != 0
    assert "Traceback" not in res.stderr


def test_migrate_is_idempotent(server_factory):
    db = server_factory.new_db()
    wd = server_factory.new_workdir()
    first = run_cli(["migrate"], db, cwd=wd)
    assert first.returncode == 0, first.stdout + first.stderr
    tables = db.tables()
    assert {"schema_migrations", "users", "auth_sessions", "access_tokens"} <= tables, tables
    versions = db.query("SELECT version FROM schema_migrations ORDER BY version")
    assert versions, "schema_migrations is empty after migrate"
    assert len(versions) == len(set(versions)), versions

    second = run_cli(["migrate"], db, cwd=wd)
    assert second.returncode == 0, second.stdout + second.stderr
    assert db.query("SELECT version FROM schema_migrations ORDER BY version") == versions


def test_migrate_refuses_bad_database_url(tmp_path):
    res = run_cli(["migrate"], env={"DATABASE_URL": "bogus://nowhere"}, cwd=tmp_path)
    assert res.returncode != 0


def test_admin_create_password_from_stdin(server_factory):
    db = server_factory.new_db()
    wd = server_factory.new_workdir()
    password = "Stdin-Admin-Pass-77"
    res = run_cli(["admin", "create", "--email", "  CLI-Admin@Example.COM "], db, input=password + "\n", cwd=wd)
    assert res.returncode == 0, res.stdout + res.stderr
    assert password not in res.stdout + res.stderr
    srv = server_factory.start(db=db)
    u = srv.api.login("cli-admin@example.com", password)
    assert u.role == "admin" and u.email == "cli-admin@example.com"
    ok(srv.api.get("/api/v1/admin/users", token=u.token))


def test_admin_create_password_from_env(server_factory):
    db = server_factory.new_db()
    wd = server_factory.new_workdir()
    password = "Env-Admin-Pass-88"
    res = run_cli(["admin", "create", "--email", "env-admin@example.com"], db, input="",
                  env={"MEDFORGE_ADMIN_PASSWORD": password}, cwd=wd)
    assert res.returncode == 0, res.stdout + res.stderr
    assert password not in res.stdout + res.stderr
    srv = server_factory.start(db=db)
    assert srv.api.login("env-admin@example.com", password).role == "admin"


@pytest.mark.parametrize("email,password", [
    ("short-pw@example.com", "1234567"),
    ("not-an-email", "long-enough-password"),
    ("long-pw@example.com", "x" * 129),
    ("empty-pw@example.com", ""),
])
def test_admin_create_validates_input(server_factory, email, password):
    db = server_factory.new_db()
    wd = server_factory.new_workdir()
    res = run_cli(["admin", "create", "--email", email], db, input=password + "\n", cwd=wd)
    assert res.returncode != 0, res.stdout + res.stderr
    if password:
        assert password not in res.stdout + res.stderr
    tables = db.tables()
    if "users" in tables:
        assert db.query("SELECT COUNT(*) FROM users")[0][0] == "0"


def test_admin_create_then_server_and_cli_share_db(server_factory):
    """The server keeps working when an admin is added by the CLI while it runs."""
    srv = server_factory.start()
    res = run_cli(["admin", "create", "--email", "live-admin@example.com"], srv.db,
                  input="Live-Admin-Pass-9\n", cwd=srv.workdir)
    assert res.returncode == 0, res.stdout + res.stderr
    assert srv.api.login("live-admin@example.com", "Live-Admin-Pass-9").role == "admin"
    problem(srv.api.post("/api/v1/auth/signup", json={"email": "live-admin@example.com",
                                                      "password": "whatever-pass"}), 409, "email_taken")


@pytest.mark.parametrize("bad", [
    {"AUTH_RATE_LIMIT": "lots"},
    {"API_BIND": "not-an-address"},
    {"DATABASE_URL": "bogus://nowhere"},
    {"METRICS_ALLOW": "300.1.2.3/8"},
    {"TRUSTED_PROXIES": "not-an-ip"},
    {"COOKIE_SECURE": "maybe"},
], ids=lambda d: next(iter(d)))
def test_server_refuses_invalid_config(server_factory, bad):
    db = server_factory.new_db()
    wd = server_factory.new_workdir()
    port = free_port()
    env = base_env()
    env.update({
        "API_BIND": f"127.0.0.1:{port}",
        "DATABASE_URL": db.url,
        "SESSION_SECRET": "ab" * 32,
        "AUTH_RATE_LIMIT": "0",
        "LOG_LEVEL": "info",
        "DOMAIN": "localhost",
    })
    env.update(bad)
    try:
        res = subprocess.run([str(API_BIN)], env=env, cwd=str(wd), capture_output=True, text=True,
                             timeout=scaled(10), stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        pytest.fail(f"server kept running with invalid config {bad}")
    assert res.returncode != 0, res.stdout + res.stderr
    secret_free = res.stdout + res.stderr
    assert "ab" * 32 not in secret_free
