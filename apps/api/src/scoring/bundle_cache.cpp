#include "scoring/bundle_cache.hpp"

#include <sys/stat.h>

namespace medforge::scoring {

std::string BundleCache::fingerprint(const std::filesystem::path& dir) {
    std::string out;
    for (const char* name :
         {"manifest.json", "holdout_labels.csv", "test_ids.csv", "sample_submission.csv"}) {
        struct stat st {};
        if (::stat((dir / name).c_str(), &st) != 0) return {};  // load_bundle reports it
        out += std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) + "." +
               std::to_string(st.st_mtim.tv_nsec) + ":" + std::to_string(st.st_ino) + ";";
    }
    return out;
}

std::shared_ptr<const competitions::Bundle> BundleCache::get(const std::filesystem::path& dir) {
    const std::string key = dir.string();
    const std::string fp = fingerprint(dir);
    {
        std::lock_guard lock(mu_);
        auto it = entries_.find(key);
        if (!fp.empty() && it != entries_.end() && it->second.fingerprint == fp) {
            return it->second.bundle;
        }
    }
    auto bundle = std::make_shared<const competitions::Bundle>(competitions::load_bundle(dir));
    if (!fp.empty()) {
        std::lock_guard lock(mu_);
        entries_[key] = Entry{fp, bundle};
    }
    return bundle;
}

}  // namespace medforge::scoring
