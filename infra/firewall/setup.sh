#!/usr/bin/env bash
# East-west firewall for the sessions network: tcp/8080 of a session (its IDE) is reachable only
# from Caddy and the API; every other tcp/8080 that crosses the sessions bridge is dropped.
# Idempotent: the rules live in one dedicated chain that is replaced as a whole, hooked once from
# DOCKER-USER (or FORWARD where Docker has not made DOCKER-USER). Run with --help for details.
set -euo pipefail

readonly CHAIN=MEDFORGE-SESSIONS
readonly BR_NF=/proc/sys/net/bridge/bridge-nf-call-iptables

network=${MEDFORGE_FW_NETWORK:-medforge-public-sessions}
bridge=${MEDFORGE_FW_BRIDGE:-}
subnet=${MEDFORGE_FW_SUBNET:-172.30.0.0/24}
caddy_ip=${MEDFORGE_FW_CADDY_IP:-172.30.0.2}
api_ip=${MEDFORGE_FW_API_IP:-172.30.0.3}
port=${MEDFORGE_FW_PORT:-8080}
iptables=${IPTABLES:-iptables}
dry_run=0

usage() {
    cat <<EOF
Usage: $0 [options]

Installs the east-west rules of the MedForge sessions network (run as root, after Docker has
created the network; re-run after a host reboot). Only Caddy and the API may open tcp/$port on
a session; any other tcp/$port crossing the sessions bridge (one session to another) is dropped.

What it does:
  1. makes sure br_netfilter is active (modprobe br_netfilter when modprobe exists; then
     net.bridge.bridge-nf-call-iptables=1), so traffic between ports of one bridge passes
     iptables at all; without it the rules below would never see session-to-session packets;
  2. replaces the chain $CHAIN as a whole (atomically, with iptables-restore --noflush):
       -s CADDY_IP -d SUBNET -i BRIDGE -o BRIDGE -p tcp --dport PORT -j ACCEPT
       -s API_IP   -d SUBNET -i BRIDGE -o BRIDGE -p tcp --dport PORT -j ACCEPT
                             -i BRIDGE -o BRIDGE -p tcp --dport PORT -j DROP
       -j RETURN
  3. hooks it once, as the first rule of DOCKER-USER (Docker's chain for user rules, evaluated
     before Docker's own ACCEPTs), or of FORWARD where DOCKER-USER does not exist; a hook left in
     the other chain by an earlier run is removed.
Re-running leaves exactly one copy of every rule and says what it changed (or that nothing did).

Options (each also settable by the environment variable in brackets):
  --bridge IF        bridge interface of the sessions network [MEDFORGE_FW_BRIDGE]
                     (default: the bridge of the Docker network --network, resolved with
                     'docker network inspect'; required where Docker cannot answer)
  --network NAME     Docker network to resolve the bridge from
                     [MEDFORGE_FW_NETWORK] (default: medforge-public-sessions)
  --subnet CIDR      the sessions subnet [MEDFORGE_FW_SUBNET] (default: 172.30.0.0/24)
  --caddy-ip IP      Caddy's address on that network [MEDFORGE_FW_CADDY_IP] (default: 172.30.0.2)
  --api-ip IP        the API's address on that network [MEDFORGE_FW_API_IP] (default: 172.30.0.3)
  --port N           the session port to guard [MEDFORGE_FW_PORT] (default: 8080)
  --iptables CMD     iptables binary: iptables, iptables-nft or iptables-legacy [IPTABLES]
                     (default: iptables, the one Docker uses; CMD-restore must exist too)
  --dry-run          print the rules and the hook it would apply; change nothing
  -h, --help         this text

Exit status: 0 done (or nothing to do), 1 failure, 2 bad usage.
EOF
}

log() { echo "firewall: $*"; }
die() {
    echo "firewall: error: $*" >&2
    exit 1
}
usage_error() {
    echo "firewall: $*" >&2
    echo "Try '$0 --help'." >&2
    exit 2
}

while (($#)); do
    case "$1" in
        --bridge | --network | --subnet | --caddy-ip | --api-ip | --port | --iptables)
            (($# >= 2)) || usage_error "$1 needs a value"
            case "$1" in
                --bridge) bridge=$2 ;;
                --network) network=$2 ;;
                --subnet) subnet=$2 ;;
                --caddy-ip) caddy_ip=$2 ;;
                --api-ip) api_ip=$2 ;;
                --port) port=$2 ;;
                --iptables) iptables=$2 ;;
            esac
            shift 2
            ;;
        --dry-run) dry_run=1 && shift ;;
        -h | --help) usage && exit 0 ;;
        *) usage_error "unknown argument: $1" ;;
    esac
done

# --- validation ------------------------------------------------------------------------------

readonly OCTET='(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])'
readonly IPV4="^$OCTET(\.$OCTET){3}$"

