#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace medforge::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3 };

// Sets up JSON-line logging to stdout. Safe to call more than once (last level wins).
void init(Level level);
bool parse_level(std::string_view s, Level& out);
bool enabled(Level level);

// Writes one JSON line: {"ts", "level", "event", ...fields}. Never put secrets in fields.
void write(Level level, std::string_view event, nlohmann::json fields = nlohmann::json::object());
void flush();

inline void info(std::string_view event, nlohmann::json fields = nlohmann::json::object()) {
    write(Level::info, event, std::move(fields));
}
inline void warn(std::string_view event, nlohmann::json fields = nlohmann::json::object()) {
    write(Level::warn, event, std::move(fields));
}
inline void error(std::string_view event, nlohmann::json fields = nlohmann::json::object()) {
    write(Level::error, event, std::move(fields));
}
inline void debug(std::string_view event, nlohmann::json fields = nlohmann::json::object()) {
    write(Level::debug, event, std::move(fields));
}

}  // namespace medforge::log
