#!/usr/bin/env bash
# The manager's side of the cluster's private network, in the "host" namespace (the root
# namespace, or netns ${prefix}-host for CANARY_CLUSTER_MANAGER=private):
#
#   bridge ${prefix}0 with ${subnet}.1/24   the address the manager advertises and listens on
#                                            (2377, 7946) and the registry listens on (5000)
#   guard chain in mangle PREROUTING         drops what arrives from anywhere but lo and the
#                                            bridge for the private /24, and for 2377/7946/4789
#
#   scripts/cluster/net.sh up      idempotent; run by scripts/stack/up.sh before dockerd starts
#                                  (a swarm restored at dockerd start binds ${subnet}.1:2377
#                                  and fails if the address is missing) and by cluster/up.sh
#   scripts/cluster/net.sh down    removes the guard and the bridge, unless something still
#                                  listens on ${subnet}.1 (the manager of a swarm that
#                                  advertises it: removing the address breaks its next start)
#   scripts/cluster/net.sh down --force   removes them anyway
#
# See docs/multinode.md.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=env.sh source-path=SCRIPTDIR
source "$HERE/env.sh"
CL_TAG=net
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$HERE/lib.sh"

NET="$CANARY_CLUSTER_SUBNET.0/24"
BR="$CANARY_CLUSTER_BRIDGE"
ADDR="$CANARY_CLUSTER_MANAGER_ADDR"
# iptables chain names are limited to 28 characters.
CHAIN="CANARY-CL-$(printf '%s' "$CANARY_CLUSTER_PREFIX" | sha256sum | cut -c1-8)"

[[ $EUID -eq 0 ]] || cl_die "run as root"
[[ "$CANARY_CLUSTER_SUBNET" =~ ^(10|172|192)\.[0-9]{1,3}\.[0-9]{1,3}$ ]] ||
  cl_die "CANARY_CLUSTER_SUBNET=$CANARY_CLUSTER_SUBNET: want three octets of a private range, e.g. 10.213.0"
((${#BR} <= 15 && ${#CANARY_CLUSTER_WORKER_VETH} <= 15)) ||
  cl_die "CANARY_CLUSTER_PREFIX=$CANARY_CLUSTER_PREFIX is too long for interface names ($BR, $CANARY_CLUSTER_WORKER_VETH; max 15)"

# Routes in the host namespace that overlap the /24 and are not our bridge's: using the /24
# would hijack (or lose) traffic to a real network.
collisions() {
  { cl_ip -4 route show root "$NET"; cl_ip -4 route show match "$NET" | grep -v '^default'; } |
    grep -v " dev $BR " | grep -v " dev $BR\$" || true
}

guard_up() {
  local ipt=$1 v6=$2
  command -v "$ipt" >/dev/null || return 0
  cl_hostns "$ipt" -t mangle -S PREROUTING >/dev/null 2>&1 || { cl_log "WARNING: $ipt mangle table unusable; no guard"; return 0; }
  # Rebuilt on every run, so an edit here reaches machines that already ran an older net.sh.
  cl_hostns "$ipt" -t mangle -N "$CHAIN" 2>/dev/null || cl_hostns "$ipt" -t mangle -F "$CHAIN"
  local r=(cl_hostns "$ipt" -t mangle -A "$CHAIN")
  "${r[@]}" -i lo -j RETURN
  "${r[@]}" -i "$BR" -j RETURN
  ((v6)) || "${r[@]}" -d "$NET" -j DROP              # the weak host model accepts ${subnet}.x on eth0 too
  "${r[@]}" -p tcp --dport 2377 -j DROP                # raft; bound to ${subnet}.1, or 127.0.0.1 before the switch
  "${r[@]}" -p tcp --dport 7946 -j DROP                # gossip
  "${r[@]}" -p udp --dport 7946 -j DROP
  "${r[@]}" -p udp --dport 4789 -j DROP                # VXLAN: the kernel binds it on 0.0.0.0, whatever dockerd says
  cl_hostns "$ipt" -t mangle -C PREROUTING -j "$CHAIN" 2>/dev/null || cl_hostns "$ipt" -t mangle -I PREROUTING -j "$CHAIN"
}

guard_down() {
  local ipt=$1
  command -v "$ipt" >/dev/null || return 0
  while cl_hostns "$ipt" -t mangle -D PREROUTING -j "$CHAIN" 2>/dev/null; do :; done
  cl_hostns "$ipt" -t mangle -F "$CHAIN" 2>/dev/null || true
  cl_hostns "$ipt" -t mangle -X "$CHAIN" 2>/dev/null || true
}

case "${1:-}" in
  up)
    if [[ -n "$CANARY_CLUSTER_HOST_NETNS" ]] && [[ ! -e "/run/netns/$CANARY_CLUSTER_HOST_NETNS" ]]; then
      cl_run ip netns add "$CANARY_CLUSTER_HOST_NETNS"
      cl_ip link set lo up
    fi
    c=$(collisions)
    [[ -z "$c" ]] || cl_die "$NET overlaps routes here; pick another CANARY_CLUSTER_SUBNET:"$'\n'"$c"
    if ! cl_ip link show "$BR" >/dev/null 2>&1; then
      cl_run cl_ip link add "$BR" type bridge
    fi
    [[ "$(cl_ip -d -o link show "$BR")" == *" bridge "* ]] || cl_die "$BR exists and is not a bridge"
    if ! cl_ip -4 -o addr show dev "$BR" | grep -qF " $ADDR/24 "; then
      cl_run cl_ip addr add "$ADDR/24" dev "$BR"
    fi
    cl_ip link set "$BR" up
    guard_up iptables 0
    guard_up ip6tables 1
    cl_log "bridge $BR $ADDR/24 up${CANARY_CLUSTER_HOST_NETNS:+ (netns $CANARY_CLUSTER_HOST_NETNS)}; guard chain $CHAIN"
    ;;
  down)
    if [[ "${2:-}" != --force ]] && cl_hostns ss -Hltn "src $ADDR" | grep -q .; then
      cl_log "something still listens on $ADDR; keeping bridge $BR (down --force removes it):"
      cl_hostns ss -Hltnp "src $ADDR" >&2
      exit 0
    fi
    guard_down iptables
    guard_down ip6tables
    if cl_ip link show "$BR" >/dev/null 2>&1; then cl_run cl_ip link del "$BR"; fi
    if [[ -n "$CANARY_CLUSTER_HOST_NETNS" ]] && [[ -e "/run/netns/$CANARY_CLUSTER_HOST_NETNS" ]]; then
      cl_run ip netns del "$CANARY_CLUSTER_HOST_NETNS"
    fi
    cl_log "bridge $BR and guard removed"
    ;;
  *) echo "usage: $0 up|down [--force]" >&2; exit 2 ;;
esac
