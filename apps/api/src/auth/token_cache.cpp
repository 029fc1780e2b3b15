#include "auth/token_cache.hpp"

#include <functional>

namespace medforge::auth {

TokenCache::TokenCache(Micros max_age, std::size_t max_entries)
    : max_age_(max_age), max_per_shard_(max_entries / kShards + 1) {}

TokenCache::Shard& TokenCache::shard_for(const std::string& key) const {
    return shards_[std::hash<std::string>{}(key) % kShards];
}

std::optional<CachedCredential> TokenCache::get(const std::string& token_hash, Micros now) const {
    Shard& s = shard_for(token_hash);
    std::lock_guard lock(s.mu);
    auto it = s.map.find(token_hash);
    if (it == s.map.end()) return std::nullopt;
    if (now - it->second.fetched_at > max_age_ || now < it->second.fetched_at) return std::nullopt;
    return it->second;
}

void TokenCache::put(const std::string& token_hash, const CachedCredential& entry) {
    Shard& s = shard_for(token_hash);
    std::lock_guard lock(s.mu);
    if (s.map.size() >= max_per_shard_)
        s.map.clear();  // bounded memory; entries are cheap to refetch
    s.map[token_hash] = entry;
}

void TokenCache::erase(const std::string& token_hash) {
    Shard& s = shard_for(token_hash);
    std::lock_guard lock(s.mu);
    s.map.erase(token_hash);
}

void TokenCache::erase_user(const std::string& user_id) {
    for (auto& s : shards_) {
        std::lock_guard lock(s.mu);
        std::erase_if(s.map,
                      [&](const auto& kv) { return kv.second.principal.user_id == user_id; });
    }
}

bool TokenCache::claim_slide(const std::string& token_hash, Micros now, Micros interval,
                             Micros new_expires_at) {
    Shard& s = shard_for(token_hash);
    std::lock_guard lock(s.mu);
    auto it = s.map.find(token_hash);
    if (it == s.map.end()) return false;
    if (now - it->second.last_seen_at < interval) return false;
    it->second.last_seen_at = now;
    if (it->second.expires_at != 0) it->second.expires_at = new_expires_at;
    return true;
}

bool TokenCache::claim_refresh(const std::string& token_hash, Micros now) {
    Shard& s = shard_for(token_hash);
    std::lock_guard lock(s.mu);
    auto it = s.map.find(token_hash);
    if (it == s.map.end() || it->second.refreshing) return false;
    if (now - it->second.fetched_at <= max_age_ / 2) return false;
    it->second.refreshing = true;
    return true;
}

void TokenCache::finish_refresh(const std::string& token_hash,
                                const std::optional<CachedCredential>& fresh) {
    Shard& s = shard_for(token_hash);
    std::lock_guard lock(s.mu);
    auto it = s.map.find(token_hash);
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
