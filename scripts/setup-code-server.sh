#!/usr/bin/env bash
# Installs code-server (npm, a pinned version that runs on Node 20) once, into
#   ${CODE_SERVER_HOME:-/opt/medforge/code-server}
# and answers where it is:
#   scripts/setup-code-server.sh            # install if missing, print the executable's path
#   scripts/setup-code-server.sh start DIR  # same, and write DIR/env (MEDFORGE_TEST_CODE_SERVER)
#   scripts/setup-code-server.sh stop DIR   # nothing to stop (a services.sh part)
# code-server's postinstall downloads ripgrep from a host that is not reachable here; the
# download cache is pre-seeded with Debian's /usr/bin/rg, so nothing but npm is contacted.
set -euo pipefail

readonly VERSION=4.100.3
readonly RG_VERSION=v13.0.0-10
readonly HOME_DIR=${CODE_SERVER_HOME:-/opt/medforge/code-server}
readonly BIN="$HOME_DIR/node_modules/.bin/code-server"

install_code_server() {
    if [[ -x "$BIN" ]] && "$BIN" --version 2>/dev/null | grep -q "^$VERSION"; then
        return 0
    fi
    local node_major
    node_major=$(node --version 2>/dev/null | sed 's/^v\([0-9]*\).*/\1/' || true)
    if [[ -z "$node_major" || "$node_major" -lt 20 ]]; then
        echo "setup-code-server: code-server $VERSION needs Node.js 20 or newer (found: $(node --version 2>/dev/null || echo none))" >&2
        return 1
    fi
    command -v rg >/dev/null || { echo "setup-code-server: ripgrep (rg) is missing (apt-get install ripgrep)" >&2; return 1; }
    echo "setup-code-server: installing code-server $VERSION into $HOME_DIR (about a minute)" >&2
    local tmp
    tmp=$(mktemp -d)
    # shellcheck disable=SC2064
    trap "rm -rf '$tmp'" RETURN
    mkdir -p "$tmp/cache/vscode-ripgrep-cache-1.15.11" "$tmp/rg"
    cp /usr/bin/rg "$tmp/rg/rg"
    tar -C "$tmp/rg" -czf \
        "$tmp/cache/vscode-ripgrep-cache-1.15.11/ripgrep-$RG_VERSION-x86_64-unknown-linux-musl.tar.gz" rg
    mkdir -p "$HOME_DIR"
    (cd "$HOME_DIR" &&
        [[ -f package.json ]] || echo '{"name":"medforge-code-server","private":true}' >package.json)
    (cd "$HOME_DIR" && TMPDIR="$tmp/cache" npm_config_unsafe_perm=true npm_config_yes=true \
        npm install --no-audit --no-fund --loglevel=error "code-server@$VERSION" >&2)
    "$BIN" --version >/dev/null
}

case "${1:-}" in
    "")
        install_code_server
        echo "$BIN"
        ;;
    start)
        [[ $# == 2 ]] || { echo "usage: $0 start DIR" >&2; exit 2; }
        install_code_server
        mkdir -p "$2"
        echo "MEDFORGE_TEST_CODE_SERVER=$BIN" >"$2/env"
        ;;
    stop) ;;
    *) echo "usage: $0 [start|stop DIR]" >&2; exit 2 ;;
esac
