#!/usr/bin/env bash
# A throwaway Docker daemon for tests, private to DIR and stopped by PID (no service manager),
# with the session image (scripts/build-session-image.sh) imported into it.
#   scripts/dockerd-throwaway.sh start DIR   -> DIR/env holds MEDFORGE_TEST_DOCKER_HOST,
#                                               MEDFORGE_TEST_DOCKER_IMAGE (sha256:…) and
#                                               MEDFORGE_TEST_DOCKER_SUBNET (a free /24)
#   scripts/dockerd-throwaway.sh stop DIR    -> stops the daemon, its containerd and containers,
#                                               unmounts what is left under DIR, removes DIR
# MEDFORGE_SESSION_IMAGE=0 skips the session image (MEDFORGE_TEST_DOCKER_IMAGE is then empty), for
# tests that bring images of their own.
# Several of these (and other engineers' daemons) can run side by side: each has its own data
# root, exec root, socket, containerd namespace and config file; none creates docker0 or touches
# the host's iptables (tests reach containers from the host over the bridge, which needs no NAT);
# the test subnet is one that no host route uses yet.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

readonly READY_DEADLINE_S=60
readonly STOP_DEADLINE_S=30

usage() {
    echo "usage: $0 start|stop DIR" >&2
    exit 2
}

