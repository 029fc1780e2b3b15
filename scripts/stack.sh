#!/usr/bin/env bash
# The whole local stack, its state in one folder DIR: medforge-api (SQLite, `process` sessions with
# code-server, `dir` workspaces), a scoring medforge-worker, the web front end (the Next.js
# standalone server) and Caddy (infra/caddy/Caddyfile in local mode: web, API and s-<slug> session
# hosts on one port), on http://medforge.<DOMAIN>:<MEDFORGE_HTTP_PORT>.
#   scripts/stack.sh run DIR     in the foreground (`make run`); Ctrl-C / SIGTERM stop every part
#                                gracefully (the API drains its requests and stops the sessions with
#                                their snapshots, the worker finishes its job); any part exiting
#                                stops the others; exit 0 when every part exited cleanly
#   scripts/stack.sh start DIR   `run` in the background (log: DIR/stack.log); returns once every
#                                part answers through Caddy
#   scripts/stack.sh stop DIR    stops a started stack and waits for every process of it
#   scripts/stack.sh build-web   `npm ci` / `npm run build` in apps/web when its dependencies or its
#                                build are missing or older than the sources (else nothing)
# Once everything answers, DIR/env holds the URLs, the admin login and the paths (shell syntax,
# for `set -a; . DIR/env`). `run` and `start` build nothing: scripts/run.sh installs and builds
# first; the tests use the binaries of build/release (or MEDFORGE_BIN_DIR) and build-web.
#
# Settings (environment; every one has a default):
#   MEDFORGE_BIN_DIR     medforge-api and medforge-worker (build/release)
#   MEDFORGE_HTTP_PORT   Caddy's port, and the port in every printed URL (8080)
#   API_BIND, WEB_PORT   where the API (127.0.0.1:8000) and the web server (127.0.0.1:3000) listen
#   DOMAIN               localhost: medforge.localhost, api.medforge.localhost, s-<slug>.medforge...
#   DATABASE_URL, SUBMISSIONS_DIR, WORKSPACE_DIR_ROOT, DATASETS_ROOT: under DIR by default, and
#   any other variable medforge-api reads (docs/configuration.md) passes through.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)

readonly WEB_DIR=apps/web
readonly START_DEADLINE_S=120 # `start`: every part answering
readonly STOP_DEADLINE_S=90   # `stop`: the API stops each session (grace, snapshot) first

