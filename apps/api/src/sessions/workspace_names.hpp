#pragma once

// The names the workspace stores accept, checked strictly before any of them reaches a path or a
// `zfs` argument: a workspace is `<user_id>/<session_id>`, a snapshot `<workspace>@<tag>`. Shared
// by the `zfs` and `dir` back ends (internal to sessions/).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace medforge::sessions {

struct WorkspaceName {
    std::string user_id;
    std::string session_id;
    std::string str() const { return user_id + "/" + session_id; }
};

struct SnapshotName {
    WorkspaceName workspace;
    std::string tag;
    std::string str() const { return workspace.str() + "@" + tag; }
};

// Ids are 1..64 of [A-Za-z0-9-], not starting with '-' (UUIDs and integers pass; "..", "/",
// "a/../b", spaces, '@' and NUL do not).
bool valid_workspace_id(std::string_view id);

// Tags are 1..64 of [A-Za-z0-9_-], not starting with '-' ("stop-1700000000000").
bool valid_snapshot_tag(std::string_view tag);

// Throw StoreError naming the offending input.
WorkspaceName parse_workspace_name(std::string_view name);
SnapshotName parse_snapshot_name(std::string_view name);
void check_snapshot_tag(std::string_view tag);

// The number after the tag's last '-' ("stop-1700000000000" → 1700000000000); nullopt when there
// is none or it does not fit.
std::optional<std::int64_t> snapshot_tag_ms(std::string_view tag);

// Sorts tags oldest first: by snapshot_tag_ms (tags without one first), then by name. Stable for
// equal keys.
void sort_tags_oldest_first(std::vector<std::string>& tags);

}  // namespace medforge::sessions
