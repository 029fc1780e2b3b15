"""medforge-worker: leased claims shared by several workers, a worker killed mid-score, a poisoned
file dead-lettered with its cap refunded, --once, --concurrency and SIGTERM."""
import time

import pytest

from conftest import ADMIN_EMAIL, ADMIN_PASSWORD, ok, scaled, unique_email, wait_until
from submission_support import (TITANIC, Worker, copy_bundle, remaining_today, score_rows,
                                 submission_row, titanic_csv, upload, wait_status)


@pytest.fixture
def queued_server(server_factory, tmp_path):
    """Auto-score off, so uploads wait in the queue for a worker; one bundle with a high cap."""
    comps = tmp_path / "bundles"
    comps.mkdir()
    copy_bundle(comps, TITANIC, submission_cap_per_day=100)
    return server_factory.start(env={"AUTO_SCORE_ON_SUBMIT": "false",
                                     "COMPETITIONS_DIR": str(comps)}, admin=True)


def queue(server, n: int, correct: int = 200):
    u = server.api.signup(unique_email("w"))
    ids = []
    for i in range(n):
        sub = ok(upload(server.api, u.token, TITANIC, titanic_csv(correct + i)), 201)["submission"]
        assert sub["status"] == "queued" and sub["official_score"] is None
        ids.append(sub["id"])
    return u, ids


def test_two_workers_drain_one_queue_without_scoring_twice(queued_server):
    u, ids = queue(queued_server, 24)
    metrics = queued_server.api.get("/metrics").text
    assert 'medforge_scoring_queue{status="queued"} 24' in metrics
    assert "medforge_scoring_oldest_queued_seconds" in metrics
    workers = [Worker(queued_server, "--once", "--concurrency", "2", name=f"w{i}") for i in range(2)]
    for w in workers:
        assert w.wait(120) == 0, w.text()
    db = queued_server.db
    for sid in ids:
        assert submission_row(db, sid)["status"] == "scored"
        assert submission_row(db, sid)["attempts"] == 1
        assert [r[0] for r in score_rows(db, sid)] == ["1"]
    scored = [r["submission_id"] for w in workers for r in w.records()
              if r.get("event") == "scoring.scored"]
    assert sorted(scored) == sorted(ids)  # each exactly once, across both workers
    retries = [r for w in workers for r in w.records() if r.get("event") == "scoring.retry"]
    assert retries == []  # e.g. two scorers racing on one user's leaderboard entry
    # the leaderboard has the user's best
    lb = ok(queued_server.api.get(f"/api/v1/competitions/{TITANIC}/leaderboard"))["entries"]
    assert lb[0]["user_id"] == u.user_id and lb[0]["submission_count"] == 24
    assert lb[0]["primary_score"] == pytest.approx((200 + 23) / 418)
    metrics = queued_server.api.get("/metrics").text
    assert 'medforge_scoring_queue{status="queued"} 0' in metrics
    assert "medforge_scoring_latency_seconds_count 24" in metrics


def test_worker_killed_mid_score_is_replaced_after_lease_expiry(queued_server):
    _, [sid] = queue(queued_server, 1)
    db = queued_server.db
    slow = Worker(queued_server, "--interval", "0.05",
                  env={"MEDFORGE_FAULT_SCORING_DELAY_MS": "60000", "SCORING_LEASE_SECONDS": "2"},
                  name="slow")
    row = wait_until(lambda: (r := submission_row(db, sid))["status"] == "scoring" and r,
                     scaled(20), message="the first worker's claim")
    assert row["lease_owner"].startswith("worker@") and row["attempts"] == 1
    slow.kill()  # SIGKILL mid-score: the lease is left behind
    rescuer = Worker(queued_server, "--interval", "0.1", name="rescuer")
    try:
        done = wait_status(db, sid, "scored", timeout=30)
    finally:
        assert rescuer.terminate() == 0
    assert done["attempts"] == 2 and done["lease_owner"] is None
    assert [r[0] for r in score_rows(db, sid)] == ["1"]  # one official score
    claimed_at = [r for r in rescuer.records() if r.get("event") == "scoring.scored"]
    assert len(claimed_at) == 1


