#!/usr/bin/env bash
# clang-format over the project's own C++ sources (tracked + untracked, not ignored).
#   scripts/format.sh           -> reformat in place
#   scripts/format.sh --check   -> fail if any file needs formatting (no changes made)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

mode=(-i)
case "${1:-}" in
    "") ;;
    --check) mode=(--dry-run --Werror) ;;
    *)
        echo "usage: $0 [--check]" >&2
        exit 2
        ;;
esac

files=()
while IFS= read -r -d '' f; do
    [[ -f "$f" ]] && files+=("$f")
done < <(git ls-files -z -co --exclude-standard -- \
    'apps/api/src/*.cpp' 'apps/api/src/*.hpp' \
    'apps/api/tests/*.cpp' 'apps/api/tests/*.hpp' \
    'apps/api/bench/*.cpp' 'apps/api/bench/*.hpp')

if ((${#files[@]} == 0)); then
    echo "format: no C++ files found under apps/api/{src,tests,bench}"
    exit 0
fi

echo "format: clang-format ${mode[*]} on ${#files[@]} file(s)"
if [[ "${mode[0]}" == -i ]]; then
    clang-format -i "${files[@]}"
    exit 0
fi

if out=$(clang-format "${mode[@]}" "${files[@]}" 2>&1); then
    echo "format: all files formatted"
    exit 0
fi

# clang-format reports every offending token; show which files are off and (capped) diffs.
mapfile -t bad < <(grep -oE '^[^:]+\.(cpp|hpp):[0-9]+:[0-9]+: error' <<<"$out" | cut -d: -f1 | sort -u)
if ((${#bad[@]} == 0)); then
    echo "$out"
    exit 1
fi
echo "format: ${#bad[@]} file(s) need formatting (fix with: make format):"
printf '  %s\n' "${bad[@]}"
for f in "${bad[@]}"; do
    diff -u --label "$f" --label "$f (clang-format)" "$f" <(clang-format "$f") || true
done | head -n 200 || true
exit 1
