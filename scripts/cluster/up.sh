#!/usr/bin/env bash
# Bring up the two-node test cluster (idempotent):
#
#   bridge ${prefix}0 ${subnet}.1/24 (net.sh) -> registry (Debian docker-registry) on ${subnet}.1:5000
#   -> [private mode: manager dockerd in netns ${prefix}-host, swarm init on ${subnet}.1]
#   -> netns ${prefix}-worker1 with veth eth0 ${subnet}.2/24, a port of the bridge
#   -> worker dockerd in it (nsenter), joined to the manager's swarm, labelled io.canary.node=worker1
#   -> images pushed to the registry, local images loaded into the worker
#
# Usage: scripts/cluster/up.sh           (as root)
# Settings: scripts/cluster/env.sh, plus
#   CANARY_CLUSTER_PUSH        images the manager pushes to the registry as $CANARY_REGISTRY/<name:tag>
#                              (default: the stack's canary-demo:{latest,v1,v2}; "" for none)
#   CANARY_WORKER_PRELOAD      local images copied into the worker with docker save | docker load, so
#                              services of local-only images run on it too (default: the same list
#                              in main mode, none in private mode; "" for none)
#   CANARY_SKIP_APT            1: never call apt-get
# Prints the settings at the end; `source scripts/cluster/env.sh` gives the same.
# See docs/multinode.md.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=env.sh source-path=SCRIPTDIR
source "$HERE/env.sh"
CL_TAG=cluster-up
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$HERE/lib.sh"

[[ $EUID -eq 0 ]] || cl_die "run as root (netns, dockerd and apt-get need it)"
case "$CANARY_CLUSTER_MANAGER" in main | private) ;; *) cl_die "CANARY_CLUSTER_MANAGER=$CANARY_CLUSTER_MANAGER: want main or private" ;; esac

DIR="$CANARY_CLUSTER_DIR"
WDIR="$DIR/worker1"
MDIR="$DIR/manager"
RDIR="$DIR/registry"
WNS="$CANARY_CLUSTER_WORKER_NETNS"
MADDR="$CANARY_CLUSTER_MANAGER_ADDR"
WADDR="$CANARY_CLUSTER_WORKER_ADDR"
WSOCK="${CANARY_WORKER_DOCKER_HOST#unix://}"
DEMO_REPO="${CANARY_DEMO_IMAGE%:*}"
default_images="$DEMO_REPO:latest $DEMO_REPO:v1 $DEMO_REPO:v2"
PUSH="${CANARY_CLUSTER_PUSH-$default_images}"
if [[ "$CANARY_CLUSTER_MANAGER" == main ]]; then PRELOAD="${CANARY_WORKER_PRELOAD-$default_images}"; else PRELOAD="${CANARY_WORKER_PRELOAD-}"; fi

mkdir -p "$DIR" "$WDIR" "$RDIR/data"
exec 9>"$DIR/.lock"
flock -w 300 9 || cl_die "another cluster up.sh/down.sh holds $DIR/.lock"
cl_log "cluster ${CANARY_CLUSTER_PREFIX} (manager: $CANARY_CLUSTER_MANAGER), state dir $DIR"

