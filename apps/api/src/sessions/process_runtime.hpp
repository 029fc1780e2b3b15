#pragma once

// The `process` runtime back end: code-server (SESSION_PROCESS_COMMAND) as a local process
// group on a free loopback port, run as SESSION_PROCESS_USER (never root), inside a bubblewrap
// sandbox unless SESSION_PROCESS_SANDBOX=none. See docs/sessions.md ("Process runtime").
//
// Each live process has a record — {pid, pgid, start_time, port, log, name} — returned as the
// row's runtime_meta and also kept in `<state_dir>/process/<name>.json`, so a restarted API finds
// and re-adopts (or cleans up) what an earlier run started. A pid is only ever trusted together
// with its start time (field 22 of /proc/<pid>/stat), so a reused pid is never mistaken for a
// session, and never signalled.
//
// Children are reaped with waitpid on their own pid only (never waitpid(-1), never a SIGCHLD
// handler), from inspect/stop/remove/list_managed, so other code that spawns and waits for its
// own children (zfs, nvidia-smi) is unaffected.

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "sessions/runtime.hpp"

namespace medforge::sessions {

struct ProcessRecord;

class ProcessRuntime final : public Runtime {
  public:
    // `state_dir`/process holds the records and the per-session logs (created 0700).
    ProcessRuntime(const Config& config, std::string state_dir);

    std::string_view kind() const override { return "process"; }
    void health() override;
    StartResult start(const StartSpec& spec) override;
    Inspection inspect(const std::string& id, const std::string& name,
                       const std::string& meta) override;
    void stop(const std::string& id, const std::string& meta, std::chrono::seconds grace) override;
    void remove(const std::string& id, const std::string& meta) override;
    std::vector<ManagedObject> list_managed() override;

  private:
    std::optional<ProcessRecord> find_record(const std::string& id, const std::string& name,
                                             const std::string& meta) const;
    std::vector<ProcessRecord> read_records() const;
    void write_record(const ProcessRecord& r, const std::string& session_id) const;
    std::string record_path(const std::string& name) const;
    void probe_sandbox(const std::string& bwrap);
    int pick_port() const;

    Config config_;
    std::string state_dir_;
    std::string records_dir_;  // <state_dir>/process
    std::mutex probe_mutex_;
    bool sandbox_works_ = false;  // the bwrap probe passed once (failures are retried)
};

std::unique_ptr<Runtime> make_process_runtime(const Config& config, const std::string& state_dir);

}  // namespace medforge::sessions
