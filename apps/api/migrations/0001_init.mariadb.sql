-- MedForge schema, version 1 (MariaDB). Timestamps are BIGINT microseconds since the epoch, UTC.
-- Each statement is one recorded step and safe to re-run (IF NOT EXISTS / INSERT IGNORE).
-- Every statement ends with ';' at the end of a line (the runner splits on that).

CREATE TABLE IF NOT EXISTS users (
    id CHAR(36) PRIMARY KEY,
    email VARCHAR(320) NOT NULL UNIQUE,
    password_hash VARCHAR(255) NOT NULL,
    role VARCHAR(16) NOT NULL CHECK (role IN ('user', 'admin')),
    max_concurrent_sessions INT NOT NULL DEFAULT 1 CHECK (max_concurrent_sessions > 0),
    display_name VARCHAR(255) NOT NULL,
    created_at BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS auth_sessions (
    id CHAR(36) PRIMARY KEY,
    user_id CHAR(36) NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash CHAR(64) NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT,
    last_seen_at BIGINT NOT NULL,
    ip VARCHAR(255),
    user_agent VARCHAR(512)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX IF NOT EXISTS ix_auth_sessions_user ON auth_sessions (user_id);

CREATE TABLE IF NOT EXISTS access_tokens (
    id CHAR(36) PRIMARY KEY,
    user_id CHAR(36) NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name VARCHAR(255) NOT NULL,
    token_hash CHAR(64) NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX IF NOT EXISTS ix_access_tokens_user ON access_tokens (user_id, created_at);

CREATE TABLE IF NOT EXISTS packs (
    id CHAR(36) PRIMARY KEY,
    name VARCHAR(255) NOT NULL,
    tier VARCHAR(16) NOT NULL CHECK (tier IN ('public', 'private', 'both')),
    image_ref VARCHAR(255) NOT NULL,
    created_at BIGINT NOT NULL,
    deprecated_at BIGINT
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
INSERT IGNORE INTO packs (id, name, tier, image_ref, created_at)
    VALUES ('00000000-0000-0000-0000-000000000100', 'default', 'public', '', 0);

CREATE TABLE IF NOT EXISTS gpu_devices (
    id INT PRIMARY KEY,
    name VARCHAR(255) NOT NULL,
    uuid VARCHAR(255),
    enabled INT NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- active_gpu_id equals gpu_id while the session is active and is NULL once it is terminal; its
-- UNIQUE index makes two active sessions on one GPU impossible at the database level.
CREATE TABLE IF NOT EXISTS sessions (
    id CHAR(36) PRIMARY KEY,
    user_id CHAR(36) NOT NULL REFERENCES users(id),
    tier VARCHAR(16) NOT NULL CHECK (tier IN ('public', 'private')),
    pack_id CHAR(36) NOT NULL REFERENCES packs(id),
    status VARCHAR(16) NOT NULL CHECK (status IN ('starting', 'running', 'stopping', 'stopped', 'error')),
    container_id VARCHAR(255),
    upstream VARCHAR(255),
    runtime_meta TEXT,
    gpu_id INT NOT NULL REFERENCES gpu_devices(id),
    active_gpu_id INT UNIQUE,
    slug VARCHAR(128) NOT NULL UNIQUE,
    workspace VARCHAR(255) NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    started_at BIGINT,
    stopped_at BIGINT,
    error_message TEXT CHECK (error_message IS NULL OR CHAR_LENGTH(error_message) <= 2000),
    status_changed_at BIGINT NOT NULL,
    CHECK ((status IN ('starting', 'running', 'stopping') AND active_gpu_id IS NOT NULL
            AND active_gpu_id = gpu_id)
        OR (status IN ('stopped', 'error') AND active_gpu_id IS NULL))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX IF NOT EXISTS ix_sessions_user_status ON sessions (user_id, status);
CREATE INDEX IF NOT EXISTS ix_sessions_status ON sessions (status, created_at);

CREATE TABLE IF NOT EXISTS session_events (
    id BIGINT AUTO_INCREMENT PRIMARY KEY,
    session_id CHAR(36) NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    at BIGINT NOT NULL,
    kind VARCHAR(255) NOT NULL,
    message TEXT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX IF NOT EXISTS ix_session_events_session ON session_events (session_id, id);

CREATE TABLE IF NOT EXISTS datasets (
    id CHAR(36) PRIMARY KEY,
    slug VARCHAR(128) NOT NULL UNIQUE,
    title VARCHAR(255) NOT NULL,
    source VARCHAR(255) NOT NULL,
    license VARCHAR(255) NOT NULL,
    storage_path VARCHAR(1024) NOT NULL,
    bytes BIGINT NOT NULL DEFAULT 0,
    checksum VARCHAR(255) NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS competitions (
    id CHAR(36) PRIMARY KEY,
    slug VARCHAR(128) NOT NULL UNIQUE,
    title VARCHAR(255) NOT NULL,
    description MEDIUMTEXT NOT NULL,
    tier VARCHAR(16) NOT NULL CHECK (tier IN ('public', 'private')),
    status VARCHAR(16) NOT NULL CHECK (status IN ('active', 'closed')),
    is_permanent INT NOT NULL DEFAULT 1,
    metric VARCHAR(255) NOT NULL,
    metric_version VARCHAR(32) NOT NULL,
    higher_is_better INT NOT NULL,
    scoring_mode VARCHAR(255) NOT NULL,
    leaderboard_rule VARCHAR(255) NOT NULL,
    evaluation_policy VARCHAR(255) NOT NULL,
    submission_cap_per_day INT NOT NULL CHECK (submission_cap_per_day > 0),
    dataset_id CHAR(36) REFERENCES datasets(id),
    bundle_path VARCHAR(255) NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS submissions (
    id CHAR(36) PRIMARY KEY,
    competition_id CHAR(36) NOT NULL REFERENCES competitions(id),
    user_id CHAR(36) NOT NULL REFERENCES users(id),
    filename VARCHAR(255) NOT NULL,
    artifact_path VARCHAR(1024) NOT NULL,
    artifact_sha256 CHAR(64) NOT NULL,
    row_count BIGINT NOT NULL DEFAULT 0,
    status VARCHAR(16) NOT NULL CHECK (status IN ('queued', 'scoring', 'scored', 'failed')),
    error TEXT,
    counts_toward_cap INT NOT NULL DEFAULT 1,
    attempts INT NOT NULL DEFAULT 0,
    lease_owner VARCHAR(255),
    lease_expires_at BIGINT,
    created_at BIGINT NOT NULL,
    scored_at BIGINT
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX IF NOT EXISTS ix_submissions_comp_user ON submissions (competition_id, user_id, created_at);
CREATE INDEX IF NOT EXISTS ix_submissions_queue ON submissions (status, lease_expires_at);

CREATE TABLE IF NOT EXISTS submission_scores (
    id CHAR(36) PRIMARY KEY,
    submission_id CHAR(36) NOT NULL REFERENCES submissions(id),
    competition_id CHAR(36) NOT NULL,
    user_id CHAR(36) NOT NULL,
    is_official INT NOT NULL DEFAULT 0,
    primary_score DOUBLE NOT NULL,
    components_json TEXT NOT NULL,
    metric VARCHAR(255) NOT NULL,
    metric_version VARCHAR(32) NOT NULL,
    evaluation_split_version VARCHAR(64) NOT NULL,
    scorer_version VARCHAR(32) NOT NULL,
    manifest_sha256 CHAR(64) NOT NULL,
    holdout_sha256 CHAR(64) NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (submission_id, scorer_version, metric_version, evaluation_split_version,
            manifest_sha256, holdout_sha256)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX IF NOT EXISTS ix_scores_comp_user ON submission_scores (competition_id, user_id, is_official);

CREATE TABLE IF NOT EXISTS leaderboard_entries (
    competition_id CHAR(36) NOT NULL REFERENCES competitions(id),
    user_id CHAR(36) NOT NULL REFERENCES users(id),
    best_score_id CHAR(36) NOT NULL,
    best_submission_id CHAR(36) NOT NULL,
    primary_score DOUBLE NOT NULL,
    scored_at BIGINT NOT NULL,
    submission_count INT NOT NULL DEFAULT 0,
    PRIMARY KEY (competition_id, user_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX IF NOT EXISTS ix_leaderboard_rank ON leaderboard_entries (competition_id, primary_score, scored_at);

-- Leases for singleton background loops (the session recovery loop), on both dialects.
CREATE TABLE IF NOT EXISTS service_leases (
    name VARCHAR(64) PRIMARY KEY,
    owner VARCHAR(255) NOT NULL,
    expires_at BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
