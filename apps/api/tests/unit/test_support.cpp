#include "test_support.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "core/ids.hpp"
#include "core/log.hpp"
#include "db/migrations.hpp"

namespace mftest {

namespace {

// Services log JSON lines for every signup/login; keep the test output readable.
class QuietLogs : public ::testing::Environment {
  public:
    void SetUp() override {
        // MEDFORGE_TEST_LOGS=1 keeps the services' logs (e.g. db.connect_failed) visible.
        const char* keep = std::getenv("MEDFORGE_TEST_LOGS");
        const bool verbose = keep != nullptr && *keep != '\0';
        medforge::log::init(verbose ? medforge::log::Level::debug : medforge::log::Level::error);
    }
    void TearDown() override { medforge::log::flush(); }
};

[[maybe_unused]] const auto* const kQuietLogs = ::testing::AddGlobalTestEnvironment(new QuietLogs);

}  // namespace

TempDir::TempDir() {
    namespace fs = std::filesystem;
    const auto rnd = medforge::random_bytes(8);
    path_ = fs::temp_directory_path() / ("medforge-ut-" + std::to_string(::getpid()) + "-" +
                                         medforge::to_hex(rnd.data(), rnd.size()));
    if (!fs::create_directory(path_)) {
        throw std::runtime_error("temp dir already exists: " + path_.string());
    }
}

TempDir::~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

medforge::EnvLookup env_from(std::map<std::string, std::string> vars) {
    return [vars = std::move(vars)](const char* name) -> std::optional<std::string> {
        auto it = vars.find(name);
        if (it == vars.end()) return std::nullopt;
        return it->second;
    };
}

ScopedEnv::ScopedEnv(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* old = std::getenv(name)) saved_ = old;
    if (value)
        ::setenv(name, value->c_str(), 1);
    else
        ::unsetenv(name);
}

ScopedEnv::~ScopedEnv() {
    if (saved_)
        ::setenv(name_.c_str(), saved_->c_str(), 1);
    else
        ::unsetenv(name_.c_str());
}

std::string FakeHasher::hash(std::string_view password) const {
    ++hash_calls_;
    return "fake$" + std::string(password);
}

bool FakeHasher::verify(std::string_view stored_hash, std::string_view password) const {
    ++verify_calls_;
    return stored_hash == "fake$" + std::string(password);
}

std::unique_ptr<medforge::db::Database> open_sqlite(const std::filesystem::path& path,
                                                    std::size_t pool_size) {
    auto url = medforge::db::DatabaseUrl::parse("sqlite://" + path.string());
    return std::make_unique<medforge::db::Database>(std::move(url), pool_size);
}

std::unique_ptr<medforge::db::Database> open_migrated_sqlite(const TempDir& dir,
                                                             std::size_t pool_size) {
    auto db = open_sqlite(dir.path() / "medforge.db", pool_size);
    medforge::db::run_migrations(*db);
    return db;
}

std::int64_t query_i64(medforge::db::Database& db, const std::string& sql,
                       const std::vector<medforge::db::Value>& params) {
    return db.with_connection([&](medforge::db::Connection& c) {
        auto row = c.query_one(sql, params);
        if (!row) throw std::runtime_error("no row for: " + sql);
        return row->i64(0);
    });
}

std::string fixture(const std::string& name) {
    std::ifstream in(std::string(MEDFORGE_UNIT_FIXTURES) + "/" + name, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

}  // namespace mftest
