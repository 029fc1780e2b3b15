#!/usr/bin/env bash
# Benchmark what the session gate adds behind Caddy: one running session whose IDE serves a static
# asset, then, in the same run, alternating ROUNDS times (default 3):
#   (a) gate:   wrk -> Caddy (infra/caddy/Caddyfile, local mode) -> forward_auth to medforge-api
#               -> the session's IDE              (Host s-<slug>.medforge.localhost, login cookie)
#   (b) direct: wrk -> a second Caddy whose only site reverse_proxies to the same IDE upstream
#   wrk -t1 -c8 -d${seconds}s --latency, keep-alive, loopback, nothing pinned.
# The IDE is the real code-server (scripts/setup-code-server.sh's install or
# $MEDFORGE_TEST_CODE_SERVER; asset /_static/src/browser/media/favicon-dark-support.svg, 3.7 KB),
# else the stand-in apps/api/tests/integration/fake_ide.py (HTTP/1.0, one connection per request).
#   apps/api/bench/bench_caddy_gate.sh [seconds=10] [rounds=3]     (BENCH_CONNS=N: other than 8 connections)
# medforge-api comes from ${MEDFORGE_BIN_DIR:-build/release}; SQLite, process runtime, dir
# workspaces, LOG_LEVEL=info (a request log line per gate call, as deployed).
# Prints one row per wrk run, the medians, and the gate's added p50 (bar: <= 2 ms). Any non-2xx
# answer or socket error fails the run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../../.."
ROOT=$(pwd)
DURATION=${1:-10}
ROUNDS=${2:-3}
CONNS=${BENCH_CONNS:-8}
BIN=$(realpath -m "${MEDFORGE_BIN_DIR:-build/release}")
WORK=$(mktemp -d "${TMPDIR:-/tmp}/medforge-bench-caddy.XXXXXX")
chmod 0711 "$WORK"  # the session user must reach its workspace
PIDS=()
FAILED=0

