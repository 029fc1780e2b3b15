#include "sessions/zfs_store.hpp"

#include <algorithm>
#include <set>
#include <utility>

#include "core/strings.hpp"
#include "sessions/workspace_names.hpp"

namespace medforge::sessions {

namespace {

// A zfs command normally answers in well under a second; a pool under heavy I/O can take long.
constexpr std::chrono::seconds kZfsTimeout{60};
constexpr std::chrono::seconds kChownTimeout{30};
constexpr const char* kWorkspaceProperty = "medforge:workspace";
constexpr const char* kWorkspaceMode = "0700";

bool says(const CommandResult& r, std::string_view text) {
    return r.err.find(text) != std::string::npos;
}

bool valid_root_dataset(std::string_view root) {
    if (root.empty() || root.size() > 200) return false;
    for (auto part : split(root, '/')) {
        if (part.empty() || part.front() == '-' || part.front() == '.') return false;
        for (char ch : part) {
            const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                            (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' || ch == '.' ||
                            ch == ':';
            if (!ok) return false;
        }
    }
    return true;
}

std::string failure(const std::vector<std::string>& argv, const CommandResult& r) {
    const std::string said = command_diagnostic(r);
    return "`" + describe_command(argv) + "` failed (exit status " + std::to_string(r.exit_code) +
           ")" + (said.empty() ? "" : ": " + said);
}

}  // namespace

ZfsWorkspaceStore::ZfsWorkspaceStore(std::string root_dataset, unsigned owner_uid,
                                     unsigned owner_gid, bool use_sudo, CommandRunner runner)
    : root_(std::move(root_dataset)),
      uid_(owner_uid),
      gid_(owner_gid),
      use_sudo_(use_sudo),
      runner_(runner ? std::move(runner)
                     : CommandRunner([](const std::vector<std::string>& argv,
                                        std::chrono::milliseconds timeout) {
                           return run_command(argv, timeout);
                       })) {
    if (!valid_root_dataset(root_)) {
        throw StoreError("WORKSPACE_ZFS_ROOT \"" + root_ +
                         "\" is not a dataset name (pool/dataset/…, no '@', no leading '-')");
    }
}

CommandResult ZfsWorkspaceStore::run(std::vector<std::string> argv) const {
    const auto timeout = argv.front() == "zfs" ? kZfsTimeout : kChownTimeout;
    if (use_sudo_) argv.insert(argv.begin(), {"sudo", "-n"});
    try {
        return runner_(argv, timeout);
    } catch (const CommandError& e) {
        throw StoreError(e.what());
    }
}

std::string ZfsWorkspaceStore::zfs_checked(std::vector<std::string> args) const {
    args.insert(args.begin(), "zfs");
    const CommandResult r = run(args);
    if (r.exit_code != 0) throw StoreError(failure(args, r));
    return r.out;
}

std::string ZfsWorkspaceStore::dataset(const std::string& workspace) const {
    const WorkspaceName name = parse_workspace_name(workspace);
    return root_ + "/" + name.user_id + "/" + name.session_id;
}

void ZfsWorkspaceStore::health() {
    const std::vector<std::string> argv = {"zfs", "list", "-H", "-o", "name", root_};
    CommandResult r;
    try {
        r = run(argv);
    } catch (const StoreError& e) {
        throw StoreUnavailable(std::string("zfs store: ") + e.what());
    }
    if (r.exit_code != 0) throw StoreUnavailable("zfs store: " + failure(argv, r));
}

bool ZfsWorkspaceStore::dataset_exists(const std::string& dataset) const {
    const std::vector<std::string> argv = {"zfs", "list", "-H", "-o", "name", dataset};
    const CommandResult r = run(argv);
    if (r.exit_code == 0) return true;
    if (says(r, "does not exist")) return false;
    throw StoreError(failure(argv, r));
}

void ZfsWorkspaceStore::ensure_dataset(const std::string& dataset) const {
    if (dataset_exists(dataset)) return;
    const std::vector<std::string> argv = {"zfs", "create", dataset};
    const CommandResult r = run(argv);
    // Another request for the same user may have created it in between.
    if (r.exit_code != 0 && !says(r, "already exists")) throw StoreError(failure(argv, r));
}

std::vector<ZfsWorkspaceStore::Snapshot> ZfsWorkspaceStore::snapshots_of_user(
    const std::string& user_id) const {
    const std::string user_dataset = root_ + "/" + user_id;
    const std::vector<std::string> argv = {"zfs",
                                           "list",
                                           "-H",
                                           "-t",
                                           "snapshot",
                                           "-o",
                                           std::string("name,") + kWorkspaceProperty,
                                           "-s",
                                           "createtxg",
                                           "-r",
                                           user_dataset};
    const CommandResult r = run(argv);
    if (r.exit_code != 0) {
        if (says(r, "does not exist")) return {};
        throw StoreError(failure(argv, r));
    }
    std::vector<Snapshot> out;
    for (auto line : split(r.out, '\n')) {
        const auto tab = line.find('\t');
        if (tab == std::string_view::npos) continue;
        const auto full = line.substr(0, tab);
        const auto property = trim(line.substr(tab + 1));
        const auto at = full.find('@');
        if (at == std::string_view::npos) continue;
        const auto on_dataset = full.substr(0, at);
        const auto tag = full.substr(at + 1);
        if (!valid_snapshot_tag(tag)) continue;
        Snapshot s;
        s.full_name = std::string(full);
        s.tag = std::string(tag);
        if (property != "-" && !property.empty()) {
            s.taken_by = std::string(property);
        } else if (on_dataset.substr(0, user_dataset.size() + 1) == user_dataset + "/") {
            // Made by hand: it counts for the dataset it sits on.
            s.taken_by = user_id + "/" + std::string(on_dataset.substr(user_dataset.size() + 1));
        }
        out.push_back(std::move(s));
    }
    return out;
}

std::optional<ZfsWorkspaceStore::Snapshot> ZfsWorkspaceStore::find_snapshot(
    const std::string& workspace, const std::string& tag) const {
    const WorkspaceName name = parse_workspace_name(workspace);
    for (auto& s : snapshots_of_user(name.user_id)) {
        if (s.taken_by == workspace && s.tag == tag) return std::move(s);
    }
    return std::nullopt;
}

std::vector<std::string> ZfsWorkspaceStore::list_snapshots(const std::string& workspace) {
    const WorkspaceName name = parse_workspace_name(workspace);
    std::vector<std::string> tags;
    std::set<std::string> seen;
    for (const auto& s : snapshots_of_user(name.user_id)) {
        if (s.taken_by == workspace && seen.insert(s.tag).second) tags.push_back(s.tag);
    }
    // Listed in the order taken (-s createtxg); ordered like the dir store, by the time in the
    // tag, which is the same order unless the clock jumped.
    sort_tags_oldest_first(tags);
    return tags;
}

std::string ZfsWorkspaceStore::snapshot(const std::string& workspace, const std::string& tag) {
    const std::string ds = dataset(workspace);
    check_snapshot_tag(tag);
    std::string name = workspace + "@" + tag;
    // The tag may sit on another dataset since a promote; it would then be listed twice.
    if (find_snapshot(workspace, tag)) throw StoreError("snapshot " + name + " already exists");
    const std::vector<std::string> argv = {
        "zfs", "snapshot", "-o", std::string(kWorkspaceProperty) + "=" + workspace, ds + "@" + tag};
    const CommandResult r = run(argv);
    if (r.exit_code != 0) {
        if (says(r, "already exists")) throw StoreError("snapshot " + name + " already exists");
        if (says(r, "does not exist")) throw StoreError("no workspace " + workspace);
        throw StoreError(failure(argv, r));
    }
    return name;
}

std::string ZfsWorkspaceStore::provision(const std::string& workspace, int quota_gb,
                                         const std::optional<std::string>& from_snapshot) {
    const WorkspaceName name = parse_workspace_name(workspace);
    std::optional<SnapshotName> source;
    if (from_snapshot) source = parse_snapshot_name(*from_snapshot);
    const std::string ds = dataset(workspace);

    std::optional<Snapshot> origin;
    if (source) {
        origin = find_snapshot(source->workspace.str(), source->tag);
        if (!origin) throw StoreError("no snapshot " + source->str());
    }

    if (!dataset_exists(ds)) {
        ensure_dataset(root_ + "/" + name.user_id);
        const std::vector<std::string> argv =
            origin ? std::vector<std::string>{"zfs", "clone", origin->full_name, ds}
                   : std::vector<std::string>{"zfs", "create", ds};
        const CommandResult r = run(argv);
        if (r.exit_code != 0 && !says(r, "already exists")) throw StoreError(failure(argv, r));
    }
    if (origin) {
        // Promote unless that already happened (a retried provision continues where it stopped).
        const std::string current(trim(zfs_checked({"get", "-H", "-o", "value", "origin", ds})));
        if (current == origin->full_name) zfs_checked({"promote", ds});
    }
    if (quota_gb > 0) zfs_checked({"set", "quota=" + std::to_string(quota_gb) + "G", ds});
    return mount_and_hand_over(ds);
}

std::string ZfsWorkspaceStore::mount_and_hand_over(const std::string& ds) const {
    const std::string out = zfs_checked({"get", "-H", "-o", "value", "mountpoint,mounted", ds});
    const auto lines = split(trim(out), '\n');
    std::string path(lines.empty() ? std::string_view() : trim(lines[0]));
    if (path.empty() || path.front() != '/') {
        throw StoreError("dataset " + ds + " has no mountpoint (mountpoint=" + path + ")");
    }
    if (lines.size() < 2 || trim(lines[1]) != "yes") zfs_checked({"mount", ds});

    for (const std::vector<std::string>& argv :
         {std::vector<std::string>{"chown", std::to_string(uid_) + ":" + std::to_string(gid_),
                                   path},
          std::vector<std::string>{"chmod", kWorkspaceMode, path}}) {
        const CommandResult r = run(argv);
        if (r.exit_code != 0) throw StoreError(failure(argv, r));
    }
    return path;
}

std::optional<std::string> ZfsWorkspaceStore::mountpoint(const std::string& workspace) {
    const std::string ds = dataset(workspace);
    const std::vector<std::string> argv = {"zfs", "get", "-H", "-o", "value", "mountpoint", ds};
    const CommandResult r = run(argv);
    if (r.exit_code != 0) {
        if (says(r, "does not exist")) return std::nullopt;
        throw StoreError(failure(argv, r));
    }
    const std::string path(trim(r.out));
    if (path.empty() || path.front() != '/') return std::nullopt;
    return path;
}

std::string ZfsWorkspaceStore::root_path() {
    std::string path(trim(zfs_checked({"get", "-H", "-o", "value", "mountpoint", root_})));
    if (path.empty() || path.front() != '/') {
        throw StoreError("dataset " + root_ + " has no mountpoint (mountpoint=" + path + ")");
    }
    return path;
}

std::unique_ptr<WorkspaceStore> make_zfs_store(const Config& config, unsigned owner_uid,
                                               unsigned owner_gid) {
    return std::make_unique<ZfsWorkspaceStore>(config.workspace_zfs_root, owner_uid, owner_gid,
                                               config.session_runtime_use_sudo);
}

}  // namespace medforge::sessions
