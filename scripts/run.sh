#!/usr/bin/env bash
# `make run`: the whole local stack in the foreground, on http://medforge.localhost:8080 —
# install deps, build release, then run the API, a scoring worker, Caddy (infra/caddy/Caddyfile in
# local mode: web, API and s-<slug> session hosts on one port) and, when apps/web exists, the web
# front end (built with npm when missing or older than its sources). Ctrl-C / SIGTERM stop
# everything gracefully: the API drains its requests and stops the sessions, the worker its job.
#   MEDFORGE_BIN_DIR=DIR make run   -> use prebuilt binaries from DIR instead of building
#   MEDFORGE_HTTP_PORT=8081         -> another port for Caddy (and the URLs the API prints)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)

scripts/setup-deps.sh
if [[ -n "${MEDFORGE_BIN_DIR:-}" ]]; then
    BIN=$(realpath "$MEDFORGE_BIN_DIR")
else
    scripts/build.sh release
    BIN="$ROOT/build/release"
fi
mkdir -p var

export API_BIND="${API_BIND:-127.0.0.1:8000}"
export DATABASE_URL="${DATABASE_URL:-sqlite://./var/medforge.db}"

# The edge: Caddy on one loopback port; the API prints session URLs for that port and believes
# Caddy's X-Forwarded-For (Caddy reaches it from 127.0.0.1).
export DOMAIN="${DOMAIN:-localhost}"
export PUBLIC_SCHEME=http
export MEDFORGE_HTTP_PORT="${MEDFORGE_HTTP_PORT:-8080}"
export PUBLIC_PORT="${PUBLIC_PORT:-$MEDFORGE_HTTP_PORT}"
export TRUSTED_PROXIES="${TRUSTED_PROXIES:-127.0.0.1/32,::1/128}"
WEB_BIND=127.0.0.1:${WEB_PORT:-3000}
WEB_URL="http://medforge.$DOMAIN:$MEDFORGE_HTTP_PORT"
API_URL_PUBLIC="http://api.medforge.$DOMAIN:$MEDFORGE_HTTP_PORT"

# Sessions: code-server as a local process (the `process` runtime) on a `dir` workspace store.
# The IDE runs as the unprivileged session user, which must reach its workspace: when the
# checkout is private (e.g. under /root), workspaces go to /var/lib/medforge instead of ./var.
CODE_SERVER=$(scripts/setup-code-server.sh)
export SESSION_RUNTIME="${SESSION_RUNTIME:-process}"
export WORKSPACE_STORE="${WORKSPACE_STORE:-dir}"
DEFAULT_COMMAND="$CODE_SERVER --auth none --bind-addr 127.0.0.1:{port} --disable-telemetry {workspace}"
export SESSION_PROCESS_COMMAND="${SESSION_PROCESS_COMMAND:-$DEFAULT_COMMAND}"
export SESSION_STOP_ON_SHUTDOWN="${SESSION_STOP_ON_SHUTDOWN:-true}"
STATE_ROOT="$ROOT/var"
if ((EUID == 0)) && ! runuser -u medforge-session -- test -x "$STATE_ROOT" 2>/dev/null; then
    STATE_ROOT=/var/lib/medforge
fi
export WORKSPACE_DIR_ROOT="${WORKSPACE_DIR_ROOT:-$STATE_ROOT/workspaces}"
export DATASETS_ROOT="${DATASETS_ROOT:-$STATE_ROOT/datasets}"
mkdir -p "$WORKSPACE_DIR_ROOT" "$DATASETS_ROOT"
chmod 0711 "$WORKSPACE_DIR_ROOT" "$STATE_ROOT"

# First run: create an admin with a random password, kept in var/admin-login (mode 0600). The API
# applies MEDFORGE_BOOTSTRAP_ADMIN_* only while no admin exists, so later runs change nothing.
LOGIN_FILE=var/admin-login
if [[ ! -s "$LOGIN_FILE" ]]; then
    (
        umask 077
        printf 'admin@medforge.localhost\n%s\n' "$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')" >"$LOGIN_FILE"
    )
fi
ADMIN_EMAIL=$(sed -n 1p "$LOGIN_FILE")
ADMIN_PASSWORD=$(sed -n 2p "$LOGIN_FILE")
export MEDFORGE_BOOTSTRAP_ADMIN_EMAIL="${MEDFORGE_BOOTSTRAP_ADMIN_EMAIL:-$ADMIN_EMAIL}"
export MEDFORGE_BOOTSTRAP_ADMIN_PASSWORD="${MEDFORGE_BOOTSTRAP_ADMIN_PASSWORD:-$ADMIN_PASSWORD}"

# The web front end: built (npm ci, npm run build) when its dependencies or build are missing or
# older than the sources; skipped with a note while apps/web does not exist.
WEB_DIR=apps/web
web_build() {
    command -v npm >/dev/null || { echo "run: npm is missing (Node.js >= 20 is needed for apps/web)" >&2; return 1; }
    if [[ ! -f "$WEB_DIR/node_modules/.package-lock.json" ||
        "$WEB_DIR/package-lock.json" -nt "$WEB_DIR/node_modules/.package-lock.json" ||
        "$WEB_DIR/package.json" -nt "$WEB_DIR/node_modules/.package-lock.json" ]]; then
        echo "run: installing the web app's dependencies (npm ci)"
        (cd "$WEB_DIR" && npm ci --no-audit --no-fund)
    fi
    local stamp="$WEB_DIR/.next/BUILD_ID"
    if [[ ! -f "$stamp" ]] || [[ -n "$(find "$WEB_DIR" \( -path "$WEB_DIR/node_modules" -o -path "$WEB_DIR/.next" \) \
        -prune -o -type f -newer "$stamp" -print -quit)" ]]; then
        echo "run: building the web app (npm run build)"
        (cd "$WEB_DIR" && NEXT_TELEMETRY_DISABLED=1 npm run build)
    fi
}
HAVE_WEB=0
if [[ -f "$WEB_DIR/package.json" ]]; then
    web_build
    HAVE_WEB=1