usage() {
    echo "usage: $0 run|start|stop DIR | $0 build-web" >&2
    exit 2
}
action=${1:-}
if [[ "$action" == build-web ]]; then
    (($# == 1)) || usage
else
    (($# == 2)) || usage
    DIR=$2
fi

log() { echo "stack: $*" >&2; }

# True while PID is a live (non-zombie) process; zombies count as gone (PID 1 of a container does
# not always reap orphans).
alive() {
    local state
    state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
    [[ -n "$state" && "$state" != Z* && "$state" != X* ]]
}

# The live processes in process group PGID.
group_members() { ps -e -o pgid=,pid=,stat= | awk -v g="$1" '$1 == g && $3 !~ /^[ZX]/ {print $2}'; }

# --- build-web -----------------------------------------------------------------------------------

build_web() {
    command -v npm >/dev/null || { log "npm is missing (Node.js >= 20 is needed for apps/web)"; return 1; }
    if [[ ! -f "$WEB_DIR/node_modules/.package-lock.json" ||
        "$WEB_DIR/package-lock.json" -nt "$WEB_DIR/node_modules/.package-lock.json" ||
        "$WEB_DIR/package.json" -nt "$WEB_DIR/node_modules/.package-lock.json" ]]; then
        log "installing the web app's dependencies (npm ci)"
        (cd "$WEB_DIR" && npm ci --no-audit --no-fund --loglevel=error)
    fi
    local stamp="$WEB_DIR/.next/BUILD_ID"
    if [[ ! -f "$stamp" ]] || [[ -n "$(find "$WEB_DIR" \( -path "$WEB_DIR/node_modules" -o -path "$WEB_DIR/.next" -o -path "$WEB_DIR/e2e" \) \
        -prune -o -type f -newer "$stamp" -print -quit)" ]]; then
        log "building the web app (npm run build)"
        (cd "$WEB_DIR" && NEXT_TELEMETRY_DISABLED=1 npm run build)
    fi
}

# --- run: the supervisor ------------------------------------------------------------------------

run() {
    mkdir -p "$DIR"
    DIR=$(cd "$DIR" && pwd)
    rm -f "$DIR/env" "$DIR/exit-status"
    BIN=$(realpath "${MEDFORGE_BIN_DIR:-$ROOT/build/release}")
    local p
    for p in "$BIN/medforge-api" "$BIN/medforge-worker" "$WEB_DIR/.next/standalone/server.js"; do
        [[ -e "$p" ]] || { log "missing $p (build first: scripts/run.sh builds everything)"; exit 1; }
    done

    export API_BIND="${API_BIND:-127.0.0.1:8000}"
    export DATABASE_URL="${DATABASE_URL:-sqlite://$DIR/medforge.db}"
    export SUBMISSIONS_DIR="${SUBMISSIONS_DIR:-$DIR/submissions}"

    # The edge: Caddy on one loopback port; the API prints session URLs for that port and believes
    # Caddy's X-Forwarded-For (Caddy reaches it from 127.0.0.1).
    export DOMAIN="${DOMAIN:-localhost}"
    export PUBLIC_SCHEME=http
    export MEDFORGE_HTTP_PORT="${MEDFORGE_HTTP_PORT:-8080}"
    export PUBLIC_PORT="${PUBLIC_PORT:-$MEDFORGE_HTTP_PORT}"
    export TRUSTED_PROXIES="${TRUSTED_PROXIES:-127.0.0.1/32,::1/128}"
    local web_bind=127.0.0.1:${WEB_PORT:-3000}
    WEB_URL="http://medforge.$DOMAIN:$MEDFORGE_HTTP_PORT"
    API_URL_PUBLIC="http://api.medforge.$DOMAIN:$MEDFORGE_HTTP_PORT"

    # Sessions: code-server as a local process (the `process` runtime) on a `dir` workspace store.
    # The IDE runs as the unprivileged session user, which must reach its workspace: when DIR is
    # private (e.g. under /root), workspaces go to /var/lib/medforge instead.
    local code_server
    code_server=$(scripts/setup-code-server.sh)
    export SESSION_RUNTIME="${SESSION_RUNTIME:-process}"
    export WORKSPACE_STORE="${WORKSPACE_STORE:-dir}"
    local default_command="$code_server --auth none --bind-addr 127.0.0.1:{port} --disable-telemetry {workspace}"
    export SESSION_PROCESS_COMMAND="${SESSION_PROCESS_COMMAND:-$default_command}"
    export SESSION_STOP_ON_SHUTDOWN="${SESSION_STOP_ON_SHUTDOWN:-true}"
    local state_root=$DIR
    if ((EUID == 0)) && ! runuser -u medforge-session -- test -x "$state_root" 2>/dev/null; then
        state_root=/var/lib/medforge
    fi
    export WORKSPACE_DIR_ROOT="${WORKSPACE_DIR_ROOT:-$state_root/workspaces}"
    export DATASETS_ROOT="${DATASETS_ROOT:-$state_root/datasets}"
    mkdir -p "$WORKSPACE_DIR_ROOT" "$DATASETS_ROOT"
    chmod 0711 "$WORKSPACE_DIR_ROOT" "$state_root"

    # First run: an admin with a random password, kept in DIR/admin-login (mode 0600). The API
    # applies MEDFORGE_BOOTSTRAP_ADMIN_* only while no admin exists, so later runs change nothing.
    LOGIN_FILE=$DIR/admin-login
    if [[ ! -s "$LOGIN_FILE" ]]; then
        (
            umask 077
            printf 'admin@medforge.localhost\n%s\n' "$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')" >"$LOGIN_FILE"
        )
    fi
    export MEDFORGE_BOOTSTRAP_ADMIN_EMAIL="${MEDFORGE_BOOTSTRAP_ADMIN_EMAIL:-$(sed -n 1p "$LOGIN_FILE")}"
    export MEDFORGE_BOOTSTRAP_ADMIN_PASSWORD="${MEDFORGE_BOOTSTRAP_ADMIN_PASSWORD:-$(sed -n 2p "$LOGIN_FILE")}"

    # The standalone server serves the build's static files from next to itself.
    rm -rf "$WEB_DIR/.next/standalone/.next/static"
    cp -r "$WEB_DIR/.next/static" "$WEB_DIR/.next/standalone/.next/static"

    PIDS=()
    NAMES=()
    INTERRUPTED=0
    trap on_signal INT TERM
    trap 'stop_all; for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done' EXIT

    "$BIN/medforge-worker" &
    started $! medforge-worker
    "$BIN/medforge-api" &
    started $! medforge-api
    wait_http medforge-api "http://$API_BIND/healthz" -f

    mkdir -p "$DIR/caddy"
    HOME="$DIR/caddy" XDG_DATA_HOME="$DIR/caddy/data" XDG_CONFIG_HOME="$DIR/caddy/config" \
        API_UPSTREAM="$API_BIND" WEB_UPSTREAM="$web_bind" \
        caddy run --config infra/caddy/Caddyfile --adapter caddyfile >"$DIR/caddy/caddy.log" 2>&1 &
    started $! caddy
    wait_http caddy "http://127.0.0.1:$MEDFORGE_HTTP_PORT/healthz" -f -H "Host: api.medforge.$DOMAIN"

    env API_URL="http://$API_BIND" NEXT_TELEMETRY_DISABLED=1 NODE_ENV=production \
        PORT="${web_bind##*:}" HOSTNAME="${web_bind%:*}" \
        node "$WEB_DIR/.next/standalone/server.js" &
    started $! medforge-web
    # the web app, through Caddy
    wait_http medforge-web "http://127.0.0.1:$MEDFORGE_HTTP_PORT/healthz" -f -H "Host: medforge.$DOMAIN"

    write_env
    banner
    supervise
}

started() { PIDS+=("$1") NAMES+=("$2"); }

# shellcheck disable=SC2317  # called by the traps
stop_all() {
    local p
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
}

# shellcheck disable=SC2317  # called by the trap (SIGTERM to this script, or Ctrl-C)
on_signal() {
    INTERRUPTED=1
    stop_all
}

wait_http() { # NAME URL [curl args...]: wait until it answers (30 s)
    local name=$1 url=$2 deadline=$((SECONDS + 30))
    shift 2
    until curl -s --noproxy '*' -o /dev/null "$@" "$url"; do
        ((INTERRUPTED)) && exit 130
        if ((SECONDS >= deadline)) || ! alive "${PIDS[-1]}"; then
            log "$name did not come up at $url"
            [[ "$name" == caddy ]] && tail -n 3 "$DIR/caddy/caddy.log" >&2
            exit 1
        fi
        sleep 0.2
    done
}

write_env() {
    q() { printf '%s=%q\n' "$1" "$2"; }
    (
        umask 077
        {
            q MEDFORGE_WEB_URL "$WEB_URL"
            q MEDFORGE_API_URL "$API_URL_PUBLIC"
            q MEDFORGE_API_BIND "$API_BIND"
            q MEDFORGE_ADMIN_EMAIL "$MEDFORGE_BOOTSTRAP_ADMIN_EMAIL"
            q MEDFORGE_ADMIN_PASSWORD "$MEDFORGE_BOOTSTRAP_ADMIN_PASSWORD"
            q MEDFORGE_DATABASE_URL "$DATABASE_URL"
            q MEDFORGE_WORKSPACE_DIR_ROOT "$WORKSPACE_DIR_ROOT"
            q MEDFORGE_STACK_DIR "$DIR"
        } >"$DIR/env.tmp"
        mv "$DIR/env.tmp" "$DIR/env"
    )
}

banner() {
    cat <<BANNER

  MedForge      ->  $WEB_URL
  API           ->  $API_URL_PUBLIC   (same API at $WEB_URL/api/v1/..., direct http://$API_BIND;
                    OpenAPI: $API_URL_PUBLIC/api/v1/openapi.json)
  database      ->  $DATABASE_URL
  Caddy log     ->  $DIR/caddy/caddy.log

  Admin login (created on the first run, kept in $LOGIN_FILE):
    email     $MEDFORGE_BOOTSTRAP_ADMIN_EMAIL
    password  $MEDFORGE_BOOTSTRAP_ADMIN_PASSWORD
  More admins: $BIN/medforge admin create --email you@example.com  (password on stdin)

  Try it (*.localhost resolves to 127.0.0.1 in curl and browsers):
    curl -i -X POST $API_URL_PUBLIC/api/v1/auth/login -H 'content-type: application/json' \\
      -d '{"email":"$MEDFORGE_BOOTSTRAP_ADMIN_EMAIL","password":"$MEDFORGE_BOOTSTRAP_ADMIN_PASSWORD"}'

  Competitions: $API_URL_PUBLIC/api/v1/competitions — upload a file with the cookie above:
    curl -b 'medforge_session=<cookie>' -H 'content-type: text/csv' \\
      --data-binary @apps/api/data/competitions/titanic-survival/sample_submission.csv \\
      '$API_URL_PUBLIC/api/v1/competitions/titanic-survival/submissions?filename=sample.csv'
  Validate offline: $BIN/medforge score --json --competition titanic-survival FILE.csv

  Sessions (code-server on a free GPU id; workspaces in $WORKSPACE_DIR_ROOT):
    curl -b 'medforge_session=<cookie>' -X POST $API_URL_PUBLIC/api/v1/sessions -d '{}'
    -> {"session": {"slug": "...", "url": "http://s-<slug>.medforge.$DOMAIN:$PUBLIC_PORT/", ...}}
    open that url (logged in: the cookie is shared by every *.medforge.$DOMAIN host) — VS Code,
    behind the gate: curl -L -b 'medforge_session=<cookie>' http://s-<slug>.medforge.$DOMAIN:$PUBLIC_PORT/

  Ctrl-C stops everything (the API stops every session, with a snapshot).

BANNER
}

# Until one part exits (Ctrl-C reaches all of them: they exit 0 when they stopped cleanly); then
# stop the others and wait for every one. The exit status is 0 when all exited with 0.
supervise() {
    declare -A exit_status=()
    local first="" rc=0 p i
    wait -n -p first "${PIDS[@]}" || rc=$?
    first=${first:-} # unset when a trapped signal (SIGTERM) interrupted the wait
    if [[ -n "$first" ]]; then
        exit_status[$first]=$rc
        for i in "${!PIDS[@]}"; do
            [[ "${PIDS[$i]}" == "$first" ]] && log "${NAMES[$i]} exited ($rc); stopping the others"
        done
    fi
    stop_all
    local status=0
    for p in "${PIDS[@]}"; do
        if [[ -z "${exit_status[$p]+set}" ]]; then
            # `wait` returns early when a trapped signal arrives: wait again for the real exit.
            while :; do
                rc=0
                wait "$p" 2>/dev/null || rc=$?
                kill -0 "$p" 2>/dev/null || break
            done
            exit_status[$p]=$rc
        fi
    done
    for i in "${!PIDS[@]}"; do
        rc=${exit_status[${PIDS[$i]}]}
        if ((rc != 0)); then
            log "${NAMES[$i]} exited with status $rc"
            status=1
        fi
    done
    trap - EXIT
    echo "$status" >"$DIR/exit-status"
    exit "$status"
}

# --- start / stop: `run` in the background --------------------------------------------------

start() {
    mkdir -p "$DIR"
    DIR=$(cd "$DIR" && pwd)
    if [[ -s "$DIR/stack.pid" ]] && alive "$(<"$DIR/stack.pid")"; then
        log "a stack is already running from $DIR (pid $(<"$DIR/stack.pid"))"
        exit 1
    fi
    rm -f "$DIR/env"
    # Its own session (and process group), so `stop` can end whatever is left of it.
    setsid "$0" run "$DIR" </dev/null >"$DIR/stack.log" 2>&1 &
    local pid=$!
    echo "$pid" >"$DIR/stack.pid"
    local deadline=$((SECONDS + START_DEADLINE_S))
    until [[ -s "$DIR/env" ]]; do
        if ! alive "$pid" || ((SECONDS >= deadline)); then
            log "the stack did not come up; the end of $DIR/stack.log:"
            tail -n 30 "$DIR/stack.log" >&2
            stop
            exit 1
        fi
        sleep 0.2
    done
    log "up in $DIR: $(sed -n 's/^MEDFORGE_WEB_URL=//p' "$DIR/env")"
}

stop() {
    [[ -s "$DIR/stack.pid" ]] || return 0
    local pid rc=0
    pid=$(<"$DIR/stack.pid")
    if alive "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        local deadline=$((SECONDS + STOP_DEADLINE_S))
        while alive "$pid" && ((SECONDS < deadline)); do sleep 0.2; done
        if alive "$pid"; then
            log "still running after ${STOP_DEADLINE_S}s: killing it"
            rc=1
        fi
    fi
    # Whatever is left in its process group (nothing after a clean stop).
    if [[ -n "$(group_members "$pid")" ]]; then
        kill -KILL -- "-$pid" 2>/dev/null || true
        [[ $rc == 0 ]] && log "processes were left in the stack's process group: killed"
        rc=1
    fi
    if [[ -s "$DIR/exit-status" && "$(<"$DIR/exit-status")" != 0 ]]; then
        log "a part of the stack did not stop cleanly; the end of $DIR/stack.log:"
        tail -n 20 "$DIR/stack.log" >&2
        rc=1
    fi
    rm -f "$DIR/stack.pid"
    return "$rc"
}

case "$action" in
    run) run ;;
    start) start ;;
    stop) stop ;;
    build-web) build_web ;;
    *) usage ;;
esac
