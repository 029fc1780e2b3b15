#!/usr/bin/env python3
"""Seeds a migrated MedForge SQLite database for the leaderboard benchmark: USERS users, SCORES
scored submissions with official scores spread over them in one competition, and the matching
leaderboard_entries (best per user, exactly as the scoring transaction keeps them).

    seed_leaderboard.py DB_PATH COMPETITION_SLUG [users=100000] [scores=1000000]

Deterministic (fixed seed). Prints the seeded counts."""
import random
import sqlite3
import sys
import uuid


def main() -> None:
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    path, slug = sys.argv[1], sys.argv[2]
    users = int(sys.argv[3]) if len(sys.argv) > 3 else 100_000
    scores = int(sys.argv[4]) if len(sys.argv) > 4 else 1_000_000
    rng = random.Random(20261125)
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    row = con.execute("SELECT id, higher_is_better FROM competitions WHERE slug = ?", (slug,)).fetchone()
    if row is None:
        sys.exit(f"no competition {slug!r}: start the API once to seed the bundles")
    comp, higher = row[0], bool(row[1])
    t0 = 1_790_000_000_000_000
    uid = lambda: str(uuid.UUID(int=rng.getrandbits(128), version=4))
    user_ids = [uid() for _ in range(users)]
    con.executemany(
        "INSERT INTO users (id, email, password_hash, role, max_concurrent_sessions, display_name, "
        "created_at) VALUES (?, ?, 'x', 'user', 1, ?, ?)",
        ((u, f"bench-{i}@example.org", f"user-{u[:8]}", t0) for i, u in enumerate(user_ids)))
    best: dict[str, tuple] = {}
    counts: dict[str, int] = {}
    subs, rows = [], []
    for i in range(scores):
        u = user_ids[i % users] if i < users else rng.choice(user_ids)
        sid, scid = uid(), uid()
        score = round(rng.random(), 5)  # ties happen: 100k distinct values for 1M scores
        at = t0 + i * 1000
        subs.append((sid, comp, u, "bench.csv", f"/nonexistent/{sid}.csv", "0" * 64, 418, "scored",
                     None, 1, 1, None, None, at, at))
        rows.append((scid, sid, comp, u, 1, score, '{"primary":%r}' % score, "accuracy", "1", "v1",
                     "bench", "0" * 64, "0" * 64, at))
        counts[u] = counts.get(u, 0) + 1
        key = (-score if higher else score, at, sid)
        if u not in best or key < best[u][0]:
            best[u] = (key, scid, sid, score, at)
        if len(subs) >= 50_000:
            flush(con, subs, rows)
    flush(con, subs, rows)
    con.executemany(
        "INSERT INTO leaderboard_entries (competition_id, user_id, best_score_id, "
        "best_submission_id, primary_score, rank_score, scored_at, submission_count) VALUES "
        "(?, ?, ?, ?, ?, ?, ?, ?)",
        ((comp, u, b[1], b[2], b[3], b[0][0], b[4], counts[u]) for u, b in best.items()))
    con.commit()
    con.execute("ANALYZE")
    con.close()
    print(f"seeded {users} users, {scores} scores, {len(best)} leaderboard entries in {slug}")


def flush(con, subs, rows) -> None:
    con.executemany(
        "INSERT INTO submissions (id, competition_id, user_id, filename, artifact_path, "
        "artifact_sha256, row_count, status, error, counts_toward_cap, attempts, lease_owner, "
        "lease_expires_at, created_at, scored_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
        "?, ?)", subs)
    con.executemany(
        "INSERT INTO submission_scores (id, submission_id, competition_id, user_id, is_official, "
        "primary_score, components_json, metric, metric_version, evaluation_split_version, "
        "scorer_version, manifest_sha256, holdout_sha256, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, "
        "?, ?, ?, ?, ?, ?, ?)", rows)
    subs.clear()
    rows.clear()


if __name__ == "__main__":
    main()
