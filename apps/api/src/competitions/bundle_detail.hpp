#pragma once

// Internals shared by bundle.cpp and bundle_cache.cpp.

#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

#include "competitions/bundle.hpp"

namespace medforge::competitions::detail {

// A whole bundle file; BundleError "<name> is missing or unreadable" when it cannot be read.
std::string read_bundle_file(const std::filesystem::path& dir, const char* name);

// Returns a bundle file's bytes by name; they must stay valid until load_bundle_with returns.
using FileReader = std::function<std::string_view(const char* name)>;

// load_bundle's checks, reading the four files through `read_file` in the order the checks
// need them (manifest.json, test_ids.csv, holdout_labels.csv, sample_submission.csv).
Bundle load_bundle_with(const std::filesystem::path& dir, const FileReader& read_file);

}  // namespace medforge::competitions::detail
