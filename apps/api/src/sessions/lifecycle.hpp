#pragma once

// The session lifecycle: create (allocation → workspace → runtime → readiness), stop requests,
// and the recovery loop that does stops, reconciles the database with the runtime after crashes,
// removes orphans and stops idle sessions. Every status change is a compare-and-set
// (db::sessions::transition) with an event and a structured log line.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "core/config.hpp"
#include "core/time.hpp"
#include "db/database.hpp"
#include "db/sessions_repo.hpp"
#include "sessions/runtime.hpp"
#include "sessions/workspace_store.hpp"

namespace medforge::sessions {

struct CreateRequest {
    std::string user_id;
    std::string tier = "public";
    std::optional<std::string> pack_id;
    std::optional<std::string> from_session_id;
    bool wait = true;
    std::string correlation_id;
};

struct CreateResult {
    db::SessionRecord session;
    bool started = false;  // false: wait=false, the start continues in the background
};

struct LoopStatus {
    bool enabled = false;
    bool holds_lease = false;
    std::int64_t last_tick = 0;  // last time the loop ran (pass or stand-by check), micros
    std::int64_t last_pass = 0;  // last finished pass, micros
    std::int64_t passes = 0;
    std::int64_t failed_passes = 0;
    std::string last_error;
};

class SessionService {
  public:
    SessionService(const Config& config, db::Database& db, const Clock& clock, Runtime& runtime,
                   WorkspaceStore& store);
    ~SessionService();
    SessionService(const SessionService&) = delete;
    SessionService& operator=(const SessionService&) = delete;

    // POST /sessions. Throws ApiError for every refusal (see the spec's create section).
    CreateResult create(const CreateRequest& req);

    // POST /sessions/{id}/stop: starting|running → stopping and wakes the loop. Returns the
    // message for the 202. The caller has checked ownership.
    std::string request_stop(const db::SessionRecord& s, const std::string& reason,
                             const std::string& correlation_id);

    // The recovery loop (a thread); no-op when SESSION_RECOVERY_ENABLED is off.
    void start_loop();
    // Stops the loop and waits for background starts to finish.
    void stop_loop();
    void wake();
    // One pass now, on the caller's thread (tests, the loop itself). Returns false when another
    // process holds the lease.
    bool run_pass(const std::string& mode);
    LoopStatus loop_status() const;

    // A deliberate shutdown (make run): every active session is stopped with its snapshot.
    void stop_all_sessions();

    // Throws RuntimeUnavailable / StoreUnavailable.
    void check_backends();

    // Called with a session's slug whenever it enters or leaves `running` in this process (the
    // gate's cache drops its entry).
    void set_on_slug_changed(std::function<void(const std::string&)> fn) {
        on_slug_changed_ = std::move(fn);
    }

    Runtime& runtime() { return runtime_; }
    WorkspaceStore& store() { return store_; }

  private:
    void start_session(db::SessionRecord s, std::optional<std::string> from_snapshot,
                       const std::string& image, const std::string& correlation_id,
                       std::chrono::steady_clock::time_point requested);
    void finish_stop(const db::SessionRecord& s, const std::string& correlation_id);
    void reconcile(const db::SessionRecord& s, Micros now);
    void fail_dead(const db::SessionRecord& s, const std::string& from, const std::string& why);
    void remove_orphans();
    void idle_check(const std::vector<db::SessionRecord>& running, Micros now);
    bool acquire_lease(Micros now);
    void loop_main();
    std::vector<DatasetMount> dataset_mounts();
    void log_transition(const char* event, const db::SessionRecord& s, const std::string& to,
                        const std::string& correlation_id, const std::string& detail = {});

    const Config& config_;
    db::Database& db_;
    const Clock& clock_;
    Runtime& runtime_;
    WorkspaceStore& store_;
    const std::string owner_id_;

    mutable std::mutex mu_;
    std::condition_variable cv_;
    bool woken_ = false;
    bool stopping_ = false;
    std::thread loop_thread_;
    LoopStatus status_;
    std::set<std::string> starts_in_flight_;  // session ids this process is starting
    int background_starts_ = 0;
    std::mutex pass_mu_;  // one pass at a time in this process
    // Idle tracking: session id → last time (micros) its GPU was seen busy.
    std::map<std::string, Micros> gpu_busy_at_;
    std::function<void(const std::string&)> on_slug_changed_;
};

// 8 characters of a-z2-7 from random bytes.
std::string new_slug();

// "mf-session-<slug>"
std::string container_name(const std::string& slug);

}  // namespace medforge::sessions
