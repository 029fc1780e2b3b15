// medforge-api: the HTTP API. Configuration comes from environment variables only.
#include <CLI/CLI.hpp>
#include <iostream>

#include "app/app.hpp"
#include "core/config.hpp"

int main(int argc, char** argv) {
    CLI::App cli{
        "medforge-api: the MedForge HTTP API (auth, sessions, competitions, admin).\n"
        "Configured by environment variables, each validated at start; see docs/configuration.md.\n"
        "Key ones: API_BIND (127.0.0.1:8000), DATABASE_URL (sqlite://./var/medforge.db or\n"
        "mariadb://user:pass@host:3306/db), DOMAIN (localhost), SESSION_SECRET (required unless\n"
        "DOMAIN is local), LOG_LEVEL (info). Runs migrations at start; SIGTERM drains and exits "
        "0."};
    bool version = false;
    bool print_config = false;
    cli.add_flag("--version", version, "Print the version and exit");
    cli.add_flag("--check-config", print_config,
                 "Validate the environment configuration, print the variable names read, and exit");
    CLI11_PARSE(cli, argc, argv);
    if (version) {
        std::cout << "medforge-api " << MEDFORGE_VERSION << "\n";
        return 0;
    }
    medforge::Config config;
    try {
        config = medforge::load_config(medforge::process_env());
    } catch (const medforge::ConfigError& e) {
        std::cerr << "medforge-api: " << e.what() << "\n";
        return 2;
    }
    if (print_config) {
        for (const auto& n : medforge::config_variable_names()) std::cout << n << "\n";
        return 0;
    }
    return medforge::app::run_api(std::move(config));
}
