#!/usr/bin/env bash
# Benchmark the proxy gate, GET /api/v1/auth/session-proxy (Caddy's forward_auth check), with 1,000
# users cycling: each request is one user's session cookie and that user's running session host,
# so every answer must be 200 (any other answer, or a socket error, fails the run).
#   apps/api/bench/bench_gate.sh [seconds=10]
# For each back end: medforge-api (from ${MEDFORGE_BIN_DIR:-build/release}) is started once to
# migrate (GPU_COUNT=1000 adds the GPUs), stopped, the DB is seeded directly (seed_gate.py: 1,000
# GPUs, users, auth sessions with known tokens, running sessions), and it is started again with
# recovery disabled, one I/O thread, pinned to CPU 0; wrk runs pinned to CPU 1:
#   taskset -c 1 wrk -t1 -c64 -d${seconds}s --latency -s gate.lua URL -- PAIRS DOMAIN
# after an unmeasured 2-second warm-up of the same load (GATE_BENCH_WARMUP_SECONDS) for each target.
# Back ends: SQLite; then the Python reference (reference/gate_reference.py: FastAPI, 1 uvicorn
# worker, uvloop + httptools, no cache) on the same SQLite file, pinned to CPU 0 the same way; then
# MariaDB: an empty database at $MEDFORGE_BENCH_MARIADB_URL (mariadb://user:pass@host:port/db),
# else a throwaway server (scripts/mariadb-throwaway.sh), else skipped.
# The gate behind Caddy (the third bar of quality.md) is measured elsewhere.
# Prints a table and the C++/reference ratio; append them to docs/benchmarks.md with the date.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../../.."
ROOT=$(pwd)
DURATION=${1:-10}
WARMUP=${GATE_BENCH_WARMUP_SECONDS:-2}
USERS=1000
CONNS=64
DOMAIN=localhost
BIN=$(cd "$ROOT" && realpath -m "${MEDFORGE_BIN_DIR:-build/release}")
BENCH="$ROOT/apps/api/bench"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/medforge-bench-gate.XXXXXX")
SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
PIDS=()
MDB=""
FAILED=0

# shellcheck disable=SC2317  # called by the trap
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    if [[ -n "$MDB" ]]; then scripts/mariadb-throwaway.sh stop "$MDB" >/dev/null 2>&1 || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[[ -x "$BIN/medforge-api" ]] || { echo "missing $BIN/medforge-api" >&2; exit 2; }
command -v wrk >/dev/null || { echo "wrk missing (apt-get install -y wrk)" >&2; exit 2; }
command -v taskset >/dev/null || { echo "taskset missing (util-linux)" >&2; exit 2; }

# shellcheck source=apps/api/bench/bench_lib.sh
source "$ROOT/apps/api/bench/bench_lib.sh"


# start_api NAME DATABASE_URL -> PORT, API_PID. Run from $WORK so nothing lands in the checkout.
start_api() {
    PORT=$(free_port)
    (cd "$WORK" && exec env API_BIND="127.0.0.1:$PORT" DATABASE_URL="$2" SESSION_SECRET="$SECRET" \
        DOMAIN="$DOMAIN" SESSION_RECOVERY_ENABLED=false GPU_DISCOVERY=static GPU_COUNT=$USERS \
        API_THREADS=1 LOG_LEVEL=warn AUTH_RATE_LIMIT=0 \
        COMPETITIONS_DIR="$ROOT/apps/api/data/competitions" SUBMISSIONS_DIR="$WORK/submissions" \
        DATASETS_ROOT="$WORK/datasets" WORKSPACE_DIR_ROOT="$WORK/workspaces" \
        taskset -c 0 "$BIN/medforge-api") >"$WORK/$1.log" 2>&1 &
    API_PID=$!
    PIDS+=("$API_PID")
    wait_http "http://127.0.0.1:$PORT/healthz" "$API_PID" "$WORK/$1.log" -f
}

stop_pid() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

start_reference() {
    PORT=$(free_port)
    REFERENCE_SQLITE_PATH="$1" SESSION_SECRET="$SECRET" DOMAIN="$DOMAIN" \
        taskset -c 0 /usr/bin/python3 -m uvicorn --app-dir "$BENCH/reference" gate_reference:app \
        --host 127.0.0.1 --port "$PORT" --workers 1 --loop uvloop --http httptools \
        --no-access-log --log-level warning >"$WORK/reference.log" 2>&1 &
    API_PID=$!
    PIDS+=("$API_PID")
    wait_http "http://127.0.0.1:$PORT/openapi.json" "$API_PID" "$WORK/reference.log" -f
}

# One request by hand first: a clear message beats a table of non-200s.
check_one() {
    local token slug out
    read -r token slug _ <"$WORK/pairs.txt"
    out=$(curl -s -o /dev/null -D - -H "Host: s-$slug.medforge.$DOMAIN" \
        -H "Cookie: medforge_session=$token" "http://127.0.0.1:$1/api/v1/auth/session-proxy")
    if ! grep -q '^HTTP/1.1 200' <<<"$out" || ! grep -qi '^x-medforge-upstream: 127.0.0.1:' <<<"$out"; then
        echo "$2: the first seeded pair is not answered 200 with X-Medforge-Upstream:" >&2
        echo "$out" >&2
        exit 1
    fi
}