[[ "$caddy_ip" =~ $IPV4 ]] || usage_error "--caddy-ip: not an IPv4 address: '$caddy_ip'"
[[ "$api_ip" =~ $IPV4 ]] || usage_error "--api-ip: not an IPv4 address: '$api_ip'"
[[ "$caddy_ip" != "$api_ip" ]] || usage_error "--caddy-ip and --api-ip are the same address"
if [[ ! "$subnet" =~ ^(.+)/([0-9]+)$ ]] || [[ ! "${BASH_REMATCH[1]}" =~ $IPV4 ]] ||
    ((BASH_REMATCH[2] > 32)); then
    usage_error "--subnet: not an IPv4 CIDR: '$subnet'"
fi
if [[ ! "$port" =~ ^[0-9]{1,5}$ ]] || ((port < 1 || port > 65535)); then
    usage_error "--port: not a port number: '$port'"
fi
[[ -z "$bridge" || "$bridge" =~ ^[A-Za-z0-9_.-]{1,15}$ ]] ||
    usage_error "--bridge: not an interface name: '$bridge'"

ip_to_int() {
    local IFS=. a b c d
    read -r a b c d <<<"$1"
    echo $(((a << 24) | (b << 16) | (c << 8) | d))
}

# True when the address lies in the CIDR.
in_subnet() {
    local addr=$1 net=${2%/*} bits=${2#*/} mask
    mask=$(((0xffffffff << (32 - bits)) & 0xffffffff))
    (($(($(ip_to_int "$addr") & mask)) == $(($(ip_to_int "$net") & mask))))
}

# iptables prints a CIDR with its host bits cleared; the rules are written the same way so that
# the chain on the host can be compared with them as text.
canonical_cidr() {
    local net=${1%/*} bits=${1#*/} n mask
    mask=$(((0xffffffff << (32 - bits)) & 0xffffffff))
    n=$(($(ip_to_int "$net") & mask))
    echo "$((n >> 24 & 255)).$((n >> 16 & 255)).$((n >> 8 & 255)).$((n & 255))/$bits"
}

subnet=$(canonical_cidr "$subnet")
in_subnet "$caddy_ip" "$subnet" || usage_error "--caddy-ip $caddy_ip is outside --subnet $subnet"
in_subnet "$api_ip" "$subnet" || usage_error "--api-ip $api_ip is outside --subnet $subnet"

# --- the bridge --------------------------------------------------------------------------------

# The Linux bridge behind a Docker bridge network is its com.docker.network.bridge.name option
# when set, else Docker's default name br-<first 12 characters of the network id>.
if [[ -z "$bridge" ]]; then
    inspected=""
    format='{{.Id}}|{{with index .Options "com.docker.network.bridge.name"}}{{.}}{{end}}|'
    format+='{{range .IPAM.Config}}{{.Subnet}} {{end}}'
    if command -v docker >/dev/null 2>&1; then
        inspected=$(docker network inspect -f "$format" "$network" 2>/dev/null) || inspected=""
    fi
    if [[ -n "$inspected" ]]; then
        IFS='|' read -r net_id bridge docker_subnet <<<"$inspected"
        docker_subnet=${docker_subnet%% *}
        [[ -n "$bridge" ]] || bridge="br-${net_id:0:12}"
        if [[ -n "$docker_subnet" && "$(canonical_cidr "$docker_subnet")" != "$subnet" ]]; then
            die "docker network $network has subnet $docker_subnet, not $subnet (check --subnet)"
        fi
        log "docker network $network is on bridge $bridge"
    elif ((dry_run)); then
        bridge="BRIDGE"
        log "cannot resolve the bridge of docker network $network; printing it as BRIDGE"
    else
        die "cannot resolve the bridge of docker network '$network' (is dockerd running and the \
network created?); pass --bridge IF"
    fi
fi
if ((!dry_run)) && [[ ! -d "/sys/class/net/$bridge/bridge" ]]; then
    if [[ -e "/sys/class/net/$bridge" ]]; then
        die "interface $bridge is not a Linux bridge"
    fi
    die "no interface named $bridge here"
fi

# --- the rules ---------------------------------------------------------------------------------

# Exactly as `iptables -S` prints them, so the chain's state can be compared as text.
match="-i $bridge -o $bridge -p tcp -m tcp --dport $port"
desired=(
    "-A $CHAIN -s $caddy_ip/32 -d $subnet $match -j ACCEPT"
    "-A $CHAIN -s $api_ip/32 -d $subnet $match -j ACCEPT"
    "-A $CHAIN $match -j DROP"
    "-A $CHAIN -j RETURN"
)
readonly HOOK=(-j "$CHAIN")
readonly HOOK_TEXT="-j $CHAIN"

restore_payload() {
    echo "*filter"
    echo ":$CHAIN - [0:0]"
    printf '%s\n' "${desired[@]}"
    echo "COMMIT"
}

ipt() { "$iptables" -w "$@"; }