def test_poisoned_file_dead_letters_and_refunds_the_cap(queued_server):
    u, [good, bad] = queue(queued_server, 2)
    left = remaining_today(queued_server.api, u.token, TITANIC)
    db = queued_server.db
    path = db.query(f"SELECT artifact_path FROM submissions WHERE id = '{bad}'")[0][0]
    with open(path, "wb") as f:  # the stored file is damaged after it was accepted
        f.write(b"PassengerId,Survived\n892,0\n")
    w = Worker(queued_server, "--interval", "0.1", env={"SCORING_MAX_ATTEMPTS": "3"})
    try:
        failed = wait_status(db, bad, "failed", timeout=40)
        wait_status(db, good, "scored", timeout=10)
    finally:
        assert w.terminate() == 0
    assert failed["attempts"] == 3 and failed["counts_toward_cap"] == 0
    assert "system error" in failed["error"] and "/" not in failed["error"]
    assert score_rows(db, bad) == []
    assert remaining_today(queued_server.api, u.token, TITANIC) == left + 1
    retries = [r for r in w.records() if r.get("event") == "scoring.retry"]
    assert len(retries) == 2
    sub = ok(queued_server.api.get(f"/api/v1/submissions/{bad}", token=u.token))
    assert sub["status"] == "failed" and sub["official_score"] is None


def test_sigterm_finishes_the_current_job_then_exits(queued_server):
    _, [sid] = queue(queued_server, 1)
    w = Worker(queued_server, "--interval", "0.05", env={"MEDFORGE_FAULT_SCORING_DELAY_MS": "1500"})
    wait_until(lambda: submission_row(queued_server.db, sid)["status"] == "scoring", scaled(20))
    started = time.monotonic()
    assert w.terminate(30) == 0
    assert submission_row(queued_server.db, sid)["status"] == "scored"
    assert time.monotonic() - started < scaled(10)
    events = [r.get("event") for r in w.records()]
    assert "worker.signal" in events and events[-1] == "worker.stopped"


def test_once_on_an_empty_queue_exits_at_once(queued_server):
    w = Worker(queued_server, "--once")
    assert w.wait(30) == 0


def test_worker_help_and_bad_options(queued_server):
    w = Worker(queued_server, "--help")
    assert w.wait(10) == 0
    text = w.text()
    for flag in ("--once", "--interval", "--concurrency", "SCORING_LEASE_SECONDS"):
        assert flag in text
    assert Worker(queued_server, "--concurrency", "0").wait(10) != 0


def test_admin_rescore_takes_over_a_claimed_job_and_the_worker_discards_its_result(
        queued_server):
    _, [sid] = queue(queued_server, 1)
    admin = queued_server.api.login(ADMIN_EMAIL, ADMIN_PASSWORD)
    w = Worker(queued_server, "--interval", "0.05", env={"MEDFORGE_FAULT_SCORING_DELAY_MS": "2500"})
    try:
        wait_until(lambda: submission_row(queued_server.db, sid)["status"] == "scoring", scaled(20))
        sub = ok(queued_server.api.post(f"/api/v1/admin/submissions/{sid}/score?sync=true",
                                        token=admin.token))["submission"]
        assert sub["status"] == "scored" and sub["official_score"] is not None
        wait_until(lambda: any(r.get("event") == "scoring.lease_lost" for r in w.records()),
                   scaled(20), message="the worker noticing its lost lease")
    finally:
        assert w.terminate() == 0
    assert [r[0] for r in score_rows(queued_server.db, sid)] == ["1"]
    assert submission_row(queued_server.db, sid)["status"] == "scored"
