#!/usr/bin/env bash
# The README's main job, on a fresh machine: bring up the local stack (Docker Engine, swarm,
# Traefik, Prometheus, demo images), then run a real canary of the neotix example to promotion
# under a steady load, printing the progress and the figures behind each decision; then a bad
# canary (ERROR_RATE=0.3) that analysis rolls back automatically (exit code 2).
#
#   scripts/demo.sh           # everything, then remove the demo's services and routes
#   scripts/demo.sh --keep    # leave the neotix services running afterwards
#
# Re-runnable: every step is idempotent (stable is put back on v1 before each run). Traffic only
# ever goes to 127.0.0.1. Takes about 2 minutes once the stack and the build are warm.
set -euo pipefail
cd "$(dirname "$0")/.."

KEEP=0
for arg in "$@"; do
  case "$arg" in
    --keep) KEEP=1 ;;
    -h | --help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "demo.sh: unknown argument $arg (try --help)" >&2; exit 64 ;;
  esac
done

step() { printf '\n=== %s (%s)\n' "$*" "$(date +%T)"; }
die() { echo "demo.sh: $*" >&2; exit 1; }

step "local stack: Docker Engine, swarm, Traefik, Prometheus, demo images"
bash scripts/stack/up.sh
# shellcheck source=stack/env.sh
source scripts/stack/env.sh

step "build the canary CLI and the load generator (release)"
cargo build --release --quiet -p canary-cli --bin canary -p canary-examples --bin canary-load
CANARY="$PWD/target/release/canary"
LOAD="$PWD/target/release/canary-load"
# Short leases: a rollout an interrupted earlier demo left behind is taken over within seconds.
export CANARY_LEASE=3s
SPEC=examples/neotix/canary.yaml
BAD=examples/neotix/canary-bad.yaml
WORK="$(mktemp -d)"
LOAD_PIDS=()

start_load() { # name: a steady 50 req/s on each app's route, until stop_load
  rm -f "$WORK/stop-$1"
  for route in api gcp; do
    "$LOAD" --url "$CANARY_WEB_URL/$route/x" --host api.localhost --rps 50 --duration 0 \
      --stop-file "$WORK/stop-$1" >"$WORK/load-$1-$route.json" &
    LOAD_PIDS+=("$!")
  done
}
stop_load() {
  touch "$WORK/stop-$1"
  for pid in "${LOAD_PIDS[@]}"; do wait "$pid" || true; done
  LOAD_PIDS=()
}
load_report() { # name: one line per route, from canary-load's JSON summaries
  python3 - "$WORK" "$1" <<'EOF'
import json, sys
work, name = sys.argv[1], sys.argv[2]
for route in ("api", "gcp"):
    s = json.load(open(f"{work}/load-{name}-{route}.json"))
    print(f"  /{route}: {s['sent']} requests, failed {s['failed']} "
          f"(status {s['by_status']}, errors {s['errors'] or 'none'}), answered by {s['by_version']}")
EOF
}
load_failures() { # name allowed-status...: answers with another status, plus requests with no answer
  python3 - "$WORK" "$@" <<'EOF'
import json, sys
work, name, allowed = sys.argv[1], sys.argv[2], set(sys.argv[3:])
n = 0
for route in ("api", "gcp"):
    s = json.load(open(f"{work}/load-{name}-{route}.json"))
    n += sum(v for k, v in s["by_status"].items() if k not in allowed) + sum(s["errors"].values())
print(n)
EOF
}

cleanup() {
  local rc=$?
  [ "${#LOAD_PIDS[@]}" -gt 0 ] && { touch "$WORK"/stop-good "$WORK"/stop-bad; wait "${LOAD_PIDS[@]}" 2>/dev/null || true; }
  if [ "$KEEP" = 0 ]; then
    step "clean up: the neotix routes and services (--keep leaves them)"
    # Routes first: Traefik must stop referencing a service before it goes away.
    rm -f "$CANARY_TRAEFIK_DYNAMIC_DIR/canary-neotix.yml"
    sleep 1
    for s in neotix_neotix-api-canary neotix_gcp-deployment-api-canary neotix_neotix-api neotix_gcp-deployment-api; do
      docker service rm "$s" >/dev/null 2>&1 && echo "removed $s" || true
    done
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT

step "canary build: the apps' images, stable (v1) and canary (v2)"
"$CANARY" build -f "$SPEC" --track stable
"$CANARY" build -f "$SPEC" --track canary

step "canary deploy: network, Traefik, stable services (on v1), routes"
# A demo interrupted mid-rollout with --keep left its rollout behind: roll it back first.
if "$CANARY" status -f "$SPEC" -o json 2>/dev/null \
  | grep -q '"phase":"\(pending\|progressing\|paused\|promoting\|rollingBack\)"'; then
  sleep 3 # the interrupted controller's lease expires
  "$CANARY" rollback -f "$SPEC" || true
fi
"$CANARY" deploy -f "$SPEC" --reset-stable

step "canary test: smoke test with and without X-Canary: true"
"$CANARY" test -f "$SPEC" -n 5

step "steady load: 50 req/s on each route (127.0.0.1:$CANARY_WEB_PORT, Host api.localhost)"
start_load good
sleep 2

step "canary run: the good canary, 20% -> 50% -> 80%, then promotion"
t0=$(date +%s.%N)
set +e
"$CANARY" run -f "$SPEC" --restart
good_rc=$?
set -e
good_secs=$(python3 -c "import time; print(f'{time.time() - $t0:.1f}')")
sleep 2
stop_load good
[ "$good_rc" = 0 ] || die "the good canary was not promoted (canary run exit code $good_rc)"
"$CANARY" status -f "$SPEC"
"$CANARY" test -f "$SPEC" -n 5

step "reset stable to v1 for the second run"
"$CANARY" deploy -f "$BAD" --reset-stable

step "canary run: the bad canary (ERROR_RATE=0.3), rolled back by analysis (exit code 2 expected)"
start_load bad
sleep 2
t1=$(date +%s.%N)
set +e
"$CANARY" run -f "$BAD" --restart
bad_rc=$?
set -e
bad_secs=$(python3 -c "import time; print(f'{time.time() - $t1:.1f}')")
sleep 2
stop_load bad
[ "$bad_rc" = 2 ] || die "the bad canary was not rolled back (canary run exit code $bad_rc, expected 2)"
"$CANARY" status -f "$BAD"

step "summary"
echo "good canary: promoted (exit 0), ${good_secs}s from \`canary run\` start to promotion"
echo "  steady load during the run and the promotion:"
load_report good
echo "bad canary:  rolled back by analysis (exit 2) ${bad_secs}s after \`canary run\` started"
echo "  steady load during the run and the rollback (500s are the canary's injected errors):"
load_report bad
good_failed=$(load_failures good 200)
bad_other=$(load_failures bad 200 500)
echo "failed requests: good run ${good_failed}; bad run, other than the canary's own 500s: ${bad_other}"
[ "$good_failed" = 0 ] || die "requests failed during the good run"
[ "$bad_other" = 0 ] || die "requests failed during the bad run other than the canary's 500s"
