"""`medforge submit`: a participant's upload through the API with a personal access token, the
printed score, the line/column of an invalid file, refusals, polling a queued submission, and the
exit codes (0 scored, 1 refused or not scored, 2 usage/configuration/network)."""
from __future__ import annotations

import json
import re
import shutil
import socket
import ssl
import subprocess
import threading

import pytest

from conftest import ADMIN_EMAIL, ADMIN_PASSWORD, CLI_BIN, REPO_ROOT, base_env, ok, require_binaries, scaled

SAMPLE = (REPO_ROOT / "apps" / "api" / "data" / "competitions" / "titanic-survival" /
          "sample_submission.csv").read_bytes()
SCORED_RE = re.compile(r"^scored: accuracy (\d\.\d{5}) \(submission ([0-9a-f-]{36}), 418 rows; "
                       r"(\d+) of 20 submissions left today\)$")


def cli_env(url: str | None, token: str | None) -> dict[str, str]:
    env = base_env()
    for k in ("MEDFORGE_TOKEN", "MEDFORGE_API_URL", "SSL_CERT_FILE", "SSL_CERT_DIR"):
        env.pop(k, None)
    if url is not None:
        env["MEDFORGE_API_URL"] = url
    if token is not None:
        env["MEDFORGE_TOKEN"] = token
    return env


