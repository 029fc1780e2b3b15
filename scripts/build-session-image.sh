#!/usr/bin/env bash
# Builds the MedForge session image — Debian bookworm (debootstrap, minbase) with this host's
# Node.js and code-server — without any image registry, and imports it into the Docker daemon
# that DOCKER_HOST names (the docker CLI's own default otherwise):
#   scripts/build-session-image.sh            # prints the image id (sha256:…) on stdout
# Environment:
#   MEDFORGE_SESSION_IMAGE_TAG   tag given to the image (default medforge/session:local)
#   MEDFORGE_DEBIAN_MIRROR       Debian mirror (default: the one this machine's apt uses)
#                                (the debootstrap step is scripts/debian-rootfs.sh)
#   MEDFORGE_SESSION_PACKAGES    extra Debian packages for the image, comma-separated
#   MEDFORGE_CACHE_DIR           where the debootstrap rootfs is cached (default /var/cache/medforge)
#   CODE_SERVER_HOME             code-server install (default /opt/medforge/code-server; made
#                                by scripts/setup-code-server.sh when missing)
#   NODE_BIN                     the Node.js executable to copy in (default /usr/bin/node)
# The container runs as 1000:1000 with HOME=/workspace and starts
#   code-server --auth none --bind-addr 0.0.0.0:8080 --disable-telemetry /workspace
# The rootfs tarball in the cache is keyed by every input of debootstrap; deleting the cache is
# always safe (the next run rebuilds it, ≈30 s).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

readonly TAG=${MEDFORGE_SESSION_IMAGE_TAG:-medforge/session:local}
readonly CODE_SERVER_DIR=${CODE_SERVER_HOME:-/opt/medforge/code-server}
readonly NODE=${NODE_BIN:-/usr/bin/node}
readonly DOCKER=${DOCKER:-docker}

log() { echo "build-session-image: $*" >&2; }
die() {
    log "$*"
    exit 1
}

# Debian packages (of this host) that provide the shared libraries FILES link against, so the
# rootfs has them too (the host's Node.js is a NodeSource build linked against Debian's libc and
# libstdc++).
library_packages() {
    local lib
    for f in "$@"; do
        ldd "$f" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// { print $3 }'
    done | sort -u | while read -r lib; do
        dpkg -S "$lib" 2>/dev/null || dpkg -S "$(readlink -f "$lib")" 2>/dev/null ||
            die "no Debian package provides $lib (needed by the session image)"
    done | cut -d: -f1 | sort -u | paste -sd, -
}

[[ -x "$NODE" ]] || die "$NODE is missing (Node.js 20 is needed for code-server)"
if [[ ! -x "$CODE_SERVER_DIR/node_modules/.bin/code-server" ]]; then
    CODE_SERVER_HOME=$CODE_SERVER_DIR scripts/setup-code-server.sh >/dev/null
fi
command -v "$DOCKER" >/dev/null || die "the docker CLI is missing"

# Native code that runs in the image: node itself, code-server's Linux/glibc addons, ripgrep.
mapfile -t native < <(find "$CODE_SERVER_DIR" -name '*.node' ! -path '*obj.target*' -type f)
rg_bin=$(find "$CODE_SERVER_DIR" -path '*ripgrep/bin/rg' -type f | head -n 1)
includes=$(library_packages "$NODE" "${native[@]}" ${rg_bin:+"$rg_bin"})
[[ -n "${MEDFORGE_SESSION_PACKAGES:-}" ]] && includes="$includes,$MEDFORGE_SESSION_PACKAGES"

work=$(mktemp -d "${TMPDIR:-/tmp}/medforge-session-image.XXXXXX")
trap 'rm -rf "$work"' EXIT

t0=$(date +%s)
# debootstrap (cached; see scripts/debian-rootfs.sh).
rootfs_tar=$(scripts/debian-rootfs.sh --include "$includes")

root="$work/rootfs"
mkdir -p "$root"
tar -C "$root" --numeric-owner -xf "$rootfs_tar"

# Node.js and code-server (its npm tree uses relative symlinks only, so it moves as is).
install -m 0755 "$NODE" "$root/usr/local/bin/node"
mkdir -p "$root/opt/medforge"
cp -a "$CODE_SERVER_DIR" "$root/opt/medforge/code-server"
ln -s /opt/medforge/code-server/node_modules/.bin/code-server "$root/usr/local/bin/code-server"

# The session user: 1000:1000, home = the workspace bind.
echo 'medforge:x:1000:' >>"$root/etc/group"
echo 'medforge:x:1000:1000:MedForge session:/workspace:/bin/bash' >>"$root/etc/passwd"
echo 'medforge:*:19000:0:99999:7:::' >>"$root/etc/shadow"
install -d -o 1000 -g 1000 -m 0755 "$root/workspace"

# Prove the copied binaries run against the rootfs's own libraries before importing.
# (env -i: the host's NODE_OPTIONS or NODE_EXTRA_CA_CERTS mean nothing in there.)
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/tmp "$@"; }
in_root node --version >/dev/null || die "node does not run inside the rootfs (missing libraries?)"
in_root code-server --version >/dev/null || die "code-server does not run inside the rootfs"

log "importing into docker as $TAG"
tar -C "$root" --numeric-owner --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' \
    -c . | "$DOCKER" import \
    --change 'CMD ["code-server", "--auth", "none", "--bind-addr", "0.0.0.0:8080", "--disable-telemetry", "/workspace"]' \
    --change 'USER 1000:1000' \
    --change 'WORKDIR /workspace' \
    --change 'ENV HOME=/workspace' \
    --change 'ENV SHELL=/bin/bash' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'EXPOSE 8080' \
    - "$TAG" >/dev/null
# Read the id back by tag: Podman's compatible service words the import's answer differently.
image_id=$("$DOCKER" image inspect --format '{{.Id}}' "$TAG")
[[ "$image_id" =~ ^sha256:[0-9a-f]{64}$ ]] || die "docker image inspect answered '$image_id'"
log "built $TAG = $image_id in $(($(date +%s) - t0)) s"
echo "$image_id"
