#include "db/sessions_repo.hpp"

#include "core/strings.hpp"

namespace medforge::db {

bool is_active_status(std::string_view s) {
    return s == "starting" || s == "running" || s == "stopping";
}

namespace sessions {

namespace {

constexpr const char* kColumns =
    "id, user_id, tier, pack_id, status, container_id, upstream, runtime_meta, gpu_id, slug, "
    "workspace, created_at, started_at, stopped_at, error_message, status_changed_at";

constexpr const char* kActive = "('starting', 'running', 'stopping')";

SessionRecord from_row(const Row& r) {
    SessionRecord s;
    s.id = r.str(0);
    s.user_id = r.str(1);
    s.tier = r.str(2);
    s.pack_id = r.str(3);
    s.status = r.str(4);
    s.container_id = r.opt_str(5);
    s.upstream = r.opt_str(6);
    s.runtime_meta = r.opt_str(7);
    s.gpu_id = r.i64(8);
    s.slug = r.str(9);
    s.workspace = r.str(10);
    s.created_at = r.i64(11);
    s.started_at = r.opt_i64(12);
    s.stopped_at = r.opt_i64(13);
    s.error_message = r.opt_str(14);
    s.status_changed_at = r.i64(15);
    return s;
}

std::string select_from() { return std::string("SELECT ") + kColumns + " FROM sessions "; }

std::string truncated(const std::string& msg) {
    if (msg.size() <= kMaxErrorMessage) return msg;
    // Cut on a UTF-8 boundary.
    std::size_t n = kMaxErrorMessage;
    while (n > 0 && (static_cast<unsigned char>(msg[n]) & 0xC0) == 0x80) --n;
    return msg.substr(0, n);
}

}  // namespace

std::optional<PackRecord> find_pack(Connection& c, const std::string& id) {
    auto row = c.query_one(
        "SELECT id, name, tier, image_ref, deprecated_at FROM packs WHERE id = :id", {id});
    if (!row) return std::nullopt;
    return PackRecord{row->str(0), row->str(1), row->str(2), row->str(3), row->opt_i64(4)};
}

Allocation allocate(Connection& c, const NewSession& n) {
    Transaction tx(c);
    const bool maria = c.dialect() == Dialect::mariadb;
    // Lock order everywhere: the user's row, then the GPU rows.
    auto user =
        c.query_one(maria ? "SELECT max_concurrent_sessions FROM users WHERE id = :u FOR UPDATE"
                          : "SELECT max_concurrent_sessions FROM users WHERE id = :u",
                    {n.user_id});
    Allocation a;
    if (!user) {
        a.outcome = AllocationOutcome::limit_reached;
        return a;
    }
    a.limit = user->i64(0);
    if (maria) c.query("SELECT id FROM gpu_devices WHERE enabled = 1 ORDER BY id FOR UPDATE");
    const auto active = c.query_one(
        std::string("SELECT COUNT(*) FROM sessions WHERE user_id = :u AND status IN ") + kActive,
        {n.user_id});
    if (active && active->i64(0) >= a.limit) {
        a.outcome = AllocationOutcome::limit_reached;
        return a;
    }
    auto gpu = c.query_one(
        "SELECT g.id FROM gpu_devices g WHERE g.enabled = 1 AND NOT EXISTS (SELECT 1 FROM "
        "sessions s WHERE s.active_gpu_id = g.id) ORDER BY g.id LIMIT 1");
    if (!gpu) {
        a.outcome = AllocationOutcome::no_gpu;
        return a;
    }
    a.gpu_id = gpu->i64(0);
    c.exec(
        "INSERT INTO sessions (id, user_id, tier, pack_id, status, gpu_id, active_gpu_id, slug, "
        "workspace, created_at, status_changed_at) VALUES (:id, :u, :tier, :pack, 'starting', "
        ":gpu, :agpu, :slug, :ws, :created, :changed)",
        {n.id, n.user_id, n.tier, n.pack_id, a.gpu_id, a.gpu_id, n.slug, n.workspace, n.now,
         n.now});
    add_event(c, n.id, n.now, "starting", "Allocated GPU " + std::to_string(a.gpu_id));
    tx.commit();
    a.outcome = AllocationOutcome::allocated;
    a.session.id = n.id;
    a.session.user_id = n.user_id;
    a.session.tier = n.tier;
    a.session.pack_id = n.pack_id;
    a.session.status = "starting";
    a.session.gpu_id = a.gpu_id;
    a.session.slug = n.slug;
    a.session.workspace = n.workspace;
    a.session.created_at = n.now;
    a.session.status_changed_at = n.now;
    return a;
}

std::optional<SessionRecord> find(Connection& c, const std::string& id) {
    auto row = c.query_one(select_from() + "WHERE id = :id", {id});
    if (!row) return std::nullopt;
    return from_row(*row);
}

std::optional<RunningSession> find_running_by_slug(Connection& c, const std::string& slug) {
    auto row = c.query_one(
        "SELECT id, user_id, upstream FROM sessions WHERE slug = :s AND status = 'running'",
        {slug});
    if (!row || row->is_null(2)) return std::nullopt;
    return RunningSession{row->str(0), row->str(1), row->str(2)};
}

std::vector<SessionRecord> list(Connection& c, const std::string& user_id,
                                const std::vector<std::string>& statuses, bool has_cursor,
                                std::int64_t before_created, const std::string& before_id,
                                int limit) {
    std::string sql = select_from() + "WHERE 1 = 1";
    std::vector<Value> params;
    if (!user_id.empty()) {
        sql += " AND user_id = :u";
        params.emplace_back(user_id);
    }
    if (!statuses.empty()) {
        sql += " AND status IN (";
        for (std::size_t i = 0; i < statuses.size(); ++i) {
            sql += (i ? ", :st" : ":st") + std::to_string(i);
            params.emplace_back(statuses[i]);
        }
        sql += ")";
    }
    if (has_cursor) {
        sql += " AND (created_at < :c1 OR (created_at = :c2 AND id < :cid))";
        params.emplace_back(before_created);
        params.emplace_back(before_created);
        params.emplace_back(before_id);
    }
    sql += " ORDER BY created_at DESC, id DESC LIMIT :lim";
    params.emplace_back(static_cast<std::int64_t>(limit));
    std::vector<SessionRecord> out;
    for (const auto& r : c.query(sql, params)) out.push_back(from_row(r));
    return out;
}

std::optional<SessionRecord> current(Connection& c, const std::string& user_id) {
    auto row = c.query_one(select_from() + "WHERE user_id = :u AND status IN " + kActive +
                               " ORDER BY created_at DESC, id DESC LIMIT 1",
                           {user_id});
    if (!row) return std::nullopt;
    return from_row(*row);
}

std::vector<SessionRecord> list_active(Connection& c) {
    std::vector<SessionRecord> out;
    for (const auto& r :
         c.query(select_from() + "WHERE status IN " + kActive + " ORDER BY created_at, id")) {
        out.push_back(from_row(r));
    }
    return out;
}

namespace {

// SET clause and parameters for the optional fields.
void append_fields(std::string& sql, std::vector<Value>& params, const TransitionFields& f,
                   std::int64_t now) {
    if (f.container_id) {
        sql += ", container_id = :cid";
        params.emplace_back(*f.container_id);
    }
    if (f.upstream) {
        sql += ", upstream = :up";
        params.emplace_back(*f.upstream);
    }
    if (f.runtime_meta) {
        sql += ", runtime_meta = :meta";
        params.emplace_back(*f.runtime_meta);
    }
    if (f.set_started_at) {
        sql += ", started_at = :started";
        params.emplace_back(now);
    }
    if (f.set_stopped_at) {
        sql += ", stopped_at = :stopped";
        params.emplace_back(now);
    }
    if (f.error_message) {
        sql += ", error_message = :err";
        params.emplace_back(truncated(*f.error_message));
    }
}

}  // namespace

bool transition(Connection& c, const std::string& id, const std::string& from,
                const std::string& to, std::int64_t now, const std::string& message,
                const TransitionFields& fields) {
    Transaction tx(c);
    std::string sql = "UPDATE sessions SET status = :to, status_changed_at = :now";
    std::vector<Value> params{to, now};
    if (!is_active_status(to)) sql += ", active_gpu_id = NULL";
    append_fields(sql, params, fields, now);
    sql += " WHERE id = :id AND status = :from";
    params.emplace_back(id);
    params.emplace_back(from);
    if (c.exec(sql, params) != 1) return false;
    add_event(c, id, now, to, message);
    tx.commit();
    return true;
}

bool update_runtime(Connection& c, const std::string& id, const std::string& status,
                    const TransitionFields& fields) {
    std::string sql = "UPDATE sessions SET id = id";
    std::vector<Value> params;
    append_fields(sql, params, fields, 0);
    sql += " WHERE id = :id AND status = :st";
    params.emplace_back(id);
    params.emplace_back(status);
    return c.exec(sql, params) == 1;
}

void add_event(Connection& c, const std::string& session_id, std::int64_t at,
               const std::string& kind, const std::string& message) {
    c.exec("INSERT INTO session_events (session_id, at, kind, message) VALUES (:s, :at, :k, :m)",
           {session_id, at, kind, truncated(message)});
}

std::vector<SessionEvent> events_after(Connection& c, const std::string& session_id,
                                       std::int64_t after_id, int limit) {
    std::vector<SessionEvent> out;
    for (const auto& r : c.query("SELECT id, session_id, at, kind, message FROM session_events "
                                 "WHERE session_id = :s AND id > :after ORDER BY id LIMIT :lim",
                                 {session_id, after_id, static_cast<std::int64_t>(limit)})) {
        out.push_back({r.i64(0), r.str(1), r.i64(2), r.str(3), r.str(4)});
    }
    return out;
}

std::vector<std::pair<std::string, std::int64_t>> count_by_status(Connection& c) {
    std::vector<std::pair<std::string, std::int64_t>> out;
    for (const auto& r : c.query(std::string("SELECT status, COUNT(*) FROM sessions WHERE status "
                                             "IN ") +
                                 kActive + " GROUP BY status")) {
        out.emplace_back(r.str(0), r.i64(1));
    }
    return out;
}

std::int64_t free_gpu_count(Connection& c) {
    auto row = c.query_one(
        "SELECT COUNT(*) FROM gpu_devices g WHERE g.enabled = 1 AND NOT EXISTS (SELECT 1 FROM "
        "sessions s WHERE s.active_gpu_id = g.id)");
    return row ? row->i64(0) : 0;
}

namespace {
constexpr const char* kGpuSelect =
    "SELECT g.id, g.name, g.uuid, g.enabled, (SELECT s.id FROM sessions s WHERE s.active_gpu_id "
    "= g.id) FROM gpu_devices g ";

GpuRecord gpu_from_row(const Row& r) {
    return GpuRecord{r.i64(0), r.str(1), r.opt_str(2), r.i64(3) != 0, r.opt_str(4)};
}
}  // namespace

std::vector<GpuRecord> list_gpus(Connection& c) {
    std::vector<GpuRecord> out;
    for (const auto& r : c.query(std::string(kGpuSelect) + "ORDER BY g.id")) {
        out.push_back(gpu_from_row(r));
    }
    return out;
}

std::optional<GpuRecord> find_gpu(Connection& c, std::int64_t id) {
    auto row = c.query_one(std::string(kGpuSelect) + "WHERE g.id = :id", {id});
    if (!row) return std::nullopt;
    return gpu_from_row(*row);
}

bool set_gpu_enabled(Connection& c, std::int64_t id, bool enabled) {
    return c.exec("UPDATE gpu_devices SET enabled = :e WHERE id = :id",
                  {static_cast<std::int64_t>(enabled ? 1 : 0), id}) == 1;
}

}  // namespace sessions

}  // namespace medforge::db