declare -A RPS
ROW='| %-18s | %-7s | %10s | %8s | %8s | %7s | %7s |\n'
# run_wrk NAME DB PORT -> one table row; RPS[NAME/DB]. "wrk CPU" is the client's share of its
# core: near 100% means the client, not the server, set the rate.
run_wrk() {
    local name=$1 db=$2 port=$3 out rps p50 p99 non200 errors cpu timer=()
    check_one "$port" "$name"
    # Warm-up, not measured (every target alike): the first pass over 1,000 users fills the
    # caches; measured, those misses would be the run's whole slowest percent.
    taskset -c 1 wrk -t1 -c"$CONNS" -d"${WARMUP}s" -s "$BENCH/gate.lua" \
        "http://127.0.0.1:$port/api/v1/auth/session-proxy" -- "$WORK/pairs.txt" "$DOMAIN" \
        >/dev/null 2>&1 || true
    [[ -x /usr/bin/time ]] && timer=(/usr/bin/time -f 'wrk-cpu=%P')
    out=$("${timer[@]}" taskset -c 1 wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency \
        -s "$BENCH/gate.lua" "http://127.0.0.1:$port/api/v1/auth/session-proxy" \
        -- "$WORK/pairs.txt" "$DOMAIN" 2>&1) || true  # judged below, with its output
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1=="50%" {print $2}' <<<"$out")
    p99=$(awk '$1=="99%" {print $2}' <<<"$out")
    non200=$(sed -n 's/^gate\.lua: requests=[0-9]* non200=\([0-9]*\) .*/\1/p' <<<"$out")
    errors=$(sed -n 's/^gate\.lua: .* socket_errors=\([0-9]*\)$/\1/p' <<<"$out")
    cpu=$(sed -n 's/^wrk-cpu=//p' <<<"$out")
    RPS["$name/$db"]=$rps
    local bad=${non200:-?}
    [[ "${errors:-0}" != 0 ]] && bad="$bad (+$errors socket errors)"
    # shellcheck disable=SC2059  # the format is $ROW
    printf "$ROW" "$name" "$db" "$rps" "$p50" "$p99" "$bad" "${cpu:-n/a}"
    if [[ -z "$rps" || "${non200:-x}" != 0 || "${errors:-x}" != 0 ]]; then
        echo "$name ($db): no rate, non-200 answers or socket errors; wrk said:" >&2
        echo "$out" >&2
        FAILED=1
    fi
}

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
echo "command: apps/api/bench/bench_gate.sh $DURATION   ($(date -u +%Y-%m-%dT%H:%MZ), binary $BIN/medforge-api)"
echo "load: $USERS users cycling, each request = one user's cookie + that user's session host; wrk -t1 -c$CONNS -d${DURATION}s on CPU 1 (after ${WARMUP}s unmeasured), server on CPU 0"
# shellcheck disable=SC2059
printf "$ROW" "target" "DB" "req/s" "p50" "p99" "non-200" "wrk CPU"
printf '|%s|%s|%s|%s|%s|%s|%s|\n' "--------------------" "---------" "------------" "----------" \
    "----------" "---------" "---------"

# ---- SQLite: medforge-api, then the Python reference on the same file ----
DB="$WORK/gate.db"
start_api sqlite-migrate "sqlite://$DB"
stop_pid "$API_PID"
/usr/bin/python3 "$BENCH/seed_gate.py" "$DB" "$WORK/pairs.txt" --users "$USERS" \
    --secret "$SECRET" >"$WORK/seed-sqlite.log"
start_api sqlite "sqlite://$DB"
run_wrk "medforge-api" SQLite "$PORT"
stop_pid "$API_PID"

if /usr/bin/python3 -c 'import fastapi, uvicorn, uvloop, httptools' 2>/dev/null; then
    start_reference "$DB"
    run_wrk "Python reference" SQLite "$PORT"
    stop_pid "$API_PID"
else
    echo "| Python reference skipped: install python3-fastapi python3-uvicorn python3-uvloop python3-httptools |"
fi

# ---- MariaDB ----
URL=${MEDFORGE_BENCH_MARIADB_URL:-}
if [[ -z "$URL" ]] && command -v mariadbd >/dev/null && command -v mariadb-install-db >/dev/null; then
    MDB=$(mktemp -d "${TMPDIR:-/tmp}/medforge-bench-gate-mdb.XXXXXX")
    scripts/mariadb-throwaway.sh start "$MDB" >/dev/null 2>"$WORK/mariadb.log" ||
        { cat "$WORK/mariadb.log" >&2; exit 1; }
    BASE=$(<"$MDB/url")
    MPORT=$(sed 's/.*:\([0-9]*\)\/$/\1/' <<<"$BASE")
    MYSQL_PWD=medforge mariadb --no-defaults -h127.0.0.1 -P"$MPORT" -uroot -e 'CREATE DATABASE gate_bench'
    URL="${BASE}gate_bench"
fi
if [[ -n "$URL" ]]; then
    start_api mariadb-migrate "$URL"
    stop_pid "$API_PID"
    /usr/bin/python3 "$BENCH/seed_gate.py" "$URL" "$WORK/pairs.txt" --users "$USERS" \
        --secret "$SECRET" >"$WORK/seed-mariadb.log"
    start_api mariadb "$URL"
    run_wrk "medforge-api" MariaDB "$PORT"
    stop_pid "$API_PID"
else
    echo "| MariaDB skipped: set MEDFORGE_BENCH_MARIADB_URL or install mariadb-server |"
fi

cpp=${RPS[medforge-api/SQLite]:-}
ref=${RPS[Python reference/SQLite]:-}
if [[ -n "$cpp" && -n "$ref" ]]; then
    awk -v c="$cpp" -v r="$ref" 'BEGIN {printf "ratio medforge-api (SQLite) / Python reference: %.1fx\n", c / r}'
fi
exit "$FAILED"
