#!/usr/bin/env bash
# A Debian bookworm root file system made by debootstrap (minbase), cached as a tarball, for
# images built without any image registry (the session image, the API's base image):
#   scripts/debian-rootfs.sh [--components main,contrib] [--include pkg1,pkg2,…]
# prints the path of the tarball on stdout. Environment:
#   MEDFORGE_DEBIAN_MIRROR   Debian mirror (default: the one this machine's apt uses)
#   MEDFORGE_CACHE_DIR       where tarballs are cached (default /var/cache/medforge)
# A tarball is keyed by every input of debootstrap (suite, variant, architecture, mirror,
# components, packages), so deleting the cache is always safe: the next run rebuilds it (≈30 s
# for a small package list). Package caches and apt lists are left out of the tarball.
set -euo pipefail

readonly SUITE=bookworm
readonly VARIANT=minbase
# Bump when the way the rootfs is made changes, so old cache entries are not reused.
readonly RECIPE=1
readonly CACHE_DIR=${MEDFORGE_CACHE_DIR:-/var/cache/medforge}

log() { echo "debian-rootfs: $*" >&2; }
die() {
    log "$*"
    exit 1
}
usage() {
    echo "usage: $0 [--components main,contrib] [--include pkg1,pkg2,…]" >&2
    exit 2
}

components=main
includes=""
while (($#)); do
    case "$1" in
        --components) (($# >= 2)) || usage; components=$2; shift 2 ;;
        --include) (($# >= 2)) || usage; includes=$2; shift 2 ;;
        *) usage ;;
    esac
done

# The first Debian archive (not security, not updates) in this machine's apt sources.
apt_mirror() {
    local f uri
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -f "$f" ]] || continue
        # deb822: take the URIs of a stanza whose Suites name the release itself.
        uri=$(awk -v suite="$SUITE" '
            /^[[:space:]]*$/ { if (u != "" && s) { print u; exit } u = ""; s = 0; next }
            tolower($1) == "uris:" { u = $2 }
            tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == suite) s = 1 }
            END { if (u != "" && s) print u }' "$f" | head -n 1)
        [[ -n "$uri" ]] && { echo "$uri"; return; }
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -f "$f" ]] || continue
        uri=$(awk -v suite="$SUITE" '$1 == "deb" {
                i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
                if ($(i + 1) == suite) { print $i; exit } }' "$f")
        [[ -n "$uri" ]] && { echo "$uri"; return; }
    done
    echo http://deb.debian.org/debian
}

command -v debootstrap >/dev/null || die "debootstrap is missing (apt-get install debootstrap)"

mirror=${MEDFORGE_DEBIAN_MIRROR:-$(apt_mirror)}
arch=$(dpkg --print-architecture)
# The component list joins the key only when it is not the default, so existing cache entries
# (made before components could be chosen) stay valid.
key_inputs=("$RECIPE" "$SUITE" "$VARIANT" "$arch" "$mirror" "$includes")
[[ "$components" != main ]] && key_inputs+=("components=$components")
key=$(printf '%s\n' "${key_inputs[@]}" | sha256sum | cut -c1-16)
tarball="$CACHE_DIR/rootfs-$SUITE-$VARIANT-$arch-$key.tar"

mkdir -p "$CACHE_DIR"
# One builder at a time per cache entry: other builds wait and then reuse it.
exec 9>"$tarball.lock"
flock 9
if [[ -s "$tarball" ]]; then
    log "from cache: $tarball"
    echo "$tarball"
    exit 0
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/medforge-rootfs.XXXXXX")
cleanup() {
    # A failed debootstrap can leave proc/sys mounted inside the target.
    local m
    while read -r m; do umount -l "$m" 2>/dev/null || true; done < <(
        awk -v w="$work" 'index($2, w) == 1 { print $2 }' /proc/mounts | sort -r)
    rm -rf "$work"
}
trap cleanup EXIT

t0=$(date +%s)
log "debootstrap $VARIANT $SUITE ($components) from $mirror (include: ${includes:-nothing})"
if ! debootstrap --variant="$VARIANT" --arch="$arch" --components="$components" \
    ${includes:+--include="$includes"} "$SUITE" "$work/base" "$mirror" \
    >"$work/debootstrap.log" 2>&1; then
    tail -n 30 "$work/debootstrap.log" >&2
    die "debootstrap failed (log above)"
fi
rm -rf "$work/base/var/cache/apt/archives/"*.deb "$work/base/var/lib/apt/lists/"*
tar -C "$work/base" --numeric-owner -cf "$tarball.tmp" .
mv "$tarball.tmp" "$tarball"
log "debootstrap done in $(($(date +%s) - t0)) s; cached as $tarball"
echo "$tarball"
