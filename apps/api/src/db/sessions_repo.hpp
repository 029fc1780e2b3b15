#pragma once

// Sessions, their lifecycle events, and the GPU table as sessions see it. Every function runs on
// the caller's connection; the ones that must be atomic open their own transaction.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "db/database.hpp"

namespace medforge::db {

struct SessionRecord {
    std::string id;
    std::string user_id;
    std::string tier;
    std::string pack_id;
    std::string status;  // starting | running | stopping | stopped | error
    std::optional<std::string> container_id;
    std::optional<std::string> upstream;
    std::optional<std::string> runtime_meta;
    std::int64_t gpu_id = 0;
    std::string slug;
    std::string workspace;
    std::int64_t created_at = 0;
    std::optional<std::int64_t> started_at;
    std::optional<std::int64_t> stopped_at;
    std::optional<std::string> error_message;
    std::int64_t status_changed_at = 0;
};

struct SessionEvent {
    std::int64_t id = 0;
    std::string session_id;
    std::int64_t at = 0;
    std::string kind;  // the status entered, or "note"
    std::string message;
};

struct PackRecord {
    std::string id;
    std::string name;
    std::string tier;  // public | private | both
    std::string image_ref;
    std::optional<std::int64_t> deprecated_at;
};

struct GpuRecord {
    std::int64_t id = 0;
    std::string name;
    std::optional<std::string> uuid;
    bool enabled = true;
    std::optional<std::string> session_id;  // the active session holding it
};

// The gate's view of a running session.
struct RunningSession {
    std::string id;
    std::string user_id;
    std::string upstream;
};

bool is_active_status(std::string_view status);

namespace sessions {

constexpr std::size_t kMaxErrorMessage = 2000;

std::optional<PackRecord> find_pack(Connection& c, const std::string& id);

struct NewSession {
    std::string id;
    std::string user_id;
    std::string tier;
    std::string pack_id;
    std::string slug;
    std::string workspace;
    std::int64_t now = 0;
};

enum class AllocationOutcome { allocated, limit_reached, no_gpu };

struct Allocation {
    AllocationOutcome outcome = AllocationOutcome::no_gpu;
    std::int64_t limit = 0;    // the user's max_concurrent_sessions
    std::int64_t gpu_id = -1;  // when allocated
    SessionRecord session;     // when allocated (status starting)
};

// One allocation transaction: the user's creates are serialised (MariaDB: the user's row, then
// the enabled GPU rows, locked FOR UPDATE; SQLite: BEGIN IMMEDIATE), the user's active sessions
// are counted against max_concurrent_sessions, the lowest enabled GPU with no active session is
// taken and the row inserted `starting` with a `starting` event. Throws UniqueViolation on a
// collision (slug, workspace, or the active-GPU unique index); the caller retries.
Allocation allocate(Connection& c, const NewSession& n);

std::optional<SessionRecord> find(Connection& c, const std::string& id);

// The running session with this slug (gate).
std::optional<RunningSession> find_running_by_slug(Connection& c, const std::string& slug);

// Newest first, after the keyset (created_at, id); statuses empty = all; user_id empty = all.
std::vector<SessionRecord> list(Connection& c, const std::string& user_id,
                                const std::vector<std::string>& statuses, bool has_cursor,
                                std::int64_t before_created, const std::string& before_id,
                                int limit);

// The user's newest active session.
std::optional<SessionRecord> current(Connection& c, const std::string& user_id);

// Every active session, oldest first (recovery).
std::vector<SessionRecord> list_active(Connection& c);

// The fields a transition may set besides the status.
struct TransitionFields {
    std::optional<std::string> container_id;
    std::optional<std::string> upstream;
    std::optional<std::string> runtime_meta;
    bool set_started_at = false;
    bool set_stopped_at = false;
    std::optional<std::string> error_message;  // truncated to kMaxErrorMessage
};

// Compare-and-set: moves the session from `from` to `to` (clearing the active GPU when `to` is
// terminal) and appends an event with `message`, in one transaction. Returns false (and changes
// nothing) when the row was not in `from`.
bool transition(Connection& c, const std::string& id, const std::string& from,
                const std::string& to, std::int64_t now, const std::string& message,
                const TransitionFields& fields = {});

// Updates runtime fields of a session still in `status` (no status change, no event).
bool update_runtime(Connection& c, const std::string& id, const std::string& status,
                    const TransitionFields& fields);

void add_event(Connection& c, const std::string& session_id, std::int64_t at,
               const std::string& kind, const std::string& message);

std::vector<SessionEvent> events_after(Connection& c, const std::string& session_id,
                                       std::int64_t after_id, int limit);

// Active sessions by status and the number of enabled GPUs with no active session (/metrics).
std::vector<std::pair<std::string, std::int64_t>> count_by_status(Connection& c);
std::int64_t free_gpu_count(Connection& c);

std::vector<GpuRecord> list_gpus(Connection& c);
std::optional<GpuRecord> find_gpu(Connection& c, std::int64_t id);
bool set_gpu_enabled(Connection& c, std::int64_t id, bool enabled);

}  // namespace sessions

}  // namespace medforge::db
