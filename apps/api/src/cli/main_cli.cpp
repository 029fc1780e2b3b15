// medforge: administration CLI (migrations, admin accounts).
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>

#include "app/app.hpp"
#include "core/config.hpp"
#include "core/errors.hpp"
#include "core/log.hpp"
#include "db/migrations.hpp"

namespace {

using namespace medforge;

// The password comes from MEDFORGE_ADMIN_PASSWORD or the first line of stdin.
std::string read_password() {
    if (const char* env = std::getenv("MEDFORGE_ADMIN_PASSWORD"); env != nullptr && *env != '\0') {
        return env;
    }
    std::string line;
    std::getline(std::cin, line);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
}

struct Env {
    Config config;
    std::unique_ptr<db::Database> db;
};

Env open_env() {
    Env env;
    env.config = load_config(process_env());
    // The CLI writes logs only for warnings and errors so its output stays readable.
    log::init(log::Level::warn);
    resolve_session_secret(env.config, app::state_dir(env.config));
    env.db = app::open_database(env.config, 2);
    db::run_migrations(*env.db);
    return env;
}

int report(const ApiError& e) {
    std::cerr << "medforge: " << e.detail();
    for (const auto& f : e.errors()) {
        std::cerr << " (" << (f.loc.empty() ? "" : f.loc.back()) << ": " << f.msg << ")";
    }
    std::cerr << "\n";
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App cli{
        "medforge: MedForge administration.\n"
        "Uses the same environment as medforge-api (DATABASE_URL, SESSION_SECRET, ...;\n"
        "see docs/configuration.md). Every command applies pending migrations first."};
    cli.require_subcommand(0, 1);
    bool version = false;
    cli.add_flag("--version", version, "Print the version and exit");

    auto* migrate = cli.add_subcommand("migrate", "Apply pending database migrations and exit");

    auto* admin = cli.add_subcommand("admin", "Administrator accounts");
    admin->require_subcommand(1);
    std::string email;
    auto* create = admin->add_subcommand(
        "create",
        "Create an administrator. Password: MEDFORGE_ADMIN_PASSWORD or one line on stdin");
    create->add_option("--email", email, "The administrator's email")->required();
    std::string reset_email;
    auto* set_password = admin->add_subcommand(
        "set-password",
        "Set a user's password and revoke all their logins and tokens. Password: "
        "MEDFORGE_ADMIN_PASSWORD or one line on stdin");
    set_password->add_option("--email", reset_email, "The user's email")->required();

    CLI11_PARSE(cli, argc, argv);
    if (version) {
        std::cout << "medforge " << MEDFORGE_VERSION << "\n";
        return 0;
    }
    if (cli.get_subcommands().empty()) {
        std::cout << cli.help();
        return 2;
    }
    try {
        if (migrate->parsed()) {
            Env env = open_env();
            auto report = db::run_migrations(*env.db);
            std::cout << "schema version " << report.current_version << " ("
                      << env.db->url().redacted() << ")\n";
            return 0;
        }
        if (create->parsed() || set_password->parsed()) {
            Env env = open_env();
            SystemClock clock;
            app::Services services(env.config, *env.db, clock);
            const std::string password = read_password();
            if (create->parsed()) {
                auto user = services.auth.create_admin(email, password);
                std::cout << "created admin " << user.email << " (" << user.id << ")\n";
            } else {
                services.auth.set_password(reset_email, password);
                std::cout << "password set; all logins and tokens of " << reset_email
                          << " revoked\n";
            }
            return 0;
        }
    } catch (const ApiError& e) {
        return report(e);
    } catch (const ConfigError& e) {
        std::cerr << "medforge: " << e.what() << "\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "medforge: " << e.what() << "\n";
        return 1;
    }
    return 2;
}