# ---------------------------------------------------------------- packages
missing=()
command -v docker-registry >/dev/null || missing+=(docker-registry)
command -v nsenter >/dev/null || missing+=(util-linux)
command -v curl >/dev/null || missing+=(curl)
command -v iptables >/dev/null || missing+=(iptables)
# etcd for the KV router's tests (tests/tests/multinode.rs runs it as a Swarm service).
command -v etcd >/dev/null || missing+=(etcd-server)
if ((${#missing[@]})); then
  [[ "${CANARY_SKIP_APT:-0}" != 1 ]] || cl_die "missing packages: ${missing[*]} (CANARY_SKIP_APT=1)"
  export DEBIAN_FRONTEND=noninteractive
  cl_run apt-get update -qq
  # Debian's package enables a systemd unit serving /etc/docker/registry/config.yml on :5000 (all
  # addresses, htpasswd auth). We never use it; stop it if the install started it.
  cl_run apt-get install -y -qq --no-install-recommends "${missing[@]}"
  # Likewise etcd-server's unit (127.0.0.1:2379); the tests run their own etcd.
  for unit in docker-registry etcd; do
    if command -v systemctl >/dev/null && systemctl is-active -q "$unit" 2>/dev/null; then
      cl_run systemctl disable --now "$unit" || true
    fi
  done
fi

# The manager must be a swarm manager advertising the private address, and treat the registry
# as insecure (it serves plain HTTP). Checked before anything is created in main mode.
check_manager() {
  [[ "$(cl_mgr info -f '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}' 2>/dev/null)" == "active true" ]] ||
    cl_die "the manager engine ($CANARY_MANAGER_DOCKER_HOST) is not a swarm manager; run scripts/stack/up.sh first"
  node_addr=$(cl_mgr info -f '{{.Swarm.NodeAddr}}')
  if [[ "$node_addr" != "$MADDR" ]]; then
    cl_die "the swarm manager advertises $node_addr, which the worker's namespace cannot reach; it must
  advertise $MADDR. The swarm has to be created again (this removes every service, network, secret
  and config in it), by whoever owns the shared engine, when nobody uses it:
      scripts/stack/down.sh --tests && docker swarm leave --force && scripts/stack/up.sh
  (up.sh then runs: docker swarm init --advertise-addr $MADDR --listen-addr $MADDR:2377).
  See docs/multinode.md, 'Switching the main engine over'."
  fi
  insecure=$(cl_mgr info -f "{{with index .RegistryConfig.IndexConfigs \"$CANARY_REGISTRY\"}}{{.Secure}}{{end}}")
  if [[ "$insecure" != false ]]; then
    cl_die "the manager engine does not list $CANARY_REGISTRY in insecure-registries, so it can neither
  push to nor pull from the registry (plain HTTP). Without restarting dockerd: add
      {\"insecure-registries\": [\"$CANARY_REGISTRY\"]}
  to the dockerd config file (/etc/docker/daemon.json when dockerd runs without --config-file and
  without an --insecure-registry flag), then: kill -HUP \$(cat /var/run/docker.pid).
  scripts/stack/up.sh passes --insecure-registry $CANARY_REGISTRY when it starts dockerd itself."
  fi
}

if [[ "$CANARY_CLUSTER_MANAGER" == main ]]; then check_manager; fi

# ---------------------------------------------------------------- manager's network side
"$HERE/net.sh" up

# ---------------------------------------------------------------- registry
# Own config and storage; plain HTTP on the manager address only. Runs as the package's
# unprivileged user when it exists.
cat >"$RDIR/config.yml.tmp" <<EOF
# Generated by scripts/cluster/up.sh; rewritten on every run.
version: 0.1
log:
  level: info
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: $RDIR/data
  delete:
    enabled: true
http:
  addr: $CANARY_REGISTRY
  headers:
    X-Content-Type-Options: [nosniff]
EOF
reg_pid=""
if [[ -s "$RDIR/registry.pid" ]] && pid=$(cat "$RDIR/registry.pid") && cl_pid_has_arg "$pid" "$RDIR/config.yml"; then
  reg_pid=$pid
fi
if [[ -n "$reg_pid" ]] && cmp -s "$RDIR/config.yml.tmp" "$RDIR/config.yml"; then
  rm -f "$RDIR/config.yml.tmp"
  cl_log "registry: running (pid $reg_pid) on $CANARY_REGISTRY"
else
  [[ -z "$reg_pid" ]] || cl_stop_pid "$reg_pid" registry 10
  mv "$RDIR/config.yml.tmp" "$RDIR/config.yml"
  if cl_hostns ss -Hltn "sport = :$CANARY_REGISTRY_PORT" | grep -q .; then
    cl_die "port $CANARY_REGISTRY_PORT is in use: $(cl_hostns ss -Hltnp "sport = :$CANARY_REGISTRY_PORT")"
  fi
  as_user=()
  if id docker-registry >/dev/null 2>&1; then
    chown -R docker-registry: "$RDIR/data"
    as_user=(setpriv --reuid=docker-registry --regid=docker-registry --init-groups)
  fi
  in_ns=()
  [[ -z "$CANARY_CLUSTER_HOST_NETNS" ]] || in_ns=(nsenter --net="/run/netns/$CANARY_CLUSTER_HOST_NETNS")
  cl_log "+ ${in_ns[*]} ${as_user[*]} docker-registry serve $RDIR/config.yml (log: $RDIR/registry.log)"
  # setsid, nsenter and setpriv all exec: $! is the registry's pid.
  setsid "${in_ns[@]}" "${as_user[@]}" docker-registry serve "$RDIR/config.yml" >>"$RDIR/registry.log" 2>&1 </dev/null 9>&- &
  echo $! >"$RDIR/registry.pid"
fi
if ! cl_wait 30 "registry http://$CANARY_REGISTRY/v2/" cl_hostns curl -fsS -m 2 "http://$CANARY_REGISTRY/v2/"; then
  tail -n 20 "$RDIR/registry.log" >&2 || true
  cl_die "registry did not answer on $CANARY_REGISTRY within 30s"
fi

# ---------------------------------------------------------------- manager
if [[ "$CANARY_CLUSTER_MANAGER" == private ]]; then
  msock="${CANARY_MANAGER_DOCKER_HOST#unix://}"
  if pid=$(cl_dockerd_pid "$MDIR") && ! cl_pid_in_netns "$pid" "$CANARY_CLUSTER_HOST_NETNS"; then
    cl_log "manager: dockerd (pid $pid) runs in an older netns named $CANARY_CLUSTER_HOST_NETNS; restarting it"
    cl_stop_pid "$pid" "dockerd manager" 30
  fi
  if pid=$(cl_dockerd_pid "$MDIR") && cl_mgr info >/dev/null 2>&1; then
    cl_log "manager: private dockerd running (pid $pid)"
  else
    mkdir -p "$MDIR"
    # The same environment as the main engine's (stack/up.sh), so the private manager behaves
    # like the real one: its tasks never pull, and use the images it holds (it pushed them).
    cl_dockerd_start "$CANARY_CLUSTER_HOST_NETNS" "${CANARY_CLUSTER_PREFIX}-manager" "$MDIR" "$msock" \
      DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1
  fi
  if [[ "$(cl_mgr info -f '{{.Swarm.LocalNodeState}}')" == inactive ]]; then
    cl_run cl_mgr swarm init --advertise-addr "$MADDR" --listen-addr "$MADDR:2377" >/dev/null
  fi
fi
if [[ "$CANARY_CLUSTER_MANAGER" == private ]]; then check_manager; fi

# ---------------------------------------------------------------- worker namespace
if [[ ! -e "/run/netns/$WNS" ]]; then
  cl_run ip netns add "$WNS"
fi
ip -n "$WNS" link set lo up
if ! ip -n "$WNS" link show eth0 >/dev/null 2>&1; then
  # A leftover host end without its peer (netns deleted by hand) would block the name.
  if cl_ip link show "$CANARY_CLUSTER_WORKER_VETH" >/dev/null 2>&1; then cl_run cl_ip link del "$CANARY_CLUSTER_WORKER_VETH"; fi
  cl_run cl_ip link add "$CANARY_CLUSTER_WORKER_VETH" type veth peer name eth0 netns "$WNS"
fi
cl_ip link set "$CANARY_CLUSTER_WORKER_VETH" master "$CANARY_CLUSTER_BRIDGE" up
if ! ip -n "$WNS" -4 -o addr show dev eth0 | grep -qF " $WADDR/24 "; then
  cl_run ip -n "$WNS" addr add "$WADDR/24" dev eth0
fi
ip -n "$WNS" link set eth0 up
# No default route: from the worker (and its containers) only the private /24 is reachable.
cl_wait 10 "worker netns reaches the registry" \
  nsenter --net="/run/netns/$WNS" curl -fsS -m 2 "http://$CANARY_REGISTRY/v2/" ||
  cl_die "from netns $WNS, http://$CANARY_REGISTRY/v2/ does not answer (bridge $CANARY_CLUSTER_BRIDGE, veth $CANARY_CLUSTER_WORKER_VETH)"

# ---------------------------------------------------------------- worker dockerd
if pid=$(cl_dockerd_pid "$WDIR") && ! cl_pid_in_netns "$pid" "$WNS"; then
  cl_log "worker: dockerd (pid $pid) runs in an older netns named $WNS (deleted by hand?); restarting it"
  cl_stop_pid "$pid" "dockerd $WNS" 30
fi
if pid=$(cl_dockerd_pid "$WDIR") && cl_wrk info >/dev/null 2>&1; then
  cl_log "worker: dockerd running (pid $pid)"
else
  # Not DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1 (the manager's setting in stack/up.sh): with it a
  # task never pulls, so a registry image the node does not hold fails with "No such image".
  # Without it, a task of a local-only (preloaded) image tries a pull, fails at once (no route
  # out of the netns) and runs the local copy.
  cl_dockerd_start "$WNS" "$WNS" "$WDIR" "$WSOCK"
fi

# ---------------------------------------------------------------- join
cluster_id=$(cl_mgr info -f '{{.Swarm.Cluster.ID}}')
w_state=$(cl_wrk info -f '{{.Swarm.LocalNodeState}}')
w_node=$(cl_wrk info -f '{{.Swarm.NodeID}}')
if [[ "$w_state" != inactive ]]; then
  # Still in our swarm when the manager knows its node and lists it as a worker.
  if [[ "$w_state" == active ]] && [[ -n "$w_node" ]] &&
     [[ "$(cl_mgr node inspect -f '{{.Spec.Role}}' "$w_node" 2>/dev/null)" == worker ]]; then
    cl_log "worker: already in the swarm as node $w_node"
  else
    cl_log "worker: swarm state '$w_state' (node '${w_node:-?}') is not a member of this swarm ($cluster_id); leaving"
    cl_run cl_wrk swarm leave --force >/dev/null
    w_state=inactive
  fi
fi
if [[ "$w_state" == inactive ]]; then
  # The token is a secret: it goes to dockerd's API on stdin, never on a command line or a log.
  tj=${EPOCHREALTIME/[.,]/}
  cl_log "+ worker: POST /swarm/join (RemoteAddrs $MADDR:2377, AdvertiseAddr $WADDR, ListenAddr $WADDR:2377)"
  token=$(cl_mgr swarm join-token -q worker)
  resp=$(printf '{"ListenAddr":"%s:2377","AdvertiseAddr":"%s","DataPathAddr":"%s","RemoteAddrs":["%s:2377"],"JoinToken":"%s"}' \
    "$WADDR" "$WADDR" "$WADDR" "$MADDR" "$token" |
    curl -sS -m 60 --unix-socket "$WSOCK" -H 'Content-Type: application/json' --data-binary @- \
      -w '\n%{http_code}' http://docker/v1.41/swarm/join) || true
  unset token
  [[ "${resp##*$'\n'}" == 200 ]] ||
    cl_die "worker could not join the swarm at $MADDR:2377: ${resp%$'\n'*} (log: $WDIR/dockerd.log)"
  w_node=$(cl_wrk info -f '{{.Swarm.NodeID}}')
  cl_wait 60 "worker node $w_node ready" bash -c \
    "[[ \"\$(docker -H '$CANARY_MANAGER_DOCKER_HOST' node inspect -f '{{.Status.State}}' '$w_node')\" == ready ]]" ||
    cl_die "worker node $w_node did not become ready"
  cl_log "worker: joined as node $w_node in $(cl_elapsed "$tj")s"
fi
# Nodes left behind by an earlier worker whose state was wiped (down, with our label).
while read -r id state; do
  [[ -n "$id" && "$id" != "$w_node" && "$state" == down ]] || continue
  cl_run cl_mgr node rm --force "$id" >/dev/null || true
done < <(cl_mgr node ls -q --filter "node.label=$CANARY_CLUSTER_NODE_LABEL=worker1" 2>/dev/null |
  xargs -r docker -H "$CANARY_MANAGER_DOCKER_HOST" node inspect -f '{{.ID}} {{.Status.State}}')
if [[ "$(cl_mgr node inspect -f "{{index .Spec.Labels \"$CANARY_CLUSTER_NODE_LABEL\"}}" "$w_node")" != worker1 ]]; then
  cl_run cl_mgr node update --label-add "$CANARY_CLUSTER_NODE_LABEL=worker1" "$w_node" >/dev/null
fi
m_node=$(cl_mgr info -f '{{.Swarm.NodeID}}')
if [[ "$(cl_mgr node inspect -f "{{index .Spec.Labels \"$CANARY_CLUSTER_NODE_LABEL\"}}" "$m_node")" != manager ]]; then
  cl_run cl_mgr node update --label-add "$CANARY_CLUSTER_NODE_LABEL=manager" "$m_node" >/dev/null
fi

# ---------------------------------------------------------------- images
for img in $PRELOAD; do
  id=$(docker image inspect -f '{{.Id}}' "$img" 2>/dev/null) || { cl_log "WARNING: preload: no local image $img"; continue; }
  if [[ "$(cl_wrk image inspect -f '{{.Id}}' "$img" 2>/dev/null)" == "$id" ]]; then continue; fi
  cl_log "+ docker save $img | worker load"
  docker save "$img" | cl_wrk load -q >/dev/null
done
for img in $PUSH; do
  if [[ "$CANARY_CLUSTER_MANAGER" == private ]]; then
    # The private manager has no images of its own: copy them from the main engine (read only).
    id=$(docker image inspect -f '{{.Id}}' "$img" 2>/dev/null) || { cl_log "WARNING: push: no local image $img"; continue; }
    if [[ "$(cl_mgr image inspect -f '{{.Id}}' "$img" 2>/dev/null)" != "$id" ]]; then
      cl_log "+ docker save $img | manager load"
      docker save "$img" | cl_mgr load -q >/dev/null
    fi
  fi
  cl_mgr image inspect "$img" >/dev/null 2>&1 || { cl_log "WARNING: push: manager has no image $img"; continue; }
  cl_mgr tag "$img" "$CANARY_REGISTRY/$img"
  cl_run cl_mgr push -q "$CANARY_REGISTRY/$img" >/dev/null
done

cl_log "done. Cluster is up:"
cat <<EOF
  manager       $(cl_mgr info -f '{{.Name}}') $MADDR (swarm 2377, gossip 7946, VXLAN 4789)   DOCKER_HOST=$CANARY_MANAGER_DOCKER_HOST
  worker1       $WNS $WADDR (node $w_node, label $CANARY_CLUSTER_NODE_LABEL=worker1)   DOCKER_HOST=$CANARY_WORKER_DOCKER_HOST
  registry      http://$CANARY_REGISTRY  (images: ${PUSH:-none})
  network       bridge $CANARY_CLUSTER_BRIDGE $CANARY_CLUSTER_SUBNET.0/24${CANARY_CLUSTER_HOST_NETNS:+ in netns $CANARY_CLUSTER_HOST_NETNS}, veth $CANARY_CLUSTER_WORKER_VETH <-> $WNS:eth0
  state         $DIR
  env           source $HERE/env.sh   (CANARY_CLUSTER_MANAGER=$CANARY_CLUSTER_MANAGER CANARY_CLUSTER_PREFIX=$CANARY_CLUSTER_PREFIX)
EOF
