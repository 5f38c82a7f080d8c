#!/usr/bin/env bash
# Blast radius of a dying canary: the earlier routing shape ("today") beside the recommended one
# (what the router writes now), on the real local stack (docs/routing-design.md has the figures
# and the reasoning).
#
#   bench/blast-radius/run.sh [scenario...]     (the local stack must be up: scripts/stack/up.sh)
#
# Scenarios (default: today chosen):
#   today           weighted over rt-stable@swarm 80 / rt-stable-canary@swarm 20 (what the router wrote before)
#   failover-swarm  weighted -> failover(rt-stable-canary@swarm with a label health check -> stable), retry
#   failover        weighted -> failover(canary's own load balancer, health check -> stable), no retry
#   chosen          the recommended shape: failover as above + retry on the app router + short dial timeout
#   chosen-sticky   chosen with a sticky cookie (50 clients with their own cookies) and 10% mirroring
#   chosen-header   chosen, every request with X-Canary: true (the header route), 20 req/s
#   chosen-passive  chosen plus a passive health check on the canary's load balancer (not recommended)
#   chosen-slow     chosen with the canary answering after 100ms (LATENCY_MS=100): requests in flight
#                   on the canary when it dies (this restarts the canary's task, twice)
#
# Each scenario: stable rt-stable (4 x canary-demo:v1) and canary rt-stable-canary (1 x :v2, restart
# delay 1s) on canary-net, the group file canary-rt.yml (Host rt.localhost), a steady load of 50
# requests a second for 20s to 127.0.0.1:$CANARY_WEB_PORT, and `docker kill` of the canary's
# container at 4s and 12s. For the file-provider shapes bench.py plays the router's new job: it
# re-reads the canary's running tasks every second and rewrites the file when their addresses change.
#
# Bounded: at most 1000 requests per scenario (client timeout 3s), each bench.py run under `timeout`.
# Creates only rt-stable, rt-stable-canary and canary-rt.yml, and removes them on exit (also on
# error or Ctrl-C). Results go to a temporary directory, removed at exit unless KEEP_RESULTS=<dir>.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
# shellcheck source=/dev/null
source "$ROOT/scripts/stack/env.sh"

