#include "core/log.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>

#include "core/time.hpp"

namespace medforge::log {

namespace {

std::atomic<int> g_level{static_cast<int>(Level::info)};
std::shared_ptr<spdlog::logger> g_logger;
std::once_flag g_once;

const char* level_name(Level l) {
    switch (l) {
        case Level::debug:
            return "debug";
        case Level::info:
            return "info";
        case Level::warn:
            return "warn";
        case Level::error:
            return "error";
    }
    return "info";
}

spdlog::logger& logger() {
    std::call_once(g_once, [] {
        // Lines go into stdout's buffer under the sink's mutex (a memcpy, no syscall, no thread
        // hand-off); a flusher writes the buffer out every second, and warnings flush at once.
        static char buffer[1 << 16];
        std::setvbuf(stdout, buffer, _IOFBF, sizeof buffer);
        auto sink = std::make_shared<spdlog::sinks::stdout_sink_mt>();
        g_logger = std::make_shared<spdlog::logger>("medforge", sink);
        g_logger->set_pattern("%v");
        g_logger->set_level(spdlog::level::trace);
        g_logger->flush_on(spdlog::level::warn);
        spdlog::register_logger(g_logger);
        spdlog::flush_every(std::chrono::seconds(1));
    });
    return *g_logger;
}

}  // namespace

void init(Level level) {
    g_level = static_cast<int>(level);
    logger();
}

bool parse_level(std::string_view s, Level& out) {
    if (s == "debug")
        out = Level::debug;
    else if (s == "info")
        out = Level::info;
    else if (s == "warn" || s == "warning")
        out = Level::warn;
    else if (s == "error")
        out = Level::error;
    else
        return false;
    return true;
}

bool enabled(Level level) { return static_cast<int>(level) >= g_level.load(); }

void write(Level level, std::string_view event, nlohmann::json fields) {
    if (!enabled(level)) return;
    nlohmann::json line = nlohmann::json::object();
    line["ts"] = format_iso8601(SystemClock().now());
    line["level"] = level_name(level);
    line["event"] = event;
    if (fields.is_object()) {
        for (auto& [k, v] : fields.items()) line[k] = std::move(v);
    }
    logger().info(line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

void flush() {
    if (g_logger) g_logger->flush();
}

}  // namespace medforge::log
