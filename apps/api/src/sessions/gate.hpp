#pragma once

// The proxy gate's pure parts: the session host grammar and a short-lived cache of
// slug → running session, so the forward-auth check on every request to a session host costs no
// database round trip in the common case.

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/time.hpp"
#include "db/sessions_repo.hpp"

namespace medforge::sessions {

// The slug of `s-<8 chars a-z2-7>.medforge.<domain>`: the Host header lower-cased, its port and
// one trailing dot stripped. nullopt for anything else (extra labels, other domains, bad slugs,
// an empty or malformed host).
std::optional<std::string> session_slug_from_host(std::string_view host, std::string_view domain);

bool valid_slug(std::string_view slug);

class GateCache {
  public:
    explicit GateCache(Micros ttl, std::size_t max_entries = 100000)
        : ttl_(ttl), max_entries_(max_entries) {}

    struct Hit {
        std::shared_ptr<const db::RunningSession> session;  // null: known not running
        // Past half its life and nobody refreshing it yet: the caller should refresh it in the
        // background (the entry is still served until it expires).
        bool refresh = false;
    };
    std::optional<Hit> get(const std::string& slug, Micros now);
    void put(const std::string& slug, std::optional<db::RunningSession> session, Micros now);
    void erase(const std::string& slug);

  private:
    struct Entry {
        std::shared_ptr<const db::RunningSession> session;
        Micros at = 0;
        bool refreshing = false;
    };
    struct Shard {
        std::mutex mu;
        std::unordered_map<std::string, Entry> map;
    };
    Shard& shard(const std::string& slug);
    Micros ttl_;
    std::size_t max_entries_;
    std::array<Shard, 16> shards_;
};

}  // namespace medforge::sessions