STABLE=rt-stable
CANARY=rt-stable-canary
HOST=rt.localhost
FILE="$CANARY_TRAEFIK_DYNAMIC_DIR/canary-rt.yml"
OWNER_LABEL=io.canary.bench=rt
SCENARIOS=("$@")
((${#SCENARIOS[@]})) || SCENARIOS=(today chosen)

log() { printf '[blast-radius] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

for s in "${SCENARIOS[@]}"; do
  case "$s" in today | failover-swarm | failover | chosen | chosen-sticky | chosen-header | chosen-passive | chosen-slow) ;;
  *) die "unknown scenario $s" ;;
  esac
done
[[ "$CANARY_WEB_URL" == http://127.0.0.1:* && "$CANARY_TRAEFIK_URL" == http://127.0.0.1:* ]] ||
  die "the stack's URLs must be on 127.0.0.1"
curl -fsS -m 3 "$CANARY_TRAEFIK_URL/ping" >/dev/null || die "Traefik does not answer $CANARY_TRAEFIK_URL/ping (scripts/stack/up.sh)"
[[ -d "$CANARY_TRAEFIK_DYNAMIC_DIR" ]] || die "no file-provider directory $CANARY_TRAEFIK_DYNAMIC_DIR"
for svc in "$STABLE" "$CANARY"; do
  if docker service inspect "$svc" >/dev/null 2>&1; then
    [[ "$(docker service inspect -f '{{index .Spec.Labels "io.canary.bench"}}' "$svc")" == rt ]] ||
      die "service $svc exists and is not this bench's; not touching it"
    die "service $svc is left over from an earlier run; remove it: docker service rm $svc"
  fi
done
[[ ! -e "$FILE" ]] || die "$FILE exists (an earlier run?); remove it first"

OUT=$(mktemp -d /tmp/blast-radius.XXXXXX)
cleanup() {
  local rc=$?
  # The file first: nothing may name a service while it goes away.
  rm -f "$FILE" "$CANARY_TRAEFIK_DYNAMIC_DIR"/.canary-rt.yml.*.tmp
  docker service rm "$STABLE" "$CANARY" >/dev/null 2>&1 || true
  for _ in $(seq 50); do
    [[ -z "$(docker ps -q --filter "label=com.docker.swarm.service.name=$STABLE")$(docker ps -q --filter "label=com.docker.swarm.service.name=$CANARY")" ]] && break
    sleep 0.2
  done
  if [[ -n "${KEEP_RESULTS:-}" ]]; then
    mkdir -p "$KEEP_RESULTS" && cp -r "$OUT"/. "$KEEP_RESULTS"/ && log "results kept in $KEEP_RESULTS"
  fi
  rm -rf "$OUT"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

traefik_labels() { # <service>: the labels the Swarm provider needs to make <service>@swarm
  printf -- '--label traefik.enable=true --label traefik.swarm.network=%s --label traefik.http.services.%s.loadbalancer.server.port=8080' \
    "$CANARY_NETWORK" "$1"
}
create() { # <name> <version> <replicas> <extra args...>
  local name=$1 version=$2 replicas=$3
  shift 3
  # shellcheck disable=SC2046  # traefik_labels is a list of flags
  docker service create --detach --quiet --no-resolve-image --name "$name" \
    --label io.canary.test=1 --label "$OWNER_LABEL" --init --constraint node.role==manager \
    --network "$CANARY_NETWORK" --endpoint-mode dnsrr --replicas "$replicas" \
    --stop-grace-period 10s --env "VERSION=$version" \
    $(traefik_labels "$name") "$@" "canary-demo:$version" >/dev/null
}
running() { docker service ps "$1" --filter desired-state=running --format '{{.CurrentState}}' | grep -c '^Running' || true; }
canary_labels() { # on|off|hc: the canary's Traefik labels (service labels only: no task restarts)
  local spec=() k="traefik.http.services.$CANARY.loadbalancer"
  case "$1" in
    on) spec=(--label-add traefik.enable=true --label-add "traefik.swarm.network=$CANARY_NETWORK"
              --label-add "$k.server.port=8080" --label-rm "$k.healthcheck.path"
              --label-rm "$k.healthcheck.interval" --label-rm "$k.healthcheck.timeout") ;;
    hc) spec=(--label-add traefik.enable=true --label-add "traefik.swarm.network=$CANARY_NETWORK"
              --label-add "$k.server.port=8080" --label-add "$k.healthcheck.path=/health"
              --label-add "$k.healthcheck.interval=250ms" --label-add "$k.healthcheck.timeout=250ms") ;;
    # The file-provider shapes reach the canary through its task addresses only: no labels, so its
    # task churn does not make the Swarm provider reload Traefik's configuration.
    off) spec=(--label-rm traefik.enable --label-rm traefik.swarm.network --label-rm "$k.server.port"
               --label-rm "$k.healthcheck.path" --label-rm "$k.healthcheck.interval"
               --label-rm "$k.healthcheck.timeout") ;;
  esac
  docker service update --detach --quiet "${spec[@]}" "$CANARY" >/dev/null
}

log "creating $STABLE (4 x v1) and $CANARY (1 x v2) on $CANARY_NETWORK"
create "$STABLE" v1 4
# Restart delay 1s (Swarm's default is 5s) so two kills and two recoveries fit in 20s.
create "$CANARY" v2 1 --restart-delay 1s
for _ in $(seq 150); do
  [[ "$(running "$STABLE")" == 4 && "$(running "$CANARY")" == 1 ]] && break
  sleep 0.2
done
[[ "$(running "$STABLE")" == 4 && "$(running "$CANARY")" == 1 ]] || die "tasks not running after 30s"
for _ in $(seq 100); do
  curl -fsS -m 2 "$CANARY_TRAEFIK_URL/api/http/services/$STABLE@swarm" >/dev/null 2>&1 && break
  sleep 0.2
done

bench() { # <scenario> <canary labels> <bench.py args...>
  local name=$1 labels=$2
  shift 2
  canary_labels "$labels"
  if [[ "$labels" != off ]]; then
    for _ in $(seq 100); do
      curl -fsS -m 2 "$CANARY_TRAEFIK_URL/api/http/services/$CANARY@swarm" 2>/dev/null | grep -q '"url"' && break
      sleep 0.2
    done
  else
    sleep 2 # the Swarm provider drops $CANARY@swarm (1s poll + 0.5s throttle)
  fi
  log "scenario $name"
  timeout 150 python3 "$HERE/bench.py" --file "$FILE" --canary "$CANARY" --stable-backend "$STABLE@swarm" \
    --network "$CANARY_NETWORK" --host "$HOST" --web-port "$CANARY_WEB_PORT" \
    --api-port "${CANARY_TRAEFIK_URL##*:}" --kill-at 4 --kill-at 12 --out "$OUT/$name" "$@" >/dev/null
  rm -f "$FILE"
  sleep 1.5 # Traefik drops the file's routers before the next scenario writes its own
}
KNOBS=(--hc-interval 250ms --hc-timeout 250ms --dial-timeout 250ms --retry-attempts 4)
for s in "${SCENARIOS[@]}"; do
  case "$s" in
    today) bench today on --shape today ;;
    failover-swarm) bench failover-swarm hc --shape failover-swarm ;;
    failover) bench failover off --shape failover "${KNOBS[@]}" ;;
    chosen) bench chosen off --shape chosen "${KNOBS[@]}" ;;
    chosen-sticky) bench chosen-sticky off --shape chosen "${KNOBS[@]}" --sticky-clients 50 --mirror ;;
    chosen-header) bench chosen-header off --shape chosen "${KNOBS[@]}" --header X-Canary:true --stable-weight 0 --rps 20 ;;
    chosen-passive) bench chosen-passive off --shape chosen "${KNOBS[@]}" --passive ;;
    chosen-slow)
      docker service update --quiet --env-add LATENCY_MS=100 "$CANARY" >/dev/null
      bench chosen-slow off --shape chosen "${KNOBS[@]}"
      docker service update --quiet --env-rm LATENCY_MS "$CANARY" >/dev/null
      ;;
  esac