fi

# --- start everything; any one exiting (or Ctrl-C) stops the rest ---------------------------

PIDS=()
NAMES=()
WEB_PGID=""
INTERRUPTED=0
# shellcheck disable=SC2317  # called by the traps (SIGTERM to this script, or Ctrl-C)
stop_all() {
    local p
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    # the web server runs in its own process group (npm -> sh -> next): end the group we started
    if [[ -n "$WEB_PGID" ]]; then kill -TERM -- "-$WEB_PGID" 2>/dev/null || true; fi
}
# shellcheck disable=SC2317  # called by the trap
on_signal() {
    INTERRUPTED=1
    stop_all
}
trap on_signal INT TERM
trap 'stop_all; for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done' EXIT

started() { PIDS+=("$1") NAMES+=("$2"); }

wait_http() { # NAME URL [curl args...]: wait until it answers (30 s)
    local name=$1 url=$2 deadline=$((SECONDS + 30))
    shift 2
    until curl -s --noproxy '*' -o /dev/null "$@" "$url"; do
        ((INTERRUPTED)) && exit 130
        if ((SECONDS >= deadline)) || ! kill -0 "${PIDS[-1]}" 2>/dev/null; then
            echo "run: $name did not come up at $url" >&2
            [[ "$name" == caddy ]] && tail -n 3 var/caddy/caddy.log >&2
            exit 1
        fi
        sleep 0.2
    done
}

"$BIN/medforge-worker" &
started $! medforge-worker
"$BIN/medforge-api" &
started $! medforge-api
wait_http medforge-api "http://$API_BIND/healthz" -f

mkdir -p var/caddy
HOME="$ROOT/var/caddy" XDG_DATA_HOME="$ROOT/var/caddy/data" XDG_CONFIG_HOME="$ROOT/var/caddy/config" \
    API_UPSTREAM="$API_BIND" WEB_UPSTREAM="$WEB_BIND" \
    caddy run --config infra/caddy/Caddyfile --adapter caddyfile >var/caddy/caddy.log 2>&1 &
started $! caddy
wait_http caddy "http://127.0.0.1:$MEDFORGE_HTTP_PORT/healthz" -f -H "Host: api.medforge.$DOMAIN"

if ((HAVE_WEB)); then
    (cd "$WEB_DIR" && exec setsid env API_URL="http://$API_BIND" NEXT_TELEMETRY_DISABLED=1 \
        PORT="${WEB_BIND##*:}" HOSTNAME="${WEB_BIND%:*}" \
        npm run start -- --port "${WEB_BIND##*:}" --hostname "${WEB_BIND%:*}") &
    started $! medforge-web
    WEB_PGID=${PIDS[-1]}
    wait_http medforge-web "http://$WEB_BIND/"
    WEB_LINE="  Web app       ->  $WEB_URL"
else
    WEB_LINE="  Web app       ->  (skipped: $WEB_DIR does not exist yet; $WEB_URL/api/... reaches the API)"
fi

cat <<BANNER

  MedForge      ->  $WEB_URL
$WEB_LINE
  API           ->  $API_URL_PUBLIC   (same API at $WEB_URL/api/v1/..., direct http://$API_BIND;
                    OpenAPI: $API_URL_PUBLIC/api/v1/openapi.json)
  database      ->  $DATABASE_URL
  Caddy log     ->  var/caddy/caddy.log

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

# Until one of them exits (Ctrl-C reaches all of them: they exit 0 when they stopped cleanly);
# then stop the others and wait for every one. The exit status is 0 when all exited with 0.
declare -A EXIT_STATUS=()
first=""
rc=0
wait -n -p first "${PIDS[@]}" || rc=$?
first=${first:-}  # unset when a trapped signal (SIGTERM) interrupted the wait
if [[ -n "$first" ]]; then
    EXIT_STATUS[$first]=$rc
    for i in "${!PIDS[@]}"; do
        [[ "${PIDS[$i]}" == "$first" ]] && echo "run: ${NAMES[$i]} exited ($rc); stopping the others" >&2
    done
fi
stop_all
status=0
for p in "${PIDS[@]}"; do
    if [[ -z "${EXIT_STATUS[$p]+set}" ]]; then
        # `wait` returns early when a trapped signal arrives: wait again for the real exit.
        while :; do
            rc=0
            wait "$p" 2>/dev/null || rc=$?
            kill -0 "$p" 2>/dev/null || break
        done
        EXIT_STATUS[$p]=$rc
    fi
done
for i in "${!PIDS[@]}"; do
    rc=${EXIT_STATUS[${PIDS[$i]}]}
    # the web server's npm answers the SIGTERM that stopped it with 143 (128 + 15)
    [[ "${NAMES[$i]}" == medforge-web && "$rc" == 143 ]] && rc=0
    if ((rc != 0)); then
        echo "run: ${NAMES[$i]} exited with status $rc" >&2
        status=1
    fi
done
trap - EXIT
exit "$status"
