#include "auth/token_cache.hpp"

#include <sodium.h>

#include <cstring>
#include <stdexcept>

namespace medforge::auth {

TokenCache::TokenCache(Micros max_age, std::size_t max_entries)
    : max_age_(max_age), max_per_shard_(max_entries / kShards + 1) {
    if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
    crypto_generichash_keygen(secret_.data());
}

std::size_t TokenCache::KeyHash::operator()(const Key& k) const noexcept {
    std::size_t h = 0;
    std::memcpy(&h, k.data() + 8, sizeof h);  // a keyed digest: any 8 bytes are uniform
    return h;
}

TokenCache::Key TokenCache::key_of(std::string_view token) const {
    Key k{};
    crypto_generichash(k.data(), k.size(), reinterpret_cast<const unsigned char*>(token.data()),
                       token.size(), secret_.data(), secret_.size());
    return k;
}

Micros TokenCache::refresh_age(const Key& key) const {
    // Half the max age plus a per-token spread of up to a quarter, so entries cached together
    // are refreshed over a window rather than in one burst.
    return max_age_ / 2 + static_cast<Micros>(key[1]) * (max_age_ / 4) / 256;
}

TokenCache::Shard& TokenCache::shard_for(const Key& key) const { return shards_[key[0] % kShards]; }

std::optional<CachedCredential> TokenCache::get(std::string_view token, Micros now,
                                                bool* refresh) const {
    const Key key = key_of(token);
    Shard& s = shard_for(key);
    std::lock_guard lock(s.mu);
    auto it = s.map.find(key);
    if (it == s.map.end()) return std::nullopt;
    if (now - it->second.fetched_at > max_age_ || now < it->second.fetched_at) return std::nullopt;
    if (refresh != nullptr) {
        *refresh = !it->second.refreshing && now - it->second.fetched_at > refresh_age(key);
        if (*refresh) it->second.refreshing = true;
    }
    return it->second;
}

void TokenCache::put(std::string_view token, const CachedCredential& entry) {
    const Key key = key_of(token);
    Shard& s = shard_for(key);
    std::lock_guard lock(s.mu);
    if (s.map.size() >= max_per_shard_)
        s.map.clear();  // bounded memory; entries are cheap to refetch
    s.map[key] = entry;
}

void TokenCache::erase(std::string_view token) {
    const Key key = key_of(token);
    Shard& s = shard_for(key);
    std::lock_guard lock(s.mu);
    s.map.erase(key);
}

void TokenCache::erase_hash(const std::string& token_hash) {
    for (auto& s : shards_) {
        std::lock_guard lock(s.mu);
        std::erase_if(
            s.map, [&](const auto& kv) { return kv.second.principal->token_hash == token_hash; });
    }
}

void TokenCache::erase_user(const std::string& user_id) {
    for (auto& s : shards_) {
        std::lock_guard lock(s.mu);
        std::erase_if(s.map,
                      [&](const auto& kv) { return kv.second.principal->user_id == user_id; });
    }
}

bool TokenCache::claim_slide(std::string_view token, Micros now, Micros interval,
                             Micros new_expires_at) {
    const Key key = key_of(token);
    Shard& s = shard_for(key);
    std::lock_guard lock(s.mu);
    auto it = s.map.find(key);
    if (it == s.map.end()) return false;
    if (now - it->second.last_seen_at < interval) return false;
    it->second.last_seen_at = now;
    if (it->second.expires_at != 0) it->second.expires_at = new_expires_at;
    return true;
}

bool TokenCache::claim_refresh(std::string_view token, Micros now) {
    const Key key = key_of(token);
    Shard& s = shard_for(key);
    std::lock_guard lock(s.mu);
    auto it = s.map.find(key);
    if (it == s.map.end() || it->second.refreshing) return false;
    if (now - it->second.fetched_at <= refresh_age(key)) return false;
    it->second.refreshing = true;
    return true;
}

void TokenCache::finish_refresh(std::string_view token,
                                const std::optional<CachedCredential>& fresh) {
    const Key key = key_of(token);
    Shard& s = shard_for(key);
    std::lock_guard lock(s.mu);
    auto it = s.map.find(key);
    if (it == s.map.end() || !it->second.refreshing) return;
    if (fresh) {
        it->second = *fresh;
        it->second.refreshing = false;
    } else {
        s.map.erase(it);
    }
}

std::size_t TokenCache::size() const {
    std::size_t n = 0;
    for (auto& s : shards_) {
        std::lock_guard lock(s.mu);
        n += s.map.size();
    }
    return n;
}

}  // namespace medforge::auth
