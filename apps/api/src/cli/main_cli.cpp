// medforge: the MedForge CLI: administration (migrations, seeding, admin accounts), offline
// scoring, and participants' uploads through the API (`submit`).
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>

#include <fcntl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "app/app.hpp"
#include "cli/submit.hpp"
#include "competitions/bundle.hpp"
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

// `medforge score`: validates and scores a file exactly as the platform would, offline (no DB).
// Exit 0 scored, 1 invalid submission, 2 bad bundle or usage.
int score_command(const std::string& bundle_dir, const std::string& competition,
                  const std::string& file, bool json_out) {
    namespace c = competitions;
    auto emit = [&](const nlohmann::ordered_json& j, const std::string& human) {
        std::cout << (json_out ? j.dump() : human) << "\n";
    };
    std::filesystem::path dir = bundle_dir;
    if (!competition.empty()) {
        if (!c::valid_slug(competition)) {
            std::cerr << "medforge score: not a competition slug: " << competition << "\n";
            return 2;
        }
        dir = std::filesystem::path(load_config(process_env()).competitions_dir) / competition;
    }
    // What one scoring attempt found (use_bundle_cached may run it twice; nothing is printed
    // before the attempt that stands is known).
    struct Outcome {
        int rc = 2;
        nlohmann::ordered_json json;
        std::string human;
        std::string stderr_line;  // printed instead of the JSON / human line when set
    };
    Outcome out;
    auto attempt = [&](const c::Bundle& bundle) {
        out = Outcome{};
        const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            out.stderr_line = "medforge score: cannot open " + file;
            return;
        }
        struct Closer {
            int fd;
            ~Closer() { ::close(fd); }
        } closer{fd};
        auto invalid = [&](const char* what) {
            out.rc = 1;
            out.json = {{"status", "invalid"}, {"error", what}};
            out.human = std::string("invalid: ") + what;
        };
        try {
            if (!file.ends_with(".csv")) throw c::SubmissionError("the file name must end in .csv");
            c::FdSource source(fd);
            auto parsed = c::parse_submission(bundle, source);
            auto result = c::score_submission(bundle, parsed);
            nlohmann::ordered_json components = nlohmann::ordered_json::object();
            for (const auto& [k, v] : result.components) components[k] = v;
            char human[160];
            std::snprintf(human, sizeof human, "scored: %s %.5f over %llu rows",
                          std::string(c::metric_name(bundle.manifest.metric)).c_str(),
                          result.primary, static_cast<unsigned long long>(parsed.rows));
            out.rc = 0;
            out.json = {{"status", "scored"},
                        {"primary_score", result.primary},
                        {"components", components},
                        {"rows", parsed.rows}};
            out.human = human;
        } catch (const c::SubmissionError& e) {
            invalid(e.what());
        } catch (const c::CsvError& e) {
            invalid(e.what());
        } catch (const std::system_error& e) {
            out.rc = 2;
            out.stderr_line = "medforge score: cannot read " + file + ": " + e.code().message();
        }
    };
    try {
        // A validated bundle is cached by the SHA-256 of its files (docs/competitions.md).
        c::use_bundle_cached(dir, {.dir = c::default_bundle_cache_dir(dir)}, attempt);
    } catch (const c::BundleError& e) {
        emit({{"status", "bundle_error"}, {"error", e.what()}},
             std::string("bundle error: ") + e.what());
        return 2;
    }
    if (!out.stderr_line.empty()) {
        std::cerr << out.stderr_line << "\n";
        return out.rc;
    }
    emit(out.json, out.human);
    return out.rc;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App cli{
        "medforge: the MedForge command line.\n"
        "migrate, seed and admin use the same environment as medforge-api (DATABASE_URL,\n"
        "SESSION_SECRET, ...; see docs/configuration.md) and apply pending migrations first.\n"
        "score works offline on a bundle; submit talks to the API (MEDFORGE_API_URL,\n"
        "MEDFORGE_TOKEN) and needs no database."};
    cli.require_subcommand(0, 1);
    bool version = false;
    cli.add_flag("--version", version, "Print the version and exit");

    auto* migrate = cli.add_subcommand("migrate", "Apply pending database migrations and exit");
    auto* seed = cli.add_subcommand(
        "seed",
        "Insert the competitions and datasets of every bundle in COMPETITIONS_DIR that the "
        "database lacks (existing rows are never rewritten; the API also does this at start)");

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

    auto* score = cli.add_subcommand(
        "score",
        "Validate and score a submission file exactly as the platform would, offline.\n"
        "Prints {\"status\":\"scored\",\"primary_score\",\"components\",\"rows\"} (exit 0),\n"
        "{\"status\":\"invalid\",\"error\"} (exit 1) or {\"status\":\"bundle_error\",\"error\"} "
        "(exit 2)");
    std::string bundle_dir;
    std::string competition;
    std::string submission_file;
    bool json_out = false;
    auto* bundle_opt = score->add_option("--bundle", bundle_dir, "A competition bundle folder");
    auto* comp_opt =
        score->add_option("--competition", competition,
                          "A seeded competition's slug (its bundle in COMPETITIONS_DIR)");
    bundle_opt->excludes(comp_opt);
    score->add_option("file", submission_file, "The submission CSV")->required();
    score->add_flag("--json", json_out, "Print one JSON object");

    auto* submit = cli.add_subcommand(
        "submit",
        "Upload a submission to a competition through the API and print its official score");
    submit->footer(
        "Environment:\n"
        "  MEDFORGE_TOKEN    required: a personal access token (mfp_...), created with\n"
        "                    POST /api/v1/me/tokens while logged in; sent as\n"
        "                    `Authorization: Bearer <token>`.\n"
        "  MEDFORGE_API_URL  the API's base URL, default http://127.0.0.1:8000 (--api-url\n"
        "                    overrides it). https:// checks the server's certificate against\n"
        "                    the system trust store (SSL_CERT_FILE names another CA bundle).\n"
        "\n"
        "The file is uploaded as text/csv (?filename=<its base name>) to\n"
        "POST /api/v1/competitions/SLUG/submissions, where it is validated completely before\n"
        "it is stored. A queued submission is polled (GET /api/v1/submissions/ID) until it is\n"
        "scored or failed, for at most --timeout seconds.\n"
        "\n"
        "Output: `scored: <metric> <score> (submission <id>, <rows> rows; <n> of <cap>\n"
        "submissions left today)`, or `invalid: <what is wrong, with line and column>`,\n"
        "`refused: <why>` (daily cap reached, competition closed) or `failed: <error>`.\n"
        "--json prints one object instead: {\"status\": scored|invalid|refused|failed|\n"
        "timeout|error, \"submission\", \"daily_cap\", \"remaining_today\", \"problem\"\n"
        "(the API's problem+json), \"error\" (unless scored)}.\n"
        "\n"
        "Exit status: 0 scored; 1 invalid file, scoring failed, daily cap reached or\n"
        "competition closed; 2 usage, configuration (token, URL, file) or network errors, an\n"
        "unexpected answer, or no score within --timeout (the submission stays queued).\n"
        "\n"
        "Example:\n"
        "  export MEDFORGE_API_URL=http://127.0.0.1:8000 MEDFORGE_TOKEN=mfp_...\n"
        "  medforge submit --competition titanic-survival predictions.csv");
    cli::SubmitOptions submit_opts;
    submit->add_option("--competition", submit_opts.competition, "The competition's slug")
        ->required();
    submit->add_option("file", submit_opts.file, "The submission CSV")->required();
    submit->add_option("--api-url", submit_opts.api_url,
                       "The API's base URL (default: MEDFORGE_API_URL, else "
                       "http://127.0.0.1:8000)");
    submit
        ->add_option("--timeout", submit_opts.timeout_seconds,
                     "Seconds to wait for the score of a queued submission (default 300; 0: do "
                     "not wait)")
        ->check(CLI::Range(0, 86400));
    submit->add_flag("--json", submit_opts.json, "Print one JSON object");

    try {
        cli.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int rc = cli.exit(e);
        return rc == 0 ? 0 : 2;  // usage errors exit 2
    }
    if (version) {
        std::cout << "medforge " << MEDFORGE_VERSION << "\n";
        return 0;
    }
    if (cli.get_subcommands().empty()) {
        std::cout << cli.help();
        return 2;
    }
    if (submit->parsed()) {
        return cli::run_submit(submit_opts, process_env(), std::cout, std::cerr);
    }
    if (score->parsed()) {
        if (bundle_dir.empty() == competition.empty()) {
            std::cerr << "medforge score: give exactly one of --bundle DIR or --competition SLUG\n";
            return 2;
        }
        try {
            const int rc = score_command(bundle_dir, competition, submission_file, json_out);
            // A loaded bundle can hold millions of ids: exit without tearing it down.
            std::cout.flush();
            std::fflush(nullptr);
            std::_Exit(rc);
        } catch (const ConfigError& e) {
            std::cerr << "medforge: " << e.what() << "\n";
            return 2;
        }
    }
    try {
        if (migrate->parsed()) {
            Env env = open_env();
            auto report = db::run_migrations(*env.db);
            std::cout << "schema version " << report.current_version << " ("
                      << env.db->url().redacted() << ")\n";
            return 0;
        }
        if (seed->parsed()) {
            Env env = open_env();
            SystemClock clock;
            auto report = app::seed_competitions(*env.db, env.config, clock);
            std::cout << "competitions added: " << report.competitions_added
                      << ", datasets added: " << report.datasets_added
                      << ", bundles rejected: " << report.rejected.size() << "\n";
            return report.rejected.empty() ? 0 : 1;
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
