#!/usr/bin/env bash
# `make run`: install deps, build release, then exec the API in the foreground (Ctrl-C / SIGTERM
# reach the API directly, which shuts down gracefully).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/setup-deps.sh
scripts/build.sh release
mkdir -p var

export API_BIND="${API_BIND:-127.0.0.1:8000}"
export DATABASE_URL="${DATABASE_URL:-sqlite://./var/medforge.db}"

cat <<BANNER

  MedForge API  ->  http://${API_BIND}
  database      ->  ${DATABASE_URL}

  First admin (once):
    build/release/medforge admin create --email you@example.com   (password read from stdin)
  or start with MEDFORGE_BOOTSTRAP_ADMIN_EMAIL and MEDFORGE_BOOTSTRAP_ADMIN_PASSWORD set.

  Ctrl-C stops the server.

BANNER

exec build/release/medforge-api