# shellcheck disable=SC2317  # called by the trap
cleanup() {
    local p
    # the API first: SESSION_STOP_ON_SHUTDOWN stops the session's IDE
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[[ -x "$BIN/medforge-api" ]] || { echo "missing $BIN/medforge-api" >&2; exit 2; }
for tool in wrk caddy curl; do
    command -v "$tool" >/dev/null || { echo "$tool missing (apt-get install -y $tool)" >&2; exit 2; }
done

# shellcheck source=apps/api/bench/bench_lib.sh
source "$ROOT/apps/api/bench/bench_lib.sh"


# ---- the IDE: real code-server if installed, else the stand-in ----
CS=${MEDFORGE_TEST_CODE_SERVER:-/opt/medforge/code-server/node_modules/.bin/code-server}
if [[ -x "$CS" ]]; then
    IDE="code-server $("$CS" --version 2>/dev/null | awk 'NR==1 {print $1}')"
    COMMAND="$CS --auth none --bind-addr 127.0.0.1:{port} --disable-telemetry {workspace}"
    ASSET=/_static/src/browser/media/favicon-dark-support.svg
else
    IDE="fake_ide.py (code-server not installed)"
    install -m 0755 "$ROOT/apps/api/tests/integration/fake_ide.py" "$WORK/fake_ide.py"
    COMMAND="/usr/bin/python3 $WORK/fake_ide.py {port} {workspace}"
    ASSET=/static/asset.js
fi

# ---- the API with one session ----
mkdir -m 0711 "$WORK/workspaces"
API_PORT=$(free_port)
(cd "$WORK" && exec env API_BIND="127.0.0.1:$API_PORT" DATABASE_URL="sqlite://$WORK/bench.db" \
    SESSION_SECRET="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" DOMAIN=localhost \
    AUTH_RATE_LIMIT=0 LOG_LEVEL=info SESSION_RUNTIME=process WORKSPACE_STORE=dir \
    WORKSPACE_DIR_ROOT="$WORK/workspaces" DATASETS_ROOT="$WORK/datasets" \
    SUBMISSIONS_DIR="$WORK/submissions" COMPETITIONS_DIR="$ROOT/apps/api/data/competitions" \
    SESSION_PROCESS_COMMAND="$COMMAND" SESSION_STOP_ON_SHUTDOWN=true \
    SESSION_CONTAINER_START_TIMEOUT_SECONDS=60 "$BIN/medforge-api") >"$WORK/api.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$API_PORT/healthz" "${PIDS[-1]}" "$WORK/api.log" -f

TOKEN=$(curl -s -D - -o /dev/null -H 'content-type: application/json' \
    -d '{"email":"bench@example.com","password":"correct-horse-battery"}' \
    "http://127.0.0.1:$API_PORT/api/v1/auth/signup" |
    sed -n 's/^[Ss]et-[Cc]ookie: medforge_session=\([^;]*\).*/\1/p')
[[ -n "$TOKEN" ]] || { echo "signup failed" >&2; cat "$WORK/api.log" >&2; exit 1; }
SLUG=$(curl -s -b "medforge_session=$TOKEN" -H 'content-type: application/json' -d '{}' \
    "http://127.0.0.1:$API_PORT/api/v1/sessions" |
    /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["session"]["slug"])') ||
    { echo "session create failed" >&2; cat "$WORK/api.log" >&2; exit 1; }
UPSTREAM=$(curl -s -D - -o /dev/null -b "medforge_session=$TOKEN" -H "Host: s-$SLUG.medforge.localhost" \
    "http://127.0.0.1:$API_PORT/api/v1/auth/session-proxy" | tr -d '\r' |
    sed -n 's/^[Xx]-[Mm]edforge-[Uu]pstream: //p')
[[ -n "$UPSTREAM" ]] || { echo "the gate named no upstream" >&2; exit 1; }

# ---- two Caddys: the project's Caddyfile, and a plain reverse proxy to the same upstream ----
start_caddy() { # NAME CONFIG [env...] -> port in CADDY_PORT
    local name=$1 config=$2
    shift 2
    CADDY_PORT=$(free_port)
    mkdir -p "$WORK/$name"
    env HOME="$WORK/$name" XDG_DATA_HOME="$WORK/$name" XDG_CONFIG_HOME="$WORK/$name" \
        MEDFORGE_HTTP_PORT="$CADDY_PORT" "$@" \
        caddy run --config "$config" --adapter caddyfile >"$WORK/$name.log" 2>&1 &
    PIDS+=($!)
    wait_http "http://127.0.0.1:$CADDY_PORT/" "${PIDS[-1]}" "$WORK/$name.log" -H 'Host: nothing.invalid'
}
start_caddy caddy-gate "$ROOT/infra/caddy/Caddyfile" DOMAIN=localhost PUBLIC_SCHEME=http \
    API_UPSTREAM="127.0.0.1:$API_PORT" WEB_UPSTREAM=127.0.0.1:9
GATE_PORT=$CADDY_PORT
cat >"$WORK/direct.caddy" <<EOF
{
	auto_https off
	admin off
}
http://:{\$MEDFORGE_HTTP_PORT} {
	bind 127.0.0.1
	reverse_proxy $UPSTREAM
}
EOF
start_caddy caddy-direct "$WORK/direct.caddy"
DIRECT_PORT=$CADDY_PORT

HOST="s-$SLUG.medforge.localhost"
for port in "$GATE_PORT" "$DIRECT_PORT"; do
    code=$(curl -s -o "$WORK/asset.$port" -w '%{http_code}' -H "Host: $HOST" \
        -H "Cookie: medforge_session=$TOKEN" "http://127.0.0.1:$port$ASSET")
    [[ "$code" == 200 ]] || { echo "asset through port $port: HTTP $code" >&2; cat "$WORK/asset.$port" >&2; exit 1; }
