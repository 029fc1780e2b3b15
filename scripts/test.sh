#!/usr/bin/env bash
# The whole `make test`: every stage runs (a failure does not stop later stages), then a summary.
#   STAGES="unit integration-sqlite" scripts/test.sh   -> only these stages (default: all)
#   SKIP_SETUP=1 scripts/test.sh                       -> skip the `setup` stage
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)

readonly PYTHON=/usr/bin/python3
readonly PYTEST=("$PYTHON" -m pytest -q -p no:cacheprovider apps/api/tests/integration)
readonly ASAN_ENV=(ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1)

ALL_STAGES=(setup format build-release web unit reference system infra images integration-sqlite
    integration-mariadb e2e build-asan unit-asan integration-asan fuzz-smoke build-tsan concurrency-tsan
    tidy)

need_file() {
    if [[ ! -e "$1" ]]; then
        echo "missing $1 (did an earlier build stage fail or not run?)" >&2
        return 1
    fi
}

stage_setup() { scripts/setup-deps.sh; }

stage_format() { scripts/format.sh --check; }

stage_build-release() { scripts/build.sh release; }

# The web front end (apps/web): clean install from package-lock.json, type check, lint, unit and
# component tests (vitest), and the production build (`next build`, standalone output).
stage_web() {
    local major
    major=$(node --version 2>/dev/null | sed 's/^v\([0-9]*\).*/\1/' || true)
    if [[ -z "$major" || "$major" -lt 20 ]]; then
        echo "web: Node.js 20 or newer is needed (found: $(node --version 2>/dev/null || echo none))" >&2
        return 1
    fi
    cd apps/web
    export NEXT_TELEMETRY_DISABLED=1
    web_step() {
        local name=$1 start=$SECONDS
        shift
        echo "web: $name"
        "$@"
        echo "web: $name took $((SECONDS - start))s"
    }
    web_step "npm ci" npm ci --no-audit --no-fund --loglevel=error
    web_step typecheck npm run --silent typecheck
    web_step lint npm run --silent lint
    web_step "unit tests" npm test --silent
    web_step "next build" npm run --silent build
}

stage_unit() {
    need_file build/release/medforge-unit-tests
    build/release/medforge-unit-tests --gtest_brief=1
}

# The independent Python reference of the metrics re-derives every committed golden case.
stage_reference() { "$PYTHON" -m pytest -q -p no:cacheprovider apps/api/tests/reference; }

# The session back ends against real services: a throwaway dockerd (with a session image built
# from Debian by debootstrap), zfs-fuse on a file-backed pool, and code-server.
stage_system() {
    need_file build/release/medforge-system-tests
    local dir
    dir=$(mktemp -d "${TMPDIR:-/tmp}/medforge-system.XXXXXX")
    # shellcheck disable=SC2064  # expand $dir now
    trap "scripts/services.sh stop '$dir'" EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    scripts/services.sh start "$dir"
    # shellcheck disable=SC1091
    set -a && source "$dir/env" && set +a
    build/release/medforge-system-tests --gtest_brief=1
    # The sessions plane through the API on the same services (docker runtime, zfs store).
    MEDFORGE_REQUIRE_SERVICES=1 MEDFORGE_BIN_DIR="$ROOT/build/release" \
        "$PYTHON" -m pytest -q -p no:cacheprovider apps/api/tests/integration/test_sessions_docker.py
}

# The host scripts (infra/): the sessions firewall between network namespaces (with a dockerd in
# one of them), the ZFS layout on zfs-fuse, bootstrap's plan and .env, shellcheck on every script.
stage_infra() {
    echo "infra: pytest infra/tests (firewall in network namespaces, zfs-fuse, bootstrap, shellcheck)"
    "$PYTHON" -m pytest -q -p no:cacheprovider infra/tests/test_firewall.py \
        infra/tests/test_zfs.py infra/tests/test_bootstrap.py infra/tests/test_shellcheck.py
}

