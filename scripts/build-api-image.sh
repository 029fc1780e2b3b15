#!/usr/bin/env bash
# Builds the API image (apps/api/Dockerfile: medforge-api, medforge-worker, medforge) into the
# Docker daemon that DOCKER_HOST names, and prints the image id (sha256:…) on stdout.
#   scripts/build-api-image.sh                     full multi-stage build (compiles apps/api)
#   scripts/build-api-image.sh --prebuilt DIR      target runtime-prebuilt: DIR's three binaries
#                                                  (debug info stripped) instead of compiling
#   scripts/build-api-image.sh --debootstrap …     the base image is made here by debootstrap
#                                                  with the runtime packages (no registry needed);
#                                                  with --prebuilt the build then runs with no
#                                                  network at all, a full build fetches the build
#                                                  stage's packages with apt (host network)
# Environment:
#   MEDFORGE_API_IMAGE_TAG   tag of the result (default medforge/api:local)
#   MEDFORGE_API_BASE        base image without --debootstrap (default debian:bookworm-slim,
#                            pulled from its registry; apt then fetches the packages it lacks)
#   MEDFORGE_DEBIAN_MIRROR, MEDFORGE_CACHE_DIR   see scripts/debian-rootfs.sh
#   DOCKER                   the docker CLI (default docker)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

readonly TAG=${MEDFORGE_API_IMAGE_TAG:-medforge/api:local}
readonly DOCKER=${DOCKER:-docker}
readonly STAGING=build/image-bin
readonly PROGRAMS=(medforge-api medforge-worker medforge)

log() { echo "build-api-image: $*" >&2; }
die() {
    log "$*"
    exit 1
}
usage() {
    echo "usage: $0 [--prebuilt DIR] [--debootstrap]" >&2
    exit 2
}

prebuilt=""
debootstrap=0
while (($#)); do
    case "$1" in
        --prebuilt) (($# >= 2)) || usage; prebuilt=$2; shift 2 ;;
        --debootstrap) debootstrap=1; shift ;;
        *) usage ;;
    esac
done

command -v "$DOCKER" >/dev/null || die "the docker CLI is missing"

# The CLI that builds, and with which builder. BuildKit builds only the stages a target needs;
# Docker's classic builder builds every stage up to the target, which is fine for
# runtime-prebuilt (placed before the build stage) but would make the full build run the
# runtime-prebuilt stage too, and fail on its missing binaries. A CLI with the buildx plugin uses
# BuildKit by default; a CLI older than 23 has BuildKit built in (DOCKER_BUILDKIT=1); a newer
# one without buildx has only the classic builder.
cli_major() { "$1" version --format '{{.Client.Version}}' 2>/dev/null | cut -d. -f1; }
pick_builder() {
    local cli major
    for cli in "$DOCKER" /usr/bin/docker; do
        command -v "$cli" >/dev/null || continue
        if "$cli" buildx version >/dev/null 2>&1; then
            echo "$cli buildkit"
            return
        fi
        major=$(cli_major "$cli")
        if [[ "$major" =~ ^[0-9]+$ ]] && ((major < 23)); then
            echo "$cli builtin-buildkit"
            return
        fi
    done
    echo "$DOCKER classic"
}

# The package names of a list file (blank-separated, `#` comments), comma-joined.
package_list() { sed -e 's/#.*//' "$1" | tr -s '[:space:]' '\n' | sed '/^$/d' | paste -sd, -; }

t0=$(date +%s)
build_args=()
if [[ -n "$prebuilt" ]]; then
    target=runtime-prebuilt
    mkdir -p "$STAGING"
    for p in "${PROGRAMS[@]}"; do
        [[ -x "$prebuilt/$p" ]] || die "$prebuilt/$p is missing (build it: scripts/build.sh release)"
        # The release build keeps debug info (hundreds of MB); the image does not need it.
        strip --strip-debug -o "$STAGING/$p.tmp" "$prebuilt/$p"
        mv "$STAGING/$p.tmp" "$STAGING/$p"
    done
    build_args+=(--build-arg "BIN_DIR=$STAGING")
else
    target=runtime
fi

network=()
if ((debootstrap)); then
    # The runtime packages only: debootstrap's dependency resolution (no virtual packages, first
    # alternative only) fails on the build stage's ≈240 packages (Boost's MPI and Python parts),
    # so a full build fetches those with apt inside `docker build`, over the host's network.
    packages=$(package_list apps/api/docker/runtime-packages.txt)
    rootfs=$(scripts/debian-rootfs.sh --components main,contrib --include "$packages")
    base="medforge/api-base:$(basename "$rootfs" .tar | sed 's/^rootfs-//')"
    if ! "$DOCKER" image inspect "$base" >/dev/null 2>&1; then
        log "importing $rootfs as $base"
        "$DOCKER" import - "$base" <"$rootfs" >/dev/null
    fi
    build_args+=(--build-arg "BASE=$base")
    if [[ "$target" == runtime-prebuilt ]]; then
        # Everything is in the base: prove it by building without any network.
        network=(--network none)
    else
        network=(--network host)
    fi
elif [[ -n "${MEDFORGE_API_BASE:-}" ]]; then
    build_args+=(--build-arg "BASE=$MEDFORGE_API_BASE")
fi

read -r builder_cli builder < <(pick_builder)
case "$builder" in
    builtin-buildkit) export DOCKER_BUILDKIT=1 ;;
    classic)
        export DOCKER_BUILDKIT=0
        [[ "$target" == runtime-prebuilt ]] ||
            die "the full build needs BuildKit: install the docker buildx plugin (or use --prebuilt)"
        ;;
esac
log "docker build --target $target ${build_args[*]} ${network[*]} ($builder_cli, $builder)"
"$builder_cli" build -f apps/api/Dockerfile --target "$target" "${build_args[@]}" \
    "${network[@]}" -t "$TAG" . >&2
image_id=$("$DOCKER" image inspect --format '{{.Id}}' "$TAG")
[[ "$image_id" =~ ^sha256:[0-9a-f]{64}$ ]] || die "docker image inspect answered '$image_id'"
log "built $TAG = $image_id in $(($(date +%s) - t0)) s"
echo "$image_id"
