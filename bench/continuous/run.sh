#!/usr/bin/env bash
# How fast the demo's bad canary (ERROR_RATE=0.3, examples/neotix/canary-bad.yaml) is rolled back:
# analysed once per step (the example as it is: a verdict after each 10 s interval) beside
# continuous analysis every 1 s (`--set analysis.every=1s`), in one run, all reading Traefik's
# /metrics themselves (`--metrics traefik`, the scrape source): scraped every 1 s (the CLI's
# default) for both, and every 250 ms for continuous analysis too, since a count is only as fresh
# as the last scrape and the example's request gate (minRequests 20, at 10 req/s to each canary
# at weight 20) is met right at 2 s.
#
#   bench/continuous/run.sh            (the local stack must be up: scripts/stack/up.sh)
#   PROFILE=dev bench/continuous/run.sh     # a debug build instead of release
#   KEEP_RECORDINGS=DIR bench/continuous/run.sh   # keep both runs' recordings (canary run --record)
#
# Each run: fresh services of group `$BENCH_GROUP` (default benchcont, host benchcont.localhost),
# 50 req/s on each app's route to 127.0.0.1:$CANARY_WEB_PORT from 2 s before `canary run` until
# 2 s after it ends. Printed per run, from the run's own events: the time from the canary first
# getting traffic (its first `weightSet`) to the rollback decision (`rollingBack`), the same from
# `canary run`'s start, the weight in force then, and the 500s the load received (the canary's
# injected errors reaching users). Then each recording is replayed (`canary replay`) and must
# give the recorded decisions back.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
# shellcheck source=/dev/null
source "$ROOT/scripts/stack/env.sh"
cd "$ROOT"

PROFILE="${PROFILE:-release}"
GROUP="${BENCH_GROUP:-benchcont}"
HOST="$GROUP.localhost"
SPEC=examples/neotix/canary-bad.yaml
WORK="$(mktemp -d)"
LOAD_PIDS=()

cargo build --quiet --profile "$PROFILE" -p canary-cli --bin canary -p canary-examples --bin canary-load
dir="target/$([ "$PROFILE" = dev ] && echo debug || echo "$PROFILE")"
[ -n "${CARGO_TARGET_DIR:-}" ] && dir="$CARGO_TARGET_DIR/${dir#target/}"
CANARY="$(cd "$dir" && pwd)/canary"
LOAD="$(cd "$dir" && pwd)/canary-load"

# The example, renamed so the bench never touches the demo's own services and routes.
OVERRIDES=(--group "$GROUP" --stack "$GROUP"
  --set "apps[0].rule=Host(\`$HOST\`) && PathPrefix(\`/api\`)"
  --set "apps[1].rule=Host(\`$HOST\`) && PathPrefix(\`/gcp\`)")
canary() { "$CANARY" "$@" -f "$SPEC" "${OVERRIDES[@]}"; }

