#!/usr/bin/env bash
# Helpers shared by the benchmark scripts (sourced, not run).
set -euo pipefail

# A free TCP port on 127.0.0.1.
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_http URL PID LOG [CURL_ARGS...]: until curl gets an answer (pass -f for a 2xx); exits 1
# with the log when PID dies or 30 s pass.
wait_http() {
    local url=$1 pid=$2 log=$3 deadline=$((SECONDS + 30))
    shift 3
    until curl -s -o /dev/null "$@" "$url"; do
        if ! kill -0 "$pid" 2>/dev/null || ((SECONDS >= deadline)); then
            echo "not ready: $url; $log:" >&2
            cat "$log" >&2
            exit 1
        fi
        sleep 0.1
    done
}