done
cmp -s "$WORK/asset.$GATE_PORT" "$WORK/asset.$DIRECT_PORT" ||
    { echo "the gate and the direct path served different bytes" >&2; exit 1; }

# ---- wrk ----
to_ms() { awk '{v=$1; if (v ~ /us$/) printf "%.3f", v/1000; else if (v ~ /ms$/) printf "%.3f", v+0; else if (v ~ /s$/) printf "%.3f", v*1000}' <<<"$1"; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }

declare -a GATE_P50 GATE_P99 GATE_RPS DIRECT_P50 DIRECT_P99 DIRECT_RPS
ROW='| %-6s | %-7s | %9s | %9s | %10s |\n'
run_wrk() { # NAME PORT ROUND
    local name=$1 port=$2 out p50 p99 rps non2xx errors
    out=$(wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency -H "Host: $HOST" \
        -H "Cookie: medforge_session=$TOKEN" "http://127.0.0.1:$port$ASSET" 2>&1) || true
    p50=$(to_ms "$(awk '$1=="50%" {print $2}' <<<"$out")")
    p99=$(to_ms "$(awk '$1=="99%" {print $2}' <<<"$out")")
    rps=$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$out")
    non2xx=$(awk '/Non-2xx or 3xx responses/ {print $NF}' <<<"$out")
    errors=$(awk '/Socket errors/ {print $0}' <<<"$out")
    # shellcheck disable=SC2059  # the format is $ROW
    printf "$ROW" "$3" "$name" "$p50 ms" "$p99 ms" "$rps"
    if [[ -z "$rps" || -n "$non2xx" || -n "$errors" ]]; then
        echo "$name: no rate, non-2xx answers or socket errors; wrk said:" >&2
        echo "$out" >&2
        FAILED=1
    fi
    if [[ "$name" == gate ]]; then
        GATE_P50+=("$p50") GATE_P99+=("$p99") GATE_RPS+=("$rps")
    else
        DIRECT_P50+=("$p50") DIRECT_P99+=("$p99") DIRECT_RPS+=("$rps")
    fi
}

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "command: apps/api/bench/bench_caddy_gate.sh $DURATION $ROUNDS   ($(date -u +%Y-%m-%dT%H:%MZ), binary $BIN/medforge-api, $(caddy version | awk '{print "caddy " $1}'))"
echo "IDE: $IDE; asset $ASSET ($(stat -c %s "$WORK/asset.$GATE_PORT") bytes); wrk -t1 -c$CONNS -d${DURATION}s --latency, nothing pinned"
# shellcheck disable=SC2059
printf "$ROW" "round" "path" "p50" "p99" "req/s"
printf '|%s|%s|%s|%s|%s|\n' "--------" "---------" "-----------" "-----------" "------------"
for ((i = 1; i <= ROUNDS; i++)); do
    run_wrk gate "$GATE_PORT" "$i"
    run_wrk direct "$DIRECT_PORT" "$i"
done

g50=$(printf '%s\n' "${GATE_P50[@]}" | median)
g99=$(printf '%s\n' "${GATE_P99[@]}" | median)
grps=$(printf '%s\n' "${GATE_RPS[@]}" | median)
d50=$(printf '%s\n' "${DIRECT_P50[@]}" | median)
d99=$(printf '%s\n' "${DIRECT_P99[@]}" | median)
drps=$(printf '%s\n' "${DIRECT_RPS[@]}" | median)
# shellcheck disable=SC2059
printf "$ROW" "median" "gate" "$g50 ms" "$g99 ms" "$grps"
# shellcheck disable=SC2059
printf "$ROW" "median" "direct" "$d50 ms" "$d99 ms" "$drps"
awk -v g="$g50" -v d="$d50" 'BEGIN {
    added = g - d
    printf "gate adds %.3f ms p50 (bar: <= 2 ms): %s\n", added, (added <= 2 ? "met" : "NOT met")
}'
exit "$FAILED"
