-- MedForge schema, version 1 (SQLite). Timestamps are BIGINT microseconds since the epoch, UTC.
-- Every statement ends with ';' at the end of a line (the runner splits on that).

CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('user', 'admin')),
    max_concurrent_sessions INTEGER NOT NULL DEFAULT 1 CHECK (max_concurrent_sessions > 0),
    display_name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS auth_sessions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT,
    last_seen_at BIGINT NOT NULL,
    ip TEXT,
    user_agent TEXT
);
CREATE INDEX IF NOT EXISTS ix_auth_sessions_user ON auth_sessions (user_id);

CREATE TABLE IF NOT EXISTS access_tokens (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX IF NOT EXISTS ix_access_tokens_user ON access_tokens (user_id, created_at);

CREATE TABLE IF NOT EXISTS packs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    tier TEXT NOT NULL CHECK (tier IN ('public', 'private', 'both')),
    image_ref TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    deprecated_at BIGINT
);
INSERT OR IGNORE INTO packs (id, name, tier, image_ref, created_at)
    VALUES ('00000000-0000-0000-0000-000000000100', 'default', 'public', '', 0);

CREATE TABLE IF NOT EXISTS gpu_devices (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    uuid TEXT,
    enabled INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1))
);

-- active_gpu_id equals gpu_id while the session is active and is NULL once it is terminal; its
-- UNIQUE index makes two active sessions on one GPU impossible at the database level.
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    tier TEXT NOT NULL CHECK (tier IN ('public', 'private')),
    pack_id TEXT NOT NULL REFERENCES packs(id),
    status TEXT NOT NULL CHECK (status IN ('starting', 'running', 'stopping', 'stopped', 'error')),
    container_id TEXT,
    upstream TEXT,
    runtime_meta TEXT,
    gpu_id INTEGER NOT NULL REFERENCES gpu_devices(id),
    active_gpu_id INTEGER UNIQUE,
    slug TEXT NOT NULL UNIQUE,
    workspace TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    started_at BIGINT,
    stopped_at BIGINT,
    error_message TEXT CHECK (error_message IS NULL OR length(error_message) <= 2000),
    status_changed_at BIGINT NOT NULL,
    CHECK ((status IN ('starting', 'running', 'stopping') AND active_gpu_id IS NOT NULL
            AND active_gpu_id = gpu_id)
        OR (status IN ('stopped', 'error') AND active_gpu_id IS NULL))
);
CREATE INDEX IF NOT EXISTS ix_sessions_user_status ON sessions (user_id, status);
CREATE INDEX IF NOT EXISTS ix_sessions_status ON sessions (status, created_at);

CREATE TABLE IF NOT EXISTS session_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_session_events_session ON session_events (session_id, id);

CREATE TABLE IF NOT EXISTS datasets (
    id TEXT PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    source TEXT NOT NULL,
    license TEXT NOT NULL,
    storage_path TEXT NOT NULL,
    bytes BIGINT NOT NULL DEFAULT 0,
    checksum TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS competitions (
    id TEXT PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    tier TEXT NOT NULL CHECK (tier IN ('public', 'private')),
    status TEXT NOT NULL CHECK (status IN ('active', 'closed')),
    is_permanent INTEGER NOT NULL DEFAULT 1,
    metric TEXT NOT NULL,
    metric_version TEXT NOT NULL,
    higher_is_better INTEGER NOT NULL,
    scoring_mode TEXT NOT NULL,
    leaderboard_rule TEXT NOT NULL,
    evaluation_policy TEXT NOT NULL,
    submission_cap_per_day INTEGER NOT NULL CHECK (submission_cap_per_day > 0),
    dataset_id TEXT REFERENCES datasets(id),
    bundle_path TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS submissions (
    id TEXT PRIMARY KEY,
    competition_id TEXT NOT NULL REFERENCES competitions(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    filename TEXT NOT NULL,
    artifact_path TEXT NOT NULL,
    artifact_sha256 TEXT NOT NULL,
    row_count BIGINT NOT NULL DEFAULT 0,
    status TEXT NOT NULL CHECK (status IN ('queued', 'scoring', 'scored', 'failed')),
    error TEXT,
    counts_toward_cap INTEGER NOT NULL DEFAULT 1,
    attempts INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_expires_at BIGINT,
    created_at BIGINT NOT NULL,
    scored_at BIGINT
);
CREATE INDEX IF NOT EXISTS ix_submissions_comp_user ON submissions (competition_id, user_id, created_at);
CREATE INDEX IF NOT EXISTS ix_submissions_queue ON submissions (status, lease_expires_at);

CREATE TABLE IF NOT EXISTS submission_scores (
    id TEXT PRIMARY KEY,
    submission_id TEXT NOT NULL REFERENCES submissions(id),
    competition_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    is_official INTEGER NOT NULL DEFAULT 0,
    primary_score DOUBLE NOT NULL,
    components_json TEXT NOT NULL,
    metric TEXT NOT NULL,
    metric_version TEXT NOT NULL,
    evaluation_split_version TEXT NOT NULL,
    scorer_version TEXT NOT NULL,
    manifest_sha256 TEXT NOT NULL,
    holdout_sha256 TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (submission_id, scorer_version, metric_version, evaluation_split_version,
            manifest_sha256, holdout_sha256)
);
CREATE INDEX IF NOT EXISTS ix_scores_comp_user ON submission_scores (competition_id, user_id, is_official);

CREATE TABLE IF NOT EXISTS leaderboard_entries (
    competition_id TEXT NOT NULL REFERENCES competitions(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    best_score_id TEXT NOT NULL,
    best_submission_id TEXT NOT NULL,
    primary_score DOUBLE NOT NULL,
    scored_at BIGINT NOT NULL,
    submission_count INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (competition_id, user_id)
);
CREATE INDEX IF NOT EXISTS ix_leaderboard_rank ON leaderboard_entries (competition_id, primary_score, scored_at);

-- Leases for singleton background loops (the session recovery loop), on both dialects.
CREATE TABLE IF NOT EXISTS service_leases (
    name TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
