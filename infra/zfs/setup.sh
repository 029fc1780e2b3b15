#!/usr/bin/env bash
# The ZFS layout MedForge runs on: a pool, <pool>/medforge/workspaces (one dataset per session
# workspace is made under it by the API) and <pool>/medforge/system/db (MariaDB's data), with
# compression and atime=off. Idempotent; run with --help for details.
# Uses only zpool/zfs options that OpenZFS and zfs-fuse both know, so it is tested on zfs-fuse.
set -euo pipefail

pool=${POOL_NAME:-tank}
disks=${POOL_DISKS:-}
loopback=${POOL_LOOPBACK:-}
size=${POOL_LOOPBACK_SIZE:-}
mountpoint=${POOL_MOUNTPOINT:-}
compression=${ZFS_COMPRESSION:-lz4}
dry_run=0

usage() {
    cat <<EOF
Usage: $0 [options]

Creates (when missing) the ZFS pool and the datasets MedForge uses, and sets their properties:
  <pool>                          the pool: an existing one is used as it is; a missing one is
                                  created on POOL_DISKS, or on a loopback file (development)
  <pool>/medforge                 compression=$compression, atime=off (inherited below)
  <pool>/medforge/workspaces      session workspaces (WORKSPACE_ZFS_ROOT)
  <pool>/medforge/system/db       MariaDB's data directory
Runs as root. Idempotent: a second run changes nothing and says so.

Options (each also settable by the environment variable in brackets):
  --pool NAME          pool name [POOL_NAME] (default: tank)
  --disks "VDEVS"      vdev spec for a new pool, passed to zpool create as words, e.g.
                       "/dev/sdb" or "mirror /dev/sdb /dev/sdc" [POOL_DISKS]
  --loopback FILE      development: a new pool on this file (created sparse when missing)
                       [POOL_LOOPBACK]; needs --size when the file does not exist
  --size N             size of a new loopback file, as truncate -s takes it (e.g. 10G)
                       [POOL_LOOPBACK_SIZE]
  --mountpoint DIR     mountpoint of a new pool [POOL_MOUNTPOINT] (default: ZFS's, /<pool>)
  --compression ALG    compression of <pool>/medforge [ZFS_COMPRESSION] (default: lz4; zfs-fuse
                       predates lz4 and needs e.g. lzjb)
  --dry-run            print what it would do; change nothing
  -h, --help           this text

An existing pool is never re-created or given disks; disks are used only when the pool is
missing. Exit status: 0 done (or nothing to do), 1 failure, 2 bad usage.
EOF
}

log() { echo "zfs: $*"; }
die() {
    echo "zfs: error: $*" >&2
    exit 1
}
usage_error() {
    echo "zfs: $*" >&2
    echo "Try '$0 --help'." >&2
    exit 2
}

while (($#)); do
    case "$1" in
        --pool | --disks | --loopback | --size | --mountpoint | --compression)
            (($# >= 2)) || usage_error "$1 needs a value"
            case "$1" in
                --pool) pool=$2 ;;
                --disks) disks=$2 ;;
                --loopback) loopback=$2 ;;
                --size) size=$2 ;;
                --mountpoint) mountpoint=$2 ;;
                --compression) compression=$2 ;;
            esac
            shift 2
            ;;
        --dry-run) dry_run=1 && shift ;;
        -h | --help) usage && exit 0 ;;
        *) usage_error "unknown argument: $1" ;;
    esac
done

