#!/usr/bin/env bash
# `make run`: install deps, build release, then run the API and a scoring worker in the foreground
# (Ctrl-C / SIGTERM stop both gracefully: the API drains its requests, the worker its job).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/setup-deps.sh
scripts/build.sh release
mkdir -p var

export API_BIND="${API_BIND:-127.0.0.1:8000}"
export DATABASE_URL="${DATABASE_URL:-sqlite://./var/medforge.db}"

# Sessions: code-server as a local process (the `process` runtime) on a `dir` workspace store.
# The IDE runs as the unprivileged session user, which must reach its workspace: when the
# checkout is private (e.g. under /root), workspaces go to /var/lib/medforge instead of ./var.
CODE_SERVER=$(scripts/setup-code-server.sh)
export SESSION_RUNTIME="${SESSION_RUNTIME:-process}"
export WORKSPACE_STORE="${WORKSPACE_STORE:-dir}"
DEFAULT_COMMAND="$CODE_SERVER --auth none --bind-addr 127.0.0.1:{port} --disable-telemetry {workspace}"
export SESSION_PROCESS_COMMAND="${SESSION_PROCESS_COMMAND:-$DEFAULT_COMMAND}"
export SESSION_STOP_ON_SHUTDOWN="${SESSION_STOP_ON_SHUTDOWN:-true}"
STATE_ROOT="$(pwd)/var"
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

cat <<BANNER

  MedForge API  ->  http://${API_BIND}   (OpenAPI: http://${API_BIND}/api/v1/openapi.json)
  database      ->  ${DATABASE_URL}

  Admin login (created on the first run, kept in ${LOGIN_FILE}):
    email     ${MEDFORGE_BOOTSTRAP_ADMIN_EMAIL}
    password  ${MEDFORGE_BOOTSTRAP_ADMIN_PASSWORD}
  More admins: build/release/medforge admin create --email you@example.com  (password on stdin)

  Try it:
    curl -i -X POST http://${API_BIND}/api/v1/auth/login -H 'content-type: application/json' \\
      -d '{"email":"${MEDFORGE_BOOTSTRAP_ADMIN_EMAIL}","password":"${MEDFORGE_BOOTSTRAP_ADMIN_PASSWORD}"}'

  Competitions: http://${API_BIND}/api/v1/competitions — upload a file with the cookie above:
    curl -b 'medforge_session=<cookie>' -H 'content-type: text/csv' \\
      --data-binary @apps/api/data/competitions/titanic-survival/sample_submission.csv \\
      'http://${API_BIND}/api/v1/competitions/titanic-survival/submissions?filename=sample.csv'
  Validate offline: build/release/medforge score --json --competition titanic-survival FILE.csv

  Sessions (code-server on a free GPU id; workspaces in ${WORKSPACE_DIR_ROOT}):
    curl -b 'medforge_session=<cookie>' -X POST http://${API_BIND}/api/v1/sessions -d '{}'
    -> {"session": {"slug": "...", "status": "running", ...}}; the gate names its upstream:
    curl -D - -b 'medforge_session=<cookie>' -H 'Host: s-<slug>.medforge.localhost' \\
      http://${API_BIND}/api/v1/auth/session-proxy     # -> X-Medforge-Upstream: 127.0.0.1:<port>
    then open http://127.0.0.1:<port>/ — that is the session's VS Code.

  Ctrl-C stops the API (and every session, with a snapshot) and the scoring worker.

BANNER

build/release/medforge-worker &
WORKER=$!
build/release/medforge-api &
API=$!
# shellcheck disable=SC2317  # called by the trap
stop() { kill -TERM "$API" "$WORKER" 2>/dev/null || true; }
trap stop INT TERM
status=0
wait "$API" || status=$?
# `wait` returns early when a trapped signal arrives: wait again for the real exit.
while kill -0 "$API" 2>/dev/null; do wait "$API" || status=$?; done
kill -TERM "$WORKER" 2>/dev/null || true
wait "$WORKER" 2>/dev/null || true
exit "$status"
