#!/usr/bin/env bash
# End-to-end check of the two-node cluster: brings it up, deploys a 4-replica service of an image
# from the registry pinned by digest, asserts that the tasks are spread over both nodes, that the
# worker pulled the image from the registry by digest, that every task answers every other task
# over the overlay (VXLAN across the veth), that the service's DNS name lists all tasks, and that
# the swarm ports and the registry are not reachable from outside the private network. Tears
# everything down, also on failure.
#
#   scripts/cluster/check.sh        (as root)
#
# By default the whole cluster is private (CANARY_CLUSTER_MANAGER=private, prefix canary-ck): a
# manager dockerd of its own in netns canary-ck-host plays the machine's root namespace, so the
# check never touches the shared engine. CANARY_CLUSTER_MANAGER=main runs it against the local
# stack's engine (its swarm must advertise the private address; see docs/multinode.md).
#
# Every request goes to an address inside a network namespace this script's cluster created
# (task overlay addresses, the private /24, the simulated outside network); each has a timeout.
# Prints one line per check and a closing "N passed, N failed".
set -euo pipefail
export CANARY_CLUSTER_MANAGER="${CANARY_CLUSTER_MANAGER:-private}"
if [[ "$CANARY_CLUSTER_MANAGER" == private ]]; then
  export CANARY_CLUSTER_PREFIX="${CANARY_CLUSTER_PREFIX:-canary-ck}"
fi
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=env.sh source-path=SCRIPTDIR
source "$HERE/env.sh"
CL_TAG=cluster-check
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$HERE/lib.sh"
[[ $EUID -eq 0 ]] || cl_die "run as root"