# The deployment (infra/): the compose file and .env.example against the variables the API reads,
# the pack and Caddy recipes, and the API image's runtime-prebuilt target built from
# build/release (scripts/build-api-image.sh, a debootstrap base, no network) on a throwaway dockerd,
# then run: versions, non-root user, sudo rule, migrate/admin/API/worker against a throwaway MariaDB.
stage_images() {
    need_file build/release/medforge-api
    local dir
    dir=$(mktemp -d "${TMPDIR:-/tmp}/medforge-images.XXXXXX")
    # shellcheck disable=SC2064  # expand $dir now
    trap "scripts/dockerd-throwaway.sh stop '$dir/docker'; scripts/mariadb-throwaway.sh stop '$dir/mariadb'; rm -rf '$dir'" EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    MEDFORGE_SESSION_IMAGE=0 scripts/dockerd-throwaway.sh start "$dir/docker"
    scripts/mariadb-throwaway.sh start "$dir/mariadb"
    MEDFORGE_TEST_DOCKER_HOST=$(sed -n 's/^MEDFORGE_TEST_DOCKER_HOST=//p' "$dir/docker/env")
    MEDFORGE_TEST_MARIADB_URL=$(<"$dir/mariadb/url")
    export MEDFORGE_TEST_DOCKER_HOST MEDFORGE_TEST_MARIADB_URL
    MEDFORGE_REQUIRE_SERVICES=1 MEDFORGE_BIN_DIR="$ROOT/build/release" \
        "$PYTHON" -m pytest -q -p no:cacheprovider infra/tests/test_compose*.py \
        infra/tests/test_images*.py infra/tests/test_pack*.py
}

# The session tests run the real code-server (installed once by setup-code-server.sh).
code_server_env() {
    MEDFORGE_TEST_CODE_SERVER=$(scripts/setup-code-server.sh)
    export MEDFORGE_TEST_CODE_SERVER
}

stage_integration-sqlite() {
    need_file build/release/medforge-api
    code_server_env
    MEDFORGE_BIN_DIR="$ROOT/build/release" "${PYTEST[@]}"
}

stage_integration-mariadb() {
    need_file build/release/medforge-api
    local db
    db=$(mktemp -d "${TMPDIR:-/tmp}/medforge-mariadb.XXXXXX")
    # shellcheck disable=SC2064  # expand $db now
    trap "scripts/mariadb-throwaway.sh stop '$db'" EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    scripts/mariadb-throwaway.sh start "$db"
    code_server_env
    MEDFORGE_TEST_MARIADB_URL=$(<"$db/url")
    export MEDFORGE_TEST_MARIADB_URL MEDFORGE_DB=mariadb
    MEDFORGE_BIN_DIR="$ROOT/build/release" "${PYTEST[@]}"
}

# Browser end-to-end tests (apps/web/e2e, node --test + playwright-core driving Debian's Chromium)
# against the whole stack of `make run` (scripts/stack.sh: API with code-server sessions, worker,
# web standalone server, Caddy) on free ports, its state in a temp dir. Reuses the web stage's
# build (scripts/stack.sh build-web only builds what is missing or stale). Screenshots and the
# stack's logs go to build/e2e-artifacts/.
# Stops the stack (a part that does not stop cleanly fails the stage), keeps its logs, removes DIR.
e2e_cleanup() {
    local rc=$? dir=$1 artifacts=$2
    scripts/stack.sh stop "$dir" || rc=1
    cp "$dir/stack.log" "$dir/caddy/caddy.log" "$artifacts/" 2>/dev/null || true
    rm -rf "$dir"
    exit "$rc"
}

stage_e2e() {
    local bin=${MEDFORGE_BIN_DIR:-$ROOT/build/release}
    need_file "$bin/medforge-api"
    need_file "$bin/medforge-worker"
    command -v chromium >/dev/null || { echo "e2e: chromium is missing (scripts/setup-deps.sh)" >&2; return 1; }
    scripts/stack.sh build-web
    local dir artifacts=$ROOT/build/e2e-artifacts
    rm -rf "$artifacts"
    mkdir -p "$artifacts"
    dir=$(mktemp -d "${TMPDIR:-/tmp}/medforge-e2e.XXXXXX")
    chmod 0711 "$dir" # the session user reaches its workspace below it
    # shellcheck disable=SC2064  # expand now
    trap "e2e_cleanup '$dir' '$artifacts'" EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    local ports
    read -r -a ports < <("$PYTHON" -c 'import socket
socks = [socket.socket() for _ in range(3)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])')
    local start=$SECONDS
    MEDFORGE_BIN_DIR=$bin API_BIND=127.0.0.1:${ports[0]} WEB_PORT=${ports[1]} MEDFORGE_HTTP_PORT=${ports[2]} \
        scripts/stack.sh start "$dir"
    echo "e2e: stack up in $((SECONDS - start))s"
    # shellcheck disable=SC1091
    set -a && source "$dir/env" && set +a
    (cd apps/web && MEDFORGE_E2E_ARTIFACTS=$artifacts npm run --silent e2e)
}

stage_build-asan() { scripts/build.sh asan; }

stage_unit-asan() {
    need_file build/asan/medforge-unit-tests
    env "${ASAN_ENV[@]}" build/asan/medforge-unit-tests --gtest_brief=1
}

stage_integration-asan() {
    need_file build/asan/medforge-api
    code_server_env
    env "${ASAN_ENV[@]}" MEDFORGE_BIN_DIR="$ROOT/build/asan" "${PYTEST[@]}"
}

