// medforge-worker: the scoring worker process. Claims queued submissions under a lease and scores
// them; several workers (on one host or many) may share one queue.
#include <CLI/CLI.hpp>
#include <atomic>
#include <condition_variable>
#include <csignal>
#include <iostream>
#include <mutex>
#include <thread>
#include <vector>

#include "app/app.hpp"
#include "core/config.hpp"
#include "core/log.hpp"
#include "db/migrations.hpp"
#include "scoring/scorer.hpp"

namespace {

using namespace medforge;

struct Stop {
    std::atomic<bool> requested{false};
    std::mutex mu;
    std::condition_variable cv;

    void request() {
        {
            std::lock_guard lock(mu);
            requested = true;
        }
        cv.notify_all();
    }
    // Sleeps up to `seconds`; returns early (true) when a stop was requested.
    bool wait(double seconds) {
        std::unique_lock lock(mu);
        return cv.wait_for(lock, std::chrono::duration<double>(seconds),
                           [&] { return requested.load(); });
    }
};

// One scoring loop: claim, score, repeat; poll every `interval` seconds when the queue is empty.
// With `once`, returns as soon as nothing is claimable. A stop lets the current job finish.
void scoring_loop(scoring::Scorer& scorer, Stop& stop, double interval, bool once,
                  std::atomic<int>& scored) {
    while (!stop.requested) {
        std::optional<scoring::Outcome> outcome;
        try {
            outcome = scorer.run_one();
        } catch (const std::exception& e) {
            log::error("worker.claim_failed", {{"owner", scorer.owner()}, {"error", e.what()}});
            if (stop.wait(interval)) break;
            continue;
        }
        if (outcome) {
            if (outcome->kind == scoring::Outcome::Kind::scored) ++scored;
            continue;
        }
        if (once) {
            // Drained only when nothing is claimable: a claim can come back empty while other
            // scorers hold the remaining rows for an instant.
            bool more = false;
            try {
                more = scorer.queue_has_claimable();
            } catch (const std::exception& e) {
                log::error("worker.claim_failed", {{"owner", scorer.owner()}, {"error", e.what()}});
                more = true;
            }
            if (!more || stop.wait(0.05)) break;
            continue;
        }
        if (stop.wait(interval)) break;
    }
}

}  // namespace

int main(int argc, char** argv) {
    // Signals go to one dedicated thread: block them before any thread exists (the log flusher
    // included), so every thread inherits the mask. SIGUSR1 ends the signal thread at exit.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);

    CLI::App cli{
        "medforge-worker: claims queued competition submissions from the database and scores\n"
        "them against the hidden holdout. Each claim is a lease (SCORING_LEASE_SECONDS); a job\n"
        "whose scorer died is claimed again when the lease expires, and after\n"
        "SCORING_MAX_ATTEMPTS failed attempts it is marked failed and refunded to the daily cap.\n"
        "Several workers may run against one database. SIGTERM/SIGINT finish the current jobs,\n"
        "then exit 0. Configured by the same environment variables as medforge-api\n"
        "(docs/configuration.md): DATABASE_URL, SUBMISSIONS_DIR, SCORING_LEASE_SECONDS,\n"
        "SCORING_MAX_ATTEMPTS, LOG_LEVEL."};
    bool version = false;
    bool once = false;
    double interval = 1.0;
    int concurrency = 1;
    cli.add_flag("--version", version, "Print the version and exit");
    cli.add_flag("--once", once,
                 "Drain the queue (everything claimable now, including expired leases) and exit; "
                 "jobs waiting out a retry back-off are left for a later run");
    cli.add_option("--interval", interval, "Seconds between polls when the queue is empty")
        ->check(CLI::Range(0.01, 3600.0))
        ->default_val(1.0);
    cli.add_option("--concurrency", concurrency, "Jobs scored in parallel (threads)")
        ->check(CLI::Range(1, 64))
        ->default_val(1);
    CLI11_PARSE(cli, argc, argv);
    if (version) {
        std::cout << "medforge-worker " << MEDFORGE_VERSION << "\n";
        return 0;
    }
    Config config;
    try {
        config = load_config(process_env());
    } catch (const ConfigError& e) {
        std::cerr << "medforge-worker: " << e.what() << "\n";
        return 2;
    }
    log::init(config.log_level);

    std::unique_ptr<db::Database> db;
    try {
        db = app::open_database(config, static_cast<std::size_t>(concurrency) + 1);
        db::run_migrations(*db);
    } catch (const std::exception& e) {
        std::cerr << "medforge-worker: database start failed: " << e.what() << "\n";
        return 1;
    }

    Stop stop;
    std::thread signals([&] {
        int sig = 0;
        sigwait(&set, &sig);
        if (sig != SIGUSR1) {
            log::info("worker.signal", {{"signal", sig}});
            stop.request();
        }
    });

    SystemClock clock;
    scoring::BundleCache bundles;
    std::vector<std::unique_ptr<scoring::Scorer>> scorers;
    scorers.reserve(static_cast<std::size_t>(concurrency));
    for (int i = 0; i < concurrency; ++i) {
        scorers.push_back(std::make_unique<scoring::Scorer>(*db, config, clock, bundles,
                                                            scoring::make_owner_id("worker")));
    }
    log::info("worker.started",
              {{"once", once}, {"interval", interval}, {"concurrency", concurrency}});
    std::atomic<int> scored{0};
    std::vector<std::thread> threads;
    threads.reserve(scorers.size());
    for (auto& s : scorers) {
        threads.emplace_back(
            [&, sc = s.get()] { scoring_loop(*sc, stop, interval, once, scored); });
    }
    for (auto& t : threads) t.join();
    if (!stop.requested) pthread_kill(signals.native_handle(), SIGUSR1);
    signals.join();
    log::info("worker.stopped", {{"scored", scored.load()}});
    log::flush();
    return 0;
}
