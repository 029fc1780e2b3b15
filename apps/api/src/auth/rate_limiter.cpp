#include "auth/rate_limiter.hpp"

namespace medforge::auth {

RateLimiter::RateLimiter(int limit, Micros window, std::size_t max_keys)
    : limit_(limit), window_(window), max_keys_(max_keys) {}

std::optional<std::int64_t> RateLimiter::attempt(const std::string& key, Micros now) {
    if (limit_ <= 0) return std::nullopt;
    std::lock_guard lock(mu_);
    if (hits_.size() >= max_keys_ && hits_.find(key) == hits_.end()) {
        // Drop keys whose windows have passed; memory stays bounded under address churn.
        std::erase_if(hits_, [&](const auto& kv) {
            return kv.second.empty() || now - kv.second.back() >= window_;
        });
    }
    auto& q = hits_[key];
    while (!q.empty() && now - q.front() >= window_) q.pop_front();
    if (static_cast<int>(q.size()) >= limit_) {
        const Micros wait = q.front() + window_ - now;
        return std::max<std::int64_t>(1, (wait + kMicrosPerSecond - 1) / kMicrosPerSecond);
    }
    q.push_back(now);
    return std::nullopt;
}

}  // namespace medforge::auth
