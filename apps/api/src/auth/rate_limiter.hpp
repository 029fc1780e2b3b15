#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "core/time.hpp"

namespace medforge::auth {

// Sliding-window limit of `limit` requests per `window` per key (client address).
class RateLimiter {
  public:
    RateLimiter(int limit, Micros window, std::size_t max_keys = 100000);

    // Records an attempt. Returns std::nullopt when allowed, else the seconds to wait (≥ 1).
    std::optional<std::int64_t> attempt(const std::string& key, Micros now);
    bool enabled() const { return limit_ > 0; }

  private:
    int limit_;
    Micros window_;
    std::size_t max_keys_;
    std::mutex mu_;
    std::unordered_map<std::string, std::deque<Micros>> hits_;
};

}  // namespace medforge::auth
