#include "sessions/gate.hpp"

#include <functional>

namespace medforge::sessions {

bool valid_slug(std::string_view slug) {
    if (slug.size() != 8) return false;
    for (char ch : slug) {
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '2' && ch <= '7'))) return false;
    }
    return true;
}

std::optional<std::string> session_slug_from_host(std::string_view host, std::string_view domain) {
    if (host.empty() || host.size() > 255 || domain.empty()) return std::nullopt;
    // Strip the port: a host name never contains ':' (IPv6 literals are not session hosts).
    if (const auto colon = host.find(':'); colon != std::string_view::npos) {
        const auto port = host.substr(colon + 1);
        if (port.empty() || port.size() > 5) return std::nullopt;
        for (char ch : port) {
            if (ch < '0' || ch > '9') return std::nullopt;
        }
        host = host.substr(0, colon);
    }
    if (!host.empty() && host.back() == '.') host.remove_suffix(1);
    std::string h(host);
    for (auto& ch : h) {
        if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
    }
    std::string d(domain);
    for (auto& ch : d) {
        if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
    }
    const std::string suffix = ".medforge." + d;
    // "s-" + 8 + suffix, exactly.
    if (h.size() != 2 + 8 + suffix.size()) return std::nullopt;
    if (h.compare(0, 2, "s-") != 0) return std::nullopt;
    if (h.compare(10, std::string::npos, suffix) != 0) return std::nullopt;
    std::string slug = h.substr(2, 8);
    if (!valid_slug(slug)) return std::nullopt;
    return slug;
}

GateCache::Shard& GateCache::shard(const std::string& slug) {
    return shards_[std::hash<std::string>{}(slug) % shards_.size()];
}

std::optional<GateCache::Hit> GateCache::get(const std::string& slug, Micros now) {
    auto& sh = shard(slug);
    std::lock_guard lk(sh.mu);
    auto it = sh.map.find(slug);
    if (it == sh.map.end()) return std::nullopt;
    if (now - it->second.at > ttl_ || now < it->second.at) {
        sh.map.erase(it);
        return std::nullopt;
    }
    Hit hit{it->second.session, false};
    if (now - it->second.at > ttl_ / 2 && !it->second.refreshing) {
        it->second.refreshing = true;
        hit.refresh = true;
    }
    return hit;
}

bool GateCache::has(const std::string& slug, Micros now) {
    auto& sh = shard(slug);
    std::lock_guard lk(sh.mu);
    auto it = sh.map.find(slug);
    return it != sh.map.end() && now >= it->second.at && now - it->second.at <= ttl_;
}

void GateCache::put(const std::string& slug, std::optional<db::RunningSession> session,
                    Micros now) {
    auto& sh = shard(slug);
    std::lock_guard lk(sh.mu);
    if (sh.map.size() >= max_entries_ / shards_.size()) sh.map.clear();
    sh.map[slug] = Entry{std::move(session), now};
}

void GateCache::erase(const std::string& slug) {
    auto& sh = shard(slug);
    std::lock_guard lk(sh.mu);
    sh.map.erase(slug);
}

}  // namespace medforge::sessions
