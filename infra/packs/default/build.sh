#!/usr/bin/env bash
# Builds the default session pack image and prints the line to put into infra/compose/.env:
#   infra/packs/default/build.sh [--extras] [--tag TAG] REGISTRY   # build, push, print
#        PACK_IMAGE=REGISTRY/medforge-pack-default@sha256:…        (immutable: pinned by digest)
#   infra/packs/default/build.sh [--extras] [--tag TAG] --local    # build only, print
#        PACK_IMAGE=sha256:…                                       (the image id, this host only)
# REGISTRY is a repository prefix such as registry.example.org/medforge or localhost:5000.
# The API never pulls images: on the host that runs sessions, the image must be present (a
# pushed image is, after this script; another host runs `docker pull <PACK_IMAGE>` first).
# Environment: DOCKER (the docker CLI, default docker).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"

readonly NAME=medforge-pack-default
readonly DOCKER=${DOCKER:-docker}

usage() {
    echo "usage: $0 [--extras] [--tag TAG] REGISTRY|--local" >&2
    exit 2
}

extras=0
tag=$(date -u +%Y%m%d-%H%M%S)
target=""
while (($#)); do
    case "$1" in
        --extras) extras=1; shift ;;
        --tag) (($# >= 2)) || usage; tag=$2; shift 2 ;;
        --local) target=local; shift ;;
        -*) usage ;;
        *) [[ -z "$target" ]] || usage; target=${1%/}; shift ;;
    esac
done
[[ -n "$target" ]] || usage

if [[ "$target" == local ]]; then
    ref="medforge/$NAME:$tag"
else
    ref="$target/$NAME:$tag"
fi

echo "build.sh: building $ref (EXTRAS=$extras)" >&2
"$DOCKER" build --build-arg "EXTRAS=$extras" -t "$ref" . >&2

if [[ "$target" == local ]]; then
    id=$("$DOCKER" image inspect --format '{{.Id}}' "$ref")
    [[ "$id" =~ ^sha256:[0-9a-f]{64}$ ]] || { echo "build.sh: unexpected image id '$id'" >&2; exit 1; }
    echo "PACK_IMAGE=$id"
    exit 0
fi

echo "build.sh: pushing $ref" >&2
"$DOCKER" push "$ref" >&2
# The digest the registry assigned, as recorded by the push.
repo=${ref%:*}
digest=$("$DOCKER" image inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' "$ref" |
    grep -m1 "^$repo@sha256:" || true)
[[ "$digest" =~ @sha256:[0-9a-f]{64}$ ]] || { echo "build.sh: no digest for $repo after the push" >&2; exit 1; }
echo "PACK_IMAGE=$digest"
