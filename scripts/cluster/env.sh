# shellcheck shell=bash
# Settings of the two-node test cluster (manager + one worker dockerd in a network namespace,
# joined over a private /24, plus a registry on the manager's private address).
#
#   source scripts/cluster/env.sh
#
# Only exports variables (safe under `set -euo pipefail`). Every value can be overridden by
# exporting it before sourcing / before running up.sh; up.sh, down.sh and tests must see the
# same values. See docs/multinode.md.

# The stack's settings first: the cluster keeps its state under $CANARY_STACK_DIR.
# shellcheck source=../stack/env.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/../stack/env.sh"

# Names of everything the cluster scripts create are derived from this prefix:
#   bridge ${prefix}0, worker netns ${prefix}-worker1, veth host end ${prefix}-w1,
#   private manager netns ${prefix}-host (CANARY_CLUSTER_MANAGER=private only).
# Interface names must stay <= 15 characters, so keep it short (up.sh checks).
export CANARY_CLUSTER_PREFIX="${CANARY_CLUSTER_PREFIX:-canary}"

# main:    the manager is the local stack's engine (default docker socket, root namespace).
# private: up.sh starts a manager dockerd of its own in netns ${prefix}-host, which then plays
#          the root namespace (bridge, registry, manager); used by check.sh so the test never
#          touches the shared engine.
export CANARY_CLUSTER_MANAGER="${CANARY_CLUSTER_MANAGER:-main}"

# The private /24, given as its first three octets. Checked against `ip route` by net.sh.
export CANARY_CLUSTER_SUBNET="${CANARY_CLUSTER_SUBNET:-10.213.0}"
export CANARY_CLUSTER_BRIDGE="${CANARY_CLUSTER_PREFIX}0"
export CANARY_CLUSTER_MANAGER_ADDR="${CANARY_CLUSTER_SUBNET}.1"    # on the bridge: swarm advertise/listen, registry
export CANARY_CLUSTER_WORKER_ADDR="${CANARY_CLUSTER_SUBNET}.2"     # eth0 inside the worker netns
export CANARY_CLUSTER_WORKER_NETNS="${CANARY_CLUSTER_PREFIX}-worker1"
export CANARY_CLUSTER_WORKER_VETH="${CANARY_CLUSTER_PREFIX}-w1"    # host end, a port of the bridge
if [[ "$CANARY_CLUSTER_MANAGER" == private ]]; then
  export CANARY_CLUSTER_HOST_NETNS="${CANARY_CLUSTER_PREFIX}-host"
  export CANARY_MANAGER_DOCKER_HOST="unix:///run/${CANARY_CLUSTER_PREFIX}-manager.sock"
else
  export CANARY_CLUSTER_HOST_NETNS=""                               # the root namespace
  export CANARY_MANAGER_DOCKER_HOST="${DOCKER_HOST:-unix:///var/run/docker.sock}"
fi
export CANARY_WORKER_DOCKER_HOST="unix:///run/${CANARY_CLUSTER_WORKER_NETNS}.sock"

# Node label put on the worker (constraints: node.labels.io.canary.node==worker1).
export CANARY_CLUSTER_NODE_LABEL="io.canary.node"

# Registry (Debian docker-registry 2.8, plain HTTP, listening on the manager address only;
# both engines list it in insecure-registries).
export CANARY_REGISTRY_PORT="${CANARY_REGISTRY_PORT:-5000}"
export CANARY_REGISTRY="${CANARY_CLUSTER_MANAGER_ADDR}:${CANARY_REGISTRY_PORT}"

# State: registry config/storage/log, worker (and private manager) data-roots, logs, pid files.
export CANARY_CLUSTER_DIR="${CANARY_CLUSTER_DIR:-$CANARY_STACK_DIR/cluster/$CANARY_CLUSTER_PREFIX}"
