#pragma once

#include <functional>
#include <memory>
#include <mutex>

#include "auth/auth_service.hpp"
#include "auth/passwords.hpp"
#include "auth/rate_limiter.hpp"
#include "auth/token_cache.hpp"
#include "core/config.hpp"
#include "core/time.hpp"
#include "db/database.hpp"
#include "db/sessions_repo.hpp"
#include "http/metrics.hpp"
#include "http/router.hpp"
#include "scoring/bundle_cache.hpp"
#include "scoring/scorer.hpp"
#include "sessions/gate.hpp"
#include "sessions/lifecycle.hpp"

namespace medforge::app {

// Opens the configured database (pool sized for the blocking pool plus background work).
std::unique_ptr<db::Database> open_database(const Config& config, std::size_t pool_size);

// The state directory for dev files (the session secret): next to the SQLite file, else ./var.
std::string state_dir(const Config& config);

// Everything the API's routes need, built once at start and passed by reference.
struct Services {
    Services(const Config& config, db::Database& db, const Clock& clock);

    const Config& config;
    db::Database& db;
    const Clock& clock;
    auth::Argon2idHasher hasher;
    auth::TokenCache token_cache;
    auth::RateLimiter auth_limiter;
    http::Metrics metrics;
    // Where fire-and-forget DB writes go; the server points it at its blocking pool.
    std::function<void(std::function<void()>)> background;
    auth::AuthService auth;
    // Bundles loaded for validation and scoring, and the upload route's auto-scorer.
    scoring::BundleCache bundles;
    scoring::Scorer scorer;
    // The sessions plane: null until run_api has built the runtime and store (routes answer 503
    // runtime_unavailable without it).
    sessions::SessionService* sessions = nullptr;
    sessions::GateCache gate_cache;
    // When this process started serving (the host dashboard's uptime).
    Micros started_at = 0;
    // Requests on the blocking pool now (running or waiting): set by run_api once the server
    // exists, null before (the host dashboard then reports null).
    std::function<int()> blocking_pool_queued;
};

// What /readyz checks: each part's state ("ok", "unreachable", "standby", …) and one error per
// part that makes the process not ready (empty when ready). The host dashboard reports the same.
struct Readiness {
    nlohmann::json checks = nlohmann::json::object();
    std::vector<FieldError> failing;
};
Readiness check_readiness(Services& s);

struct SeedReport {
    int competitions_added = 0;
    int datasets_added = 0;
    std::vector<std::string> rejected;  // bundle folders that failed validation (logged)
};

// Loads every bundle in COMPETITIONS_DIR and inserts missing competitions and datasets; an
// existing row is never rewritten. A bad bundle is logged and skipped.
SeedReport seed_competitions(db::Database& db, const Config& config, const Clock& clock);

void register_system_routes(http::Router& router, Services& s);
void register_competition_routes(http::Router& router, Services& s);
void register_dataset_routes(http::Router& router, Services& s);
void register_auth_routes(http::Router& router, Services& s);
void register_submission_routes(http::Router& router, Services& s);
void register_admin_competition_routes(http::Router& router, Services& s);
void register_session_routes(http::Router& router, Services& s);
// A gpu_devices row as the admin GPU routes and the host dashboard show it, and its schema.
nlohmann::json gpu_json(const db::GpuRecord& g);
const nlohmann::json& gpu_schema();
// GET /api/v1/status: the admin's host dashboard.
void register_status_routes(http::Router& router, Services& s);
// Registers GET /api/v1/openapi.json describing every route registered before it.
void register_openapi_route(http::Router& router);
nlohmann::json build_openapi(const http::Router& router);

// Registers every route of the API in order (the OpenAPI document last).
void register_all_routes(http::Router& router, Services& s);

// medforge-api's main after argument parsing: returns the process exit code.
int run_api(Config config);

}  // namespace medforge::app
