#include "db/competitions_repo.hpp"

namespace medforge::db {

namespace {

constexpr const char* kSelect =
    "SELECT c.id, c.slug, c.title, c.description, c.tier, c.status, c.metric, c.metric_version, "
    "c.higher_is_better, c.submission_cap_per_day, c.scoring_mode, c.leaderboard_rule, "
    "c.evaluation_policy, c.dataset_id, d.slug, d.title, c.bundle_path, c.created_at, "
    "c.updated_at FROM competitions c LEFT JOIN datasets d ON d.id = c.dataset_id ";
constexpr const char* kListActive =
    "WHERE c.status = 'active' AND c.slug > :after ORDER BY c.slug LIMIT :lim";
constexpr const char* kBySlug = "WHERE c.slug = :slug";
constexpr const char* kInsert =
    "INSERT INTO competitions (id, slug, title, description, tier, status, is_permanent, metric, "
    "metric_version, higher_is_better, scoring_mode, leaderboard_rule, evaluation_policy, "
    "submission_cap_per_day, dataset_id, bundle_path, created_at, updated_at) VALUES (:id, :slug, "
    ":title, :descr, :tier, :status, 1, :metric, :mv, :hib, :mode, :rule, :policy, :cap, :ds, "
    ":path, :c, :u)";
constexpr const char* kExists = "SELECT id FROM competitions WHERE slug = :slug";
constexpr const char* kCountCapped =
    "SELECT COUNT(*) FROM submissions WHERE competition_id = :c AND user_id = :u AND "
    "counts_toward_cap = 1 AND created_at >= :since";

constexpr const char* kDatasetSelect =
    "SELECT id, slug, title, source, license, storage_path, bytes, checksum, created_at FROM "
    "datasets ";
constexpr const char* kDatasetBySlug = "WHERE slug = :slug";
constexpr const char* kDatasetList = "WHERE slug > :after ORDER BY slug LIMIT :lim";
constexpr const char* kDatasetUpdateStats =
    "UPDATE datasets SET bytes = :bytes, checksum = :sum WHERE slug = :slug";
constexpr const char* kDatasetInsert =
    "INSERT INTO datasets (id, slug, title, source, license, storage_path, bytes, checksum, "
    "created_at) VALUES (:id, :slug, :title, :source, :license, :path, :bytes, :sum, :c)";

CompetitionRecord from_row(const Row& r) {
    CompetitionRecord c;
    c.id = r.str(0);
    c.slug = r.str(1);
    c.title = r.str(2);
    c.description = r.str(3);
    c.tier = r.str(4);
    c.status = r.str(5);
    c.metric = r.str(6);
    c.metric_version = r.str(7);
    c.higher_is_better = r.i64(8) != 0;
    c.submission_cap_per_day = r.i64(9);
    c.scoring_mode = r.str(10);
    c.leaderboard_rule = r.str(11);
    c.evaluation_policy = r.str(12);
    c.dataset_id = r.opt_str(13).value_or("");
    c.dataset_slug = r.opt_str(14).value_or("");
    c.dataset_title = r.opt_str(15).value_or("");
    c.bundle_path = r.str(16);
    c.created_at = r.i64(17);
    c.updated_at = r.i64(18);
    return c;
}

DatasetRecord dataset_from_row(const Row& r) {
    DatasetRecord d;
    d.id = r.str(0);
    d.slug = r.str(1);
    d.title = r.str(2);
    d.source = r.str(3);
    d.license = r.str(4);
    d.storage_path = r.str(5);
    d.bytes = r.i64(6);
    d.checksum = r.str(7);
    d.created_at = r.i64(8);
    return d;
}

}  // namespace

namespace competitions {

std::vector<CompetitionRecord> list_active(Connection& c, const std::string& after_slug,
                                           int limit) {
    std::vector<CompetitionRecord> out;
    for (const auto& r :
         c.query(std::string(kSelect) + kListActive, {after_slug, std::int64_t{limit}})) {
        out.push_back(from_row(r));
    }
    return out;
}

std::optional<CompetitionRecord> find_by_slug(Connection& c, const std::string& slug) {
    auto r = c.query_one(std::string(kSelect) + kBySlug, {slug});
    if (!r) return std::nullopt;
    return from_row(*r);
}

std::optional<CompetitionRecord> find_by_id(Connection& c, const std::string& id) {
    auto r = c.query_one(std::string(kSelect) + "WHERE c.id = :id", {id});
    if (!r) return std::nullopt;
    return from_row(*r);
}

bool insert_if_missing(Connection& c, const CompetitionRecord& r) {
    if (c.query_one(kExists, {r.slug})) return false;
    try {
        c.exec(kInsert, {r.id, r.slug, r.title, r.description, r.tier, r.status, r.metric,
                         r.metric_version, std::int64_t{r.higher_is_better ? 1 : 0}, r.scoring_mode,
                         r.leaderboard_rule, r.evaluation_policy, r.submission_cap_per_day,
                         r.dataset_id.empty() ? Value{} : Value{r.dataset_id}, r.bundle_path,
                         r.created_at, r.updated_at});
    } catch (const UniqueViolation&) {
        return false;  // another process seeded it first
    }
    return true;
}

bool update(Connection& c, const std::string& id, const CompetitionPatch& patch,
            std::int64_t updated_at) {
    std::string sql = "UPDATE competitions SET ";
    std::vector<Value> params;
    if (patch.title) {
        sql += "title = :title, ";
        params.emplace_back(*patch.title);
    }
    if (patch.description) {
        sql += "description = :descr, ";
        params.emplace_back(*patch.description);
    }
    if (patch.submission_cap_per_day) {
        sql += "submission_cap_per_day = :cap, ";
        params.emplace_back(*patch.submission_cap_per_day);
    }
    if (patch.status) {
        sql += "status = :status, ";
        params.emplace_back(*patch.status);
    }
    sql += "updated_at = :u WHERE id = :id";
    params.emplace_back(updated_at);
    params.emplace_back(id);
    return c.exec(sql, params) > 0;
}

std::int64_t count_capped_since(Connection& c, const std::string& competition_id,
                                const std::string& user_id, std::int64_t since) {
    auto r = c.query_one(kCountCapped, {competition_id, user_id, since});
    return r ? r->i64(0) : 0;
}

}  // namespace competitions

namespace datasets {

std::vector<DatasetRecord> list(Connection& c, const std::string& after_slug, int limit) {
    std::vector<DatasetRecord> out;
    for (const auto& r :
         c.query(std::string(kDatasetSelect) + kDatasetList, {after_slug, std::int64_t{limit}})) {
        out.push_back(dataset_from_row(r));
    }
    return out;
}

std::optional<DatasetRecord> find_by_slug(Connection& c, const std::string& slug) {
    auto r = c.query_one(std::string(kDatasetSelect) + kDatasetBySlug, {slug});
    if (!r) return std::nullopt;
    return dataset_from_row(*r);
}

void update_stats(Connection& c, const std::string& slug, std::int64_t bytes,
                  const std::string& checksum) {
    c.exec(kDatasetUpdateStats, {bytes, checksum, slug});
}

bool insert_if_missing(Connection& c, const DatasetRecord& d) {
    if (find_by_slug(c, d.slug)) return false;
    try {
        c.exec(kDatasetInsert, {d.id, d.slug, d.title, d.source, d.license, d.storage_path, d.bytes,
                                d.checksum, d.created_at});
    } catch (const UniqueViolation&) {
        return false;
    }
    return true;
}

}  // namespace datasets

}  // namespace medforge::db