# Each libFuzzer target runs briefly on every CI run (longer campaigns: run the binaries in
# build/asan/fuzz/ by hand with -max_total_time=600 before a release).
stage_fuzz-smoke() {
    local found=0
    for f in build/asan/fuzz/medforge-*-fuzz; do
        [[ -x "$f" ]] || continue
        found=1
        local name dict=()
        name=$(basename "$f" | sed 's/^medforge-//; s/-fuzz$//')
        [[ -f "apps/api/tests/fuzz/$name.dict" ]] && dict=("-dict=apps/api/tests/fuzz/$name.dict")
        echo "fuzz: $name"
        env "${ASAN_ENV[@]}" "$f" "${dict[@]}" -max_total_time="${FUZZ_SECONDS:-15}" -print_final_stats=0 \
            2>&1 | tail -n 3
        test "${PIPESTATUS[0]}" -eq 0
    done
    ((found)) || { echo "fuzz: no fuzz targets in build/asan/fuzz" >&2; return 1; }
}

stage_build-tsan() { scripts/build.sh tsan; }

stage_concurrency-tsan() {
    need_file build/tsan/medforge-unit-tests
    # TSan (clang-14) aborts with "unexpected memory mapping" on kernels with high mmap
    # randomisation (vm.mmap_rnd_bits > 28); running it with ASLR off avoids that.
    local norand=()
    if setarch "$(uname -m)" -R true 2>/dev/null; then norand=(setarch "$(uname -m)" -R); fi
    TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
        "${norand[@]}" build/tsan/medforge-unit-tests --gtest_brief=1 --gtest_filter='Concurrency*'
}

stage_tidy() {
    need_file build/release/compile_commands.json
    local files=()
    while IFS= read -r -d '' f; do
        [[ -f "$f" ]] && files+=("$f")
    done < <(git ls-files -z -co --exclude-standard -- 'apps/api/src/*.cpp')
    if ((${#files[@]} == 0)); then
        echo "tidy: no .cpp files under apps/api/src"
        return 0
    fi
    echo "tidy: clang-tidy on ${#files[@]} file(s), $(nproc) in parallel"
    # Release is built with GCC: tell clang to ignore GCC-only warning flags it does not know.
    printf '%s\0' "${files[@]}" |
        xargs -0 -n1 -P"$(nproc)" clang-tidy -p build/release --quiet \
            --extra-arg=-Wno-unknown-warning-option
}

# --- stage selection -------------------------------------------------------------------------

selected=()
if [[ -n "${STAGES:-}" ]]; then
    read -r -a wanted <<<"$STAGES"
    for w in "${wanted[@]}"; do
        known=0
        for s in "${ALL_STAGES[@]}"; do [[ "$s" == "$w" ]] && known=1; done
        if ((!known)); then
            echo "test.sh: unknown stage '$w'; stages: ${ALL_STAGES[*]}" >&2
            exit 2
        fi
    done
    for s in "${ALL_STAGES[@]}"; do
        for w in "${wanted[@]}"; do
            if [[ "$s" == "$w" ]]; then
                selected+=("$s")
                break
            fi
        done
    done
else
    selected=("${ALL_STAGES[@]}")
fi

if [[ "${SKIP_SETUP:-0}" == 1 ]]; then
    kept=()
    for s in "${selected[@]}"; do [[ "$s" == setup ]] || kept+=("$s"); done
    selected=("${kept[@]}")
fi

# --- run -------------------------------------------------------------------------------------

results=()
durations=()
passed=0
failed=0
total_start=$SECONDS

for s in "${selected[@]}"; do
    echo "==> stage $s"
    start=$SECONDS
    # Each stage runs in a subshell with errexit re-enabled; it must not run in a condition
    # context (`if`, `||`), or bash would silently ignore errexit inside it.
    set +e
    (
        set -euo pipefail
        "stage_$s"
    ) 2>&1
    rc=$?
    set -e
    took=$((SECONDS - start))
    if ((rc == 0)); then
        result=PASS
        passed=$((passed + 1))
    else
        result=FAIL
        failed=$((failed + 1))
    fi
    results+=("$result")
    durations+=("$took")
    echo "<== stage $s: $result in ${took}s"
    if ((rc == 130 || rc == 143)); then
        echo "test.sh: interrupted; not running the remaining stages" >&2
        break
    fi
done

echo
echo "Summary"
printf '  %-22s %-6s %8s\n' STAGE RESULT TIME
for i in "${!results[@]}"; do
    printf '  %-22s %-6s %7ss\n' "${selected[$i]}" "${results[$i]}" "${durations[$i]}"
done
printf '  %-22s %-6s %7ss\n' total "" "$((SECONDS - total_start))"
echo "$passed passed, $failed failed"

((failed == 0))
