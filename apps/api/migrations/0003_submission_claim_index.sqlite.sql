CREATE INDEX IF NOT EXISTS ix_submissions_claim ON submissions (status, created_at, id);