cleanup() {
  local rc=$?
  [ "${#LOAD_PIDS[@]}" -gt 0 ] && { touch "$WORK"/stop-*; wait "${LOAD_PIDS[@]}" 2>/dev/null || true; }
  # Routes first: Traefik must stop referencing a service before it goes away.
  rm -f "$CANARY_TRAEFIK_DYNAMIC_DIR/canary-$GROUP.yml"
  sleep 1
  for s in $(docker service ls -q --filter "name=${GROUP}_"); do docker service rm "$s" >/dev/null || true; done
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT

start_load() { # name
  : >"$WORK/stop-$1" && rm -f "$WORK/stop-$1"
  for route in api gcp; do
    "$LOAD" --url "$CANARY_WEB_URL/$route/x" --host "$HOST" --rps 50 --duration 0 \
      --stop-file "$WORK/stop-$1" >"$WORK/load-$1-$route.json" &
    LOAD_PIDS+=("$!")
  done
}
stop_load() { # name
  touch "$WORK/stop-$1"
  for pid in "${LOAD_PIDS[@]}"; do wait "$pid" || true; done
  LOAD_PIDS=()
}

echo "== images and stable services of group $GROUP"
canary build --track stable >/dev/null
canary build --track canary >/dev/null
# A swarm with other nodes (whose engines lack these locally built images): stable on a manager,
# which `canary deploy` adopts and the canary's service copies.
if [ "$(docker node ls -q | wc -l)" -gt 1 ]; then
  for app in neotix-api gcp-deployment-api; do
    docker service inspect "${GROUP}_$app" >/dev/null 2>&1 && continue
    docker service create --quiet --detach --name "${GROUP}_$app" --constraint node.role==manager \
      --network "$CANARY_NETWORK" --endpoint-mode dnsrr --label "com.docker.stack.namespace=$GROUP" \
      --replicas 1 "$app:v1" >/dev/null
  done
fi
canary deploy --reset-stable >/dev/null

MODES=(step every-1s every-1s-scrape-250ms)
for mode in "${MODES[@]}"; do
  extra=(--scrape-interval 1s)
  case "$mode" in
    every-1s) extra+=(--set analysis.every=1s) ;;
    every-1s-scrape-250ms) extra=(--scrape-interval 250ms --set analysis.every=1s) ;;
  esac
  echo "== $mode: canary run (rolled back expected, exit code 2)"
  start_load "$mode"
  sleep 2
  set +e
  canary run --restart --metrics traefik -o json --record "$WORK/$mode.jsonl" "${extra[@]}" >"$WORK/$mode.out"
  rc=$?
  set -e
  sleep 2
  stop_load "$mode"
  [ "$rc" = 2 ] || { cat "$WORK/$mode.out" >&2; echo "$mode: exit code $rc, expected 2" >&2; exit 1; }
  "$CANARY" replay "$WORK/$mode.jsonl" -o json >"$WORK/$mode.replay" || true
done

if [ -n "${KEEP_RECORDINGS:-}" ]; then
  mkdir -p "$KEEP_RECORDINGS"
  for mode in "${MODES[@]}"; do cp "$WORK/$mode.jsonl" "$KEEP_RECORDINGS/"; done
fi

python3 - "$WORK" <<'EOF'
import json, sys
work = sys.argv[1]
def lines(path):
    out = []
    for l in open(path):
        try:
            out.append(json.loads(l))
        except ValueError:
            pass
    return out
print()
print(f"{'analysis':<22} {'traffic -> rollback':>20} {'run start -> rollback':>22} {'weight':>7} {'500s to users':>14}  replay")
figures = {}
for mode in ("step", "every-1s", "every-1s-scrape-250ms"):
    ev = [l for l in lines(f"{work}/{mode}.out") if l.get("type") == "event"]
    start = next(e["atMs"] for e in ev if e["kind"] == "started")
    traffic = next(e["atMs"] for e in ev if e["kind"] == "weightSet" and e["weight"] > 0)
    rb = next(e for e in ev if e["kind"] == "rollingBack")
    served_500 = 0
    for route in ("api", "gcp"):
        s = json.load(open(f"{work}/load-{mode}-{route}.json"))
        served_500 += s["by_status"].get("500", 0)
    rep = [l for l in lines(f"{work}/{mode}.replay") if l.get("type") == "replay"]
    same = "same decisions" if rep and rep[-1]["sameAsRecorded"] else f"DIFFERS {rep[-1]['differences'] if rep else 'no replay'}"
    figures[mode] = (rb["atMs"] - traffic) / 1000
    print(f"{mode:<22} {figures[mode]:>18.2f}s {(rb['atMs'] - start) / 1000:>21.1f}s {rb['weight']:>6}% {served_500:>14}  {same}")
    print(f"{'':<22} cause: {rb['message']}")
print()
for mode in ("every-1s", "every-1s-scrape-250ms"):
    f = figures[mode]
    print(f"{mode}: decided {figures['step'] / max(f, 0.001):.1f}x sooner than once per step; "
          f"within 3 s of traffic: {'yes' if f <= 3.0 else 'NO'}")
EOF