[[ "$pool" =~ ^[A-Za-z][A-Za-z0-9_.:-]*$ ]] || usage_error "not a pool name: '$pool'"
[[ -z "$disks" || -z "$loopback" ]] || usage_error "give POOL_DISKS or --loopback, not both"
[[ -z "$size" || "$size" =~ ^[0-9]+[KMGT]?$ ]] || usage_error "--size: not a size: '$size'"
[[ -z "$mountpoint" || "$mountpoint" == /* ]] || usage_error "--mountpoint must be absolute"
[[ "$compression" =~ ^[a-z0-9-]+$ ]] || usage_error "--compression: not a value: '$compression'"

readonly DATASETS=("$pool/medforge" "$pool/medforge/workspaces" "$pool/medforge/system"
    "$pool/medforge/system/db")
readonly PROPS=("compression=$compression" "atime=off")

# What this run does (or, dry, would do), said once per action.
changes=0
act() {
    changes=$((changes + 1))
    if ((dry_run)); then
        log "would run: $*"
    else
        log "run: $*"
        "$@"
    fi
}

for tool in zpool zfs; do
    command -v "$tool" >/dev/null 2>&1 ||
        die "$tool not found (apt-get install -y zfsutils-linux; zfs-fuse for development)"
done
((dry_run || EUID == 0)) || die "must run as root (or try --dry-run)"
if ! out=$(zpool list -H -o name 2>&1); then
    die "ZFS does not answer ('zpool list': $out); is the zfs module loaded (or zfs-fuse running)?"
fi

# A compression this ZFS does not know fails before anything is made. `zfs get` without
# arguments lists the values each property takes, in OpenZFS and zfs-fuse alike.
known=$(zfs get 2>&1 | awk '$1 == "compression" { $1 = $2 = $3 = ""; print }' | tr -s " " || true)
if [[ -n "$known" ]] && ! grep -qw -- "$compression" <<<"$known" &&
    [[ "$compression" != *-* ]]; then
    die "this ZFS does not support compression=$compression (it knows:$known); pass --compression"
fi

pool_exists() { zpool list -H -o name "$pool" >/dev/null 2>&1; }
dataset_exists() { zfs list -H -o name "$1" >/dev/null 2>&1; }
prop_value() { zfs get -H -o value "$1" "$2"; }

# --- the pool ----------------------------------------------------------------------------------

create_opts=()
[[ -n "$mountpoint" ]] && create_opts=(-m "$mountpoint")

pool_planned=0
if pool_exists; then
    log "pool $pool exists ($(zpool list -H -o health "$pool"))"
    [[ -z "$disks$loopback" ]] || log "pool $pool exists: not touching POOL_DISKS/--loopback"
elif [[ -n "$disks" ]]; then
    read -r -a vdevs <<<"$disks"
    act zpool create "${create_opts[@]}" "$pool" "${vdevs[@]}"
    pool_planned=1
elif [[ -n "$loopback" ]]; then
    [[ "$loopback" == /* ]] || loopback="$(pwd)/$loopback"
    if [[ ! -e "$loopback" ]]; then
        [[ -n "$size" ]] || usage_error "--loopback $loopback does not exist: give --size"
        act truncate -s "$size" "$loopback"
    elif [[ ! -f "$loopback" ]]; then
        die "--loopback $loopback exists and is not a regular file"
    fi
    act zpool create "${create_opts[@]}" "$pool" "$loopback"
    pool_planned=1
else
    die "pool $pool does not exist (zpool list: no such pool) and no POOL_DISKS or --loopback \
was given to create it; import it ('zpool import $pool') or give disks"
fi
if ((!dry_run && pool_planned)); then
    pool_exists || die "pool $pool is not there after zpool create"
fi

# --- datasets and properties -------------------------------------------------------------------

for ds in "${DATASETS[@]}"; do
    if ((!pool_planned)) && dataset_exists "$ds"; then
        continue
    fi
    if [[ "$ds" == "$pool/medforge" ]]; then
        # Made with its properties, so nothing under it ever exists without them.
        act zfs create -o "${PROPS[0]}" -o "${PROPS[1]}" "$ds"
    else
        act zfs create "$ds"
    fi
done

# Set on <pool>/medforge and inherited below it; a dataset below that overrides one locally gets
# it set too. (In a dry run the datasets may not exist yet: their creation carries them.)
for prop in "${PROPS[@]}"; do
    name=${prop%%=*} want=${prop#*=}
    for ds in "${DATASETS[@]}"; do
        dataset_exists "$ds" || continue
        read -r have source <<<"$(zfs get -H -o value,source "$name" "$ds")"
        if [[ "$have" != "$want" && ("$ds" == "${DATASETS[0]}" || "$source" == local) ]]; then
            act zfs set "$prop" "$ds"
        fi
    done
done

if ((changes == 0)); then
    log "nothing to change: pool $pool and its datasets are in place"
elif ((dry_run)); then
    log "dry run: $changes change(s) planned, none made"
else
    log "done: $changes change(s)"
fi
if ((!dry_run)); then
    for ds in "${DATASETS[@]}"; do
        log "$ds: compression=$(prop_value compression "$ds") atime=$(prop_value atime "$ds") \
mountpoint=$(prop_value mountpoint "$ds")"
    done
fi
