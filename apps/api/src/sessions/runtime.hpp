#pragma once

// The runtime back end of a session: what runs the IDE (code-server) for one session. Two
// implementations stand behind this interface — `docker` (Docker Engine API over a unix socket)
// and `process` (a sandboxed child process on a loopback port) — chosen by SESSION_RUNTIME.
// The lifecycle service and the recovery loop only ever talk to this interface.

#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/config.hpp"

namespace medforge::sessions {

// The runtime's daemon (dockerd) cannot be reached, or the runtime cannot work at all on this
// host (process runtime: the session user is missing). Creates answer 503 runtime_unavailable.
class RuntimeUnavailable : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// An operation on one session's runtime object failed (image missing, spawn failed, …). what()
// is safe to store in sessions.error_message (no secrets).
class RuntimeError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

struct DatasetMount {
    std::string slug;       // mounted read-only at /datasets/<slug>
    std::string host_path;  // <DATASETS_ROOT>/<slug>
};

struct StartSpec {
    std::string session_id;
    std::string user_id;
    std::string slug;   // 8 chars a-z2-7
    std::string name;   // mf-session-<slug>
    std::string tier;   // "public"
    std::string image;  // pack image_ref (docker)
    std::int64_t gpu_id = 0;
    std::string workspace_path;  // host directory mounted at /workspace (docker) or the cwd/HOME
    std::vector<DatasetMount> datasets;
};

struct StartResult {
    std::string id;        // container id, or "pid:<pid>" for a process
    std::string upstream;  // host:port the gate returns and readiness probes
    std::string meta;      // runtime_meta JSON to store in the row ("" when none)
};

enum class RuntimeState { running, exited, missing, unknown };
std::string_view to_string(RuntimeState s);

struct Inspection {
    RuntimeState state = RuntimeState::unknown;
    std::string id;        // when found
    std::string upstream;  // when running
    std::string detail;    // human text, e.g. "exit code 137"
};

// A runtime object this MedForge manages (name mf-session-*), live or not.
struct ManagedObject {
    std::string id;
    std::string name;
    std::string session_id;  // from the label / state record; may be empty
    bool running = false;
};

class Runtime {
  public:
    virtual ~Runtime() = default;
    virtual std::string_view kind() const = 0;
    // Whether start() needs StartSpec::image (a container image); create refuses without one.
    virtual bool needs_image() const { return false; }

    // Throws RuntimeUnavailable when the runtime cannot be used now.
    virtual void health() = 0;

    // Starts the IDE for the session and returns as soon as the runtime reports it started
    // (readiness — the IDE answering /healthz — is the caller's business). On failure, whatever
    // was created is removed before RuntimeError/RuntimeUnavailable is thrown.
    virtual StartResult start(const StartSpec& spec) = 0;

    // By id first (when not empty), then by name. `meta` is the row's runtime_meta.
    virtual Inspection inspect(const std::string& id, const std::string& name,
                               const std::string& meta) = 0;

    // Asks the object to stop, waits up to `grace`, then kills it. Missing is not an error.
    virtual void stop(const std::string& id, const std::string& meta,
                      std::chrono::seconds grace) = 0;

    // Removes a stopped object. Missing is not an error.
    virtual void remove(const std::string& id, const std::string& meta) = 0;

    // Every object named mf-session-*, running or not (orphan detection).
    virtual std::vector<ManagedObject> list_managed() = 0;
};

// The back end SESSION_RUNTIME names. `state_dir` is where a runtime may keep its own records
// (the process runtime keeps one file per live process there).
std::unique_ptr<Runtime> make_runtime(const Config& config, const std::string& state_dir);

}  // namespace medforge::sessions
