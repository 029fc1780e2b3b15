#!/usr/bin/env python3
"""Seeds a database that medforge-api has already migrated, for the proxy-gate benchmark:

- GPUS gpu_devices rows, ids 0..GPUS-1, enabled (added when missing: the API adds them itself
  when started with GPU_COUNT=GPUS);
- USERS users (role `user`, every hundredth one `admin`);
- one auth session per user, with a fresh random token (32 random bytes, URL-safe base64, as
  medforge-api issues them), stored as HMAC-SHA256(SECRET, token) hex, created and last seen now,
  expiring after the idle TTL;
- one `running` session per user: gpu_id = active_gpu_id = the user's index, a unique random
  8-character slug of a-z2-7, upstream 127.0.0.1:<UPSTREAM_PORT>, workspace <user id>/<session id>,
  the default pack, timestamps now (microseconds).

The database must not hold any sessions yet (the seeded ones take GPUs 0..USERS-1).

    seed_gate.py DB PAIRS_FILE [--users 1000] [--gpus USERS] [--secret S] [--upstream-port 9]
                 [--idle-ttl-seconds 604800]

DB is a SQLite path (or sqlite://PATH) or mariadb://user:pass@host:port/db. For MariaDB (no Python
driver is installed) the rows are written as one SQL file of batched INSERTs and fed to the
`mariadb` command-line client. SECRET defaults to $SESSION_SECRET.

PAIRS_FILE gets one line per user: `<token> <slug> <user id>` (read by gate.lua). Prints the
seeded counts.
"""
import argparse
import base64
import hashlib
import hmac
import os
import secrets
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from urllib.parse import quote, unquote, urlsplit

PACK_ID = "00000000-0000-0000-0000-000000000100"
SLUG_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
BATCH = 500


def new_token() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()


def build_rows(args) -> dict:
    now = time.time_ns() // 1000
    expires = now + args.idle_ttl_seconds * 1_000_000
    secret = args.secret.encode()
    slugs: set[str] = set()
    users, auth, sessions, pairs = [], [], [], []
    for i in range(args.users):
        user_id = str(uuid.uuid4())
        role = "admin" if i % 100 == 99 else "user"
        users.append((user_id, f"gate-bench-{i}@example.org", "x", role, 1,
                      f"user-{user_id[:8]}", now))
        token = new_token()
        token_hash = hmac.new(secret, token.encode(), hashlib.sha256).hexdigest()
        auth.append((str(uuid.uuid4()), user_id, token_hash, now, expires, None, now, "127.0.0.1",
                     "seed_gate.py"))
        slug = "".join(secrets.choice(SLUG_ALPHABET) for _ in range(8))
        while slug in slugs:
            slug = "".join(secrets.choice(SLUG_ALPHABET) for _ in range(8))
        slugs.add(slug)
        session_id = str(uuid.uuid4())
        sessions.append((session_id, user_id, "public", PACK_ID, "running", None,
                         f"127.0.0.1:{args.upstream_port}", None, i, i, slug,
                         f"{user_id}/{session_id}", now, now, None, None, now))
        pairs.append(f"{token} {slug} {user_id}\n")
    gpus = [(g, f"GPU {g}", None, 1) for g in range(args.gpus)]
    return {"gpu_devices": gpus, "users": users, "auth_sessions": auth, "sessions": sessions,
            "pairs": pairs}


COLUMNS = {
    "users": "id, email, password_hash, role, max_concurrent_sessions, display_name, created_at",
    "auth_sessions": "id, user_id, token_hash, created_at, expires_at, revoked_at, last_seen_at, "
                     "ip, user_agent",
    "sessions": "id, user_id, tier, pack_id, status, container_id, upstream, runtime_meta, gpu_id, "
                "active_gpu_id, slug, workspace, created_at, started_at, stopped_at, "
                "error_message, status_changed_at",
}


