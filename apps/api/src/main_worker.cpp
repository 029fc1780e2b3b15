// medforge-worker: the scoring worker process.
#include <CLI/CLI.hpp>
#include <csignal>
#include <iostream>

#include "app/app.hpp"
#include "core/config.hpp"
#include "core/log.hpp"
#include "db/migrations.hpp"

int main(int argc, char** argv) {
    CLI::App cli{
        "medforge-worker: claims queued competition submissions from the database and scores "
        "them.\n"
        "Configured by the same environment variables as medforge-api (docs/configuration.md).\n"
        "This build applies migrations and then waits for work; the scoring engine is part of the\n"
        "competitions plane."};
    bool version = false;
    bool once = false;
    cli.add_flag("--version", version, "Print the version and exit");
    cli.add_flag("--once", once, "Apply migrations, process what is queued now, and exit");
    CLI11_PARSE(cli, argc, argv);
    if (version) {
        std::cout << "medforge-worker " << MEDFORGE_VERSION << "\n";
        return 0;
    }
    medforge::Config config;
    try {
        config = medforge::load_config(medforge::process_env());
    } catch (const medforge::ConfigError& e) {
        std::cerr << "medforge-worker: " << e.what() << "\n";
        return 2;
    }
    medforge::log::init(config.log_level);
    try {
        auto db = medforge::app::open_database(config, 2);
        medforge::db::run_migrations(*db);
    } catch (const std::exception& e) {
        std::cerr << "medforge-worker: database start failed: " << e.what() << "\n";
        return 1;
    }
    medforge::log::info("worker.started", {{"once", once}});
    if (!once) {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        pthread_sigmask(SIG_BLOCK, &set, nullptr);
        int sig = 0;
        sigwait(&set, &sig);
    }
    medforge::log::info("worker.stopped", {});
    medforge::log::flush();
    return 0;
}
