#include "db/submissions_repo.hpp"

namespace medforge::db {

namespace {

constexpr const char* kSelect =
    "SELECT s.id, s.competition_id, c.slug, s.user_id, s.filename, s.artifact_path, "
    "s.artifact_sha256, s.row_count, s.status, s.error, s.counts_toward_cap, s.attempts, "
    "s.lease_owner, s.lease_expires_at, s.created_at, s.scored_at, ss.id, ss.primary_score, "
    "ss.components_json, ss.metric, ss.metric_version, ss.evaluation_split_version, "
    "ss.scorer_version, ss.manifest_sha256, ss.holdout_sha256, ss.created_at FROM submissions s "
    "JOIN competitions c ON c.id = s.competition_id LEFT JOIN submission_scores ss ON "
    "ss.submission_id = s.id AND ss.is_official = 1 ";

constexpr const char* kLockUser = "SELECT id FROM users WHERE id = :u FOR UPDATE";
constexpr const char* kCountCapped =
    "SELECT COUNT(*) FROM submissions WHERE competition_id = :c AND user_id = :u AND "
    "counts_toward_cap = 1 AND created_at >= :since";
constexpr const char* kInsert =
    "INSERT INTO submissions (id, competition_id, user_id, filename, artifact_path, "
    "artifact_sha256, row_count, status, error, counts_toward_cap, attempts, created_at) VALUES "
    "(:id, :c, :u, :f, :p, :sha, :rows, 'queued', NULL, 1, 0, :t)";

// Claimable: queued and past its retry back-off, or scoring with an expired lease. SOCI binds
// placeholders by name, so each use of the condition gets its own names (`tag`).
std::string claimable(const std::string& tag) {
    return "((status = 'queued' AND (lease_expires_at IS NULL OR lease_expires_at <= :now_a" + tag +
           ")) OR (status = 'scoring' AND lease_expires_at <= :now_b" + tag + "))";
}

constexpr const char* kSetScored =
    "UPDATE submissions SET status = 'scored', scored_at = :t, error = NULL, row_count = :rows, "
    "lease_owner = NULL, lease_expires_at = NULL WHERE id = :id AND status = 'scoring' AND "
    "lease_owner = :o";
constexpr const char* kUnofficial =
    "UPDATE submission_scores SET is_official = 0 WHERE submission_id = :id AND is_official = 1";
constexpr const char* kSameScore =
    "SELECT id FROM submission_scores WHERE submission_id = :id AND scorer_version = :sv AND "
    "metric_version = :mv AND evaluation_split_version = :ev AND manifest_sha256 = :m AND "
    "holdout_sha256 = :h";
constexpr const char* kReplaceScore =
    "UPDATE submission_scores SET is_official = 1, primary_score = :p, components_json = :cj, "
    "metric = :metric, created_at = :t WHERE id = :id";
constexpr const char* kInsertScore =
    "INSERT INTO submission_scores (id, submission_id, competition_id, user_id, is_official, "
    "primary_score, components_json, metric, metric_version, evaluation_split_version, "
    "scorer_version, manifest_sha256, holdout_sha256, created_at) VALUES (:id, :s, :c, :u, 1, :p, "
    ":cj, :metric, :mv, :ev, :sv, :m, :h, :t)";

constexpr const char* kBestOfficialAsc =
    "SELECT id, submission_id, primary_score, created_at FROM submission_scores WHERE "
    "competition_id = :c AND user_id = :u AND is_official = 1 ORDER BY primary_score ASC, "
    "created_at ASC, submission_id ASC LIMIT 1";
constexpr const char* kBestOfficialDesc =
    "SELECT id, submission_id, primary_score, created_at FROM submission_scores WHERE "
    "competition_id = :c AND user_id = :u AND is_official = 1 ORDER BY primary_score DESC, "
    "created_at ASC, submission_id ASC LIMIT 1";
constexpr const char* kCountOfficial =
    "SELECT COUNT(*) FROM submission_scores WHERE competition_id = :c AND user_id = :u AND "
    "is_official = 1";
constexpr const char* kDeleteEntry =
    "DELETE FROM leaderboard_entries WHERE competition_id = :c AND user_id = :u";
constexpr const char* kUpdateEntry =
    "UPDATE leaderboard_entries SET best_score_id = :b, best_submission_id = :s, primary_score = "
    ":p, rank_score = :r, scored_at = :t, submission_count = :n WHERE competition_id = :c AND "
    "user_id = :u";
constexpr const char* kInsertEntry =
    "INSERT INTO leaderboard_entries (competition_id, user_id, best_score_id, best_submission_id, "
    "primary_score, rank_score, scored_at, submission_count) VALUES (:c, :u, :b, :s, :p, :r, :t, "
    ":n)";

constexpr const char* kPageSelect =
    "SELECT le.user_id, u.display_name, le.best_submission_id, le.primary_score, le.rank_score, "
    "le.scored_at, le.submission_count FROM leaderboard_entries le JOIN users u ON u.id = "
    "le.user_id WHERE le.competition_id = :c ";
// The leading `>=` gives both engines an index range to start from; the OR alone makes them
// scan the competition's entries from the top.
constexpr const char* kPageAfter =
    "AND le.rank_score >= :r0 AND (le.rank_score > :r1 OR (le.rank_score = :r2 AND (le.scored_at > "
    ":t1 OR (le.scored_at = "
    ":t2 AND le.best_submission_id > :s)))) ";
constexpr const char* kPageOrder =
    "ORDER BY le.rank_score, le.scored_at, le.best_submission_id LIMIT :lim";

SubmissionRecord from_row(const Row& r) {
    SubmissionRecord s;
    s.id = r.str(0);
    s.competition_id = r.str(1);
    s.competition_slug = r.str(2);
    s.user_id = r.str(3);
    s.filename = r.str(4);
    s.artifact_path = r.str(5);
    s.artifact_sha256 = r.str(6);
    s.row_count = r.i64(7);
    s.status = r.str(8);
    s.error = r.opt_str(9);
    s.counts_toward_cap = r.i64(10) != 0;
    s.attempts = r.i64(11);
    s.lease_owner = r.opt_str(12);
    s.lease_expires_at = r.opt_i64(13);
    s.created_at = r.i64(14);
    s.scored_at = r.opt_i64(15);
    if (!r.is_null(16)) {
        OfficialScore o;
        o.id = r.str(16);
        o.primary_score = r.f64(17);
        o.components_json = r.str(18);
        o.metric = r.str(19);
        o.metric_version = r.str(20);
        o.evaluation_split_version = r.str(21);
        o.scorer_version = r.str(22);
        o.manifest_sha256 = r.str(23);
        o.holdout_sha256 = r.str(24);
        o.created_at = r.i64(25);
        s.official = std::move(o);
    }
    return s;
}

std::string placeholders(std::size_t n) {
    std::string out;
    for (std::size_t i = 0; i < n; ++i) out += (i == 0 ? ":p" : ", :p") + std::to_string(i);
    return out;
}

}  // namespace

namespace submissions {

std::optional<std::int64_t> insert_within_cap(Connection& c, const SubmissionRecord& r,
                                              std::int64_t cap, std::int64_t day_start) {
    Transaction tx(c);
    if (c.dialect() == Dialect::mariadb) c.query(kLockUser, {r.user_id});
    const auto used = c.query_one(kCountCapped, {r.competition_id, r.user_id, day_start});
    const std::int64_t n = used ? used->i64(0) : 0;
    if (n >= cap) return std::nullopt;
    c.exec(kInsert, {r.id, r.competition_id, r.user_id, r.filename, r.artifact_path,
                     r.artifact_sha256, r.row_count, r.created_at});
    tx.commit();
    return cap - n - 1;
}

std::optional<SubmissionRecord> find(Connection& c, const std::string& id) {
    auto r = c.query_one(std::string(kSelect) + "WHERE s.id = :id", {id});
    if (!r) return std::nullopt;
    return from_row(*r);
}

std::vector<SubmissionRecord> list_for_user(Connection& c, const std::string& competition_id,
                                            const std::string& user_id, bool has_cursor,
                                            std::int64_t before_created,
                                            const std::string& before_id, int limit) {
    std::string sql = std::string(kSelect) + "WHERE s.competition_id = :c AND s.user_id = :u ";
    std::vector<Value> params{competition_id, user_id};
    if (has_cursor) {
        sql += "AND (s.created_at < :t1 OR (s.created_at = :t2 AND s.id < :id)) ";
        params.insert(params.end(), {before_created, before_created, before_id});
    }
    sql += "ORDER BY s.created_at DESC, s.id DESC LIMIT :lim";
    params.emplace_back(std::int64_t{limit});
    std::vector<SubmissionRecord> out;
    for (const auto& r : c.query(sql, params)) out.push_back(from_row(r));
    return out;
}

std::vector<SubmissionRecord> list_by_status(Connection& c,
                                             const std::vector<std::string>& statuses,
                                             bool has_cursor, std::int64_t after_created,
                                             const std::string& after_id, int limit) {
    std::string sql =
        std::string(kSelect) + "WHERE s.status IN (" + placeholders(statuses.size()) + ") ";
    std::vector<Value> params(statuses.begin(), statuses.end());
    if (has_cursor) {
        sql += "AND (s.created_at > :t1 OR (s.created_at = :t2 AND s.id > :id)) ";
        params.insert(params.end(), {after_created, after_created, after_id});
    }
    sql += "ORDER BY s.created_at ASC, s.id ASC LIMIT :lim";
    params.emplace_back(std::int64_t{limit});
    std::vector<SubmissionRecord> out;
    for (const auto& r : c.query(sql, params)) out.push_back(from_row(r));
    return out;
}

std::optional<SubmissionRecord> claim(Connection& c, const std::string& owner, std::int64_t now,
                                      std::int64_t lease_micros,
                                      const std::optional<std::string>& only_id) {
    const std::int64_t expires = now + lease_micros;
    std::optional<std::string> claimed;
    if (c.dialect() == Dialect::mariadb) {
        // READ COMMITTED and index-ordered scans (ix_submissions_claim, ix_submissions_queue) so
        // InnoDB locks only the row it hands out: with a filesort (or REPEATABLE READ) every
        // examined row stays locked until commit and SKIP LOCKED makes other workers see an
        // empty queue.
        c.exec("SET TRANSACTION ISOLATION LEVEL READ COMMITTED");
        Transaction tx(c);
        std::optional<Row> row;
        if (only_id) {
            row = c.query_one("SELECT id FROM submissions WHERE id = :id AND " + claimable("1") +
                                  " FOR UPDATE SKIP LOCKED",
                              {*only_id, now, now});
        } else {
            row = c.query_one(
                "SELECT id FROM submissions FORCE INDEX (ix_submissions_claim) WHERE status = "
                "'queued' AND (lease_expires_at IS NULL OR lease_expires_at <= :now) ORDER BY "
                "status, created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED",
                {now});
            if (!row) {
                row = c.query_one(
                    "SELECT id FROM submissions FORCE INDEX (ix_submissions_queue) WHERE status = "
                    "'scoring' AND lease_expires_at <= :now ORDER BY status, lease_expires_at "
                    "LIMIT 1 FOR UPDATE SKIP LOCKED",
                    {now});
            }
        }
        if (!row) return std::nullopt;
        claimed = row->str(0);
        c.exec(
            "UPDATE submissions SET status = 'scoring', lease_owner = :o, lease_expires_at = :e, "
            "attempts = attempts + 1 WHERE id = :id",
            {owner, expires, *claimed});
        tx.commit();
    } else {
        // One statement: the row is re-checked by the UPDATE itself, so two claimers (even in
        // two processes) can never both take it.
        std::string inner = "SELECT id FROM submissions WHERE " + claimable("1");
        std::vector<Value> params{owner, expires, now, now};
        if (only_id) {
            inner += " AND id = :only";
            params.emplace_back(*only_id);
        }
        inner += " ORDER BY created_at, id LIMIT 1";
        const std::string sql =
            "UPDATE submissions SET status = 'scoring', lease_owner = :o, lease_expires_at = :e, "
            "attempts = attempts + 1 WHERE id = (" +
            inner + ") AND " + claimable("2") + " RETURNING id";
        params.emplace_back(now);
        params.emplace_back(now);
        auto row = c.query_one(sql, params);
        if (!row) return std::nullopt;
        claimed = row->str(0);
    }
    return find(c, *claimed);
}

std::int64_t count_claimable(Connection& c, std::int64_t now) {
    auto r = c.query_one("SELECT COUNT(*) FROM submissions WHERE " + claimable("1"), {now, now});
    return r ? r->i64(0) : 0;
}

bool record_score(Connection& c, const SubmissionRecord& claimed, const std::string& owner,
                  const NewScore& score, bool higher_is_better, std::int64_t now) {
    Transaction tx(c);
    // Two scorers finishing two submissions of one user would both find no leaderboard entry and
    // both insert one: recomputations are serialised per user (the lock the cap insert takes;
    // taken first, so this transaction's reads see the other's committed scores).
    if (c.dialect() == Dialect::mariadb) c.query(kLockUser, {claimed.user_id});
    if (c.exec(kSetScored, {now, score.row_count, claimed.id, owner}) != 1) return false;
    c.exec(kUnofficial, {claimed.id});
    auto same = c.query_one(
        kSameScore, {claimed.id, score.scorer_version, score.metric_version,
                     score.evaluation_split_version, score.manifest_sha256, score.holdout_sha256});
    if (same) {
        c.exec(kReplaceScore,
               {score.primary_score, score.components_json, score.metric, now, same->str(0)});
    } else {
        c.exec(kInsertScore,
               {score.id, claimed.id, claimed.competition_id, claimed.user_id, score.primary_score,
                score.components_json, score.metric, score.metric_version,
                score.evaluation_split_version, score.scorer_version, score.manifest_sha256,
                score.holdout_sha256, now});
    }
    leaderboard::recompute(c, claimed.competition_id, claimed.user_id, higher_is_better);
    tx.commit();
    return true;
}

bool release_for_retry(Connection& c, const std::string& id, const std::string& owner,
                       const std::string& error, std::int64_t retry_at) {
    return c.exec(
               "UPDATE submissions SET status = 'queued', lease_owner = NULL, lease_expires_at = "
               ":r, error = :e WHERE id = :id AND status = 'scoring' AND lease_owner = :o",
               {retry_at, error, id, owner}) == 1;
}

bool fail_and_refund(Connection& c, const std::string& id, const std::string& owner,
                     const std::string& error) {
    std::string sql =
        "UPDATE submissions SET status = 'failed', error = :e, counts_toward_cap = 0, lease_owner "
        "= NULL, lease_expires_at = NULL, scored_at = NULL WHERE id = :id";
    std::vector<Value> params{error, id};
    if (!owner.empty()) {
        sql += " AND status = 'scoring' AND lease_owner = :o";
        params.emplace_back(owner);
    }
    return c.exec(sql, params) == 1;
}

bool requeue(Connection& c, const std::string& id) {
    return c.exec(
               "UPDATE submissions SET status = 'queued', attempts = 0, lease_owner = NULL, "
               "lease_expires_at = NULL, error = NULL WHERE id = :id",
               {id}) == 1;
}

void remove_unscored(Connection& c, const std::string& id) {
    c.exec("DELETE FROM submissions WHERE id = :id AND status = 'queued'", {id});
}

}  // namespace submissions

namespace leaderboard {

std::vector<LeaderboardEntry> page(Connection& c, const std::string& competition_id,
                                   const std::optional<LeaderboardKey>& after, int limit) {
    std::string sql = kPageSelect;
    std::vector<Value> params{competition_id};
    if (after) {
        sql += kPageAfter;
        params.insert(params.end(), {after->rank_score, after->rank_score, after->rank_score,
                                     after->scored_at, after->scored_at, after->submission_id});
    }
    sql += kPageOrder;
    params.emplace_back(std::int64_t{limit});
    std::vector<LeaderboardEntry> out;
    for (const auto& r : c.query(sql, params)) {
        LeaderboardEntry e;
        e.user_id = r.str(0);
        e.display_name = r.str(1);
        e.best_submission_id = r.str(2);
        e.primary_score = r.f64(3);
        e.rank_score = r.f64(4);
        e.scored_at = r.i64(5);
        e.submission_count = r.i64(6);
        out.push_back(std::move(e));
    }
    return out;
}

void recompute(Connection& c, const std::string& competition_id, const std::string& user_id,
               bool higher_is_better) {
    auto best = c.query_one(higher_is_better ? kBestOfficialDesc : kBestOfficialAsc,
                            {competition_id, user_id});
    if (!best) {
        c.exec(kDeleteEntry, {competition_id, user_id});
        return;
    }
    const auto count = c.query_one(kCountOfficial, {competition_id, user_id});
    const std::int64_t n = count ? count->i64(0) : 0;
    const double primary = best->f64(2);
    // +0.0 for a zero score either way, so equal scores compare equal in the index.
    const double rank = higher_is_better ? (primary == 0.0 ? 0.0 : -primary) : primary + 0.0;
    const std::vector<Value> values{best->str(0),   best->str(1), primary, rank, best->i64(3), n,
                                    competition_id, user_id};
    if (c.exec(kUpdateEntry, values) == 0) {
        try {
            c.exec(kInsertEntry, {competition_id, user_id, best->str(0), best->str(1), primary,
                                  rank, best->i64(3), n});
        } catch (const UniqueViolation&) {
            c.exec(kUpdateEntry, values);  // inserted meanwhile by a caller without the lock
        }
    }
}

std::vector<HistoryPoint> official_scores(Connection& c, const std::string& competition_id,
                                          const std::vector<std::string>& user_ids) {
    if (user_ids.empty()) return {};
    std::vector<Value> params{competition_id};
    params.insert(params.end(), user_ids.begin(), user_ids.end());
    const std::string sql =
        "SELECT user_id, primary_score, created_at FROM submission_scores WHERE competition_id = "
        ":c AND is_official = 1 AND user_id IN (" +
        placeholders(user_ids.size()) + ") ORDER BY user_id, created_at, submission_id";
    std::vector<HistoryPoint> out;
    for (const auto& r : c.query(sql, params)) {
        out.push_back({r.str(0), r.f64(1), r.i64(2)});
    }
    return out;
}

}  // namespace leaderboard

}  // namespace medforge::db
