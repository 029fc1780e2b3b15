#include "cli/submit.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "cli/http_client.hpp"
#include "competitions/manifest.hpp"
#include "core/strings.hpp"

namespace medforge::cli {

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// The upload may be large and the link slow; a status poll is small.
constexpr std::chrono::seconds kUploadDeadline{600};
constexpr std::chrono::seconds kPollDeadline{30};
constexpr std::chrono::milliseconds kMaxPoll{4000};

struct Outcome {
    std::string status;  // scored | failed | invalid | refused | timeout | error
    int exit_code = kError;
    std::string message;  // the human line
    json submission = nullptr;
    json daily_cap = nullptr;
    json remaining_today = nullptr;
    json problem = nullptr;
};

Outcome error(std::string message) {
    Outcome o;
    o.status = "error";
    o.message = std::move(message);
    return o;
}

bool pending(const json& submission) {
    const auto status = submission.value("status", "");
    return status == "queued" || status == "scoring";
}

std::string num(const json& v) {
    return v.is_number_integer() ? std::to_string(v.get<std::int64_t>()) : "?";
}

// The outcome for a submission that is scored or failed.
Outcome finished(const json& sub, const json& daily_cap, const json& remaining) {
    Outcome o;
    o.submission = sub;
    o.daily_cap = daily_cap;
    o.remaining_today = remaining;
    const std::string id = sub.value("id", "?");
    std::string left;
    if (remaining.is_number_integer() && daily_cap.is_number_integer()) {
        left = "; " + num(remaining) + " of " + num(daily_cap) + " submissions left today";
    }
    const auto& score = sub.contains("official_score") ? sub["official_score"] : json(nullptr);
    if (sub.value("status", "") == "scored" && score.is_object() &&
        score.contains("primary_score") && score["primary_score"].is_number()) {
        o.status = "scored";
        o.exit_code = kScored;
        char line[96];
        std::snprintf(line, sizeof line, "%.5f", score["primary_score"].get<double>());
        o.message = "scored: " + score.value("metric", std::string("score")) + " " + line +
                    " (submission " + id + ", " + num(sub.value("row_count", json(nullptr))) +
                    " rows" + left + ")";
        return o;
    }
    o.status = "failed";
    o.exit_code = kRefused;
    const auto& err = sub.contains("error") ? sub["error"] : json(nullptr);
    o.message =
        "failed: " + (err.is_string() ? err.get<std::string>() : std::string("scoring failed")) +
        " (submission " + id + ")";
    return o;
}

// The outcome for a problem+json answer (or anything else that is not a success).
Outcome from_problem(const HttpReply& r) {
    const json p = json::parse(r.body, nullptr, false);
    if (p.is_discarded() || !p.is_object() || !p.contains("detail") || !p["detail"].is_string()) {
        return error("unexpected answer from the API: HTTP " + std::to_string(r.status) +
                     (r.content_type.empty() ? "" : " (" + r.content_type + ")") +
                     "; is the URL the MedForge API?");
    }
    std::string detail = p["detail"].get<std::string>();
    if (p.contains("errors") && p["errors"].is_array()) {
        for (const auto& e : p["errors"]) {
            if (!e.is_object() || !e.contains("msg") || !e["msg"].is_string()) continue;
            if (e["msg"] == p["detail"]) continue;  // the detail already says it
            std::string where;
            if (e.contains("loc") && e["loc"].is_array() && !e["loc"].empty() &&
                e["loc"].back().is_string()) {
                where = e["loc"].back().get<std::string>() + ": ";
            }
            detail += " (" + where + e["msg"].get<std::string>() + ")";
        }
    }
    const std::string code = p.value("code", std::string("error"));
    Outcome o;
    o.problem = p;
    switch (r.status) {
        case 422:
            o.status = "invalid";
            o.exit_code = kRefused;
            o.message = "invalid: " + detail;
            break;
        case 409:
        case 429:
            o.status = "refused";
            o.exit_code = kRefused;
            o.message = "refused: " + detail;
            if (p.contains("daily_cap")) o.daily_cap = p["daily_cap"];
            if (code == "submission_cap_reached") o.remaining_today = 0;
            break;
        case 401:
            o = error("the API refused the credential (" + detail +
                      "): check MEDFORGE_TOKEN (a personal access token, mfp_...)");
            o.problem = p;
            break;
        default:
            o = error("the API answered " + std::to_string(r.status) + " " + code + ": " + detail);
            o.problem = p;
            break;
    }
    return o;
}

std::optional<json> data_of(const HttpReply& r) {
    if (r.status < 200 || r.status >= 300) return std::nullopt;
    json body = json::parse(r.body, nullptr, false);
    if (body.is_discarded() || !body.is_object() || !body.contains("data")) return std::nullopt;
    return body["data"];
}

void emit(const Outcome& o, const SubmitOptions& opts, std::ostream& out, std::ostream& err) {
    if (opts.json) {
        json j = {{"status", o.status},
                  {"submission", o.submission},
                  {"daily_cap", o.daily_cap},
                  {"remaining_today", o.remaining_today},
                  {"problem", o.problem}};
        if (o.status != "scored") j["error"] = o.message;
        out << j.dump() << "\n";
        return;
    }
    if (o.exit_code == kError) {
        err << "medforge submit: " << o.message << "\n";
    } else {
        out << o.message << "\n";
    }
}

Outcome submit(const SubmitOptions& opts, const EnvLookup& env, std::ostream& err) {
    std::string token = std::string(trim(env("MEDFORGE_TOKEN").value_or("")));
    if (token.empty()) {
        return error(
            "MEDFORGE_TOKEN is not set: create a personal access token (POST /api/v1/me/tokens "
            "while logged in) and export MEDFORGE_TOKEN=mfp_...");
    }
    if (std::any_of(token.begin(), token.end(),
                    [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; })) {
        return error("MEDFORGE_TOKEN has spaces or control characters");
    }
    std::string url = opts.api_url;
    if (url.empty()) url = std::string(trim(env("MEDFORGE_API_URL").value_or("")));
    if (url.empty()) url = kDefaultApiUrl;
    BaseUrl base;
    try {
        base = BaseUrl::parse(url);
    } catch (const std::invalid_argument& e) {
        return error(e.what());
    }
    if (!competitions::valid_slug(opts.competition)) {
        return error("not a competition slug: " + opts.competition +
                     " (a-z, 0-9 and '-', as in the competition's URL)");
    }
    struct stat st {};
    if (::stat(opts.file.c_str(), &st) != 0) {
        return error("cannot read " + opts.file + ": " + std::strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) return error(opts.file + " is not a regular file");
    if (::access(opts.file.c_str(), R_OK) != 0) {
        return error("cannot read " + opts.file + ": " + std::strerror(errno));
    }
    const std::string name = std::filesystem::path(opts.file).filename().string();
    std::string lower = name;
    for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (lower.size() < 5 || !lower.ends_with(".csv")) {
        Outcome o;
        o.status = "invalid";
        o.exit_code = kRefused;
        o.message = "invalid: the file name must end in .csv";
        return o;
    }

    const std::vector<std::pair<std::string, std::string>> auth = {
        {"Authorization", "Bearer " + token}};
    HttpRequest up;
    up.method = "POST";
    up.target = base.prefix + "/api/v1/competitions/" + opts.competition +
                "/submissions?filename=" + percent_encode(name);
    up.headers = auth;
    up.body_file = opts.file;
    up.content_type = "text/csv";
    const auto started = Clock::now();
    HttpReply reply;
    try {
        reply = send_request(base, up, kUploadDeadline);
    } catch (const NetworkError& e) {
        return error(e.what());
    }
    auto data = data_of(reply);
    if (reply.status != 201 || !data || !data->is_object() || !data->contains("submission") ||
        !(*data)["submission"].is_object()) {
        if (reply.status >= 200 && reply.status < 300) {
            return error("unexpected answer from the API: HTTP " + std::to_string(reply.status));
        }
        return from_problem(reply);
    }
    json sub = (*data)["submission"];
    const json daily_cap = data->value("daily_cap", json(nullptr));
    const json remaining = data->value("remaining_today", json(nullptr));

    // Queued (no auto-score, or it failed to run): wait for a worker.
    const auto deadline = started + std::chrono::seconds(opts.timeout_seconds);
    auto interval = opts.first_poll;
    std::string last_problem;
    bool told = false;
    while (pending(sub)) {
        const auto now = Clock::now();
        if (now >= deadline) {
            Outcome o =
                error("submission " + sub.value("id", "?") + " is still " +
                      sub.value("status", "?") + " after " + std::to_string(opts.timeout_seconds) +
                      " s; see GET /api/v1/submissions/" + sub.value("id", "?") +
                      (last_problem.empty() ? "" : " (last poll: " + last_problem + ")"));
            o.status = "timeout";
            o.submission = sub;
            o.daily_cap = daily_cap;
            o.remaining_today = remaining;
            return o;
        }
        if (!opts.json && !told) {
            err << "submission " << sub.value("id", "?") << " is " << sub.value("status", "?")
                << "; waiting for its score (up to " << opts.timeout_seconds << " s)\n";
            told = true;
        }
        std::this_thread::sleep_for(std::min<Clock::duration>(interval, deadline - Clock::now()));
        interval = std::min(interval * 2, kMaxPoll);
        HttpRequest poll;
        poll.target = base.prefix + "/api/v1/submissions/" + sub.value("id", "");
        poll.headers = auth;
        try {
            const auto r = send_request(base, poll, kPollDeadline);
            if (auto d = data_of(r); d && r.status == 200 && d->is_object()) {
                sub = *d;
                continue;
            }
            if (r.status >= 500) {
                last_problem = "HTTP " + std::to_string(r.status);
                continue;  // the server is busy or restarting: keep trying until the deadline
            }
            return from_problem(r);
        } catch (const NetworkError& e) {
            last_problem = e.what();
        }
    }
    return finished(sub, daily_cap, remaining);
}

}  // namespace

int run_submit(const SubmitOptions& opts, const EnvLookup& env, std::ostream& out,
               std::ostream& err) {
    const Outcome o = submit(opts, env, err);
    emit(o, opts, out, err);
    return o.exit_code;
}

}  // namespace medforge::cli
