#!/usr/bin/env bash
# Benchmark GET /api/v1/me with a valid cookie (the path the proxy gate shares) on SQLite and on a
# throwaway MariaDB, plus the Python reference (FastAPI, 1 uvicorn worker) on the same SQLite
# file, in one run. The server is pinned to CPU 0 and wrk to CPU 1 (taskset).
#   apps/api/bench/bench_me.sh [seconds=10] [connections=64]
# Prints a table; append the rows to docs/benchmarks.md with the machine and the date.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../../.."
ROOT=$(pwd)
DURATION=${1:-10}
CONNS=${2:-64}
BIN="$ROOT/build/release"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/medforge-bench.XXXXXX")
SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
PIDS=()
MDB=""

cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    if [[ -n "$MDB" ]]; then scripts/mariadb-throwaway.sh stop "$MDB" >/dev/null 2>&1 || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_http() {
    local url=$1 deadline=$((SECONDS + 30))
    until curl -fs -o /dev/null "$url"; do
        ((SECONDS < deadline)) || { echo "timeout waiting for $url" >&2; return 1; }
        sleep 0.1
    done
}

# start_api NAME DATABASE_URL -> sets PORT
start_api() {
    PORT=$(free_port)
    API_BIND="127.0.0.1:$PORT" DATABASE_URL="$2" SESSION_SECRET="$SECRET" AUTH_RATE_LIMIT=0 \
        API_THREADS=1 taskset -c 0 "$BIN/medforge-api" >"$WORK/$1.log" 2>&1 &
    PIDS+=($!)
    wait_http "http://127.0.0.1:$PORT/healthz"
}

login_cookie() {
    local port=$1 email=$2
    curl -fs -o /dev/null -X POST "http://127.0.0.1:$port/api/v1/auth/signup" \
        -H 'content-type: application/json' -d "{\"email\":\"$email\",\"password\":\"benchmark-pw\"}" || true
    curl -fsi -X POST "http://127.0.0.1:$port/api/v1/auth/login" -H 'content-type: application/json' \
        -d "{\"email\":\"$email\",\"password\":\"benchmark-pw\"}" |
        sed -n 's/^[Ss]et-[Cc]ookie: medforge_session=\([^;]*\);.*/\1/p'
}

# run_wrk NAME PORT COOKIE -> one table row
run_wrk() {
    local out
    out=$(taskset -c 1 wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency \
        -H "Cookie: medforge_session=$3" "http://127.0.0.1:$2/api/v1/me")
    local rps p50 p99 non2xx
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1=="50%" {print $2}' <<<"$out")
    p99=$(awk '$1=="99%" {print $2}' <<<"$out")
    non2xx=$(awk '/Non-2xx/ {print $5}' <<<"$out")
    printf '| %-28s | %10s | %8s | %8s | %6s |\n' "$1" "$rps" "$p50" "$p99" "${non2xx:-0}"
}

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
echo "command: apps/api/bench/bench_me.sh $DURATION $CONNS   ($(date -u +%Y-%m-%dT%H:%MZ))"
printf '| %-28s | %10s | %8s | %8s | %6s |\n' "target" "req/s" "p50" "p99" "non2xx"
printf '|%s|%s|%s|%s|%s|\n' "------------------------------" "------------" "----------" "----------" "--------"

start_api sqlite "sqlite://$WORK/medforge.db"
SQLITE_PORT=$PORT
COOKIE=$(login_cookie "$SQLITE_PORT" bench@example.org)
run_wrk "medforge-api, SQLite" "$SQLITE_PORT" "$COOKIE"

if /usr/bin/python3 -c 'import fastapi, uvicorn, uvloop, httptools' 2>/dev/null; then
    RPORT=$(free_port)
    (cd apps/api/bench/reference && REFERENCE_SQLITE_PATH="$WORK/medforge.db" SESSION_SECRET="$SECRET" \
        taskset -c 0 /usr/bin/python3 -m uvicorn me_app:app --host 127.0.0.1 --port "$RPORT" \
        --workers 1 --loop uvloop --http httptools --no-access-log --log-level warning \
        >"$WORK/reference.log" 2>&1) &
    PIDS+=($!)
    wait_http "http://127.0.0.1:$RPORT/docs"
    run_wrk "Python reference, SQLite" "$RPORT" "$COOKIE"
else
    echo "| Python reference skipped: install python3-fastapi python3-uvicorn python3-uvloop python3-httptools |"
fi

MDB=$(mktemp -d "${TMPDIR:-/tmp}/medforge-bench-mdb.XXXXXX")
scripts/mariadb-throwaway.sh start "$MDB" >/dev/null
URL=$(<"$MDB/url")
MPORT=$(sed 's/.*:\([0-9]*\)\/$/\1/' <<<"$URL")
mariadb --no-defaults -h127.0.0.1 -P"$MPORT" -uroot -pmedforge -e 'CREATE DATABASE bench'
start_api mariadb "${URL}bench"
COOKIE=$(login_cookie "$PORT" bench@example.org)
run_wrk "medforge-api, MariaDB" "$PORT" "$COOKIE"