def submit(url: str | None, token: str | None, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    require_binaries()
    return subprocess.run([str(CLI_BIN), "submit", *args], capture_output=True, text=True,
                          env=cli_env(url, token), timeout=scaled(timeout))


@pytest.fixture
def pat(api, user) -> str:
    return api.create_pat(user, "cli")["token"]


@pytest.fixture
def sample_file(tmp_path):
    p = tmp_path / "preds.csv"
    p.write_bytes(SAMPLE)
    return p


def test_submit_prints_the_official_score(server, api, pat, sample_file):
    r = submit(server.base_url, pat, "--competition", "titanic-survival", str(sample_file))
    assert r.returncode == 0, (r.stdout, r.stderr)
    m = SCORED_RE.match(r.stdout.strip())
    assert m, r.stdout
    score, sub_id, left = m.groups()
    assert left == "19"
    sub = ok(api.get(f"/api/v1/submissions/{sub_id}", bearer=pat))
    assert sub["status"] == "scored" and sub["filename"] == "preds.csv"
    assert f"{sub['official_score']['primary_score']:.5f}" == score


def test_submit_json(server, api, pat, sample_file):
    r = submit(server.base_url, pat, "--competition", "titanic-survival", "--json", str(sample_file))
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert r.stderr == ""
    out = json.loads(r.stdout)
    assert out["status"] == "scored" and out["problem"] is None and "error" not in out
    assert out["submission"]["official_score"]["metric"] == "accuracy"
    assert (out["daily_cap"], out["remaining_today"]) == (20, 19)


def test_an_invalid_file_exits_1_with_line_and_column(server, pat, tmp_path):
    bad = tmp_path / "broken.csv"
    bad.write_text("PassengerId,Survived\n892,0\n893,7\n")
    r = submit(server.base_url, pat, "--competition", "titanic-survival", str(bad))
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert r.stdout.startswith('invalid: line 3, column "Survived"'), r.stdout

    r = submit(server.base_url, pat, "--competition", "titanic-survival", "--json", str(bad))
    assert r.returncode == 1
    out = json.loads(r.stdout)
    assert out["status"] == "invalid" and out["problem"]["code"] == "submission_invalid"
    assert out["error"].startswith("invalid: line 3")


def test_configuration_errors_exit_2(server, pat, sample_file):
    args = ("--competition", "titanic-survival", str(sample_file))
    r = submit(server.base_url, None, *args)
    assert r.returncode == 2 and r.stdout == ""
    assert "MEDFORGE_TOKEN is not set" in r.stderr

    r = submit(server.base_url, "mfp_not-a-real-token", *args)
    assert r.returncode == 2 and "check MEDFORGE_TOKEN" in r.stderr, r.stderr

    r = submit(server.base_url, pat, "--competition", "no-such-competition", str(sample_file))
    assert r.returncode == 2 and "competition_not_found" in r.stderr, r.stderr

    r = submit(server.base_url, pat, "--competition", "titanic-survival", str(sample_file.parent / "nope.csv"))
    assert r.returncode == 2 and "cannot read" in r.stderr

    r = submit("127.0.0.1:8000", pat, *args)
    assert r.returncode == 2 and "http://" in r.stderr

    # TLS against a plain-HTTP port fails clearly; nothing is uploaded.
    r = submit(server.base_url.replace("http://", "https://"), pat, *args)
    assert r.returncode == 2 and "TLS" in r.stderr, r.stderr

    r = submit(server.base_url, pat, "--competition", "titanic-survival")  # no FILE
    assert r.returncode == 2

    help_ = submit(None, None, "--help")
    assert help_.returncode == 0
    for needle in ("MEDFORGE_TOKEN", "MEDFORGE_API_URL", "--timeout", "--json", "Exit status"):
        assert needle in help_.stdout, needle


def test_closed_competition_and_cap_exit_1(server, api, pat, sample_file):
    admin = api.login(ADMIN_EMAIL, ADMIN_PASSWORD)
    path = "/api/v1/admin/competitions/titanic-survival"
    args = ("--competition", "titanic-survival", str(sample_file))
    try:
        ok(api.patch(path, json={"status": "closed"}, token=admin.token))
        r = submit(server.base_url, pat, *args)
        assert r.returncode == 1 and r.stdout.startswith("refused: This competition is closed"), r.stdout
        ok(api.patch(path, json={"status": "active", "submission_cap_per_day": 1}, token=admin.token))
        assert submit(server.base_url, pat, *args).returncode == 0
        r = submit(server.base_url, pat, "--json", *args)
        assert r.returncode == 1
        out = json.loads(r.stdout)
        assert out["status"] == "refused" and out["problem"]["code"] == "submission_cap_reached"
        assert out["remaining_today"] == 0
    finally:
        ok(api.patch(path, json={"status": "active", "submission_cap_per_day": 20}, token=admin.token))


def test_a_queued_submission_is_polled_until_scored(server_factory, sample_file):
    srv = server_factory.start(env={"AUTO_SCORE_ON_SUBMIT": "false"}, admin=True)
    user = srv.api.signup()
    token = srv.api.create_pat(user)["token"]
    admin = srv.api.login(ADMIN_EMAIL, ADMIN_PASSWORD)

    r = submit(srv.base_url, token, "--competition", "titanic-survival", "--timeout", "1", "--json",
               str(sample_file))
    assert r.returncode == 2, (r.stdout, r.stderr)
    out = json.loads(r.stdout)
    assert out["status"] == "timeout" and out["submission"]["status"] == "queued"
    assert "still queued" in out["error"]

    proc = subprocess.Popen([str(CLI_BIN), "submit", "--competition", "titanic-survival", str(sample_file)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=cli_env(srv.base_url, token))
    try:
        line = proc.stderr.readline()
        m = re.match(r"^submission ([0-9a-f-]{36}) is queued; waiting for its score", line)
        assert m, line
        ok(srv.api.post(f"/api/v1/admin/submissions/{m.group(1)}/score?sync=true", token=admin.token))
        stdout, _ = proc.communicate(timeout=scaled(30))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, stdout
    assert SCORED_RE.match(stdout.strip()), stdout


def _tls_proxy(cert, key, upstream_port: int):
    """A TLS-terminating proxy to the API on a free port; returns (port, close)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert), str(key))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def pipe(src, dst):
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.close()
                except OSError:
                    pass

    def serve():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            try:
                tls = ctx.wrap_socket(conn, server_side=True)
            except (OSError, ssl.SSLError):
                conn.close()
                continue
            up = socket.create_connection(("127.0.0.1", upstream_port))
            threading.Thread(target=pipe, args=(tls, up), daemon=True).start()
            threading.Thread(target=pipe, args=(up, tls), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    return listener.getsockname()[1], listener.close


def test_https_checks_the_certificate(server, pat, sample_file, tmp_path):
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost"], check=True, capture_output=True)
    port, close = _tls_proxy(cert, key, server.port)
    try:
        args = ("--competition", "titanic-survival", str(sample_file))
        url = f"https://localhost:{port}"
        r = submit(url, pat, *args)  # not trusted by the system store
        assert r.returncode == 2 and "certificate verify failed" in r.stderr, r.stderr
        env = cli_env(url, pat)
        env["SSL_CERT_FILE"] = str(cert)
        r = subprocess.run([str(CLI_BIN), "submit", *args], capture_output=True, text=True, env=env,
                           timeout=scaled(60))
        assert r.returncode == 0, (r.stdout, r.stderr)
        assert SCORED_RE.match(r.stdout.strip()), r.stdout
        # The name must match the certificate (it is for localhost only).
        env["MEDFORGE_API_URL"] = f"https://127.0.0.1:{port}"
        r = subprocess.run([str(CLI_BIN), "submit", *args], capture_output=True, text=True, env=env,
                           timeout=scaled(60))
        assert r.returncode == 2 and "TLS" in r.stderr, r.stderr
    finally:
        close()
