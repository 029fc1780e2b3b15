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

namespace {

char lower(char ch) { return ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch - 'A' + 'a') : ch; }

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}

}  // namespace

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
    // "s-" + 8 + ".medforge." + domain, exactly, compared without regard to ASCII case.
    static constexpr std::string_view kMiddle = ".medforge.";
    if (host.size() != 2 + 8 + kMiddle.size() + domain.size()) return std::nullopt;
    if (!iequals(host.substr(0, 2), "s-") || !iequals(host.substr(10, kMiddle.size()), kMiddle) ||
        !iequals(host.substr(10 + kMiddle.size()), domain)) {
        return std::nullopt;
    }
    std::string slug(host.substr(2, 8));
    for (auto& ch : slug) ch = lower(ch);
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
    // Past half its life plus a per-slug spread of up to a quarter: entries cached together
    // (a restart, a burst of new sessions) are refreshed over a window, not in one burst.
    const Micros spread = static_cast<Micros>(std::hash<std::string>{}(slug) >> 8) % (ttl_ / 4 + 1);
    if (now - it->second.at > ttl_ / 2 + spread && !it->second.refreshing) {
        it->second.refreshing = true;
        hit.refresh = true;
    }
    return hit;
}

void GateCache::put(const std::string& slug, std::optional<db::RunningSession> session,
                    Micros now) {
    std::shared_ptr<const db::RunningSession> shared;
    if (session) shared = std::make_shared<const db::RunningSession>(std::move(*session));
    auto& sh = shard(slug);
    std::lock_guard lk(sh.mu);
    if (sh.map.size() >= max_entries_ / shards_.size()) sh.map.clear();
    sh.map[slug] = Entry{std::move(shared), now};
}

void GateCache::erase(const std::string& slug) {
    auto& sh = shard(slug);
    std::lock_guard lk(sh.mu);
    sh.map.erase(slug);
}

}  // namespace medforge::sessions
