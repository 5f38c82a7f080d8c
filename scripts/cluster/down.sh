#!/usr/bin/env bash
# Tear down what scripts/cluster/up.sh created, and nothing else:
#
#   scripts/cluster/down.sh           the worker leaves the swarm and its node is removed from it
#                                     (docker node rm --force), its dockerd stops, its data-root,
#                                     exec-root, cgroups and netns (with the veth pair) go; the
#                                     registry stops (its storage stays). The bridge stays while
#                                     the manager listens on it (main mode: the local stack's
#                                     swarm advertises it); the local stack keeps working.
#   scripts/cluster/down.sh --purge   also delete the registry's storage, the images tagged
#                                     $CANARY_REGISTRY/... on the manager, and $CANARY_CLUSTER_DIR
#
# With CANARY_CLUSTER_MANAGER=private the private manager dockerd, the bridge and the host netns
# go as well. See docs/multinode.md.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=env.sh source-path=SCRIPTDIR
source "$HERE/env.sh"
CL_TAG=cluster-down
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$HERE/lib.sh"

PURGE=0
for a in "$@"; do
  case "$a" in
    --purge) PURGE=1 ;;
    -h | --help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "down.sh: unknown argument $a" >&2; exit 2 ;;
  esac
done
[[ $EUID -eq 0 ]] || cl_die "run as root"

DIR="$CANARY_CLUSTER_DIR"
WDIR="$DIR/worker1"
MDIR="$DIR/manager"
RDIR="$DIR/registry"
WNS="$CANARY_CLUSTER_WORKER_NETNS"
mkdir -p "$DIR"
exec 9>"$DIR/.lock"
flock -w 300 9 || cl_die "another cluster up.sh/down.sh holds $DIR/.lock"

# ---------------------------------------------------------------- swarm membership
mgr_up=0
cl_mgr info -f '{{.Swarm.ControlAvailable}}' 2>/dev/null | grep -qx true && mgr_up=1
w_node=""
if cl_dockerd_pid "$WDIR" >/dev/null && cl_wrk info >/dev/null 2>&1; then
  w_node=$(cl_wrk info -f '{{.Swarm.NodeID}}')
  if [[ "$(cl_wrk info -f '{{.Swarm.LocalNodeState}}')" != inactive ]]; then
    # Leaving first lets the manager see the node go down at once, and leaves no swarm state
    # behind in the worker's data-root.
    cl_run timeout 30 docker -H "$CANARY_WORKER_DOCKER_HOST" swarm leave --force >/dev/null ||
      cl_log "WARNING: worker could not leave the swarm; removing its node anyway"
  fi
fi
if ((mgr_up)); then
  # Our worker's node, and any earlier one of ours (label io.canary.node=worker1).
  mapfile -t nodes < <({ [[ -z "$w_node" ]] || echo "$w_node"
    cl_mgr node ls -q --filter "node.label=$CANARY_CLUSTER_NODE_LABEL=worker1"; } | sort -u)
  for n in "${nodes[@]}"; do
    [[ -n "$n" ]] || continue
    [[ "$(cl_mgr node inspect -f '{{.Spec.Role}}' "$n" 2>/dev/null)" == worker ]] || continue
    cl_run cl_mgr node rm --force "$n" >/dev/null || cl_log "WARNING: could not remove node $n"
  done
else
  cl_log "manager ($CANARY_MANAGER_DOCKER_HOST) is not answering as a swarm manager; no node to remove"
fi

# ---------------------------------------------------------------- worker
cl_dockerd_remove "$WDIR" "$WNS"
if [[ -e "/run/netns/$WNS" ]]; then
  cl_run ip netns del "$WNS"   # takes the veth pair with it
fi
# The kernel destroys a deleted netns (and so the veth pair) asynchronously.
for _ in $(seq 1 25); do cl_ip link show "$CANARY_CLUSTER_WORKER_VETH" >/dev/null 2>&1 || break; sleep 0.2; done
if cl_ip link show "$CANARY_CLUSTER_WORKER_VETH" >/dev/null 2>&1; then cl_run cl_ip link del "$CANARY_CLUSTER_WORKER_VETH" || true; fi

# ---------------------------------------------------------------- registry
if [[ -s "$RDIR/registry.pid" ]]; then
  pid=$(cat "$RDIR/registry.pid")
  if cl_pid_has_arg "$pid" "$RDIR/config.yml"; then cl_stop_pid "$pid" registry 10; else cl_log "registry pid $pid is not ours / not running"; fi
  rm -f "$RDIR/registry.pid"
fi

# ---------------------------------------------------------------- manager
if [[ "$CANARY_CLUSTER_MANAGER" == private ]]; then
  cl_dockerd_remove "$MDIR" "${CANARY_CLUSTER_PREFIX}-manager"
  "$HERE/net.sh" down --force
else
  if ((PURGE)) && ((mgr_up)); then
    mapfile -t imgs < <(cl_mgr images --format '{{.Repository}}:{{.Tag}}' | grep -F "$CANARY_REGISTRY/" || true)
    if ((${#imgs[@]})); then cl_run cl_mgr rmi "${imgs[@]}" >/dev/null || true; fi
  fi
  "$HERE/net.sh" down
fi
if ((PURGE)); then
  cl_run rm -rf --one-file-system "$DIR"
  rmdir "$(dirname "$DIR")" 2>/dev/null || true   # $CANARY_STACK_DIR/cluster, once no cluster is left
fi
cl_log "done"
