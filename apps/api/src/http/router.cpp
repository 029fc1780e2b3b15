#include "http/router.hpp"

#include <algorithm>
#include <stdexcept>

#include "core/strings.hpp"

namespace medforge::http {

std::optional<std::string_view> Request::header(std::string_view lower_name) const {
    for (const auto& [k, v] : headers) {
        if (k == lower_name) return std::string_view(v);
    }
    return std::nullopt;
}

std::vector<std::string_view> Request::header_values(std::string_view lower_name) const {
    std::vector<std::string_view> out;
    for (const auto& [k, v] : headers) {
        if (k == lower_name) out.emplace_back(v);
    }
    return out;
}

std::optional<std::string> Request::query_param(std::string_view name) const {
    std::string_view q = query;
    while (!q.empty()) {
        auto amp = q.find('&');
        std::string_view pair = q.substr(0, amp);
        q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
        auto eq = pair.find('=');
        if (percent_decode(pair.substr(0, eq), true) == name) {
            return eq == std::string_view::npos ? std::string{}
                                                : percent_decode(pair.substr(eq + 1), true);
        }
    }
    return std::nullopt;
}

std::vector<std::string_view> Router::split(std::string_view path) {
    std::vector<std::string_view> out;
    std::size_t pos = 1;  // skip the leading '/'
    while (pos <= path.size()) {
        auto slash = path.find('/', pos);
        out.push_back(path.substr(
            pos, slash == std::string_view::npos ? std::string_view::npos : slash - pos));
        if (slash == std::string_view::npos) break;
        pos = slash + 1;
    }
    return out;
}

Route& Router::add(Route route) {
    if (route.pattern.empty() || route.pattern.front() != '/') {
        throw std::logic_error("route pattern must start with '/': " + route.pattern);
    }
    for (const auto& r : routes_) {
        if (r.method == route.method && r.pattern == route.pattern) {
            throw std::logic_error("route declared twice: " + route.method + " " + route.pattern);
        }
    }
    route.state_changing =
        route.method != "GET" && route.method != "HEAD" && route.method != "OPTIONS";
    Compiled c;
    const auto segs = split(route.pattern);
    for (std::size_t k = 0; k < segs.size(); ++k) {
        const auto seg = segs[k];
        if (seg.size() > 5 && seg.front() == '{' && seg.ends_with("...}")) {
            if (k + 1 != segs.size()) {
                throw std::logic_error("a wildcard must be the last segment: " + route.pattern);
            }
            c.tail = std::string(seg.substr(1, seg.size() - 5));
        } else {
            c.segments.emplace_back(seg);
        }
    }
    compiled_.push_back(std::move(c));
    routes_.push_back(std::move(route));
    return routes_.back();
}

RouteMatch Router::match(std::string_view method, std::string_view path) const {
    RouteMatch out;
    if (path.empty() || path.front() != '/') return out;
    auto segs = split(path);
    for (std::size_t i = 0; i < routes_.size(); ++i) {
        const auto& pattern = compiled_[i].segments;
        const auto& tail = compiled_[i].tail;
        if (tail.empty() ? segs.size() != pattern.size() : segs.size() <= pattern.size()) continue;
        std::unordered_map<std::string, std::string> params;
        bool ok = true;
        for (std::size_t k = 0; k < pattern.size() && ok; ++k) {
            const auto& p = pattern[k];
            if (p.size() > 2 && p.front() == '{' && p.back() == '}') {
                if (segs[k].empty())
                    ok = false;
                else
                    params[p.substr(1, p.size() - 2)] = percent_decode(segs[k], false);
            } else if (p != segs[k]) {
                ok = false;
            }
        }
        if (ok && !tail.empty()) {
            // The rest of the path from the wildcard's first segment, which must be non-empty.
            const auto first = segs[pattern.size()];
            if (first.empty()) {
                ok = false;
            } else {
                params[tail] = percent_decode(
                    path.substr(static_cast<std::size_t>(first.data() - path.data())), false);
            }
        }
        if (!ok) continue;
        if (routes_[i].method == method) {
            out.route = &routes_[i];
            out.params = std::move(params);
            return out;
        }
        if (std::find(out.allowed_methods.begin(), out.allowed_methods.end(), routes_[i].method) ==
            out.allowed_methods.end()) {
            out.allowed_methods.push_back(routes_[i].method);
        }
    }
    return out;
}

}  // namespace medforge::http
