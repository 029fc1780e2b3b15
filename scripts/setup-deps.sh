#!/usr/bin/env bash
# Install the Debian packages MedForge needs to build, test and run. Idempotent: does nothing
# (and touches no network) when everything is already installed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

PACKAGES=(
    build-essential cmake ninja-build ccache pkg-config
    clang-14 clang-format clang-tidy libclang-rt-14-dev
    libboost1.81-all-dev libsoci-dev libsqlite3-dev libmariadb-dev
    nlohmann-json3-dev libsodium-dev libspdlog-dev libfmt-dev prometheus-cpp-dev libcli11-dev
    libgtest-dev libgmock-dev libbenchmark-dev
    mariadb-server mariadb-client
    wrk python3 python3-pytest python3-requests sqlite3 curl
    docker.io docker-compose python3-yaml zfs-fuse bubblewrap debootstrap caddy iptables iproute2
    shellcheck openssl chromium
    python3-fastapi python3-uvicorn python3-uvloop python3-httptools
    libkrb5-dev ripgrep
)

missing=()
for pkg in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    if [[ "$status" != "install ok installed" ]]; then
        missing+=("$pkg")
    fi
done

# The unprivileged user `process` sessions run as (SESSION_PROCESS_USER's default).
ensure_session_user() {
    if ((EUID == 0)) && ! id medforge-session >/dev/null 2>&1; then
        useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
            medforge-session
        echo "setup-deps: created the system user medforge-session"
    fi
}

# Node.js 20 or newer (for the web front end and code-server) is not installed from here: Debian 12's
# own `nodejs` is 18, too old. Say so early instead of failing later in `npm` or code-server.
check_node() {
    local major
    major=$(node --version 2>/dev/null | sed 's/^v\([0-9]*\).*/\1/' || true)
    if [[ -z "$major" || "$major" -lt 20 ]]; then
        echo "setup-deps: Node.js 20 or newer is required (found: $(node --version 2>/dev/null || echo none));" \
            "install it from nodejs.org or NodeSource (Debian 12's nodejs is 18)" >&2
        exit 1
    fi
}
check_node

if ((${#missing[@]} == 0)); then
    echo "setup-deps: all ${#PACKAGES[@]} packages already installed"
    ensure_session_user
    exit 0
fi

echo "setup-deps: installing ${#missing[@]} missing package(s): ${missing[*]}"

SUDO=()
if ((EUID != 0)); then
    if ! command -v sudo >/dev/null 2>&1; then
        echo "setup-deps: not root and sudo is not available; install as root: ${missing[*]}" >&2
        exit 1
    fi
    SUDO=(sudo)
fi

export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "${missing[@]}"
echo "setup-deps: installed: ${missing[*]}"
ensure_session_user
