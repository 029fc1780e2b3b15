-- Leaderboard reads are one ascending range scan whatever the competition's direction:
-- rank_score is primary_score, negated when higher is better; ties by scored_at, then submission.
ALTER TABLE leaderboard_entries ADD COLUMN IF NOT EXISTS rank_score DOUBLE NOT NULL DEFAULT 0;
UPDATE leaderboard_entries le JOIN competitions c ON c.id = le.competition_id SET le.rank_score = CASE WHEN c.higher_is_better = 1 THEN -le.primary_score ELSE le.primary_score END;
DROP INDEX IF EXISTS ix_leaderboard_rank ON leaderboard_entries;
CREATE INDEX IF NOT EXISTS ix_leaderboard_order ON leaderboard_entries (competition_id, rank_score, scored_at, best_submission_id);
