-- Leaderboard reads are one ascending range scan whatever the competition's direction:
-- rank_score is primary_score, negated when higher is better; ties by scored_at, then submission.
ALTER TABLE leaderboard_entries ADD COLUMN rank_score DOUBLE NOT NULL DEFAULT 0;
UPDATE leaderboard_entries SET rank_score = CASE WHEN (SELECT higher_is_better FROM competitions c WHERE c.id = leaderboard_entries.competition_id) = 1 THEN -primary_score ELSE primary_score END;
DROP INDEX IF EXISTS ix_leaderboard_rank;
CREATE INDEX IF NOT EXISTS ix_leaderboard_order ON leaderboard_entries (competition_id, rank_score, scored_at, best_submission_id);
