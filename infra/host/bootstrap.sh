#!/usr/bin/env bash
# Prepares a fresh Ubuntu/Debian GPU host for the MedForge compose stack: packages (Docker with
# the compose plugin, NVIDIA container toolkit, ZFS), the ZFS layout, the Docker networks with
# their fixed subnets, the sessions firewall (and a boot unit that re-applies it), the compose
# .env with fresh secrets, and the images. Every step looks before it acts, so a re-run only does
# what is still missing. Run with --help for details.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
readonly ROOT
readonly ALL_STEPS=(packages zfs networks firewall boot env images)
# name subnet extra-option (the private tier is a placeholder network without outside access)
# name, subnet, the range Docker hands out itself (the upper half: the fixed addresses of the
# stack, Caddy .2, the API .3, …, sit below .128 and can never be taken by a session), flags.
readonly NETWORKS=(
    "medforge-control 172.31.0.0/24 172.31.0.128/25"
    "medforge-public-sessions 172.30.0.0/24 172.30.0.128/25"
    "medforge-private-sessions 172.29.0.0/24 172.29.0.128/25 --internal"
)
readonly FIREWALL_UNIT=/etc/systemd/system/medforge-firewall.service

compose_dir=${MEDFORGE_COMPOSE_DIR:-$ROOT/infra/compose}
dry_run=0
gpu=1
only=""
skip=""

usage() {
    cat <<EOF
Usage: $0 [options]

Prepares a fresh Ubuntu/Debian GPU host for MedForge, in these steps:
  packages  Docker Engine with the compose plugin (Docker's apt repository), the NVIDIA
            container toolkit (NVIDIA's apt repository; 'nvidia-ctk runtime configure' for
            Docker) and ZFS (zfsutils-linux; on Debian from contrib, with zfs-dkms).
            Packages already there are not touched. The NVIDIA driver itself is not installed.
  zfs       infra/zfs/setup.sh: pool and datasets (POOL_NAME, POOL_DISKS, POOL_LOOPBACK, ...
            pass through; see its --help)
  networks  Docker networks with fixed subnets (an existing one is checked, not re-created):
              medforge-control          172.31.0.0/24  (Caddy 172.31.0.2)
              medforge-public-sessions  172.30.0.0/24  (Caddy 172.30.0.2, API 172.30.0.3)
              medforge-private-sessions 172.29.0.0/24  --internal (placeholder)
  firewall  infra/firewall/setup.sh: the sessions east-west rules (MEDFORGE_FW_* pass through)
  boot      a systemd unit, $FIREWALL_UNIT, that re-applies the firewall
            after Docker at every boot (iptables rules do not survive a reboot)
  env       infra/compose/.env from infra/compose/.env.example; every key whose name ends in
            SECRET or PASSWORD and whose example value is empty or a change-me placeholder gets
            a fresh random value (64 hex characters); other lines are copied as they are. An
            existing .env is never overwritten.
  images    docker compose build (infra/compose/docker-compose.yml, with that .env)

Options:
  --dry-run          print what each step would do; change nothing
  --only STEPS       run only these steps (comma-separated, from the list above)
  --skip STEPS       run all steps but these
  --no-gpu           do not install or configure the NVIDIA container toolkit
  --compose-dir DIR  where .env.example, .env and docker-compose.yml are
                     [MEDFORGE_COMPOSE_DIR] (default: infra/compose in this checkout)
  -h, --help         this text

Environment: DOCKER_HOST is honoured by every docker call. Runs as root (env and networks
do not need it). Exit status: 0 done, 1 a step failed, 2 bad usage.
EOF
}

log() { echo "bootstrap: $*"; }
die() {
    echo "bootstrap: error: $*" >&2
    exit 1
}
usage_error() {
    echo "bootstrap: $*" >&2
    echo "Try '$0 --help'." >&2
    exit 2
}

while (($#)); do
    case "$1" in
        --only | --skip | --compose-dir)
            (($# >= 2)) || usage_error "$1 needs a value"
            case "$1" in
                --only) only=$2 ;;
                --skip) skip=$2 ;;
                --compose-dir) compose_dir=$2 ;;
            esac
            shift 2
            ;;
        --dry-run) dry_run=1 && shift ;;
        --no-gpu) gpu=0 && shift ;;
        -h | --help) usage && exit 0 ;;
        *) usage_error "unknown argument: $1" ;;
    esac
