#include "core/time.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace medforge {

Micros SystemClock::now() const {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string format_iso8601(Micros t) {
    Micros secs = t / kMicrosPerSecond;
    Micros frac = t % kMicrosPerSecond;
    if (frac < 0) {
        frac += kMicrosPerSecond;
        secs -= 1;
    }
    std::time_t tt = static_cast<std::time_t>(secs);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[96];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<long long>(frac));
    return buf;
}

}  // namespace medforge
