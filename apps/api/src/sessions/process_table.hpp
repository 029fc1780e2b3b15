#pragma once

// Reading the kernel's process table (/proc) for the process runtime: enough of
// /proc/<pid>/stat to tell a process apart from a later one with the same pid (its start time)
// and to find every process of a session (its process group and its descendants).

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace medforge::sessions {

struct ProcStat {
    pid_t pid = 0;
    char state = '?';  // R, S, D, Z (zombie), X (dead), …
    pid_t ppid = 0;
    pid_t pgrp = 0;
    pid_t session = 0;
    std::uint64_t start_time = 0;  // field 22: clock ticks after boot; with pid, unique forever

    bool dead() const { return state == 'Z' || state == 'X' || state == 'x'; }
};

// The whole of a small file (at most 64 KiB; /proc files report size 0, so it reads to EOF),
// not following a final symlink; nullopt when it cannot be read or is larger.
std::optional<std::string> read_small_file(const std::string& path);

// Parses the text of /proc/<pid>/stat. The command name (field 2) is in parentheses and may
// itself contain spaces and parentheses, so fields are counted from the last ')'.
std::optional<ProcStat> parse_proc_stat(std::string_view text);

// /proc/<pid>/stat of one process, or nullopt when there is no such process.
std::optional<ProcStat> read_proc_stat(pid_t pid);

// Every process the kernel lists now (a snapshot; processes come and go while it is taken).
std::vector<ProcStat> read_process_table();

}  // namespace medforge::sessions
