#include "sessions/lifecycle.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>

#include <algorithm>
#include <filesystem>

#include "core/errors.hpp"
#include "core/ids.hpp"
#include "core/log.hpp"
#include "core/subprocess.hpp"
#include "db/competitions_repo.hpp"
#include "sessions/gpu_inventory.hpp"
#include "sessions/ide_probe.hpp"

namespace medforge::sessions {

namespace {

constexpr const char* kDefaultPackId = "00000000-0000-0000-0000-000000000100";
constexpr const char* kLeaseName = "session-recovery";
constexpr Micros kMillis = 1000;

std::string host_name() {
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
    return host;
}

// "api@<host>:<pid>:<random>" of a process on this host that no longer exists.
bool holder_is_dead(const std::string& holder) {
    const std::string prefix = "api@" + host_name() + ":";
    if (holder.rfind(prefix, 0) != 0) return false;
    const auto rest = holder.substr(prefix.size());
    const auto colon = rest.find(':');
    if (colon == std::string::npos) return false;
    long pid = 0;
    try {
        pid = std::stol(rest.substr(0, colon));
    } catch (const std::exception&) {
        return false;
    }
    if (pid <= 0 || pid == ::getpid()) return false;
    return ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

bool pack_allows(const std::string& pack_tier, const std::string& tier) {
    return pack_tier == "both" || pack_tier == tier;
}

std::string ms_tag(const char* kind, Micros now) {
    return std::string(kind) + "-" + std::to_string(now / kMillis);
}

}  // namespace

std::string new_slug() {
    static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
    const auto bytes = random_bytes(8);
    std::string out;
    for (auto b : bytes) out.push_back(kAlphabet[b & 31]);
    return out;
}

std::string container_name(const std::string& slug) { return "mf-session-" + slug; }

SessionService::SessionService(const Config& config, db::Database& db, const Clock& clock,
                               Runtime& runtime, WorkspaceStore& store)
    : config_(config),
      db_(db),
      clock_(clock),
      runtime_(runtime),
      store_(store),
      owner_id_("api@" + host_name() + ":" + std::to_string(::getpid()) + ":" +
                request_uuid().substr(0, 8)) {
    status_.enabled = config.session_recovery_enabled;
}

SessionService::~SessionService() { stop_loop(); }

void SessionService::log_transition(const char* event, const db::SessionRecord& s,
                                    const std::string& to, const std::string& correlation_id,
                                    const std::string& detail) {
    nlohmann::json f = {{"session_id", s.id}, {"user_id", s.user_id},
                        {"slug", s.slug},     {"gpu_id", s.gpu_id},
                        {"status", to},       {"correlation_id", correlation_id}};
    if (!detail.empty()) f["detail"] = detail;
    if (on_slug_changed_) on_slug_changed_(s.slug);
    if (to == "error") {
        log::warn(event, std::move(f));
    } else {
        log::info(event, std::move(f));
    }
}

void SessionService::check_backends() {
    runtime_.health();
    store_.health();
}

std::vector<DatasetMount> SessionService::dataset_mounts() {
    std::vector<DatasetMount> out;
    const auto rows =
        db_.with_connection([&](db::Connection& c) { return db::datasets::list(c, "", 500); });
    for (const auto& d : rows) {
        std::error_code ec;
        auto p = std::filesystem::absolute(d.storage_path, ec);
        if (ec || !std::filesystem::is_directory(p, ec)) continue;
        out.push_back({d.slug, p.lexically_normal().string()});
    }
    return out;
}

CreateResult SessionService::create(const CreateRequest& req) {
    const auto requested = std::chrono::steady_clock::now();
    if (req.tier == "private") {
        throw ApiError(501, "tier_not_available", "The private tier is not available yet.");
    }
    const std::string pack_id = req.pack_id.value_or(kDefaultPackId);
    auto pack =
        db_.with_connection([&](db::Connection& c) { return db::sessions::find_pack(c, pack_id); });
    if (!pack) throw ApiError(404, "pack_not_found", "No such pack.");
    if (pack->deprecated_at) throw ApiError(409, "pack_deprecated", "This pack is deprecated.");
    if (!pack_allows(pack->tier, req.tier)) {
        throw ApiError(422, "pack_tier_mismatch",
                       "This pack cannot be used for the " + req.tier + " tier.")
            .with_errors({{{"body", "pack_id"}, "the pack's tier is " + pack->tier, "tier"}});
    }
    std::string image = pack->image_ref.empty() ? config_.pack_image : pack->image_ref;
    if (image.empty() && runtime_.needs_image()) {
        // A configuration fault, not the user's: refuse before a GPU or a row is taken.
        log::error("session.no_image",
                   {{"pack_id", pack_id}, {"correlation_id", req.correlation_id}});
        throw ApiError(503, "runtime_unavailable",
                       "No session image is configured: set PACK_IMAGE or the pack's image_ref.");
    }

    std::optional<std::string> from_snapshot;
    if (req.from_session_id) {
        auto prev = db_.with_connection(
            [&](db::Connection& c) { return db::sessions::find(c, *req.from_session_id); });
        if (!prev || prev->user_id != req.user_id) {
            throw ApiError(404, "session_not_found", "No such session.");
        }
        if (db::is_active_status(prev->status)) {
            throw ApiError(409, "session_still_active",
                           "That session is still active; stop it before continuing from it.");
        }
        std::vector<std::string> snaps;
        try {
            snaps = store_.list_snapshots(prev->workspace);
        } catch (const StoreUnavailable& e) {
            throw ApiError(503, "runtime_unavailable", "The workspace store is unavailable.",
                           e.what());
        } catch (const StoreError& e) {
            snaps.clear();
        }
        if (snaps.empty()) {
            throw ApiError(409, "no_snapshot", "That session has no snapshot to continue from.");
        }
        from_snapshot = prev->workspace + "@" + snaps.back();
    }

    try {
        check_backends();
    } catch (const std::exception& e) {
        log::warn("session.runtime_unavailable",
                  {{"error", e.what()}, {"correlation_id", req.correlation_id}});
        throw ApiError(503, "runtime_unavailable",
                       "The session runtime or workspace store is unavailable; try again later.",
                       e.what())
            .with_header("Retry-After", "5");
    }

    db::sessions::Allocation alloc;
    for (int attempt = 0;; ++attempt) {
        db::sessions::NewSession n;
        n.id = uuid_v4();
        n.user_id = req.user_id;
        n.tier = req.tier;
        n.pack_id = pack_id;
        n.slug = new_slug();
        n.workspace = req.user_id + "/" + n.id;
        n.now = clock_.now();
        try {
            alloc = db_.with_connection(
                [&](db::Connection& c) { return db::sessions::allocate(c, n); });
            break;
        } catch (const db::UniqueViolation&) {
            if (attempt >= config_.session_allocation_max_retries) {
                throw ApiError(409, "no_gpu_available",
                               "No GPU could be allocated (contention); try again.");
            }
        }
    }
    if (alloc.outcome == db::sessions::AllocationOutcome::limit_reached) {
        throw ApiError(409, "session_limit_reached",
                       "You already have the maximum number of active sessions (" +
                           std::to_string(alloc.limit) + ").")
            .with_member("max_concurrent_sessions", alloc.limit);
    }
    if (alloc.outcome == db::sessions::AllocationOutcome::no_gpu) {
        throw ApiError(409, "no_gpu_available", "Every GPU is in use; try again later.");
    }
    db::SessionRecord s = alloc.session;
    log_transition("session.allocated", s, "starting", req.correlation_id);
    {
        std::lock_guard lk(mu_);
        starts_in_flight_.insert(s.id);
    }
    if (!req.wait) {
        {
            std::lock_guard lk(mu_);
            ++background_starts_;
        }
        std::thread([this, s, from_snapshot, image, cid = req.correlation_id, requested] {
            try {
                start_session(s, from_snapshot, image, cid, requested);
            } catch (const std::exception& e) {
                log::error("session.start_crashed", {{"session_id", s.id}, {"error", e.what()}});
            }
            std::lock_guard lk(mu_);
            --background_starts_;
            cv_.notify_all();
        }).detach();
        return {s, false};
    }
    start_session(s, from_snapshot, image, req.correlation_id, requested);
    auto now_row =
        db_.with_connection([&](db::Connection& c) { return db::sessions::find(c, s.id); });
    if (!now_row) throw ApiError(500, "session_start_failed", "The session vanished.");
    if (now_row->status == "running") return {*now_row, true};
    if (now_row->status == "stopping" || now_row->status == "stopped") {
        throw ApiError(409, "session_stopped_during_start",
                       "The session was stopped while it was starting.");
    }
    throw ApiError(500, "session_start_failed",
                   now_row->error_message.value_or("The session failed to start."))
        .with_member("session_id", now_row->id);
}

void SessionService::start_session(db::SessionRecord s, std::optional<std::string> from_snapshot,
                                   const std::string& image, const std::string& cid,
                                   std::chrono::steady_clock::time_point requested) {
    struct Done {
        SessionService& self;
        std::string id;
        ~Done() {
            // The recovery loop skips sessions whose start is in flight here; wake it now that
            // this one is settled (a stop that arrived during the start is finished at once).
            std::lock_guard lk(self.mu_);
            self.starts_in_flight_.erase(id);
            self.woken_ = true;
            self.cv_.notify_all();
        }
    } done{*this, s.id};
    const auto t0 = std::chrono::steady_clock::now();
    auto still_starting = [&] {
        auto row =
            db_.with_connection([&](db::Connection& c) { return db::sessions::find(c, s.id); });
        return row && row->status == "starting";
    };
    std::optional<StartResult> started;
    auto teardown = [&] {
        if (!started) return;
        try {
            runtime_.stop(started->id, started->meta, std::chrono::seconds(2));
            runtime_.remove(started->id, started->meta);
        } catch (const std::exception& e) {
            log::warn("session.cleanup_failed", {{"session_id", s.id}, {"error", e.what()}});
        }
    };
    auto fail = [&](const std::string& reason) {
        teardown();
        db::sessions::TransitionFields f;
        f.error_message = "create failed: " + reason;
        f.set_stopped_at = true;
        const bool moved = db_.with_connection([&](db::Connection& c) {
            return db::sessions::transition(c, s.id, "starting", "error", clock_.now(),
                                            "Start failed: " + reason, f);
        });
        if (moved) {
            log_transition("session.start_failed", s, "error", cid, reason);
        } else {
            wake();  // a stop arrived meanwhile: the stop flow finishes it
        }
    };
    try {
        const std::string mount =
            store_.provision(s.workspace, config_.session_workspace_quota_gb, from_snapshot);
        if (!still_starting()) {
            wake();
            return;
        }
        StartSpec spec;
        spec.session_id = s.id;
        spec.user_id = s.user_id;
        spec.slug = s.slug;
        spec.name = container_name(s.slug);
        spec.tier = s.tier;
        spec.image = image;
        spec.gpu_id = s.gpu_id;
        spec.workspace_path = mount;
        spec.datasets = dataset_mounts();
        const auto runtime_begin = std::chrono::steady_clock::now();
        started = runtime_.start(spec);
        db::sessions::TransitionFields rf;
        rf.container_id = started->id;
        rf.upstream = started->upstream;
        rf.runtime_meta = started->meta;
        db_.with_connection([&](db::Connection& c) {
            return db::sessions::update_runtime(c, s.id, "starting", rf);
        });
        if (!still_starting()) {
            // A stop won: the stop flow owns the teardown; make sure it finds nothing running.
            teardown();
            wake();
            return;
        }
        // Readiness: the runtime says running and the IDE answers /healthz.
        const auto deadline =
            t0 + std::chrono::seconds(config_.session_container_start_timeout_seconds);
        int checks = 0;
        for (;;) {
            auto h = probe_ide(started->upstream, std::chrono::milliseconds(500));
            if (h && h->status == 200) {
                const auto ins = runtime_.inspect(started->id, spec.name, started->meta);
                if (ins.state == RuntimeState::running) break;
            }
            if (++checks % 10 == 0) {
                const auto ins = runtime_.inspect(started->id, spec.name, started->meta);
                if (ins.state == RuntimeState::exited || ins.state == RuntimeState::missing) {
                    throw RuntimeError(
                        "the IDE exited before it was ready" +
                        (ins.detail.empty() ? std::string() : " (" + ins.detail + ")"));
                }
                if (!still_starting()) {
                    teardown();
                    wake();
                    return;
                }
            }
            if (std::chrono::steady_clock::now() >= deadline) {
                throw RuntimeError("the IDE did not answer /healthz within " +
                                   std::to_string(config_.session_container_start_timeout_seconds) +
                                   " s");
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        const auto ready_at = std::chrono::steady_clock::now();
        db::sessions::TransitionFields f;
        f.set_started_at = true;
        const bool moved = db_.with_connection([&](db::Connection& c) {
            return db::sessions::transition(c, s.id, "starting", "running", clock_.now(), "Running",
                                            f);
        });
        // The API's own share of the create: everything but the runtime's start and the wait for
        // the IDE (allocation, checks, workspace, database writes).
        const auto done_at = std::chrono::steady_clock::now();
        auto as_ms = [](auto d) {
            return std::chrono::duration_cast<std::chrono::microseconds>(d).count() / 1000.0;
        };
        const double total_ms = as_ms(done_at - requested);
        const double overhead_ms = as_ms(runtime_begin - requested) + as_ms(done_at - ready_at);
        const auto ms = static_cast<long long>(total_ms);
        if (moved) {
            log::info("session.start_timing",
                      {{"session_id", s.id},
                       {"total_ms", total_ms},
                       {"api_overhead_ms", overhead_ms},
                       {"runtime_and_ide_ms", as_ms(ready_at - runtime_begin)},
                       {"correlation_id", cid}});
        }
        if (!moved) {
            teardown();
            wake();
            return;
        }
        log_transition("session.start", s, "running", cid, "ready_ms=" + std::to_string(ms));
    } catch (const RuntimeError& e) {
        fail(e.what());
    } catch (const RuntimeUnavailable& e) {
        fail(std::string("runtime unavailable: ") + e.what());
    } catch (const StoreError& e) {
        fail(std::string("workspace: ") + e.what());
    } catch (const StoreUnavailable& e) {
        fail(std::string("workspace store unavailable: ") + e.what());
    } catch (const db::DbUnavailable&) {
        teardown();  // the recovery loop settles the row once the DB is back
        throw;
    }
}

std::string SessionService::request_stop(const db::SessionRecord& s, const std::string& reason,
                                         const std::string& cid) {
    if (!db::is_active_status(s.status)) return "The session is already " + s.status + ".";
    if (s.status == "stopping") {
        wake();
        return "The session is already stopping.";
    }
    for (const char* from : {"running", "starting"}) {
        const bool moved = db_.with_connection([&](db::Connection& c) {
            return db::sessions::transition(c, s.id, from, "stopping", clock_.now(),
                                            "Stop requested (" + reason + ")");
        });
        if (moved) {
            log_transition("session.stop_requested", s, "stopping", cid, reason);
            wake();
            return "Stopping.";
        }
    }
    wake();
    return "The session is already stopping or stopped.";
}

void SessionService::finish_stop(const db::SessionRecord& s, const std::string& cid) {
    const std::string name = container_name(s.slug);
    const std::string meta = s.runtime_meta.value_or("");
    std::string id = s.container_id.value_or("");
    if (id.empty()) {
        auto ins = runtime_.inspect("", name, meta);
        id = ins.id;
    }
    if (!id.empty()) {
        // A failure throws: the row stays `stopping` and the next pass retries.
        runtime_.stop(id, meta,
                      std::chrono::seconds(config_.session_container_stop_timeout_seconds));
        runtime_.remove(id, meta);
    }
    const Micros now = clock_.now();
    db::sessions::TransitionFields f;
    f.set_stopped_at = true;
    std::string to = "stopped";
    std::string message;
    try {
        if (!store_.mountpoint(s.workspace)) {
            throw StoreError("the workspace was never provisioned");
        }
        const auto snap = store_.snapshot(s.workspace, ms_tag("stop", now));
        message = "Stopped; snapshot " + snap;
    } catch (const StoreUnavailable&) {
        throw;  // retried next pass
    } catch (const std::exception& e) {
        to = "error";
        f.error_message = std::string("snapshot failed: ") + e.what();
        message = *f.error_message;
    }
    const bool moved = db_.with_connection([&](db::Connection& c) {
        return db::sessions::transition(c, s.id, "stopping", to, clock_.now(), message, f);
    });
    if (moved) log_transition("session.stop", s, to, cid, message);
}

void SessionService::fail_dead(const db::SessionRecord& s, const std::string& from,
                               const std::string& why) {
    const std::string meta = s.runtime_meta.value_or("");
    const std::string name = container_name(s.slug);
    try {
        auto ins = runtime_.inspect(s.container_id.value_or(""), name, meta);
        if (!ins.id.empty()) runtime_.remove(ins.id, meta);
    } catch (const std::exception& e) {
        log::warn("session.cleanup_failed", {{"session_id", s.id}, {"error", e.what()}});
    }
    const Micros now = clock_.now();
    std::string message = why;
    try {
        if (store_.mountpoint(s.workspace)) {
            message += "; snapshot " + store_.snapshot(s.workspace, ms_tag("death", now));
        }
    } catch (const std::exception& e) {
        message += std::string("; snapshot failed: ") + e.what();
    }
    db::sessions::TransitionFields f;
    f.error_message = message;
    f.set_stopped_at = true;
    const bool moved = db_.with_connection([&](db::Connection& c) {
        return db::sessions::transition(c, s.id, from, "error", now, message, f);
    });
    if (moved) log_transition("session.recovery.dead", s, "error", "recovery", message);
}

void SessionService::reconcile(const db::SessionRecord& s, Micros now) {
    const std::string meta = s.runtime_meta.value_or("");
    const std::string name = container_name(s.slug);
    Inspection ins = runtime_.inspect(s.container_id.value_or(""), name, meta);
    for (int i = 0; i < 3 && ins.state == RuntimeState::unknown; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
        ins = runtime_.inspect(s.container_id.value_or(""), name, meta);
    }
    switch (ins.state) {
        case RuntimeState::running: {
            if (s.status == "starting") {
                db::sessions::TransitionFields f;
                f.container_id = ins.id;
                if (!ins.upstream.empty()) f.upstream = ins.upstream;
                f.set_started_at = true;
                const bool moved = db_.with_connection([&](db::Connection& c) {
                    return db::sessions::transition(c, s.id, "starting", "running", now,
                                                    "Running (adopted by recovery)", f);
                });
                if (moved) log_transition("session.recovery.adopted", s, "running", "recovery");
            } else if (!s.container_id || s.container_id->empty() ||
                       (!ins.upstream.empty() && s.upstream != ins.upstream)) {
                db::sessions::TransitionFields f;
                f.container_id = ins.id;
                if (!ins.upstream.empty()) f.upstream = ins.upstream;
                db_.with_connection([&](db::Connection& c) {
                    return db::sessions::update_runtime(c, s.id, "running", f);
                });
            }
            return;
        }
        case RuntimeState::exited:
            fail_dead(s, s.status,
                      "container exited unexpectedly" +
                          (ins.detail.empty() ? std::string() : " (" + ins.detail + ")"));
            return;
        case RuntimeState::missing:
            fail_dead(s, s.status, "container missing");
            return;
        case RuntimeState::unknown:
            fail_dead(s, s.status,
                      "container state unknown" +
                          (ins.detail.empty() ? std::string() : " (" + ins.detail + ")"));
            return;
    }
}

void SessionService::remove_orphans() {
    const auto objects = runtime_.list_managed();
    if (objects.empty()) return;
    const auto active =
        db_.with_connection([](db::Connection& c) { return db::sessions::list_active(c); });
    std::set<std::string> names;
    for (const auto& s : active) names.insert(container_name(s.slug));
    for (const auto& o : objects) {
        if (names.count(o.name) != 0) continue;
        try {
            runtime_.stop(o.id, "",
                          std::chrono::seconds(config_.session_container_stop_timeout_seconds));
            runtime_.remove(o.id, "");
            log::warn("session.recovery.orphan_removed",
                      {{"name", o.name}, {"id", o.id}, {"session_id", o.session_id}});
        } catch (const std::exception& e) {
            log::warn("session.recovery.orphan_remove_failed",
                      {{"name", o.name}, {"error", e.what()}});
        }
    }
}

namespace {

// GPU utilisation percent by GPU index, from nvidia-smi (empty when it is not available or its
// answer is malformed: the idle check then goes by the IDE's heartbeat alone).
std::map<std::int64_t, int> gpu_utilisation() {
    std::map<std::int64_t, int> out;
    try {
        for (const auto& u :
             parse_nvidia_smi_usage(run_nvidia_smi_usage(std::chrono::seconds(5)))) {
            if (u.utilization_percent) out[u.index] = static_cast<int>(*u.utilization_percent);
        }
    } catch (const std::exception&) {
    }
    return out;
}

}  // namespace

void SessionService::idle_check(const std::vector<db::SessionRecord>& running, Micros now) {
    if (config_.session_idle_timeout_seconds <= 0 || running.empty()) return;
    const Micros timeout = Micros{config_.session_idle_timeout_seconds} * kMicrosPerSecond;
    const auto util =
        config_.gpu_discovery == "nvidia-smi" ? gpu_utilisation() : std::map<std::int64_t, int>{};
    for (const auto& s : running) {
        auto& busy_at = gpu_busy_at_[s.id];
        if (busy_at == 0) busy_at = s.started_at.value_or(now);
        if (auto u = util.find(s.gpu_id);
            u != util.end() && u->second >= config_.session_idle_gpu_util_percent) {
            busy_at = now;
        }
        if (!s.upstream) continue;
        auto h = probe_ide(*s.upstream, std::chrono::milliseconds(1000));
        if (!h || h->status != 200 || !h->last_heartbeat) continue;
        // code-server reports 0 before the first client connected: count from the start.
        const Micros beat = *h->last_heartbeat > 0 ? *h->last_heartbeat * kMillis
                                                   : s.started_at.value_or(s.created_at);
        if (now - beat > timeout && now - busy_at > timeout) {
            request_stop(s, "idle", "idle");
        }
    }
    // Forget sessions that are no longer running.
    for (auto it = gpu_busy_at_.begin(); it != gpu_busy_at_.end();) {
        const bool live =
            std::any_of(running.begin(), running.end(),
                        [&](const db::SessionRecord& s) { return s.id == it->first; });
        it = live ? std::next(it) : gpu_busy_at_.erase(it);
    }
}

bool SessionService::acquire_lease(Micros now) {
    const Micros ttl = (Micros{2} * config_.session_poll_interval_seconds + 10) * kMicrosPerSecond;
    return db_.with_connection([&](db::Connection& c) {
        if (c.exec("UPDATE service_leases SET owner = :o, expires_at = :e WHERE name = :n AND "
                   "(owner = :o2 OR expires_at < :now)",
                   {owner_id_, now + ttl, std::string(kLeaseName), owner_id_, now}) == 1) {
            return true;
        }
        auto row = c.query_one("SELECT owner FROM service_leases WHERE name = :n",
                               {std::string(kLeaseName)});
        if (!row) {
            try {
                c.exec("INSERT INTO service_leases (name, owner, expires_at) VALUES (:n, :o, :e)",
                       {std::string(kLeaseName), owner_id_, now + ttl});
                return true;
            } catch (const db::UniqueViolation&) {
                return false;
            }
        }
        // A holder on this host whose process is gone (an API that crashed and was restarted)
        // is taken over at once instead of after its lease runs out.
        const std::string holder = row->str(0);
        if (!holder_is_dead(holder)) return false;
        if (c.exec("UPDATE service_leases SET owner = :o, expires_at = :e WHERE name = :n AND "
                   "owner = :old",
                   {owner_id_, now + ttl, std::string(kLeaseName), holder}) == 1) {
            log::info("session.recovery.lease_taken_over", {{"from", holder}, {"to", owner_id_}});
            return true;
        }
        return false;
    });
}

bool SessionService::run_pass(const std::string& mode) {
    std::lock_guard pass_lock(pass_mu_);
    const Micros now = clock_.now();
    if (!acquire_lease(now)) {
        std::lock_guard lk(mu_);
        status_.holds_lease = false;
        status_.last_tick = now;
        return false;
    }
    {
        std::lock_guard lk(mu_);
        status_.holds_lease = true;
    }
    const auto active =
        db_.with_connection([](db::Connection& c) { return db::sessions::list_active(c); });
    std::set<std::string> in_flight;
    {
        std::lock_guard lk(mu_);
        in_flight = starts_in_flight_;
    }
    const Micros start_timeout =
        Micros{config_.session_container_start_timeout_seconds} * kMicrosPerSecond;
    std::string first_error;
    std::vector<db::SessionRecord> running;
    for (const auto& s : active) {
        if (in_flight.count(s.id) != 0) continue;  // its create request owns it
        try {
            if (s.status == "stopping") {
                finish_stop(s, mode);
            } else if (s.status == "starting" && now - s.created_at < start_timeout) {
                continue;
            } else {
                reconcile(s, now);
                if (s.status == "running") running.push_back(s);
            }
        } catch (const std::exception& e) {
            log::warn("session.recovery.failed",
                      {{"session_id", s.id}, {"status", s.status}, {"error", e.what()}});
            if (first_error.empty()) first_error = e.what();
        }
    }
    try {
        remove_orphans();
    } catch (const std::exception& e) {
        if (first_error.empty()) first_error = e.what();
    }
    try {
        // Re-read: reconcile may have moved some.
        std::vector<db::SessionRecord> still;
        for (auto& s : running) {
            auto row =
                db_.with_connection([&](db::Connection& c) { return db::sessions::find(c, s.id); });
            if (row && row->status == "running") still.push_back(*row);
        }
        idle_check(still, clock_.now());
    } catch (const std::exception& e) {
        if (first_error.empty()) first_error = e.what();
    }
    std::lock_guard lk(mu_);
    status_.last_tick = clock_.now();
    ++status_.passes;
    if (first_error.empty()) {
        status_.last_pass = status_.last_tick;
        status_.last_error.clear();
    } else {
        ++status_.failed_passes;
        status_.last_error = first_error;
        throw std::runtime_error(first_error);
    }
    (void)mode;
    return true;
}

void SessionService::loop_main() {
    std::string mode = "startup";
    int backoff = config_.session_poll_interval_seconds;
    for (;;) {
        bool failed = false;
        try {
            run_pass(mode);
        } catch (const std::exception& e) {
            failed = true;
            log::warn("session.recovery.pass_failed", {{"mode", mode}, {"error", e.what()}});
        }
        mode = "poll";
        backoff = failed ? std::min(backoff * 2, config_.session_poll_backoff_max_seconds)
                         : config_.session_poll_interval_seconds;
        std::unique_lock lk(mu_);
        cv_.wait_for(lk, std::chrono::seconds(std::max(1, backoff)),
                     [&] { return woken_ || stopping_; });
        if (stopping_) return;
        woken_ = false;
    }
}

void SessionService::start_loop() {
    if (!config_.session_recovery_enabled) return;
    std::lock_guard lk(mu_);
    if (loop_thread_.joinable()) return;
    stopping_ = false;
    loop_thread_ = std::thread([this] { loop_main(); });
}

void SessionService::stop_loop() {
    std::unique_lock lk(mu_);
    stopping_ = true;
    cv_.notify_all();
    cv_.wait_for(lk, std::chrono::seconds(config_.session_container_start_timeout_seconds + 5),
                 [&] { return background_starts_ == 0; });
    lk.unlock();
    if (loop_thread_.joinable()) loop_thread_.join();
}

void SessionService::wake() {
    std::lock_guard lk(mu_);
    woken_ = true;
    cv_.notify_all();
}

LoopStatus SessionService::loop_status() const {
    std::lock_guard lk(mu_);
    return status_;
}

void SessionService::stop_all_sessions() {
    std::lock_guard pass_lock(pass_mu_);  // no recovery pass works on the same rows meanwhile
    const auto active =
        db_.with_connection([](db::Connection& c) { return db::sessions::list_active(c); });
    for (const auto& s : active) request_stop(s, "shutdown", "shutdown");
    const auto again =
        db_.with_connection([](db::Connection& c) { return db::sessions::list_active(c); });
    for (const auto& s : again) {
        if (s.status != "stopping") continue;
        try {
            finish_stop(s, "shutdown");
        } catch (const std::exception& e) {
            log::warn("session.shutdown_stop_failed", {{"session_id", s.id}, {"error", e.what()}});
        }
    }
}

}  // namespace medforge::sessions
