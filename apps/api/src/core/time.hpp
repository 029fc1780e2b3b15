#pragma once

#include <atomic>
#include <cstdint>
#include <string>

namespace medforge {

// Microseconds since the Unix epoch, UTC. Every timestamp in the DB is stored this way.
using Micros = std::int64_t;

constexpr Micros kMicrosPerSecond = 1'000'000;

class Clock {
  public:
    virtual ~Clock() = default;
    virtual Micros now() const = 0;
};

class SystemClock final : public Clock {
  public:
    Micros now() const override;
};

// A clock that only moves when told to; used by tests (TTL expiry without sleeps).
class ManualClock final : public Clock {
  public:
    explicit ManualClock(Micros start) : now_(start) {}
    Micros now() const override { return now_.load(); }
    void advance_seconds(std::int64_t seconds) { now_ += seconds * kMicrosPerSecond; }
    void set(Micros t) { now_ = t; }

  private:
    std::atomic<Micros> now_;
};

// 2026-11-25T15:50:27.123456Z
std::string format_iso8601(Micros t);

}  // namespace medforge
