#!/usr/bin/env bash
# Benchmark the whole `medforge score` process (bundle load + validation + metric) on two large
# deterministic cases, against Python references run the same way in the same run:
#   accuracy  1,000,000 rows, ids 0..999,999 shuffled, labels 0..99
#             vs apps/api/bench/reference/score_accuracy_pandas.py (pandas read_csv + merge)
#   map_iou   30,000 patients, 0-4 true and 0-4 predicted boxes each, 1024x1024
#             vs apps/api/bench/reference/score_map_iou.py (pure Python, csv module)
# The bundles and submissions come from apps/api/bench/make_scoring_bundles.py (fixed seed) in a
# temporary folder. Each reference's score must equal the C++ primary_score (and, for map_iou,
# every component) to 1e-9, or the script stops with exit status 1.
#   apps/api/bench/bench_scoring.sh [runs=10]
# Times with hyperfine (median of RUNS after one warm-up); without it, /usr/bin/time (10 ms
# resolution). Prints a table; append it to docs/benchmarks.md with the machine and the date.
# Needs build/release/medforge (cmake --build build/release) and Debian's python3-pandas.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../../.."
RUNS=${1:-10}
BIN=build/release/medforge
PY=/usr/bin/python3
REF=apps/api/bench/reference
WORK=$(mktemp -d "${TMPDIR:-/tmp}/medforge-bench-scoring.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [runs>=1]" >&2; exit 2; }
[[ -x "$BIN" ]] || { echo "missing $BIN: run cmake --build build/release" >&2; exit 2; }
"$PY" -c 'import pandas, numpy' 2>/dev/null ||
    { echo "pandas missing: apt-get install -y --no-install-recommends python3-pandas" >&2; exit 2; }
if command -v hyperfine >/dev/null; then
    TIMER=hyperfine
elif [[ -x /usr/bin/time ]]; then
    TIMER="time"
    echo "hyperfine missing (apt-get install -y --no-install-recommends hyperfine): using /usr/bin/time" >&2
else
    echo "neither hyperfine nor /usr/bin/time is installed" >&2
    exit 2
fi

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
echo "command: apps/api/bench/bench_scoring.sh $RUNS   ($(date -u +%Y-%m-%dT%H:%MZ), timer: $TIMER)"
gen_start=$SECONDS
"$PY" apps/api/bench/make_scoring_bundles.py "$WORK/data"
echo "generated the bundles in $((SECONDS - gen_start)) s under $WORK/data"

# check NAME CPP_JSON PY_JSON: the reference must reproduce the C++ score (and components).
check() {
    "$PY" - "$1" "$2" "$3" <<'EOF'
import json, sys
name, cpp, ref = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
if cpp.get("status") != "scored":
    sys.exit(f"{name}: medforge score did not score the submission: {cpp}")
bad = [("primary_score", cpp["primary_score"], ref["primary_score"])]
for k, v in ref.get("components", {}).items():
    bad.append((k, cpp["components"].get(k), v))
bad = [b for b in bad if b[1] is None or abs(b[1] - b[2]) > 1e-9]
if bad:
    for k, c, r in bad:
        print(f"{name}: SCORE MISMATCH {k}: C++ {c!r} vs Python {r!r}", file=sys.stderr)
    sys.exit(1)
EOF
}

# median_time LABEL CMD...: prints the median wall time in seconds of RUNS runs (one warm-up).
median_time() {
    local label=$1
    shift
    if [[ "$TIMER" == hyperfine ]]; then
        local cmd
        cmd=$(printf '%q ' "$@")
        hyperfine -N --warmup 1 --runs "$RUNS" --style basic --export-json "$WORK/$label.json" \
            -n "$label" "$cmd" >"$WORK/$label.log" 2>&1 ||
            { cat "$WORK/$label.log" >&2; return 1; }
        "$PY" -c 'import json,sys; print("%.4f" % json.load(open(sys.argv[1]))["results"][0]["median"])' \
            "$WORK/$label.json"
    else
        "$@" >/dev/null
        : >"$WORK/$label.times"
        local i
        for ((i = 0; i < RUNS; i++)); do
            /usr/bin/time -f %e -a -o "$WORK/$label.times" "$@" >/dev/null
        done
        "$PY" -c 'import statistics,sys; print("%.4f" % statistics.median(float(l) for l in open(sys.argv[1])))' \
            "$WORK/$label.times"
    fi
}

ROWS=()
# bench CASE BAR_SECONDS REFERENCE_SCRIPT
bench() {
    local name=$1 bar=$2 script=$3 bundle="$WORK/data/$1" sub="$WORK/data/$1_submission.csv"
    local cpp_json py_json cpp_t py_t
    cpp_json=$("$BIN" score --json --bundle "$bundle" "$sub") ||
        { echo "$name: medforge score failed: $cpp_json" >&2; exit 1; }
    py_json=$("$PY" "$script" "$bundle" "$sub") ||
        { echo "$name: $script failed: $py_json" >&2; exit 1; }
    check "$name" "$cpp_json" "$py_json"
    cpp_t=$(median_time "$name-cpp" "$BIN" score --json --bundle "$bundle" "$sub")
    py_t=$(median_time "$name-python" "$PY" "$script" "$bundle" "$sub")
    ROWS+=("$("$PY" - "$name" "$bar" "$cpp_t" "$py_t" "$cpp_json" "$py_json" <<'EOF'
import json, sys
name, bar, cpp_t, py_t = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
cpp, ref = json.loads(sys.argv[5]), json.loads(sys.argv[6])
ratio = py_t / cpp_t
verdict = "%s (<= %g s: %s, >= 10x: %s)" % (
    "met" if cpp_t <= bar and ratio >= 10 else "MISSED", bar,
    "yes" if cpp_t <= bar else "no", "yes" if ratio >= 10 else "no")
print("| %-8s | %7.3f s | %7.3f s | %6.1fx | %6.3f s | %.12g | %.12g | %s |" % (
    name, cpp_t, py_t, ratio, ref["seconds_after_imports"], cpp["primary_score"],
    ref["primary_score"], verdict))
EOF
)")
}

bench accuracy 0.2 "$REF/score_accuracy_pandas.py"
bench map_iou 0.1 "$REF/score_map_iou.py"

echo
echo "| case | C++ median | Python median | ratio | Python after imports (1 run) | C++ score | Python score | bar |"
echo "|---|---|---|---|---|---|---|---|"
printf '%s\n' "${ROWS[@]}"
echo
echo "C++: build/release/medforge score --json --bundle DIR FILE (whole process)."
echo "Python: accuracy = $REF/score_accuracy_pandas.py (pandas $("$PY" -c 'import pandas; print(pandas.__version__)')), map_iou = $REF/score_map_iou.py (pure Python $("$PY" -c 'import platform; print(platform.python_version())'))."
echo "Scores agree to 1e-9 (map_iou: all nine components)."