(($# == 2)) || usage
action=$1
dir=$2

log() { echo "dockerd-throwaway: $*" >&2; }

# True while PID is a live (non-zombie) process.
alive() {
    local pid=$1 state
    [[ -r "/proc/$pid/stat" ]] || return 1
    state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
    [[ -n "$state" && "$state" != Z && "$state" != X ]]
}

now_ms() { date +%s%3N; }

api() { curl -sf --max-time 10 --unix-socket "$dir/docker.sock" "$@"; }

# A /24 in 10.213.0.0/16 that overlaps no host route, so the host reaches the sessions on this
# daemon's bridge and not some other daemon's.
free_subnet() {
    ip -4 route show | /usr/bin/python3 -c '
import ipaddress, random, sys
used = [ipaddress.ip_network(l.split()[0], strict=False) for l in sys.stdin
        if l.split() and l.split()[0] != "default"]
for n in random.sample(range(1, 255), 254):
    net = ipaddress.ip_network(f"10.213.{n}.0/24")
    if not any(net.overlaps(u) for u in used):
        print(net)
        sys.exit(0)
sys.exit("dockerd-throwaway: no free /24 in 10.213.0.0/16")'
}

start() {
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [[ -s "$dir/pid" ]] && alive "$(<"$dir/pid")"; then
        log "a daemon already runs for $dir (pid $(<"$dir/pid")); stop it first"
        exit 1
    fi
    # Unix socket paths are limited to 108 bytes; containerd's live under the exec root, so it
    # gets a short path of its own.
    local exec_root
    exec_root=$(mktemp -d /tmp/mfd.XXXXXX)
    echo "$exec_root" >"$dir/exec-root"
    local ns
    ns="mf-$(basename "$exec_root" | tr -c 'a-zA-Z0-9\n' '-')"
    echo '{}' >"$dir/daemon.json"

    local t0
    t0=$(now_ms)
    dockerd --config-file "$dir/daemon.json" --data-root "$dir/data" --exec-root "$exec_root" \
        --pidfile "$dir/pid" -H "unix://$dir/docker.sock" --bridge=none --iptables=false \
        --ip-masq=false --containerd-namespace "$ns" --containerd-plugins-namespace "$ns-plugins" \
        </dev/null >"$dir/dockerd.log" 2>&1 &
    local pid=$!
    disown "$pid" 2>/dev/null || true
    echo "$pid" >"$dir/launch.pid"

    local deadline=$(($(now_ms) + READY_DEADLINE_S * 1000))
    until [[ "$(api http://docker/_ping 2>/dev/null)" == OK ]]; do
        if ! alive "$pid"; then
            log "dockerd exited during startup; $dir/dockerd.log:"
            tail -n 40 "$dir/dockerd.log" >&2 || true
            exit 1
        fi
        if (($(now_ms) > deadline)); then
            log "dockerd not ready after ${READY_DEADLINE_S}s; $dir/dockerd.log:"
            tail -n 40 "$dir/dockerd.log" >&2 || true
            exit 1
        fi
        sleep 0.1
    done
    log "dockerd pid $pid ready in $(($(now_ms) - t0)) ms (socket $dir/docker.sock)"

    local image="" subnet
    if { [[ "${MEDFORGE_SESSION_IMAGE:-1}" != 0 ]] &&
        ! image=$(DOCKER_HOST="unix://$dir/docker.sock" scripts/build-session-image.sh); } ||
        ! subnet=$(free_subnet); then
        log "start failed; stopping the daemon again"
        stop
        exit 1
    fi
    {
        echo "MEDFORGE_TEST_DOCKER_HOST=unix://$dir/docker.sock"
        echo "MEDFORGE_TEST_DOCKER_IMAGE=$image"
        echo "MEDFORGE_TEST_DOCKER_SUBNET=$subnet"
    } >"$dir/env"
}

# Every process whose root or command line is inside this instance's directories: containerd,
# its shims, and container processes (their root is a mount under the data root).
leftover_pids() {
    local p root
    for p in /proc/[0-9]*; do
        p=${p#/proc/}
        [[ "$p" == "$$" ]] && continue
        root=$(readlink "/proc/$p/root" 2>/dev/null) || continue
        if [[ "$root" == "$dir"/* ]] ||
            { [[ -n "$exec_root" ]] && tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null |
                grep -qF -- "$exec_root"; } ||
            tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -qF -- "$dir/"; then
            alive "$p" && echo "$p"
        fi
    done
}

# SIGTERM, then SIGKILL after DEADLINE seconds; returns when PID is gone.
terminate() {
    local pid=$1 what=$2 deadline
    alive "$pid" || return 0
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$(($(now_ms) + STOP_DEADLINE_S * 1000))
    while alive "$pid"; do
        if (($(now_ms) > deadline)); then
            log "$what $pid did not exit after ${STOP_DEADLINE_S}s; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            deadline=$(($(now_ms) + 5000))
            while alive "$pid" && (($(now_ms) < deadline)); do sleep 0.1; done
            return 0
        fi
        sleep 0.1
    done
}

stop() {
    if [[ ! -d "$dir" ]]; then
        log "$dir does not exist; nothing to stop"
        return 0
    fi
    dir=$(cd "$dir" && pwd)
    exec_root=""
    [[ -s "$dir/exec-root" ]] && exec_root=$(<"$dir/exec-root")

    local pid=""
    if [[ -s "$dir/pid" ]]; then
        pid=$(<"$dir/pid")
    elif [[ -s "$dir/launch.pid" ]]; then
        pid=$(<"$dir/launch.pid")
    fi

    # Networks outlive the daemon as host bridges (br-<id>), so remove containers and networks
    # while the daemon still answers, and remember the bridges in case it does not.
    local bridges=() id t0
    t0=$(now_ms)
    if [[ -n "$pid" ]] && alive "$pid" && [[ -S "$dir/docker.sock" ]]; then
        for id in $(api 'http://docker/v1.41/containers/json?all=true' | jq -r '.[].Id'); do
            api -X DELETE "http://docker/v1.41/containers/$id?force=true&v=true" >/dev/null || true
        done
        for id in $(api 'http://docker/v1.41/networks' |
            jq -r '.[] | select(.Driver == "bridge") | .Id'); do
            bridges+=("br-${id:0:12}")
            api -X DELETE "http://docker/v1.41/networks/$id" >/dev/null || true
        done
    fi

    if [[ -n "$pid" ]]; then
        terminate "$pid" dockerd
        log "stopped dockerd pid $pid ($(($(now_ms) - t0)) ms)"
    fi
    log "daemon cleaned up ($(($(now_ms) - t0)) ms)"
    local p
    for p in $(leftover_pids); do
        log "stopping leftover pid $p ($(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-80))"
        terminate "$p" "leftover"
    done
    local b
    for b in "${bridges[@]}"; do
        ip link show "$b" >/dev/null 2>&1 && { ip link delete "$b" || true; }
    done

    log "leftovers checked ($(($(now_ms) - t0)) ms)"
    local m
    while read -r m; do
        umount -l "$m" 2>/dev/null || log "cannot unmount $m"
    done < <(awk -v d="$dir/" -v e="${exec_root:+$exec_root/}" \
        'index($2, d) == 1 || (e != "" && index($2, e) == 1) || $2 == substr(e, 1, length(e) - 1) { print $2 }' \
        /proc/mounts | sort -r)

    rm -rf "$dir"
    [[ -n "$exec_root" && -d "$exec_root" ]] && rm -rf "$exec_root"
    log "removed $dir ($(($(now_ms) - t0)) ms in all)"
    return 0
}

case "$action" in
    start) start ;;
    stop) stop ;;
    *) usage ;;
esac
