#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "competitions/bundle.hpp"

namespace medforge::scoring {

// Loaded bundles of a long-running process (API, worker), shared read-only between threads. An
// entry is reused while its four files keep their size and modification time; otherwise the
// bundle is loaded (and validated) again. Loading happens outside the lock.
class BundleCache {
  public:
    // Throws competitions::BundleError when the folder is not a valid bundle.
    std::shared_ptr<const competitions::Bundle> get(const std::filesystem::path& dir);

  private:
    struct Entry {
        std::string fingerprint;
        std::shared_ptr<const competitions::Bundle> bundle;
    };
    static std::string fingerprint(const std::filesystem::path& dir);
    std::mutex mu_;
    std::map<std::string, Entry> entries_;
};

}  // namespace medforge::scoring