P="$CANARY_CLUSTER_PREFIX"
# Test objects on the manager, labelled io.canary.test=1; fixed names, so they never collide with
# the stack's (canary-net, canary-traefik) when the manager is the shared engine.
SVC="cluster-check-demo"
NETWORK="cluster-check-net"
OUTNS="$P-outside"   # a stranger on another link of the host namespace
IMAGE="${CANARY_DEMO_IMAGE%:*}:v1"
REPLICAS=4
PASS=0 FAIL=0
ok() { PASS=$((PASS + 1)); printf 'ok     %s\n' "$*"; }
bad() { FAIL=$((FAIL + 1)); printf 'FAILED %s\n' "$*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }

cleanup() {
  local rc=$?
  set +e
  cl_log "cleanup"
  cl_mgr service rm "$SVC" >/dev/null 2>&1
  for _ in $(seq 1 50); do
    [[ -z "$(cl_mgr ps -q --filter "label=com.docker.swarm.service.name=$SVC" 2>/dev/null)" ]] && break
    sleep 0.2
  done
  for _ in $(seq 1 25); do cl_mgr network rm "$NETWORK" >/dev/null 2>&1 && break; cl_mgr network inspect "$NETWORK" >/dev/null 2>&1 || break; sleep 0.4; done
  [[ -e "/run/netns/$OUTNS" ]] && ip netns del "$OUTNS"
  if [[ "$CANARY_CLUSTER_MANAGER" == private ]]; then "$HERE/down.sh" --purge; else "$HERE/down.sh"; fi
  # Nothing of ours may be left.
  local left
  left=$(ip netns list | grep -E "^($P-worker1|$P-host|$OUTNS)( |\$)" || true)
  left+=$(cl_ip -br link 2>/dev/null | grep -E "^($CANARY_CLUSTER_WORKER_VETH|$P-out)[ @]" || true)
  if [[ -n "$left" ]]; then printf 'FAILED cleanup left: %s\n' "$left"; rc=1; fi
  exit "$rc"
}
trap cleanup EXIT

# ---------------------------------------------------------------- up
tu=${EPOCHREALTIME/[.,]/}
CANARY_CLUSTER_PUSH="$IMAGE" CANARY_WORKER_PRELOAD="" "$HERE/up.sh" 2>&1 | tee "/tmp/$P-up.log" >&2
up_secs=$(cl_elapsed "$tu")
join_secs=$(sed -n 's/.*worker: joined as node .* in \([0-9.]*\)s$/\1/p' "/tmp/$P-up.log")
rm -f "/tmp/$P-up.log"
m_node=$(cl_mgr info -f '{{.Swarm.NodeID}}')
w_node=$(cl_wrk info -f '{{.Swarm.NodeID}}')
check "worker node $w_node is ready and labelled $CANARY_CLUSTER_NODE_LABEL=worker1" \
  test "$(cl_mgr node inspect -f "{{.Status.State}} {{index .Spec.Labels \"$CANARY_CLUSTER_NODE_LABEL\"}}" "$w_node")" == "ready worker1"
check "worker advertises $CANARY_CLUSTER_WORKER_ADDR" \
  test "$(cl_mgr node inspect -f '{{.Status.Addr}}' "$w_node")" == "$CANARY_CLUSTER_WORKER_ADDR"

# ---------------------------------------------------------------- registry: digest
# The digest as the registry itself reports it (not as the pusher remembers it).
accept='application/vnd.docker.distribution.manifest.v2+json'
digest=$(cl_hostns curl -fsS -m 5 -I -H "Accept: $accept" "http://$CANARY_REGISTRY/v2/${IMAGE%:*}/manifests/${IMAGE#*:}" |
  tr -d '\r' | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: //p')
REF="$CANARY_REGISTRY/${IMAGE%:*}@$digest"
check "registry serves $IMAGE with digest ${digest:-<none>}" test -n "$digest"
check "the manager's push recorded the same digest" \
  bash -c "docker -H '$CANARY_MANAGER_DOCKER_HOST' image inspect -f '{{json .RepoDigests}}' '$CANARY_REGISTRY/$IMAGE' | grep -qF '\"$REF\"'"
check "the worker does not have the image before the service starts" bash -c "! docker -H '$CANARY_WORKER_DOCKER_HOST' image inspect '$REF' >/dev/null 2>&1"

# ---------------------------------------------------------------- service
cl_mgr network create --driver overlay --attachable --label "$CANARY_TEST_LABEL" "$NETWORK" >/dev/null
ts=${EPOCHREALTIME/[.,]/}
# At most 2 per node: 4 replicas on 2 nodes must land 2 + 2. dnsrr: no IPVS here.
# Main mode: also behind the stack's Traefik (a manager-only task), through canary-net.
via_traefik=()
if [[ "$CANARY_CLUSTER_MANAGER" == main ]]; then
  via_traefik=(--network "$CANARY_NETWORK" --label traefik.enable=true
    --label "traefik.http.routers.$SVC.rule=Host(\`$SVC.localhost\`)"
    --label "traefik.http.routers.$SVC.entrypoints=web"
    --label "traefik.http.services.$SVC.loadbalancer.server.port=8080")
fi
cl_mgr service create --detach --quiet --name "$SVC" --label "$CANARY_TEST_LABEL" \
  --replicas "$REPLICAS" --replicas-max-per-node 2 \
  --network "$NETWORK" "${via_traefik[@]}" --endpoint-mode dnsrr -e VERSION=v1 "$REF" >/dev/null
running() { cl_mgr service ps "$SVC" --filter desired-state=running --format '{{.CurrentState}}' | grep -c '^Running' || true; }
if cl_wait 120 "$REPLICAS tasks running" bash -c "[[ \$(docker -H '$CANARY_MANAGER_DOCKER_HOST' service ps '$SVC' --filter desired-state=running --format '{{.CurrentState}}' | grep -c '^Running') == $REPLICAS ]]"; then
  run_secs=$(cl_elapsed "$ts")
  ok "$REPLICAS tasks running ${run_secs}s after service create"
else
  run_secs="(not within 120)"
  bad "$REPLICAS tasks running within 120s (running: $(running))"
  cl_mgr service ps --no-trunc "$SVC" >&2 || true
fi
mapfile -t tasks < <(cl_mgr service ps -q --filter desired-state=running "$SVC")
declare -A on_node=() task_ip=() task_cid=() task_pid=() ip_task=()
for t in "${tasks[@]}"; do
  for a in $(cl_mgr inspect -f '{{range .NetworksAttachments}}{{range .Addresses}}{{.}} {{end}}{{end}}' "$t"); do ip_task[${a%/*}]=$t; done
  read -r node cid ip < <(cl_mgr inspect -f '{{.NodeID}} {{.Status.ContainerStatus.ContainerID}} {{range .NetworksAttachments}}{{if eq .Network.Spec.Name "'"$NETWORK"'"}}{{range .Addresses}}{{.}}{{end}}{{end}}{{end}}' "$t")
  on_node[$node]=$(( ${on_node[$node]:-0} + 1 ))
  task_ip[$t]=${ip%/*}
  task_cid[$t]=$cid
  if [[ "$node" == "$w_node" ]]; then eng=cl_wrk; else eng=cl_mgr; fi
  task_pid[$t]=$($eng inspect -f '{{.State.Pid}}' "$cid" 2>/dev/null || echo 0)
done
spread="manager ${on_node[$m_node]:-0}, worker1 ${on_node[$w_node]:-0}"
check "tasks spread over both nodes ($spread)" test "${on_node[$m_node]:-0}" -eq 2 -a "${on_node[$w_node]:-0}" -eq 2

# ---------------------------------------------------------------- registry: the worker pulled by digest
check "the worker holds $REF" bash -c "docker -H '$CANARY_WORKER_DOCKER_HOST' image inspect '$REF' >/dev/null"
check "the registry log shows the worker ($CANARY_CLUSTER_WORKER_ADDR) fetching manifests/$digest" \
  bash -c "grep -F 'GET /v2/${IMAGE%:*}/manifests/$digest ' '$CANARY_CLUSTER_DIR/registry/registry.log' | grep -qF '$CANARY_CLUSTER_WORKER_ADDR'"

# ---------------------------------------------------------------- overlay: every task to every task
# From inside each task's network namespace (nsenter with the host's curl: the image is FROM
# scratch), GET every task's overlay address; the answer names the container that served it.
mesh_ok=0 mesh_cross=0 mesh_total=0
for from in "${tasks[@]}"; do
  for to in "${tasks[@]}"; do
    mesh_total=$((mesh_total + 1))
    body=$(nsenter --net="/proc/${task_pid[$from]}/ns/net" curl -sS -m 3 "http://${task_ip[$to]}:8080/mesh" 2>&1 || true)
    if [[ "$body" == *"\"host\":\"${task_cid[$to]:0:12}\""* ]]; then
      mesh_ok=$((mesh_ok + 1))
      [[ "$(cl_mgr inspect -f '{{.NodeID}}' "$from")" == "$(cl_mgr inspect -f '{{.NodeID}}' "$to")" ]] || mesh_cross=$((mesh_cross + 1))
    else
      printf '  %s -> %s: %s\n' "${task_ip[$from]:-?}" "${task_ip[$to]:-?}" "$body" >&2
    fi
  done
done
check "overlay: $mesh_ok/$mesh_total task-to-task requests answered by the right task ($mesh_cross across nodes)" \
  test "$mesh_ok" -eq $((REPLICAS * REPLICAS)) -a "$mesh_cross" -eq 8
vx_pkts=$(cl_ip -s -j link show "$CANARY_CLUSTER_WORKER_VETH" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["stats64"]["rx"]["packets"])')
check "traffic crossed the veth ($vx_pkts packets received from the worker)" test "$vx_pkts" -gt 0

# Docker's embedded DNS (127.0.0.11 inside a task's netns) must list every task for dnsrr.
dns_ips=$(nsenter --net="/proc/${task_pid[${tasks[0]}]}/ns/net" python3 - "tasks.$SVC" <<'PY' 2>&1 || true
import random, socket, struct, sys
name = sys.argv[1]
qid = random.randrange(65536)
q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0" + struct.pack(">HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.sendto(q, ("127.0.0.11", 53))
r = s.recv(4096)
an = struct.unpack(">H", r[6:8])[0]
i = len(q)   # the answer echoes the question first
ips = []
for _ in range(an):
    i += 2 if r[i] & 0xC0 == 0xC0 else r.index(b"\0", i) + 1 - i
    typ, _cls, _ttl, ln = struct.unpack(">HHIH", r[i:i + 10])
    if typ == 1 and ln == 4:
        ips.append(socket.inet_ntoa(r[i + 10:i + 14]))
    i += 10 + ln
print(" ".join(sorted(ips)))
PY
)
# One address per task, on whichever of the task's networks the resolver picked.
dns_tasks=$(for a in $dns_ips; do echo "${ip_task[$a]:-unknown}"; done | sort -u | grep -vc '^unknown$' || true)
check "DNS tasks.$SVC lists the $REPLICAS tasks ($dns_ips)" \
  test "$dns_tasks" -eq "$REPLICAS" -a "$(wc -w <<<"$dns_ips")" -eq "$REPLICAS"

# ---------------------------------------------------------------- through Traefik (main mode)
if [[ "$CANARY_CLUSTER_MANAGER" == main ]]; then
  # Traefik runs on the manager; tasks on the worker are reached over canary-net's VXLAN. Every
  # task must answer within a bounded number of requests to 127.0.0.1.
  cl_wait 30 "Traefik routes $SVC.localhost" bash -c \
    "curl -fsS -m 2 -H 'Host: $SVC.localhost' '$CANARY_WEB_URL/' | grep -q '\"host\"'" || true
  declare -A seen=()
  for _ in $(seq 1 40); do
    h=$(curl -sS -m 2 -H "Host: $SVC.localhost" "$CANARY_WEB_URL/" 2>/dev/null | sed -n 's/.*"host":"\([0-9a-f]*\)".*/\1/p')
    [[ -z "$h" ]] || seen[$h]=1
  done
  tr_ok=0
  for t in "${tasks[@]}"; do [[ -n "${seen[${task_cid[$t]:0:12}]:-}" ]] && tr_ok=$((tr_ok + 1)); done
  check "Traefik ($CANARY_WEB_URL) reached $tr_ok/$REPLICAS tasks in 40 requests, the worker's included" test "$tr_ok" -eq "$REPLICAS"
fi

# ---------------------------------------------------------------- not reachable from outside
# A stranger on another link of the host namespace (like a machine on eth0), routing the private
# /24 via the host: every port of the cluster must stay silent to it, while the worker reaches
# them. Its /30 must be free in the host namespace.
if [[ -n "$(cl_ip -4 route show match 10.214.0.0/30 | grep -v '^default' || true)" ]]; then
  bad "outside test: 10.214.0.0/30 is in use in the host namespace"
else
  ip netns add "$OUTNS"
  ip -n "$OUTNS" link set lo up
  cl_ip link add "$P-out" type veth peer name eth0 netns "$OUTNS"   # deleted with the netns
  cl_ip addr add 10.214.0.1/30 dev "$P-out"
  cl_ip link set "$P-out" up
  ip -n "$OUTNS" addr add 10.214.0.2/30 dev eth0
  ip -n "$OUTNS" link set eth0 up
  ip -n "$OUTNS" route add "$CANARY_CLUSTER_SUBNET.0/24" via 10.214.0.1
  chain="CANARY-CL-$(printf '%s' "$P" | sha256sum | cut -c1-8)"
  # Packets dropped by the guard chain, by the rules whose text matches $1.
  drops() { cl_hostns iptables -t mangle -L "$chain" -v -x -n | awk -v m="$1" '$3 == "DROP" && index($0, m) { n += $1 } END { print n + 0 }'; }
  connects() { nsenter --net="/run/netns/$1" timeout 2 bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null; }
  no_connect() { ! connects "$@"; }
  for port in 2377 7946 "$CANARY_REGISTRY_PORT"; do
    check "worker -> $CANARY_CLUSTER_MANAGER_ADDR:$port connects" connects "$CANARY_CLUSTER_WORKER_NETNS" "$CANARY_CLUSTER_MANAGER_ADDR" "$port"
    check "outside -> $CANARY_CLUSTER_MANAGER_ADDR:$port does not" no_connect "$OUTNS" "$CANARY_CLUSTER_MANAGER_ADDR" "$port"
  done
  # VXLAN's socket is 0.0.0.0:4789: it also listens on the host's outside address.
  d0=$(drops 'dpt:4789')
  nsenter --net="/run/netns/$OUTNS" python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); [s.sendto(b"\x08"+b"\0"*15, ("10.214.0.1", 4789)) for _ in range(3)]'
  d1=$(drops 'dpt:4789')
  check "outside -> 10.214.0.1:4789/udp dropped by the guard ($((d1 - d0)) of 3)" test $((d1 - d0)) -eq 3
  check "the worker still reaches the registry" \
    nsenter --net="/run/netns/$CANARY_CLUSTER_WORKER_NETNS" curl -fsS -m 2 -o /dev/null "http://$CANARY_REGISTRY/v2/"
fi

# ---------------------------------------------------------------- figures
cat <<EOF

figures: cluster up ${up_secs}s (worker join ${join_secs:-?}s); $REPLICAS tasks running ${run_secs}s after create
         spread: $spread; overlay mesh $mesh_ok/$mesh_total ($mesh_cross across nodes); image $REF
EOF
echo "cluster-check: $PASS passed, $FAIL failed"
((FAIL == 0))
