#pragma once

// Scoring a claimed submission: the one code path shared by the worker and the upload route's
// auto-score. A submission is claimed under a lease (db::submissions::claim), validated and
// scored with the competition's bundle, and its official score, status and leaderboard entry are
// written in one transaction that only commits while the lease is still held.

#include <sodium.h>

#include <memory>
#include <optional>
#include <string>

#include "competitions/bundle.hpp"
#include "core/config.hpp"
#include "core/time.hpp"
#include "db/database.hpp"
#include "db/submissions_repo.hpp"
#include "scoring/bundle_cache.hpp"

namespace medforge::scoring {

// Recorded with every score.
std::string scorer_version();

// A ByteSource over a file descriptor that also computes the SHA-256 of what it reads.
class HashingSource final : public competitions::ByteSource {
  public:
    explicit HashingSource(int fd);
    std::size_t read(char* buffer, std::size_t capacity) override;
    // Reads whatever the parser left unread, then returns the digest (lower-case hex).
    std::string finish();

  private:
    int fd_;
    crypto_hash_sha256_state state_{};
};

struct ValidatedFile {
    competitions::ParsedSubmission parsed;
    std::string sha256;
};

// Validates a whole submission file against the bundle. Throws competitions::SubmissionError or
// CsvError (client errors, line and column named) or std::system_error (I/O).
ValidatedFile validate_file(const competitions::Bundle& bundle, const std::string& path);

// The components object of a score, in the metric's order.
std::string components_json(const metrics::MetricResult& result);

struct Outcome {
    enum class Kind {
        scored,         // official score recorded
        retry,          // a system failure; queued again after a back-off
        dead_lettered,  // failed for good after SCORING_MAX_ATTEMPTS; cap refunded
        lost_lease,     // another scorer (or an admin re-score) took it over; result discarded
    };
    Kind kind = Kind::scored;
    std::string submission_id;
    std::string error;  // the system error, for logs only
};

// A submission the caller has just validated (the upload route): scoring it needs no second read.
struct Prevalidated {
    std::shared_ptr<const competitions::Bundle> bundle;
    const competitions::ParsedSubmission* parsed = nullptr;
};

class Scorer {
  public:
    Scorer(db::Database& db, const Config& config, const Clock& clock, BundleCache& bundles,
           std::string owner);

    // Claims one submission (any claimable one, or only `only_id`) and scores it. nullopt when
    // nothing could be claimed. Throws db::DbUnavailable when the DB is down (the lease then
    // expires and the job is claimed again).
    // With `pre` (and `only_id`), the claimed submission is scored from the caller's parse.
    std::optional<Outcome> run_one(const std::optional<std::string>& only_id = std::nullopt,
                                   const Prevalidated* pre = nullptr);

    const std::string& owner() const { return owner_; }

    // Whether anything is claimable now (including rows other scorers are locking this instant).
    bool queue_has_claimable();

  private:
    Outcome score_claimed(const db::SubmissionRecord& claimed, const Prevalidated* pre);

    db::Database& db_;
    const Config& config_;
    const Clock& clock_;
    BundleCache& bundles_;
    std::string owner_;
    // Fault injection for the crash tests: MEDFORGE_FAULT_SCORING_DELAY_MS holds each claimed job
    // this long before scoring it, so a test can kill the scorer mid-job. 0 (unset) in service.
    int fault_delay_ms_ = 0;
};

// "<host>:<pid>:<random>" — unique per scorer, readable in the admin queue.
std::string make_owner_id(const std::string& role);

}  // namespace medforge::scoring
