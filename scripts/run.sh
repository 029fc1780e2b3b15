#!/usr/bin/env bash
# `make run`: the whole local stack in the foreground, on http://medforge.localhost:8080 —
# install deps, build release and the web front end (npm, when missing or older than its sources),
# then run the API, a scoring worker, the web front end and Caddy (infra/caddy/Caddyfile in local
# mode: web, API and s-<slug> session hosts on one port), state in ./var. Ctrl-C / SIGTERM stop
# everything gracefully: the API drains its requests and stops the sessions, the worker its job.
# The running part is scripts/stack.sh (`run var`), which the end-to-end tests start the same way.
#   MEDFORGE_BIN_DIR=DIR make run   -> use prebuilt binaries from DIR instead of building
#   MEDFORGE_HTTP_PORT=8081         -> another port for Caddy (and the URLs the API prints)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/setup-deps.sh
if [[ -n "${MEDFORGE_BIN_DIR:-}" ]]; then
    MEDFORGE_BIN_DIR=$(realpath "$MEDFORGE_BIN_DIR")
else
    scripts/build.sh release
    MEDFORGE_BIN_DIR="$(pwd)/build/release"
fi
export MEDFORGE_BIN_DIR
scripts/stack.sh build-web

export DATABASE_URL="${DATABASE_URL:-sqlite://./var/medforge.db}"
exec scripts/stack.sh run var
