#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/time.hpp"

namespace medforge::auth {

enum class CredentialKind { session_cookie, access_token };

// Who is calling, as resolved from a credential.
struct Principal {
    std::string user_id;
    std::string email;
    std::string display_name;
    std::string role;
    std::int64_t max_concurrent_sessions = 1;
    CredentialKind kind = CredentialKind::session_cookie;
    std::string credential_id;
    std::string token_hash;
    bool is_admin() const { return role == "admin"; }
};

// Shared, immutable: a cache hit hands out a reference, not a copy of every string.
using PrincipalPtr = std::shared_ptr<const Principal>;

// A resolved credential with the timestamps needed to re-check validity without the DB.
struct CachedCredential {
    PrincipalPtr principal;  // never null in the cache
    Micros created_at = 0;
    Micros expires_at = 0;  // 0 = no idle expiry (access tokens)
    Micros last_seen_at = 0;
    Micros fetched_at = 0;
    bool refreshing = false;  // a background re-read is in flight
};

// In-process cache of presented token → credential, so the common authenticated request does no
// I/O. Entries are served for at most `max_age` after they were read from the DB; this process's
// own logout, revocation and user updates erase entries at once. Sharded to keep lock hold short.
//
// Entries are keyed by a 128-bit keyed BLAKE2b digest of the token (the key is random per
// process): one compression instead of the HMAC-SHA256 the DB lookup needs (that hash is kept in
// the entry's principal for the DB), and the map never compares raw tokens, so its timing says
// nothing about them.
class TokenCache {
  public:
    explicit TokenCache(Micros max_age, std::size_t max_entries = 200000);

    // The entry, if fresh. With `refresh` given, also claims refresh-ahead in the same look-up:
    // *refresh becomes true (once) when the entry has lived past half of `max_age` plus a
    // per-token spread of up to a quarter, so the caller re-reads it in the background while it
    // is still served.
    std::optional<CachedCredential> get(std::string_view token, Micros now,
                                        bool* refresh = nullptr) const;
    void put(std::string_view token, const CachedCredential& entry);
    void erase(std::string_view token);
    // Every entry whose credential has this DB hash (a revocation by id knows only the hash).
    void erase_hash(const std::string& token_hash);
    void erase_user(const std::string& user_id);
    // Claims the right to slide this token's idle expiry: true at most once per `interval` per
    // token in this process. Updates the cached timestamps when it returns true.
    bool claim_slide(std::string_view token, Micros now, Micros interval, Micros new_expires_at);
    // Refresh-ahead on its own: what get(token, now, &refresh) claims.
    bool claim_refresh(std::string_view token, Micros now);
    // Ends a refresh: replaces the entry with `fresh` (or drops it when nullopt), unless the
    // entry was erased or replaced meanwhile (a logout here must win over a refresh in flight).
    void finish_refresh(std::string_view token, const std::optional<CachedCredential>& fresh);
    std::size_t size() const;

  private:
    static constexpr std::size_t kShards = 16;
    using Key = std::array<unsigned char, 16>;
    struct KeyHash {
        std::size_t operator()(const Key& k) const noexcept;
    };
    struct Shard {
        mutable std::mutex mu;
        std::unordered_map<Key, CachedCredential, KeyHash> map;
    };
    Key key_of(std::string_view token) const;
    Shard& shard_for(const Key& key) const;
    Micros refresh_age(const Key& key) const;

    Micros max_age_;
    std::size_t max_per_shard_;
    std::array<unsigned char, 32> secret_{};
    mutable std::array<Shard, kShards> shards_;
};

}  // namespace medforge::auth
