#!/usr/bin/env bash
# A throwaway MariaDB server for tests, started and stopped by PID (no service manager).
#   scripts/mariadb-throwaway.sh start DIR   -> DIR/url holds mariadb://root:medforge@127.0.0.1:PORT/
#   scripts/mariadb-throwaway.sh stop DIR    -> stops the server and removes DIR
set -euo pipefail

readonly PASSWORD=medforge
readonly DEADLINE_S=30

usage() {
    echo "usage: $0 start|stop DIR" >&2
    exit 2
}

(($# == 2)) || usage
action=$1
dir=$2

log() { echo "mariadb-throwaway: $*" >&2; }

# True while PID is a live (non-zombie) process. Zombies count as gone: in containers PID 1
# does not always reap orphans, and kill -0 succeeds on a zombie.
alive() {
    local pid=$1 state
    [[ -r "/proc/$pid/stat" ]] || return 1
    state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
    [[ -n "$state" && "$state" != Z && "$state" != X ]]
}

now_ms() { date +%s%3N; }

start() {
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [[ -e "$dir/data" ]]; then
        log "$dir/data already exists; stop the old instance first"
        exit 1
    fi

    if ! mariadb-install-db --no-defaults --datadir="$dir/data" --user=root \
        --auth-root-authentication-method=normal --skip-test-db >"$dir/install.log" 2>&1; then
        log "mariadb-install-db failed:"
        cat "$dir/install.log" >&2
        exit 1
    fi

    local port
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')

    mariadbd --no-defaults --datadir="$dir/data" --socket="$dir/sock" --port="$port" \
        --bind-address=127.0.0.1 --user=root --pid-file="$dir/pid" --log-error="$dir/err.log" \
        </dev/null >"$dir/stdout.log" 2>&1 &
    local pid=$!
    disown "$pid" 2>/dev/null || true
    # mariadbd writes DIR/pid itself once running; keep the launch PID too, for stop() after
    # an early failure.
    echo "$pid" >"$dir/launch.pid"

    local deadline=$(($(now_ms) + DEADLINE_S * 1000))
    until mariadb --no-defaults -S "$dir/sock" -uroot -e 'select 1' >/dev/null 2>&1; do
        if ! alive "$pid"; then
            log "mariadbd exited during startup; $dir/err.log:"
            cat "$dir/err.log" >&2 2>/dev/null || true
            exit 1
        fi
        if (($(now_ms) > deadline)); then
            log "mariadbd not ready after ${DEADLINE_S}s; $dir/err.log:"
            cat "$dir/err.log" >&2 2>/dev/null || true
            kill "$pid" 2>/dev/null || true
            exit 1
        fi
        sleep 0.1
    done

    mariadb --no-defaults -S "$dir/sock" -uroot -e "
        ALTER USER root@localhost IDENTIFIED BY '$PASSWORD';
        CREATE USER IF NOT EXISTS root@'127.0.0.1' IDENTIFIED BY '$PASSWORD';
        GRANT ALL ON *.* TO root@'127.0.0.1' WITH GRANT OPTION;
        FLUSH PRIVILEGES;"

    echo "mariadb://root:$PASSWORD@127.0.0.1:$port/" >"$dir/url"
    log "started pid $pid on 127.0.0.1:$port (dir $dir)"
}

stop() {
    if [[ ! -d "$dir" ]]; then
        log "$dir does not exist; nothing to stop"
        return 0
    fi

    local pid=""
    if [[ -s "$dir/pid" ]]; then
        pid=$(<"$dir/pid")
    elif [[ -s "$dir/launch.pid" ]]; then
        pid=$(<"$dir/launch.pid")
    fi

    if [[ -n "$pid" ]] && alive "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        local deadline=$(($(now_ms) + DEADLINE_S * 1000))
        while alive "$pid"; do
            if (($(now_ms) > deadline)); then
                log "mariadbd $pid did not exit after ${DEADLINE_S}s; sending SIGKILL"
                kill -KILL "$pid" 2>/dev/null || true
                deadline=$(($(now_ms) + 5000))
                while alive "$pid" && (($(now_ms) < deadline)); do sleep 0.1; done
                break
            fi
            sleep 0.1
        done
        log "stopped pid $pid"
    fi

    rm -rf "$dir"
}

case "$action" in
    start) start ;;
    stop) stop ;;
    *) usage ;;
esac