chain_exists() { ipt -S "$1" >/dev/null 2>&1; }

# The chain's rules on the host, one per line (without its -N line).
current_rules() { ipt -S "$CHAIN" 2>/dev/null | grep -- '^-A ' || true; }

chain_in_place() {
    chain_exists "$CHAIN" && [[ "$(current_rules)" == "$(printf '%s\n' "${desired[@]}")" ]]
}

# After a load: each rule is there (iptables -C) and nothing else is. Kept apart from the text
# comparison above, which an iptables that prints rules another way would never satisfy.
chain_loaded() {
    local rule words
    (($(current_rules | grep -c . || true) == ${#desired[@]})) || return 1
    for rule in "${desired[@]}"; do
        read -r -a words <<<"${rule#-A }"
        ipt -C "${words[@]}" 2>/dev/null || return 1
    done
}

hook_chain() {
    if chain_exists DOCKER-USER; then echo DOCKER-USER; else echo FORWARD; fi
}

hook_count() { ipt -S "$1" 2>/dev/null | grep -cxF -- "-A $1 $HOOK_TEXT" || true; }

# Exactly one hook, and it is the chain's first rule (ahead of Docker's RETURN or ACCEPTs).
hook_in_place() {
    local first
    first=$(ipt -S "$1" 2>/dev/null | grep -m1 -- '^-A ' || true)
    [[ "$first" == "-A $1 $HOOK_TEXT" ]] && (($(hook_count "$1") == 1))
}

remove_hooks() {
    while ipt -C "$1" "${HOOK[@]}" 2>/dev/null; do
        ipt -D "$1" "${HOOK[@]}"
    done
}

if ((dry_run)); then
    log "dry run: nothing is changed"
    log "would make sure br_netfilter is active and set net.bridge.bridge-nf-call-iptables=1"
    log "would load with $iptables-restore --noflush:"
    restore_payload | sed 's/^/    /'
    hook=FORWARD
    if chain_exists DOCKER-USER; then
        hook=DOCKER-USER
    elif ! ipt -S FORWARD >/dev/null 2>&1; then
        log "(cannot read the current rules here; DOCKER-USER is used when it exists)"
    fi
    log "would hook it once, first in $hook: $iptables -I $hook 1 $HOOK_TEXT"
    if chain_in_place && hook_in_place "$hook"; then
        log "the rules are in place already: a real run would change nothing"
    fi
    exit 0
fi

((EUID == 0)) || die "must run as root (or try --dry-run)"
command -v "$iptables" >/dev/null 2>&1 || die "$iptables not found (apt-get install -y iptables)"
command -v "$iptables-restore" >/dev/null 2>&1 || die "$iptables-restore not found"
ipt -S FORWARD >/dev/null || die "$iptables cannot read the filter table"

# --- br_netfilter ------------------------------------------------------------------------------

if command -v modprobe >/dev/null 2>&1 && ! modprobe br_netfilter 2>/dev/null; then
    [[ -e "$BR_NF" ]] && log "modprobe br_netfilter failed, but the module is active; going on"
fi
[[ -e "$BR_NF" ]] || die "br_netfilter is not available ($BR_NF is missing and the module could \
not be loaded: 'modprobe br_netfilter' as root on the host); without it bridged session traffic \
bypasses iptables"
if [[ "$(<"$BR_NF")" == 1 ]]; then
    log "net.bridge.bridge-nf-call-iptables is 1 already"
else
    echo 1 >"$BR_NF" || die "cannot set net.bridge.bridge-nf-call-iptables=1"
    log "set net.bridge.bridge-nf-call-iptables=1"
fi

# --- chain and hook ----------------------------------------------------------------------------

changed=0
if chain_in_place; then
    log "chain $CHAIN is in place"
else
    state=created
    chain_exists "$CHAIN" && state=replaced
    restore_payload | "$iptables-restore" -w --noflush ||
        die "$iptables-restore failed to load chain $CHAIN"
    chain_loaded || die "chain $CHAIN does not read back as written; got:
$(current_rules)"
    log "chain $CHAIN $state"
    changed=1
fi

hook=$(hook_chain)
other=FORWARD
[[ "$hook" == FORWARD ]] && other=DOCKER-USER
if chain_exists "$other" && (($(hook_count "$other") > 0)); then
    remove_hooks "$other"
    log "removed the hook from $other (it belongs in $hook now)"
    changed=1
fi
if hook_in_place "$hook"; then
    log "hook in $hook is in place"
else
    remove_hooks "$hook"
    ipt -I "$hook" 1 "${HOOK[@]}"
    log "hooked $CHAIN as the first rule of $hook"
    changed=1
fi

if ((changed)); then
    log "done: tcp/$port on $bridge is open to $caddy_ip (Caddy) and $api_ip (API) only"
else
    log "nothing to change: tcp/$port on $bridge is open to $caddy_ip and $api_ip only"
fi
