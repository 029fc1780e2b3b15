#pragma once

// Helpers shared by the unit tests: temp dirs, an env map, a cheap counting password hasher, a
// scoped environment variable and a migrated SQLite database.

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/passwords.hpp"
#include "core/config.hpp"
#include "db/database.hpp"

namespace mftest {

// A fresh, uniquely named directory under the system temp dir, removed (recursively) on scope exit.
class TempDir {
  public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::filesystem::path& path() const { return path_; }
    std::string file(const std::string& name) const { return (path_ / name).string(); }

  private:
    std::filesystem::path path_;
};

// An EnvLookup over a fixed map (unset names → nullopt).
medforge::EnvLookup env_from(std::map<std::string, std::string> vars);

// Sets (or, with nullopt, unsets) a process environment variable and restores it on scope exit.
class ScopedEnv {
  public:
    ScopedEnv(const char* name, std::optional<std::string> value);
    ~ScopedEnv();
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;

  private:
    std::string name_;
    std::optional<std::string> saved_;
};

// Deterministic, cheap stand-in for Argon2id that counts calls (thread-safe).
class FakeHasher final : public medforge::auth::PasswordHasher {
  public:
    std::string hash(std::string_view password) const override;
    bool verify(std::string_view stored_hash, std::string_view password) const override;

    int hash_calls() const { return hash_calls_.load(); }
    int verify_calls() const { return verify_calls_.load(); }
    void reset_counts() {
        hash_calls_ = 0;
        verify_calls_ = 0;
    }

  private:
    mutable std::atomic<int> hash_calls_{0};
    mutable std::atomic<int> verify_calls_{0};
};

// A Database on the SQLite file `path` (not migrated).
std::unique_ptr<medforge::db::Database> open_sqlite(const std::filesystem::path& path,
                                                    std::size_t pool_size = 4);

// A Database on `<dir>/medforge.db` with every migration applied.
std::unique_ptr<medforge::db::Database> open_migrated_sqlite(const TempDir& dir,
                                                             std::size_t pool_size = 4);

// A single integer query result (e.g. SELECT COUNT(*) ...).
std::int64_t query_i64(medforge::db::Database& db, const std::string& sql,
                       const std::vector<medforge::db::Value>& params = {});

// The bytes of a file under tests/unit/fixtures (MEDFORGE_UNIT_FIXTURES); "" when it is missing.
std::string fixture(const std::string& name);

}  // namespace mftest