done

python3 - "$OUT" "${SCENARIOS[@]}" <<'PY'
import json, sys
out, names = sys.argv[1], sys.argv[2:]
rows = []
for n in names:
    s = json.load(open(f"{out}/{n}/summary.json"))
    kills = s["per_kill"]
    def span(k):
        if k["first_fail_after_kill_s"] is None:
            return "-"
        return f'{k["first_fail_after_kill_s"]:+.2f}..{k["last_fail_after_kill_s"]:+.2f}s'
    rows.append([
        n, str(s["requests"]), str(s["failed"]), str(s["failed_stable_share"]), str(s["failed_canary_share"]),
        " ".join(f"{k}x{v}" for k, v in s["failed_by_status"].items()) or "-",
        " / ".join(span(k) for k in kills),
        " / ".join("-" if k["canary_back_after_s"] is None else f'{k["canary_back_after_s"]:.1f}s' for k in kills),
        f'{s["ok_latency_ms"]["p99"]}/{s["ok_latency_ms"]["max"]}',
    ])
head = ["scenario", "requests", "failed", "stable", "canary", "by status", "failing after kill 1 / 2",
        "canary back 1 / 2", "ok p99/max ms"]
w = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
for r in [head] + rows:
    print("  ".join(c.ljust(w[i]) for i, c in enumerate(r)))
for n in names:
    s = json.load(open(f"{out}/{n}/summary.json"))
    print(f"\n{n}: Traefik service counters {json.dumps(s['traefik_service_counters'])}")
    if s.get("sticky"):
        print(f"{n}: sticky clients by the version they were stuck to: {json.dumps(s['sticky'])}")
PY
