#pragma once

// Shared by the system tests: the real services they need are named by environment variables
// that `scripts/test.sh`'s `system` stage sets after starting them. A test whose service is not
// given skips — except under CI=true, where a missing service is a failure (CI must run them).

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

namespace medforge::system_test {

inline bool in_ci() {
    const char* ci = std::getenv("CI");
    return ci != nullptr && std::string(ci) == "true";
}

// The variable's value, or "" after marking the test skipped (or failed under CI).
inline std::string service_env(const char* name) {
    const char* v = std::getenv(name);
    if (v != nullptr && *v != '\0') return v;
    if (in_ci()) {
        ADD_FAILURE() << name << " is not set: the system stage must start this service in CI";
    } else {
        // GTEST_SKIP_ expands to `return …;`, which only compiles in a void function.
        const std::string why =
            "set " + std::string(name) + " to run this test (scripts/test.sh system stage)";
        [&why] { GTEST_SKIP_(why.c_str()); }();
    }
    return {};
}

}  // namespace medforge::system_test

// Use at the top of a TEST body: `MEDFORGE_REQUIRE_SERVICE(host, "MEDFORGE_TEST_DOCKER_HOST");`
#define MEDFORGE_REQUIRE_SERVICE(var, name)                             \
    const std::string var = ::medforge::system_test::service_env(name); \
    if (var.empty()) return
