#include "sessions/workspace_names.hpp"

#include <algorithm>
#include <tuple>

#include "sessions/workspace_store.hpp"

namespace medforge::sessions {

namespace {

constexpr std::size_t kMaxIdBytes = 64;

bool alnum(char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
}

bool valid_token(std::string_view s, bool allow_underscore) {
    if (s.empty() || s.size() > kMaxIdBytes || s.front() == '-') return false;
    return std::all_of(s.begin(), s.end(), [&](char ch) {
        return alnum(ch) || ch == '-' || (allow_underscore && ch == '_');
    });
}

// For messages: the input with anything unprintable replaced and its length bounded.
std::string shown(std::string_view s) {
    std::string out = "\"";
    for (char ch : s.substr(0, 100)) {
        const auto u = static_cast<unsigned char>(ch);
        out += (u >= 0x20 && u < 0x7f) ? ch : '?';
    }
    if (s.size() > 100) out += "...";
    return out + "\"";
}

}  // namespace

bool valid_workspace_id(std::string_view id) { return valid_token(id, false); }

bool valid_snapshot_tag(std::string_view tag) { return valid_token(tag, true); }

WorkspaceName parse_workspace_name(std::string_view name) {
    const auto slash = name.find('/');
    if (slash != std::string_view::npos) {
        const auto user = name.substr(0, slash);
        const auto session = name.substr(slash + 1);
        if (valid_workspace_id(user) && valid_workspace_id(session)) {
            return {std::string(user), std::string(session)};
        }
    }
    throw StoreError("invalid workspace name " + shown(name) +
                     " (expected <user_id>/<session_id> of [A-Za-z0-9-])");
}

SnapshotName parse_snapshot_name(std::string_view name) {
    const auto at = name.find('@');
    if (at == std::string_view::npos) {
        throw StoreError("invalid snapshot name " + shown(name) + " (expected <workspace>@<tag>)");
    }
    SnapshotName out;
    out.workspace = parse_workspace_name(name.substr(0, at));
    check_snapshot_tag(name.substr(at + 1));
    out.tag = std::string(name.substr(at + 1));
    return out;
}

void check_snapshot_tag(std::string_view tag) {
    if (!valid_snapshot_tag(tag)) {
        throw StoreError("invalid snapshot tag " + shown(tag) + " (expected [A-Za-z0-9_-])");
    }
}

std::optional<std::int64_t> snapshot_tag_ms(std::string_view tag) {
    const auto dash = tag.rfind('-');
    if (dash == std::string_view::npos) return std::nullopt;
    const auto digits = tag.substr(dash + 1);
    if (digits.empty() || digits.size() > 18) return std::nullopt;
    std::int64_t n = 0;
    for (char ch : digits) {
        if (ch < '0' || ch > '9') return std::nullopt;
        n = n * 10 + (ch - '0');
    }
    return n;
}

void sort_tags_oldest_first(std::vector<std::string>& tags) {
    const auto key = [](const std::string& t) {
        const auto ms = snapshot_tag_ms(t);
        return std::make_tuple(ms.has_value(), ms.value_or(0), std::string_view(t));
    };
    std::stable_sort(tags.begin(), tags.end(),
                     [&](const std::string& a, const std::string& b) { return key(a) < key(b); });
}

}  // namespace medforge::sessions
