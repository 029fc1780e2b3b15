"""Helpers shared by the submission, worker and leaderboard tests: bundle copies with edited
manifests, files with a chosen accuracy, uploads, and medforge-worker processes."""
from __future__ import annotations

import csv
import io
import json
import pathlib
import shutil
import signal
import subprocess
import time

from conftest import REPO_ROOT, WORKER_BIN, base_env, ok, scaled, wait_until

BUNDLES = REPO_ROOT / "apps" / "api" / "data" / "competitions"
TITANIC = "titanic-survival"


def titanic_labels() -> list[tuple[str, int]]:
    with open(BUNDLES / TITANIC / "holdout_labels.csv", newline="") as f:
        return [(row["PassengerId"], int(row["Survived"])) for row in csv.DictReader(f)]


def titanic_csv(correct: int) -> bytes:
    """A valid titanic submission with exactly `correct` right answers (accuracy correct/418)."""
    out = io.StringIO()
    out.write("PassengerId,Survived\n")
    for i, (pid, label) in enumerate(titanic_labels()):
        out.write(f"{pid},{label if i < correct else 1 - label}\n")
    return out.getvalue().encode()


def copy_bundle(dest_root: pathlib.Path, slug: str, *, source: str = TITANIC, **manifest) -> pathlib.Path:
    """Copies a seeded bundle to dest_root/slug with the manifest's slug (and any given keys)
    replaced; the dataset slug is made unique too."""
    d = dest_root / slug
    shutil.copytree(BUNDLES / source, d)
    m = json.loads((d / "manifest.json").read_text())
    m["slug"] = slug
    m["title"] = f"Test {slug}"
    m["dataset"] = dict(m["dataset"], slug=f"ds-{slug}")
    m.update(manifest)
    (d / "manifest.json").write_text(json.dumps(m, indent=2))
    return d


def upload(api, token, slug: str, data: bytes, filename: str = "sub.csv", *, multipart=False,
           headers=None, **kw):
    if multipart:
        return api.post(f"/api/v1/competitions/{slug}/submissions", token=token,
                        files={"file": (filename, data, "text/csv")}, headers=headers, **kw)
    h = {"Content-Type": "text/csv"}
    h.update(headers or {})
    path = f"/api/v1/competitions/{slug}/submissions"
    if filename is not None:
        path += f"?filename={filename}"
    return api.post(path, token=token, data=data, headers=h, **kw)


def remaining_today(api, token, slug: str) -> int:
    return ok(api.get(f"/api/v1/competitions/{slug}", token=token))["remaining_today"]


def stored_files(server) -> list[pathlib.Path]:
    root = pathlib.Path(server.env["SUBMISSIONS_DIR"])
    if not root.exists():
        return []
    return sorted(p for p in root.rglob("*") if p.is_file())


class Worker:
    """A medforge-worker process on the server's database and submissions folder."""

    def __init__(self, server, *args: str, env: dict[str, str] | None = None, name: str = "worker"):
        self.server = server
        e = base_env()
        for k in ("DATABASE_URL", "SUBMISSIONS_DIR", "COMPETITIONS_DIR", "SESSION_SECRET",
                  "DATASETS_ROOT", "SCORING_LEASE_SECONDS", "SCORING_MAX_ATTEMPTS"):
            if k in server.env:
                e[k] = server.env[k]
        e["LOG_LEVEL"] = "info"
        e.update(env or {})
        self.log_path = server.workdir / f"{name}-{time.monotonic_ns()}.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([str(WORKER_BIN), *args], env=e, cwd=str(server.workdir),
                                     stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT)

    def wait(self, timeout: float = 60) -> int:
        try:
            return self.proc.wait(timeout=scaled(timeout))
        finally:
            self._log.close()

    def terminate(self, timeout: float = 20) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.wait(timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self._log.close()

    def records(self) -> list[dict]:
        out = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out

    def text(self) -> str:
        return self.log_path.read_text(errors="replace")


def submission_row(db, sid: str) -> dict:
    rows = db.query("SELECT status, attempts, lease_owner, counts_toward_cap, error FROM submissions "
                    f"WHERE id = '{sid}'")
    assert rows, sid
    status, attempts, owner, counts, error = rows[0]
    return {"status": status, "attempts": int(attempts), "lease_owner": owner,
            "counts_toward_cap": int(counts), "error": error}


def score_rows(db, sid: str) -> list[tuple]:
    return db.query("SELECT is_official, primary_score FROM submission_scores "
                    f"WHERE submission_id = '{sid}' ORDER BY created_at")


def wait_status(db, sid: str, status: str, timeout: float = 30) -> dict:
    wait_until(lambda: submission_row(db, sid)["status"] == status, scaled(timeout))
    return submission_row(db, sid)


