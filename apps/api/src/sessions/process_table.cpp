#include "sessions/process_table.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <string>

#include "core/unique_fd.hpp"

namespace medforge::sessions {

namespace {

constexpr std::size_t kSmallFileMax = std::size_t{64} << 10;

template <typename T>
bool parse_number(std::string_view s, T& out) {
    const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && ptr == s.data() + s.size();
}

}  // namespace

std::optional<std::string> read_small_file(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) return std::nullopt;
    std::string out;
    char buf[4096];
    for (;;) {
        const ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return std::nullopt;
        if (n == 0) break;
        out.append(buf, static_cast<std::size_t>(n));
        if (out.size() > kSmallFileMax) return std::nullopt;
    }
    return out;
}

std::optional<ProcStat> parse_proc_stat(std::string_view text) {
    const auto open = text.find('(');
    const auto close = text.rfind(')');
    if (open == std::string_view::npos || close == std::string_view::npos || close < open) {
        return std::nullopt;
    }
    ProcStat st;
    if (!parse_number(text.substr(0, open > 0 ? open - 1 : 0), st.pid)) return std::nullopt;
    // Fields after the name, numbered as in proc(5): 3 = state, 4 = ppid, 5 = pgrp,
    // 6 = session, 22 = starttime.
    std::string_view rest = text.substr(close + 1);
    int field = 2;
    std::size_t pos = 0;
    while (field < 22) {
        while (pos < rest.size() && rest[pos] == ' ') ++pos;
        if (pos >= rest.size()) return std::nullopt;
        auto end = rest.find(' ', pos);
        if (end == std::string_view::npos) end = rest.size();
        const auto value = rest.substr(pos, end - pos);
        ++field;
        bool ok = true;
        switch (field) {
            case 3:
                ok = value.size() == 1;
                st.state = value[0];
                break;
            case 4:
                ok = parse_number(value, st.ppid);
                break;
            case 5:
                ok = parse_number(value, st.pgrp);
                break;
            case 6:
                ok = parse_number(value, st.session);
                break;
            case 22:
                ok = parse_number(value, st.start_time);
                break;
            default:
                break;
        }
        if (!ok) return std::nullopt;
        pos = end;
    }
    return st;
}

std::optional<ProcStat> read_proc_stat(pid_t pid) {
    if (pid <= 0) return std::nullopt;
    const auto text = read_small_file("/proc/" + std::to_string(pid) + "/stat");
    if (!text) return std::nullopt;
    auto st = parse_proc_stat(*text);
    if (st && st->pid != pid) return std::nullopt;
    return st;
}

std::vector<ProcStat> read_process_table() {
    std::vector<ProcStat> out;
    DIR* dir = ::opendir("/proc");
    if (dir == nullptr) return out;
    while (const dirent* e = ::readdir(dir)) {
        pid_t pid = 0;
        if (!parse_number(std::string_view(e->d_name), pid) || pid <= 0) continue;
        if (auto st = read_proc_stat(pid)) out.push_back(*st);
    }
    ::closedir(dir);
    return out;
}

}  // namespace medforge::sessions
