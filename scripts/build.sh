#!/usr/bin/env bash
# Configure (once) and build the C++ API with Ninja + ccache.
#   scripts/build.sh release   -> build/release (RelWithDebInfo, all targets)
#   scripts/build.sh asan      -> build/asan    (clang-14, ASan+UBSan, Debug, all targets)
#   scripts/build.sh tsan      -> build/tsan    (clang-14, TSan, Debug, medforge-unit-tests only)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

usage() {
    echo "usage: $0 release|asan|tsan" >&2
    exit 2
}

(($# == 1)) || usage
variant=$1

export CCACHE_DIR="${CCACHE_DIR:-$HOME/.ccache}"

common=(-S apps/api -G Ninja --no-warn-unused-cli -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
clang=(-DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_C_COMPILER=clang-14 -DCMAKE_BUILD_TYPE=Debug)
targets=()

case "$variant" in
    release)
        dir=build/release
        config=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
        ;;
    asan)
        dir=build/asan
        config=("${clang[@]}" -DMEDFORGE_SANITIZE=address)
        ;;
    tsan)
        dir=build/tsan
        config=("${clang[@]}" -DMEDFORGE_SANITIZE=thread)
        targets=(--target medforge-unit-tests)
        ;;
    *) usage ;;
esac

if [[ ! -f "$dir/build.ninja" ]]; then
    echo "build: configuring $dir"
    cmake "${common[@]}" -B "$dir" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON "${config[@]}"
fi

echo "build: building $dir ${targets[*]:-(all targets)}"
cmake --build "$dir" -j"$(nproc)" "${targets[@]}"
