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

void Router::split(std::string_view path, std::vector<std::string_view>& out) {
    out.clear();
    std::size_t pos = 1;  // skip the leading '/'
    while (pos <= path.size()) {
        auto slash = path.find('/', pos);
        out.push_back(path.substr(
            pos, slash == std::string_view::npos ? std::string_view::npos : slash - pos));
        if (slash == std::string_view::npos) break;
        pos = slash + 1;
    }
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
    std::vector<std::string_view> segs;
    split(route.pattern, segs);
    for (std::size_t k = 0; k < segs.size(); ++k) {
        const auto seg = segs[k];
        if (seg.size() > 5 && seg.front() == '{' && seg.ends_with("...}")) {
            if (k + 1 != segs.size()) {
                throw std::logic_error("a wildcard must be the last segment: " + route.pattern);
            }
            c.tail = std::string(seg.substr(1, seg.size() - 5));
        } else if (seg.size() > 2 && seg.front() == '{' && seg.back() == '}') {
            c.segments.push_back({std::string(seg.substr(1, seg.size() - 2)), true});
        } else {
            c.segments.push_back({std::string(seg), false});
        }
    }
    const bool literal =
        c.tail.empty() && std::none_of(c.segments.begin(), c.segments.end(),
                                       [](const Segment& seg) { return seg.param; });
    bool shadowed = false;  // an earlier route of this method fits this exact path
    for (std::size_t j = 0; literal && j < routes_.size(); ++j) {
        shadowed = shadowed || (routes_[j].method == route.method && fits(j, segs));
    }
    compiled_.push_back(std::move(c));
    routes_.push_back(std::move(route));
    if (literal && !shadowed) {
        literal_[routes_.back().pattern].emplace_back(routes_.back().method, routes_.size() - 1);
    }
    return routes_.back();
}

bool Router::fits(std::size_t i, const std::vector<std::string_view>& segs) const {
    const auto& pattern = compiled_[i].segments;
    const auto& tail = compiled_[i].tail;
    if (tail.empty() ? segs.size() != pattern.size() : segs.size() <= pattern.size()) return false;
    for (std::size_t k = 0; k < pattern.size(); ++k) {
        if (pattern[k].param ? segs[k].empty() : pattern[k].text != segs[k]) return false;
    }
    // A wildcard's first segment must be non-empty.
    return tail.empty() || !segs[pattern.size()].empty();
}

RouteMatch Router::match(std::string_view method, std::string_view path) const {
    RouteMatch out;
    if (path.empty() || path.front() != '/') return out;
    if (auto it = literal_.find(path); it != literal_.end()) {
        for (const auto& [m, i] : it->second) {
            if (m == method) {
                out.route = &routes_[i];
                return out;
            }
        }
    }
    thread_local std::vector<std::string_view> segs;
    split(path, segs);
    for (std::size_t i = 0; i < routes_.size(); ++i) {
        if (!fits(i, segs)) continue;
        if (routes_[i].method != method) {
            if (std::find(out.allowed_methods.begin(), out.allowed_methods.end(),
                          routes_[i].method) == out.allowed_methods.end()) {
                out.allowed_methods.push_back(routes_[i].method);
            }
            continue;
        }
        const auto& c = compiled_[i];
        for (std::size_t k = 0; k < c.segments.size(); ++k) {
            if (c.segments[k].param) {
                out.params[c.segments[k].text] = percent_decode(segs[k], false);
            }
        }
        if (!c.tail.empty()) {
            // The rest of the path from the wildcard's first segment on.
            const auto first = segs[c.segments.size()];
            out.params[c.tail] = percent_decode(
                path.substr(static_cast<std::size_t>(first.data() - path.data())), false);
        }
        out.route = &routes_[i];
        return out;
    }
    return out;
}

}  // namespace medforge::http
