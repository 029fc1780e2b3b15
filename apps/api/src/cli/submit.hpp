#pragma once

// `medforge submit`: a participant's upload through the API, then its score.

#include <chrono>
#include <ostream>
#include <string>

#include "core/config.hpp"

namespace medforge::cli {

struct SubmitOptions {
    std::string competition;    // slug
    std::string file;           // the CSV
    std::string api_url;        // "" = MEDFORGE_API_URL, else kDefaultApiUrl
    bool json = false;          // one JSON object on stdout, whatever happens
    int timeout_seconds = 300;  // how long to wait for a queued submission's score (0: not at all)
    std::chrono::milliseconds first_poll{500};  // the poll interval doubles up to 4 s
};

constexpr const char* kDefaultApiUrl = "http://127.0.0.1:8000";

// Exit codes: 0 scored; 1 the submission was refused or did not score (invalid file, failed
// scoring, daily cap reached, competition closed); 2 usage, configuration or network errors, an
// unexpected answer, or no score before the timeout.
enum SubmitExit { kScored = 0, kRefused = 1, kError = 2 };

// Reads MEDFORGE_TOKEN (and MEDFORGE_API_URL) through `env`. Results go to `out`; in human mode
// errors with exit 2 go to `err`.
int run_submit(const SubmitOptions& opts, const EnvLookup& env, std::ostream& out,
               std::ostream& err);

}  // namespace medforge::cli
