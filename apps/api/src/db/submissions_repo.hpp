#pragma once

// Submissions, their scores, the scoring queue (leases) and the leaderboard. Every function runs
// on the caller's connection; the ones that must be atomic open their own transaction.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "db/database.hpp"

namespace medforge::db {

struct OfficialScore {
    std::string id;
    double primary_score = 0;
    std::string components_json;
    std::string metric;
    std::string metric_version;
    std::string evaluation_split_version;
    std::string scorer_version;
    std::string manifest_sha256;
    std::string holdout_sha256;
    std::int64_t created_at = 0;
};

struct SubmissionRecord {
    std::string id;
    std::string competition_id;
    std::string competition_slug;  // joined
    std::string user_id;
    std::string filename;
    std::string artifact_path;
    std::string artifact_sha256;
    std::int64_t row_count = 0;
    std::string status;  // queued | scoring | scored | failed
    std::optional<std::string> error;
    bool counts_toward_cap = true;
    std::int64_t attempts = 0;
    std::optional<std::string> lease_owner;
    std::optional<std::int64_t> lease_expires_at;
    std::int64_t created_at = 0;
    std::optional<std::int64_t> scored_at;
    std::optional<OfficialScore> official;  // joined: the official score, if any
};

// A new official score (the row is keyed by submission and the versions/hashes it was made with);
// created_at is set when it is recorded.
struct NewScore : OfficialScore {
    std::int64_t row_count = 0;
};

namespace submissions {

// Inserts `r` (status queued) unless the user already has `cap` submissions to the competition
// counting toward the cap since `day_start`. The count and the insert are serialised per user
// (the user's row is locked on MariaDB; SQLite's BEGIN IMMEDIATE serialises all writers), so
// parallel uploads cannot overshoot. Returns the submissions left today after the insert, or
// nullopt when the cap was already reached (nothing inserted).
std::optional<std::int64_t> insert_within_cap(Connection& c, const SubmissionRecord& r,
                                              std::int64_t cap, std::int64_t day_start);

std::optional<SubmissionRecord> find(Connection& c, const std::string& id);

// The user's submissions to a competition, newest first, after the keyset (created_at, id).
std::vector<SubmissionRecord> list_for_user(Connection& c, const std::string& competition_id,
                                            const std::string& user_id, bool has_cursor,
                                            std::int64_t before_created,
                                            const std::string& before_id, int limit);

// Submissions in the given statuses, oldest first, after the keyset (created_at, id).
std::vector<SubmissionRecord> list_by_status(Connection& c,
                                             const std::vector<std::string>& statuses,
                                             bool has_cursor, std::int64_t after_created,
                                             const std::string& after_id, int limit);

// Moves one claimable submission to `scoring` under a lease held by `owner` until
// now + lease_micros, adding one attempt, and returns it. Claimable: `queued` (and past its retry
// back-off), or `scoring` with an expired lease. With `only_id`, only that submission is
// considered (the upload's auto-score). MariaDB: SELECT ... FOR UPDATE SKIP LOCKED then UPDATE in
// one transaction; SQLite: one conditional UPDATE ... RETURNING.
std::optional<SubmissionRecord> claim(Connection& c, const std::string& owner, std::int64_t now,
                                      std::int64_t lease_micros,
                                      const std::optional<std::string>& only_id = std::nullopt);

// How many submissions are claimable at `now` (a plain read: rows another scorer is claiming
// right now still count). `--once` workers exit only when this is 0.
std::int64_t count_claimable(Connection& c, std::int64_t now);

// In one transaction, if `owner` still holds the lease: records `score` as the submission's only
// official score (older official rows become non-official; a row with the same versions and
// hashes is replaced), marks the submission scored and recomputes the user's leaderboard entry.
// Returns false, changing nothing, when the lease was lost.
bool record_score(Connection& c, const SubmissionRecord& claimed, const std::string& owner,
                  const NewScore& score, bool higher_is_better, std::int64_t now);

// Gives a failed attempt back to the queue (retried after `retry_at`), if `owner` holds the lease.
bool release_for_retry(Connection& c, const std::string& id, const std::string& owner,
                       const std::string& error, std::int64_t retry_at);

// Marks the submission failed with `error` and refunds the cap (counts_toward_cap = 0), if
// `owner` holds the lease (or unconditionally with owner == "").
bool fail_and_refund(Connection& c, const std::string& id, const std::string& owner,
                     const std::string& error);

// Puts a submission back in the queue for a new official score run (admin re-score): status
// queued, attempts 0, no lease, no error. A worker scoring it now loses its lease.
bool requeue(Connection& c, const std::string& id);

// Removes a row that was inserted but whose artifact could not be kept (never scored).
void remove_unscored(Connection& c, const std::string& id);

}  // namespace submissions

struct LeaderboardEntry {
    std::string user_id;
    std::string display_name;
    std::string best_submission_id;
    double primary_score = 0;
    double rank_score = 0;  // primary_score, negated when higher is better: ascending is better
    std::int64_t scored_at = 0;
    std::int64_t submission_count = 0;
};

struct LeaderboardKey {
    double rank_score = 0;
    std::int64_t scored_at = 0;
    std::string submission_id;
};

struct HistoryPoint {
    std::string user_id;
    double primary_score = 0;
    std::int64_t created_at = 0;
};

namespace leaderboard {

// Best first, after `after` (keyset over (rank_score, scored_at, best_submission_id)).
std::vector<LeaderboardEntry> page(Connection& c, const std::string& competition_id,
                                   const std::optional<LeaderboardKey>& after, int limit);

// Recomputes (competition, user)'s entry from their current official scores; removes it when
// none is left. Call inside the transaction that changed the scores.
void recompute(Connection& c, const std::string& competition_id, const std::string& user_id,
               bool higher_is_better);

// The official scores of the given users in the competition, by user then time.
std::vector<HistoryPoint> official_scores(Connection& c, const std::string& competition_id,
                                          const std::vector<std::string>& user_ids);

}  // namespace leaderboard

}  // namespace medforge::db
