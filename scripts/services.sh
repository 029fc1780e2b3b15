#!/usr/bin/env bash
# Starts (or stops) the real services the session back ends are tested against, each private to
# DIR, and writes DIR/env with the variables the tests read:
#   scripts/services.sh start DIR   # dockerd + session image, zfs-fuse + pool, code-server
#   scripts/services.sh stop DIR
# Each part is its own script (start DIR writes DIR/env; stop DIR stops what start started):
#   scripts/dockerd-throwaway.sh   MEDFORGE_TEST_DOCKER_HOST, MEDFORGE_TEST_DOCKER_IMAGE
#   scripts/zfs-throwaway.sh       MEDFORGE_TEST_ZFS_POOL, MEDFORGE_TEST_ZFS_MOUNT
#   scripts/setup-code-server.sh   MEDFORGE_TEST_CODE_SERVER (the code-server executable)
# SERVICES="docker zfs code-server" picks a subset (default: all three).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }
(($# == 2)) || usage
action=$1
dir=$2
read -r -a parts <<<"${SERVICES:-docker zfs code-server}"

script_for() {
    case "$1" in
        docker) echo scripts/dockerd-throwaway.sh ;;
        zfs) echo scripts/zfs-throwaway.sh ;;
        code-server) echo scripts/setup-code-server.sh ;;
        *) echo "services.sh: unknown service '$1'" >&2; return 2 ;;
    esac
}

case "$action" in
    start)
        mkdir -p "$dir"
        : >"$dir/env"
        for p in "${parts[@]}"; do
            s=$(script_for "$p")
            t0=$(date +%s)
            "$s" start "$dir/$p"
            cat "$dir/$p/env" >>"$dir/env"
            echo "services: $p ready in $(($(date +%s) - t0)) s"
        done
        ;;
    stop)
        rc=0
        for p in "${parts[@]}"; do
            s=$(script_for "$p")
            [[ -d "$dir/$p" ]] && { "$s" stop "$dir/$p" || rc=1; }
        done
        exit "$rc"
        ;;
    *) usage ;;
esac