done

# "a,b" -> the array named by $2, each name checked against ALL_STEPS.
parse_steps() {
    local -n into=$2
    local s k known
    IFS=, read -r -a into <<<"$1"
    for s in "${into[@]}"; do
        known=0
        for k in "${ALL_STEPS[@]}"; do [[ "$k" == "$s" ]] && known=1; done
        ((known)) || usage_error "unknown step '$s'; steps: ${ALL_STEPS[*]}"
    done
}

[[ -z "$only" || -z "$skip" ]] || usage_error "give --only or --skip, not both"
wanted=() skipped=() selected=()
if [[ -n "$only" ]]; then
    parse_steps "$only" wanted
    ((${#wanted[@]})) || usage_error "--only: no steps"
else
    parse_steps "$skip" skipped
    for s in "${ALL_STEPS[@]}"; do
        [[ " ${skipped[*]} " == *" $s "* ]] || wanted+=("$s")
    done
fi
# Always in the order of ALL_STEPS, whatever the order given.
for s in "${ALL_STEPS[@]}"; do
    if [[ " ${wanted[*]} " == *" $s "* ]]; then selected+=("$s"); fi
done

# Runs a command, or in a dry run says it would.
act() {
    if ((dry_run)); then
        log "would run: $*"
    else
        log "run: $*"
        "$@"
    fi
}

# A condition a real run stops at: fatal in a real run; in a dry run it is reported, the step
# ends there and the dry run carries on, then exits 1.
problems=0
problem() {
    if ((dry_run)); then
        echo "bootstrap: a real run would stop here: $*" >&2
        problems=$((problems + 1))
        return 0
    fi
    die "$*"
}

need_root() {
    ((dry_run || EUID == 0)) || die "step $1 must run as root"
}

have() { command -v "$1" >/dev/null 2>&1; }

docker_answers() { have docker && docker version >/dev/null 2>&1; }

rand_hex() {
    if have openssl; then
        openssl rand -hex 32
    else
        od -An -N32 -tx1 /dev/urandom | tr -d ' \n'
        echo
    fi
}

# --- packages --------------------------------------------------------------------------------

# shellcheck disable=SC1091  # the host's file
os_id() { (. /etc/os-release && echo "${ID:-}"); }
# shellcheck disable=SC1091
os_codename() { (. /etc/os-release && echo "${VERSION_CODENAME:-}"); }

apt_install() {
    act env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"
}

install_docker() {
    if have docker && docker compose version >/dev/null 2>&1; then
        log "packages: Docker with the compose plugin is installed"
        return
    fi
    if have docker; then
        # Docker's packages conflict with a distribution's docker.io: not replaced behind the
        # operator's back.
        problem "docker is installed but 'docker compose' is not: add the compose plugin \
(docker-compose-plugin from Docker's repository, docker-compose-v2 on Ubuntu) and re-run"
        return
    fi
    local id codename arch
    id=$(os_id) codename=$(os_codename) arch=$(dpkg --print-architecture)
    if [[ "$id" != ubuntu && "$id" != debian ]]; then
        problem "Docker's repository is set up here for Ubuntu and Debian only (this is '$id'); \
install Docker with the compose plugin by hand"
        return
    fi
    apt_install ca-certificates curl gnupg
    act install -m 0755 -d /etc/apt/keyrings
    act curl -fsSL "https://download.docker.com/linux/$id/gpg" -o /etc/apt/keyrings/docker.asc
    act chmod a+r /etc/apt/keyrings/docker.asc
    write_file /etc/apt/sources.list.d/docker.list "deb [arch=$arch \
signed-by=/etc/apt/keyrings/docker.asc] https://download.docker.com/linux/$id $codename stable"
    act apt-get update
    apt_install docker-ce docker-ce-cli containerd.io docker-buildx-plugin docker-compose-plugin
}

install_nvidia_toolkit() {
    if ((!gpu)); then
        log "packages: --no-gpu: skipping the NVIDIA container toolkit"
        return
    fi
    have nvidia-smi || log "packages: warning: nvidia-smi not found; install the NVIDIA driver \
(not done by this script) before starting GPU sessions"
    if have nvidia-ctk; then
        log "packages: the NVIDIA container toolkit is installed"
    else
        local key=/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg
        local base=https://nvidia.github.io/libnvidia-container
        local list=$base/stable/deb/nvidia-container-toolkit.list
        local sources=/etc/apt/sources.list.d/nvidia-container-toolkit.list
        apt_install ca-certificates curl gnupg
        if ((dry_run)); then
            log "would run: curl -fsSL $base/gpgkey | gpg --dearmor -o $key"
            log "would run: curl -fsSL $list (signed-by=$key) > $sources"
        else
            curl -fsSL "$base/gpgkey" | gpg --batch --yes --dearmor -o "$key"
            curl -fsSL "$list" | sed "s#deb https://#deb [signed-by=$key] https://#g" >"$sources"
        fi
        act apt-get update
        apt_install nvidia-container-toolkit
    fi
    # Registers the nvidia runtime with Docker (idempotent) so device requests for GPUs work.
    if [[ -f /etc/docker/daemon.json ]] && grep -q '"nvidia"' /etc/docker/daemon.json; then
        log "packages: Docker knows the nvidia runtime"
    else
        act nvidia-ctk runtime configure --runtime=docker
        if have systemctl && [[ -d /run/systemd/system ]]; then
            act systemctl restart docker
        else
            log "packages: restart dockerd yourself for the nvidia runtime to take effect"
        fi
    fi
}

install_zfs() {
    if have zpool && have zfs; then
        log "packages: ZFS tools are installed"
        return
    fi
    local id
    id=$(os_id)
    if [[ "$id" == debian ]]; then
        # Debian ships ZFS in contrib, as a DKMS module built against the running kernel.
        if ! apt-cache show zfs-dkms >/dev/null 2>&1; then
            problem "zfs-dkms is not in the apt sources: enable Debian's contrib component \
(Components: main contrib in /etc/apt/sources.list.d/debian.sources), apt-get update, re-run"
            return
        fi
        apt_install "linux-headers-$(uname -r)" zfs-dkms zfsutils-linux
    else
        apt_install zfsutils-linux
    fi
}

step_packages() {
    need_root packages
    if ! have apt-get; then
        problem "apt-get not found: this script sets up Ubuntu/Debian hosts"
        return
    fi
    act apt-get update
    apt_install iptables iproute2 openssl
    install_docker
    install_nvidia_toolkit
    install_zfs
}

# --- zfs, firewall, boot -------------------------------------------------------------------------

step_zfs() {
    need_root zfs
    act "$ROOT/infra/zfs/setup.sh"
}

step_firewall() {
    need_root firewall
    act "$ROOT/infra/firewall/setup.sh"
}

# Writes a file (or says it would), with the content given.
write_file() {
    local path=$1 content=$2
    if ((dry_run)); then
        log "would write $path:"
        local l
        while IFS= read -r l; do echo "    $l"; done <<<"$content"
    else
        printf '%s\n' "$content" >"$path"
        log "wrote $path"
    fi
}

step_boot() {
    need_root boot
    if ! have systemctl || [[ ! -d /run/systemd/system ]]; then
        log "boot: no systemd here; run infra/firewall/setup.sh after dockerd at every boot"
        return
    fi
    local unit
    unit="[Unit]
Description=MedForge sessions firewall (tcp/8080 of sessions only from Caddy and the API)
After=docker.service
Requires=docker.service

[Service]
Type=oneshot
ExecStart=$ROOT/infra/firewall/setup.sh
RemainAfterExit=yes

[Install]
WantedBy=multi-user.target"
    if [[ -f "$FIREWALL_UNIT" && "$(<"$FIREWALL_UNIT")" == "$unit" ]]; then
        log "boot: $FIREWALL_UNIT is in place"
    else
        write_file "$FIREWALL_UNIT" "$unit"
        act systemctl daemon-reload
    fi
    if systemctl is-enabled --quiet medforge-firewall.service 2>/dev/null; then
        log "boot: medforge-firewall.service is enabled"
    else
        act systemctl enable medforge-firewall.service
    fi
}

# --- networks --------------------------------------------------------------------------------

step_networks() {
    if ! docker_answers; then
        ((dry_run)) || die "docker does not answer (is dockerd running? DOCKER_HOST?)"
        log "networks: docker does not answer; would create each network that is missing:"
    fi
    local spec name subnet range extra have_subnet have_range internal
    for spec in "${NETWORKS[@]}"; do
        read -r name subnet range extra <<<"$spec"
        if docker_answers && have_subnet=$(docker network inspect -f \
            '{{range .IPAM.Config}}{{.Subnet}} {{.IPRange}} {{end}}{{.Internal}}' "$name" 2>/dev/null); then
            read -r have_subnet have_range internal <<<"$have_subnet"
            if [[ "$have_subnet" != "$subnet" || "$have_range" != "$range" ]]; then
                problem "docker network $name exists with subnet '$have_subnet' and range \
'$have_range', not $subnet and $range; remove it (docker network rm $name) and re-run"
            elif [[ "$extra" == --internal && "$internal" != true ]]; then
                problem "docker network $name exists but is not --internal; remove it and re-run"
            else
                log "networks: $name exists ($subnet${extra:+ $extra})"
            fi
        else
            # shellcheck disable=SC2086  # $extra is an optional single flag
            act docker network create --driver bridge --subnet "$subnet" --ip-range "$range" \
                $extra "$name"
        fi
    done
}

# --- env -------------------------------------------------------------------------------------

# True when an example value is one meant to be replaced by a secret.
placeholder() {
    local v=${1,,}
    v=${v#[\"\']} v=${v%[\"\']}
    [[ -z "$v" || "$v" == change* || "$v" == "<"*">" || "$v" == replace* || "$v" == secret ]]
}

step_env() {
    local example=$compose_dir/.env.example env=$compose_dir/.env
    if [[ ! -f "$example" ]]; then
        problem "$example is missing: it is the template .env is written from (it comes with \
infra/compose in the repository)"
        return
    fi
    if [[ -e "$env" ]]; then
        log "env: $env exists; leaving it as it is (never overwritten)"
        return
    fi
    local line prefix key value generated=() out=""
    while IFS= read -r line || [[ -n "$line" ]]; do
        if [[ "$line" =~ ^[[:space:]]*(export[[:space:]]+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]]; then
            prefix=${BASH_REMATCH[1]} key=${BASH_REMATCH[2]} value=${BASH_REMATCH[3]}
            if [[ "$key" == *SECRET || "$key" == *PASSWORD ]] && placeholder "$value"; then
                line="$prefix$key=$(rand_hex)"
                generated+=("$key")
            fi
        fi
        out+="$line"$'\n'
    done <"$example"
    if ((dry_run)); then
        log "env: would write $env from $(basename "$example"), generating:" \
            "${generated[*]:-nothing}"
        return
    fi
    # Written aside, then linked into place: never a half-written .env, never over an existing one.
    local tmp
    tmp=$(umask 077 && mktemp "$compose_dir/.env.XXXXXX")
    printf '%s' "$out" >"$tmp"
    if ! ln "$tmp" "$env" 2>/dev/null; then
        rm -f "$tmp"
        die "could not create $env (did it appear meanwhile?)"
    fi
    rm -f "$tmp"
    log "env: wrote $env (mode 600), generated: ${generated[*]:-nothing}"
}

# --- images ----------------------------------------------------------------------------------

step_images() {
    local compose=$compose_dir/docker-compose.yml
    if [[ ! -f "$compose" ]]; then
        problem "$compose is missing (it comes with infra/compose in the repository)"
        return
    fi
    if ((!dry_run)); then
        [[ -f "$compose_dir/.env" ]] || die "$compose_dir/.env is missing (run the env step)"
        docker_answers || die "docker does not answer (is dockerd running? DOCKER_HOST?)"
    fi
    act docker compose --project-directory "$compose_dir" -f "$compose" build
}

# --- run -------------------------------------------------------------------------------------

((dry_run)) && log "dry run: nothing is changed"
log "steps: ${selected[*]}"
for s in "${selected[@]}"; do
    log "== $s"
    "step_$s"
done
if ((problems)); then
    log "dry run: $problems problem(s) above would stop a real run"
    exit 1
fi
log "finished: ${selected[*]}"