def seed_sqlite(path: str, rows: dict, gpus: int) -> None:
    con = sqlite3.connect(f"file:{quote(path)}?mode=rw", uri=True)  # never create an empty DB
    try:
        con.execute("PRAGMA foreign_keys=ON")
        con.execute("PRAGMA busy_timeout=5000")
        if con.execute("SELECT COUNT(*) FROM sessions").fetchone()[0]:
            sys.exit(f"{path} already holds sessions: seed a freshly migrated database")
        with con:  # one transaction
            con.executemany("INSERT OR IGNORE INTO gpu_devices (id, name, uuid, enabled) "
                            "VALUES (?, ?, ?, ?)", rows["gpu_devices"])
            con.execute("UPDATE gpu_devices SET enabled = 1 WHERE id < ?", (gpus,))
            for table in ("users", "auth_sessions", "sessions"):
                marks = ", ".join("?" * len(rows[table][0])) if rows[table] else ""
                con.executemany(f"INSERT INTO {table} ({COLUMNS[table]}) VALUES ({marks})",
                                rows[table])
        con.execute("ANALYZE")
    finally:
        con.close()


def sql_literal(v) -> str:
    if v is None:
        return "NULL"
    if isinstance(v, int):
        return str(v)
    return "'" + str(v).replace("\\", "\\\\").replace("'", "''") + "'"


def batched_inserts(verb: str, table: str, columns: str, rows: list) -> list[str]:
    out = []
    for start in range(0, len(rows), BATCH):
        values = ",\n".join("(" + ", ".join(sql_literal(v) for v in r) + ")"
                            for r in rows[start:start + BATCH])
        out.append(f"{verb} INTO {table} ({columns}) VALUES\n{values};\n")
    return out


def seed_mariadb(url: str, rows: dict, gpus: int) -> None:
    u = urlsplit(url)
    database = u.path.lstrip("/")
    if not database:
        sys.exit("the MariaDB URL needs a database name: mariadb://user:pass@host:port/db")
    client = ["mariadb", "--no-defaults", "--batch", "-h", u.hostname or "127.0.0.1",
              "-P", str(u.port or 3306), "-u", unquote(u.username or "root"), database]
    env = dict(os.environ, MYSQL_PWD=unquote(u.password or ""))  # not on the command line
    existing = subprocess.run(client + ["-N", "-e", "SELECT COUNT(*) FROM sessions"], env=env,
                              check=True, capture_output=True, text=True).stdout.strip()
    if existing != "0":
        sys.exit(f"{database} already holds sessions: seed a freshly migrated database")
    parts = ["SET autocommit = 0;\nSTART TRANSACTION;\n"]
    parts += batched_inserts("INSERT IGNORE", "gpu_devices", "id, name, uuid, enabled",
                             rows["gpu_devices"])
    parts.append(f"UPDATE gpu_devices SET enabled = 1 WHERE id < {gpus};\n")
    for table in ("users", "auth_sessions", "sessions"):
        parts += batched_inserts("INSERT", table, COLUMNS[table], rows[table])
    parts.append("COMMIT;\nANALYZE TABLE users, auth_sessions, sessions, gpu_devices;\n")
    with tempfile.NamedTemporaryFile("w", suffix=".sql", prefix="seed_gate.") as f:
        f.write("".join(parts))
        f.flush()
        with open(f.name) as sql:
            subprocess.run(client, env=env, stdin=sql, check=True, stdout=subprocess.DEVNULL)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("db")
    p.add_argument("pairs_file")
    p.add_argument("--users", type=int, default=1000)
    p.add_argument("--gpus", type=int, default=None, help="default: --users")
    p.add_argument("--secret", default=os.environ.get("SESSION_SECRET", ""))
    p.add_argument("--upstream-port", type=int, default=9)
    p.add_argument("--idle-ttl-seconds", type=int, default=604800)
    args = p.parse_args()
    args.gpus = args.users if args.gpus is None else args.gpus
    if not args.secret:
        sys.exit("no secret: pass --secret or set SESSION_SECRET")
    if not 0 < args.users <= args.gpus:
        sys.exit("need 0 < users <= gpus (each running session holds its own GPU)")
    rows = build_rows(args)
    if args.db.startswith(("mariadb://", "mysql://")):
        seed_mariadb(args.db, rows, args.gpus)
    else:
        seed_sqlite(args.db.removeprefix("sqlite://"), rows, args.gpus)
    with open(args.pairs_file, "w") as f:
        f.writelines(rows["pairs"])
    print(f"seeded {args.gpus} GPUs, {args.users} users with one auth session and one running "
          f"session each; pairs in {args.pairs_file}")


if __name__ == "__main__":
    main()
