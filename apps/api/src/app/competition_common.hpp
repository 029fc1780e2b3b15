#pragma once

// Shared by the competition and submission routes.

#include "app/app.hpp"
#include "db/competitions_repo.hpp"

namespace medforge::app {

constexpr Micros kDay = 86400 * kMicrosPerSecond;

// The competition with this slug (active or closed); 404 competition_not_found otherwise.
db::CompetitionRecord find_competition(Services& s, const std::string& slug);

}  // namespace medforge::app
