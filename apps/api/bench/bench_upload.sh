#!/usr/bin/env bash
# Upload -> scored, end to end through the API with AUTO_SCORE_ON_SUBMIT=true: a 1,000,000-row
# accuracy submission (about 9.5 MiB, ids 0..999,999 shuffled, labels 0..99; the bundle and file
# from make_scoring_bundles.py) posted RUNS times as a raw text/csv body with curl; each answer
# must be 201 with status "scored". The first upload (which loads and caches the bundle) is
# reported apart. SQLite, the API pinned to CPU 0 and curl to CPU 1.
#   apps/api/bench/bench_upload.sh [runs=15]
# Prints a table; append it to docs/benchmarks.md with the machine and the date. Bar: p50 <= 0.5 s.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../../.."
ROOT=$(pwd)
RUNS=${1:-15}
BIN="$ROOT/build/release"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/medforge-bench-up.XXXXXX")
SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
PID=""
cleanup() {
    if [[ -n "$PID" ]]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [runs>=1]" >&2; exit 2; }
[[ -x "$BIN/medforge-api" ]] || { echo "missing $BIN/medforge-api" >&2; exit 2; }

/usr/bin/python3 apps/api/bench/make_scoring_bundles.py "$WORK/data" >/dev/null
mkdir -p "$WORK/comps"
mv "$WORK/data/accuracy" "$WORK/comps/accuracy"
FILE="$WORK/data/accuracy_submission.csv"
SLUG=$(/usr/bin/python3 - "$WORK/comps/accuracy/manifest.json" "$RUNS" <<'PY'
import json, sys
p, runs = sys.argv[1], int(sys.argv[2])
m = json.load(open(p))
m["submission_cap_per_day"] = max(m["submission_cap_per_day"], runs + 1)
json.dump(m, open(p, "w"), indent=2)
print(m["slug"])
PY
)
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
API_BIND="127.0.0.1:$PORT" DATABASE_URL="sqlite://$WORK/medforge.db" SESSION_SECRET="$SECRET" \
    COMPETITIONS_DIR="$WORK/comps" SUBMISSIONS_DIR="$WORK/subs" AUTH_RATE_LIMIT=0 LOG_LEVEL=warn \
    taskset -c 0 "$BIN/medforge-api" >"$WORK/api.log" 2>&1 &
PID=$!
deadline=$((SECONDS + 60))
until curl -fs -o /dev/null "http://127.0.0.1:$PORT/healthz"; do
    ((SECONDS < deadline)) || { echo "API did not start" >&2; cat "$WORK/api.log" >&2; exit 1; }
    sleep 0.1
done
curl -fs -o /dev/null -X POST "http://127.0.0.1:$PORT/api/v1/auth/signup" -H 'content-type: application/json' \
    -d '{"email":"bench@example.org","password":"benchmark-pw"}'
COOKIE=$(curl -fsi -X POST "http://127.0.0.1:$PORT/api/v1/auth/login" -H 'content-type: application/json' \
    -d '{"email":"bench@example.org","password":"benchmark-pw"}' |
    sed -n 's/^[Ss]et-[Cc]ookie: medforge_session=\([^;]*\);.*/\1/p')

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
echo "command: apps/api/bench/bench_upload.sh $RUNS   ($(date -u +%Y-%m-%dT%H:%MZ)), file $(stat -c %s "$FILE") bytes"
times=()
for ((i = 0; i <= RUNS; i++)); do
    out=$(taskset -c 1 curl -s -o "$WORK/resp.json" -w '%{http_code} %{time_total}' \
        -H "Cookie: medforge_session=$COOKIE" -H 'Content-Type: text/csv' --data-binary "@$FILE" \
        "http://127.0.0.1:$PORT/api/v1/competitions/$SLUG/submissions?filename=preds.csv")
    status=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["data"]["submission"]["status"])' "$WORK/resp.json" 2>/dev/null || echo "?")
    if [[ "${out%% *}" != 201 || "$status" != scored ]]; then
        echo "upload $i: HTTP ${out%% *}, status $status" >&2
        cat "$WORK/resp.json" >&2
        exit 1
    fi
    if ((i == 0)); then first=${out#* }; else times+=("${out#* }"); fi
done
/usr/bin/python3 - "$first" "${times[@]}" <<'PY'
import statistics, sys
first, t = float(sys.argv[1]), sorted(float(x) for x in sys.argv[2:])
q = lambda p: t[min(len(t) - 1, int(p * len(t)))]
print("| case | runs | p50 | p90 | max |")
print("|---|---|---|---|---|")
print(f"| first upload (loads the bundle) | 1 | {first:.3f} s | | |")
print(f"| upload -> scored, bundle cached | {len(t)} | {statistics.median(t):.3f} s | {q(0.9):.3f} s | {t[-1]:.3f} s |")
PY
