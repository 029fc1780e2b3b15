#include "scoring/scorer.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <system_error>
#include <thread>

#include "core/ids.hpp"
#include "core/log.hpp"
#include "db/competitions_repo.hpp"

namespace medforge::scoring {

std::string scorer_version() { return std::string("medforge-") + MEDFORGE_VERSION; }

HashingSource::HashingSource(int fd) : fd_(fd) { crypto_hash_sha256_init(&state_); }

std::size_t HashingSource::read(char* buffer, std::size_t capacity) {
    for (;;) {
        const ssize_t n = ::read(fd_, buffer, capacity);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw std::system_error(errno, std::generic_category(), "read");
        }
        crypto_hash_sha256_update(&state_, reinterpret_cast<const unsigned char*>(buffer),
                                  static_cast<unsigned long long>(n));
        return static_cast<std::size_t>(n);
    }
}

std::string HashingSource::finish() {
    std::vector<char> rest(std::size_t{64} * 1024);
    while (read(rest.data(), rest.size()) > 0) {
    }
    unsigned char out[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&state_, out);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string hex;
    hex.reserve(sizeof out * 2);
    for (unsigned char b : out) {
        hex.push_back(kHex[b >> 4]);
        hex.push_back(kHex[b & 15]);
    }
    return hex;
}

ValidatedFile validate_file(const competitions::Bundle& bundle, const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "open submission");
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};
    HashingSource source(fd);
    ValidatedFile out;
    out.parsed = competitions::parse_submission(bundle, source);
    out.sha256 = source.finish();
    return out;
}

std::string components_json(const metrics::MetricResult& result) {
    nlohmann::ordered_json j = nlohmann::ordered_json::object();
    for (const auto& [name, value] : result.components) j[name] = value;
    return j.dump();
}

std::string make_owner_id(const std::string& role) {
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
    return role + "@" + std::string(host) + ":" + std::to_string(::getpid()) + ":" +
           request_uuid().substr(0, 8);
}

Scorer::Scorer(db::Database& db, const Config& config, const Clock& clock, BundleCache& bundles,
               std::string owner)
    : db_(db), config_(config), clock_(clock), bundles_(bundles), owner_(std::move(owner)) {
    if (const char* v = std::getenv("MEDFORGE_FAULT_SCORING_DELAY_MS")) {
        fault_delay_ms_ = std::clamp(std::atoi(v), 0, 600000);
    }
}

std::optional<Outcome> Scorer::run_one(const std::optional<std::string>& only_id,
                                       const Prevalidated* pre) {
    const Micros lease = static_cast<Micros>(config_.scoring_lease_seconds) * kMicrosPerSecond;
    auto claimed = db_.with_connection([&](db::Connection& c) {
        return db::submissions::claim(c, owner_, clock_.now(), lease, only_id);
    });
    if (!claimed) return std::nullopt;
    if (claimed->attempts > config_.scoring_max_attempts) {
        // A scorer died holding it (the lease expired) on its last attempt.
        Outcome out{Outcome::Kind::dead_lettered, claimed->id, "attempts exhausted"};
        db_.with_connection([&](db::Connection& c) {
            db::submissions::fail_and_refund(
                c, claimed->id, owner_,
                "Scoring failed after " + std::to_string(config_.scoring_max_attempts) +
                    " attempts because of a system error; this submission no longer counts "
                    "toward the daily cap.");
        });
        log::error("scoring.dead_lettered",
                   {{"submission_id", claimed->id}, {"attempts", claimed->attempts}});
        return out;
    }
    return score_claimed(*claimed, only_id && claimed->attempts == 1 ? pre : nullptr);
}

bool Scorer::queue_has_claimable() {
    return db_.with_connection(
        [&](db::Connection& c) { return db::submissions::count_claimable(c, clock_.now()) > 0; });
}

Outcome Scorer::score_claimed(const db::SubmissionRecord& claimed, const Prevalidated* pre) {
    Outcome out;
    out.submission_id = claimed.id;
    if (fault_delay_ms_ > 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(fault_delay_ms_));
    }
    const auto started = clock_.now();
    try {
        auto comp = db_.with_connection([&](db::Connection& c) {
            return db::competitions::find_by_id(c, claimed.competition_id);
        });
        if (!comp) throw std::runtime_error("competition row missing");
        std::shared_ptr<const competitions::Bundle> bundle;
        ValidatedFile file;
        const competitions::ParsedSubmission* parsed = nullptr;
        if (pre != nullptr && pre->bundle && pre->parsed != nullptr) {
            bundle = pre->bundle;
            parsed = pre->parsed;
        } else {
            bundle = bundles_.get(comp->bundle_path);
            file = validate_file(*bundle, claimed.artifact_path);
            if (file.sha256 != claimed.artifact_sha256) {
                throw std::runtime_error("stored file does not match its checksum");
            }
            parsed = &file.parsed;
        }
        const auto result = competitions::score_submission(*bundle, *parsed);
        db::NewScore score;
        score.id = uuid_v4();
        score.primary_score = result.primary;
        score.components_json = components_json(result);
        score.metric = std::string(competitions::metric_name(bundle->manifest.metric));
        score.metric_version = bundle->manifest.metric_version;
        score.evaluation_split_version = bundle->manifest.evaluation_split_version;
        score.scorer_version = scorer_version();
        score.manifest_sha256 = bundle->manifest_sha256;
        score.holdout_sha256 = bundle->holdout_sha256;
        score.row_count = static_cast<std::int64_t>(parsed->rows);
        const bool kept = db_.with_connection([&](db::Connection& c) {
            return db::submissions::record_score(c, claimed, owner_, score, comp->higher_is_better,
                                                 clock_.now());
        });
        out.kind = kept ? Outcome::Kind::scored : Outcome::Kind::lost_lease;
        log::info(kept ? "scoring.scored" : "scoring.lease_lost",
                  {{"submission_id", claimed.id},
                   {"owner", owner_},
                   {"attempt", claimed.attempts},
                   {"ms", static_cast<double>(clock_.now() - started) / 1000.0}});
        return out;
    } catch (const db::DbUnavailable&) {
        throw;  // the lease expires and another attempt follows
    } catch (const std::exception& e) {
        out.error = e.what();
    }
    // A system failure (the file was validated when it was accepted): retry, then give up.
    const bool last = claimed.attempts >= config_.scoring_max_attempts;
    db_.with_connection([&](db::Connection& c) {
        if (last) {
            db::submissions::fail_and_refund(
                c, claimed.id, owner_,
                "Scoring failed after " + std::to_string(claimed.attempts) +
                    " attempts because of a system error; this submission no longer counts "
                    "toward the daily cap.");
        } else {
            const Micros backoff = std::min<Micros>(claimed.attempts, 30) * kMicrosPerSecond;
            db::submissions::release_for_retry(
                c, claimed.id, owner_,
                "Scoring hit a system error; it will be retried automatically.",
                clock_.now() + backoff);
        }
    });
    out.kind = last ? Outcome::Kind::dead_lettered : Outcome::Kind::retry;
    log::error(last ? "scoring.dead_lettered" : "scoring.retry", {{"submission_id", claimed.id},
                                                                  {"attempt", claimed.attempts},
                                                                  {"owner", owner_},
                                                                  {"error", out.error}});
    return out;
}

}  // namespace medforge::scoring
