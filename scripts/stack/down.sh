#!/usr/bin/env bash
# Tear down what scripts/stack/up.sh created, and nothing else.
#
#   scripts/stack/down.sh            remove the Traefik, socket-proxy and scrape-proxy services
#                                    ($CANARY_TRAEFIK_SERVICE, $CANARY_DOCKER_PROXY_SERVICE,
#                                    $CANARY_SCRAPE_PROXY_SERVICE) and
#                                    networks ($CANARY_NETWORK, $CANARY_DOCKER_API_NETWORK) if
#                                    labelled io.canary.stack=local, stop our Prometheus, remove
#                                    our loopback-guard rules
#   scripts/stack/down.sh --tests    also remove services labelled io.canary.test=1
#   scripts/stack/down.sh --all      also leave the swarm if up.sh initialised it, stop
#                                    dockerd if up.sh started it, and remove the cluster
#                                    bridge (scripts/cluster/net.sh down)
#   scripts/stack/down.sh --purge    --all, plus remove the canary-demo/canary-traefik/
#                                    canary-socket-proxy images and the state dir ($CANARY_STACK_DIR)
#
# Other services, networks, containers and images are never touched.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=env.sh source-path=SCRIPTDIR
source "$HERE/env.sh"

STATE="$CANARY_STACK_DIR"
GUARD_COMMENT="canary-stack-guard-$(printf '%s' "$STATE" | sha256sum | cut -c1-8)"   # as in up.sh
LABEL_KEY="${CANARY_STACK_LABEL%%=*}"
LABEL_VAL="${CANARY_STACK_LABEL#*=}"
ALL=0 PURGE=0 TESTS=0
for a in "$@"; do
  case "$a" in
    --all) ALL=1 ;;
    --purge) ALL=1 PURGE=1 ;;
    --tests) TESTS=1 ;;
    -h | --help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "down.sh: unknown argument $a" >&2; exit 2 ;;
  esac
done

log() { printf '[down] %s\n' "$*" >&2; }
run() { log "+ $*"; "$@"; }
[[ $EUID -eq 0 ]] || { echo "down.sh: run as root" >&2; exit 1; }

# ---------------------------------------------------------------- swarm objects
if docker info >/dev/null 2>&1; then
  if [[ "$(docker info -f '{{.Swarm.LocalNodeState}}')" == active ]]; then
    # up.sh creates three services and two networks; remove them by name, and only when they
    # carry the stack label (never someone else's object of the same name). Traefik first: it
    # polls the proxy.
    for svc in "$CANARY_TRAEFIK_SERVICE" "$CANARY_DOCKER_PROXY_SERVICE" "$CANARY_SCRAPE_PROXY_SERVICE"; do
      if [[ "$(docker service inspect -f "{{index .Spec.Labels \"$LABEL_KEY\"}}" "$svc" 2>/dev/null)" == "$LABEL_VAL" ]]; then
        run docker service rm "$svc" >/dev/null
      else
        log "no service $svc labelled $CANARY_STACK_LABEL"
      fi
    done
    if ((TESTS)); then
      mapfile -t svcs < <(docker service ls --format '{{.Name}}' --filter "label=$CANARY_TEST_LABEL")
      if ((${#svcs[@]})); then run docker service rm "${svcs[@]}" >/dev/null; else log "no services labelled $CANARY_TEST_LABEL"; fi
    fi
    # Wait for the containers to go (frees the ports and the networks).
    for svc in "$CANARY_TRAEFIK_SERVICE" "$CANARY_DOCKER_PROXY_SERVICE" "$CANARY_SCRAPE_PROXY_SERVICE"; do
      for _ in $(seq 1 150); do
        [[ -z "$(docker ps -q --filter "label=com.docker.swarm.service.name=$svc")" ]] && break
        sleep 0.2
      done
    done
    for net in "$CANARY_NETWORK" "$CANARY_DOCKER_API_NETWORK"; do
      if [[ "$(docker network inspect -f "{{index .Labels \"$LABEL_KEY\"}}" "$net" 2>/dev/null)" == "$LABEL_VAL" ]]; then
        # Overlay networks linger a moment after their last task; retry briefly.
        for i in $(seq 1 25); do
          if docker network rm "$net" >/dev/null 2>&1; then log "+ docker network rm $net"; break; fi
          if ((i == 25)); then log "WARNING: network $net still in use (other services attached?); left in place"; fi
          sleep 0.4
        done
      else
        log "no network $net labelled $CANARY_STACK_LABEL"
      fi
    done
  else
    log "swarm not active; no services to remove"
  fi
else
  log "dockerd not running; skipping swarm objects"
fi

# ---------------------------------------------------------------- prometheus
prom_pidfile="$STATE/prometheus/prometheus.pid"
if [[ -s "$prom_pidfile" ]]; then
  pid=$(cat "$prom_pidfile")
  if [[ -r /proc/$pid/cmdline ]] &&
     tr '\0' '\n' <"/proc/$pid/cmdline" | grep -qxF -- "--storage.tsdb.path=$STATE/prometheus/data"; then
    run kill "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && log "WARNING: prometheus pid $pid still running"
  else
    log "prometheus pid $pid is not ours / not running"
  fi
  rm -f "$prom_pidfile"
else
  log "no prometheus pid file; nothing to stop"
fi

# ---------------------------------------------------------------- loopback guard
for ipt in iptables ip6tables; do
  command -v "$ipt" >/dev/null || continue
  while read -r rule; do
    [[ -n "$rule" ]] || continue
    log "+ $ipt -t mangle ${rule/-A /-D }"
    eval "$ipt -t mangle ${rule/-A /-D }"
  done < <("$ipt" -t mangle -S PREROUTING 2>/dev/null | grep -F -- "--comment $GUARD_COMMENT " || true)
done

# ---------------------------------------------------------------- --all / --purge
if ((ALL)); then
  if [[ -f "$STATE/swarm.initialized" ]] && docker info >/dev/null 2>&1; then
    if [[ -z "$(docker service ls -q)" ]]; then
      run docker swarm leave --force >/dev/null
      rm -f "$STATE/swarm.initialized"
    else
      log "other swarm services exist; not leaving the swarm"
    fi
  fi
  if ((PURGE)) && docker info >/dev/null 2>&1; then
    mapfile -t imgs < <(docker images --format '{{.Repository}}:{{.Tag}}' |
      grep -E "^(${CANARY_DEMO_IMAGE%:*}|${CANARY_TRAEFIK_IMAGE%:*}|${CANARY_SOCKET_PROXY_REPO}|${CANARY_SCRAPE_PROXY_REPO}):" || true)
    if ((${#imgs[@]})); then run docker rmi "${imgs[@]}" >/dev/null; fi
  fi
  if [[ -s "$STATE/dockerd.pid" ]]; then
    pid=$(cat "$STATE/dockerd.pid")
    if [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == dockerd ]]; then
      run kill "$pid"
      for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      kill -0 "$pid" 2>/dev/null && log "WARNING: dockerd pid $pid still running"
    else
      log "dockerd pid $pid not running"
    fi
    rm -f "$STATE/dockerd.pid"
  else
    log "dockerd was not started by up.sh; leaving it"
  fi
  # The cluster bridge and its firewall guard (up.sh creates them before dockerd); net.sh keeps
  # them while a dockerd still listens on the bridge address.
  CANARY_CLUSTER_MANAGER=main "$HERE/../cluster/net.sh" down
  if ((PURGE)); then
    run rm -rf "$STATE"
  fi
fi
log "done"
