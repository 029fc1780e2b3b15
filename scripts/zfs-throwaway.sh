#!/usr/bin/env bash
# A throwaway ZFS pool for tests, on zfs-fuse (userspace ZFS; no kernel module, no service manager).
#   scripts/zfs-throwaway.sh start DIR  -> pool on DIR/pool.img (1 GiB, sparse) mounted under
#                                          DIR/mnt, dataset <pool>/workspaces; DIR/env holds
#                                          MEDFORGE_TEST_ZFS_POOL, MEDFORGE_TEST_ZFS_ROOT and
#                                          MEDFORGE_TEST_ZFS_MOUNT
#   scripts/zfs-throwaway.sh stop DIR   -> destroys that pool and removes DIR (twice is fine)
#
# zfs-fuse is one daemon per machine (a fixed socket, /var/run/zfs/zfs_socket), shared by every
# pool on it, so several test runs — and other people's zfs-fuse — may meet here:
# - start uses a running daemon whoever started it, and starts one (by PID, in the background)
#   only when none is running; it then records that PID in $STATE_DIR/zfs-fuse.pid.
# - stop destroys only its own pool (a random name, mftest<hex>). It stops the daemon only if a
#   run of this script started it (the recorded PID, still a zfs-fuse) and no pool at all is
#   imported any more; otherwise the daemon stays up (a later stop, the last one out, stops it).
#   A zfs-fuse started by anyone else is never stopped.
# Start and stop are serialised on a lock file so that concurrent runs do not race on the daemon.
set -euo pipefail

readonly DEADLINE_S=30
readonly POOL_SIZE=1G
readonly STATE_DIR=${MEDFORGE_ZFS_STATE_DIR:-/tmp/medforge-zfs-fuse}

usage() {
    echo "usage: $0 start|stop DIR" >&2
    exit 2
}

(($# == 2)) || usage
action=$1
dir=$2

log() { echo "zfs-throwaway: $*" >&2; }

now_ms() { date +%s%3N; }

# True while PID is a live (non-zombie) process.
alive() {
    local pid=$1 state
    [[ -r "/proc/$pid/stat" ]] || return 1
    state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
    [[ -n "$state" && "$state" != Z && "$state" != X ]]
}

is_zfs_fuse() { alive "$1" && [[ "$(cat "/proc/$1/comm" 2>/dev/null)" == zfs-fuse ]]; }

# The daemon answers (zpool talks to it over its socket).
daemon_answers() { zpool list -H -o name >/dev/null 2>&1; }

take_lock() {
    mkdir -p "$STATE_DIR"
    exec 9>"$STATE_DIR/lock"
    flock -w "$DEADLINE_S" 9 || {
        log "could not take $STATE_DIR/lock within ${DEADLINE_S}s"
        exit 1
    }
}

wait_for_daemon() {
    local pid=${1:-} deadline=$(($(now_ms) + DEADLINE_S * 1000))
    until daemon_answers; do
        if [[ -n "$pid" ]] && ! alive "$pid"; then
            log "zfs-fuse exited during startup; $STATE_DIR/zfs-fuse.log:"
            tail -n 20 "$STATE_DIR/zfs-fuse.log" >&2 2>/dev/null || true
            return 1
        fi
        if (($(now_ms) > deadline)); then
            log "zfs-fuse not answering after ${DEADLINE_S}s"
            return 1
        fi
        sleep 0.1
    done
}

ensure_daemon() {
    if daemon_answers; then
        return 0
    fi
    local running
    running=$(pgrep -x zfs-fuse || true)
    if [[ -n "$running" ]]; then
        # Someone's daemon is starting up: wait for it rather than start a second one.
        log "zfs-fuse (pid $running) is running but not answering yet; waiting"
        wait_for_daemon
        return
    fi
    for tool in zfs-fuse zpool zfs; do
        command -v "$tool" >/dev/null || {
            log "$tool not found (apt-get install -y zfs-fuse)"
            exit 1
        }
    done
    # zfs-fuse --no-daemon does not write its --pidfile: the PID is taken from the shell.
    # (Without the lock's descriptor: the daemon would hold the lock for as long as it runs.)
    zfs-fuse --no-daemon </dev/null >>"$STATE_DIR/zfs-fuse.log" 2>&1 9>&- &
    local pid=$!
    disown "$pid" 2>/dev/null || true
    wait_for_daemon "$pid"
    if alive "$pid"; then
        echo "$pid" >"$STATE_DIR/zfs-fuse.pid"
        log "started zfs-fuse pid $pid"
    else
        log "another zfs-fuse answered first; using it"
    fi
}

start() {
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [[ -e "$dir/pool" ]]; then
        log "$dir already holds a pool; stop it first"
        exit 1
    fi
    take_lock
    ensure_daemon

    local pool
    pool="mftest$(od -An -N5 -tx1 /dev/urandom | tr -d ' \n')"
    mkdir -p "$dir/mnt"
    truncate -s "$POOL_SIZE" "$dir/pool.img"
    # Written first, so that stop can clean up after a half-made start.
    echo "$pool" >"$dir/pool"
    zpool create -m "$dir/mnt" "$pool" "$dir/pool.img"
    zfs create "$pool/workspaces"
    {
        echo "MEDFORGE_TEST_ZFS_POOL=$pool"
        echo "MEDFORGE_TEST_ZFS_ROOT=$pool/workspaces"
        echo "MEDFORGE_TEST_ZFS_MOUNT=$dir/mnt"
    } >"$dir/env"
    log "pool $pool on $dir/pool.img, mounted at $dir/mnt"
}

# zfs-fuse unmounts nested datasets asynchronously: the first destroy may answer "pool is busy"
# and a later one succeed.
destroy_pool() {
    local pool=$1 out deadline=$(($(now_ms) + DEADLINE_S * 1000))
    until out=$(zpool destroy -f "$pool" 2>&1); do
        if [[ "$out" != *busy* ]] || (($(now_ms) > deadline)); then
            log "zpool destroy $pool failed: $out"
            return 1
        fi
        sleep 0.2
    done
    log "destroyed pool $pool"
}

stop_daemon_if_ours_and_idle() {
    [[ -s "$STATE_DIR/zfs-fuse.pid" ]] || return 0
    local pid
    pid=$(<"$STATE_DIR/zfs-fuse.pid")
    if ! is_zfs_fuse "$pid"; then
        rm -f "$STATE_DIR/zfs-fuse.pid"  # gone already (or the PID was reused)
        return 0
    fi
    local pools
    pools=$(zpool list -H -o name 2>/dev/null || true)
    if [[ -n "$pools" && "$pools" != "no pools available" ]]; then
        log "leaving zfs-fuse $pid running: other pools are imported ($(echo "$pools" | tr '\n' ' '))"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$(($(now_ms) + DEADLINE_S * 1000))
    while alive "$pid"; do
        if (($(now_ms) > deadline)); then
            log "zfs-fuse $pid did not exit after ${DEADLINE_S}s; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.1
    done
    rm -f "$STATE_DIR/zfs-fuse.pid"
    log "stopped zfs-fuse pid $pid"
}

stop() {
    if [[ ! -d "$dir" ]]; then
        log "$dir does not exist; nothing to stop"
        return 0
    fi
    take_lock
    if [[ -s "$dir/pool" ]]; then
        local pool
        pool=$(<"$dir/pool")
        if zpool list -H -o name "$pool" >/dev/null 2>&1; then
            destroy_pool "$pool"
        fi
    fi
    stop_daemon_if_ours_and_idle
    rm -rf "$dir"
}

case "$action" in
    start) start ;;
    stop) stop ;;
    *) usage ;;
esac
