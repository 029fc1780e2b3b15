#!/usr/bin/env bash
# Benchmark the leaderboard read with 100,000 users and 1,000,000 official scores seeded in one
# competition (SQLite): the first page, a deep page (ranks 50,001-50,050, reached through the
# cursors) and the history route, each with wrk at 1 connection (latency: the server time plus
# loopback) and at 8 connections. The server is pinned to CPU 0 and wrk to CPU 1.
#   apps/api/bench/bench_leaderboard.sh [seconds=10] [users=100000] [scores=1000000]
# Prints a table; append it to docs/benchmarks.md with the machine and the date. Bar: p50 <= 5 ms.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../../.."
ROOT=$(pwd)
DURATION=${1:-10}
USERS=${2:-100000}
SCORES=${3:-1000000}
BIN="$ROOT/build/release"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/medforge-bench-lb.XXXXXX")
SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
SLUG=cifar-100-classification
PID=""
cleanup() {
    if [[ -n "$PID" ]]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT
[[ -x "$BIN/medforge-api" ]] || { echo "missing $BIN/medforge-api" >&2; exit 2; }
command -v wrk >/dev/null || { echo "wrk missing (apt-get install -y wrk)" >&2; exit 2; }

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start_api() {
    PORT=$(free_port)
    API_BIND="127.0.0.1:$PORT" DATABASE_URL="sqlite://$WORK/medforge.db" SESSION_SECRET="$SECRET" \
        SUBMISSIONS_DIR="$WORK/subs" API_THREADS=1 LOG_LEVEL=warn \
        taskset -c 0 "$BIN/medforge-api" >"$WORK/api.log" 2>&1 &
    PID=$!
    local deadline=$((SECONDS + 30))
    until curl -fs -o /dev/null "http://127.0.0.1:$PORT/healthz"; do
        ((SECONDS < deadline)) || { echo "API did not start" >&2; cat "$WORK/api.log" >&2; exit 1; }
        sleep 0.1
    done
}
stop_api() { kill "$PID"; wait "$PID" || true; PID=""; }

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
echo "command: apps/api/bench/bench_leaderboard.sh $DURATION $USERS $SCORES   ($(date -u +%Y-%m-%dT%H:%MZ))"
start_api   # migrates and seeds the competitions
stop_api
seed_start=$SECONDS
/usr/bin/python3 apps/api/bench/seed_leaderboard.py "$WORK/medforge.db" "$SLUG" "$USERS" "$SCORES"
echo "seeding took $((SECONDS - seed_start)) s"
start_api
BASE="http://127.0.0.1:$PORT/api/v1/competitions/$SLUG"

# The cursor of rank 50,000: walk 100 pages of 500.
cursor=""
target=$((USERS / 2))
for ((rank = 0; rank < target; rank += 500)); do
    cursor=$(curl -fs "$BASE/leaderboard?limit=500${cursor:+&cursor=$cursor}" |
        /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["meta"]["next_cursor"])')
done
deep=$(curl -fs "$BASE/leaderboard?limit=1&cursor=$cursor" |
    /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["entries"][0]["rank"])')
echo "deep page starts at rank $deep"

printf '| %-34s | %5s | %9s | %8s | %8s |\n' "request" "conns" "req/s" "p50" "p99"
printf '|%s|%s|%s|%s|%s|\n' "------------------------------------" "-------" "-----------" "----------" "----------"
run() {
    local name=$1 conns=$2 url=$3 out
    out=$(taskset -c 1 wrk -t1 -c"$conns" -d"${DURATION}s" --latency "$url")
    if grep -q "Non-2xx" <<<"$out"; then echo "non-2xx answers for $url" >&2; exit 1; fi
    printf '| %-34s | %5s | %9s | %8s | %8s |\n' "$name" "$conns" \
        "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" "$(awk '$1=="50%" {print $2}' <<<"$out")" \
        "$(awk '$1=="99%" {print $2}' <<<"$out")"
}
for c in 1 8; do
    run "leaderboard, first page (50)" "$c" "$BASE/leaderboard"
    run "leaderboard, ranks $deep.. (50)" "$c" "$BASE/leaderboard?cursor=$cursor"
    run "leaderboard/history (top 10)" "$c" "$BASE/leaderboard/history"
done
