#!/usr/bin/env bash
# Promote benchmark (not a test): the seed's CLI promote against canary-swarm's, same run.
#
#   bench/promote/run.sh            (needs the local stack: scripts/stack/up.sh)
#
# Six services of REPLICAS (default 4) canary-demo:v1 tasks are created with plain
# `docker service create` (CLI defaults: update parallelism 1, order stop-first, monitor 5s,
# failure action pause; the demo app's default 3s drain on SIGTERM), on the stack's network.
#   seed arm:  docker tag canary-demo:v2 <x>:stable, then `docker service update --image
#              <x>:stable` per service, one after the other, with CLI defaults (each waits for
#              convergence and its 5s "verify" period) -- promote-canary.sh of the seed.
#   canary arm: the promote-bench example: pin canary-demo:v2 to its image ID, then for both
#              services at once set_image + wait_converged. set_image also sets the update
#              order to start-first (the service publishes no host port); parallelism, delay,
#              monitor and failure action stay the CLI defaults.
#   canary arm, update config kept (KEEP_ARM=1, default): the same with
#              --keep-update-config, i.e. exactly the seed's stop-first config, to show how much
#              of the gain is the start-first order and how much is the rest (concurrency, no
#              5s verify wait, 250ms polling).
# Prints the wall-clock times (each includes process start-up) and the ratios.
# Every service is placed on a manager (node.role==manager): a worker joined by another test
# lacks the local images.
# Settings: REPLICAS (4), FROM (canary-demo:v1), TO (canary-demo:v2), CANARY_NETWORK,
# BENCH_PROFILE (debug; release from bench/run.sh).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
# shellcheck source=/dev/null
[[ -f "$ROOT/scripts/stack/env.sh" ]] && source "$ROOT/scripts/stack/env.sh"
REPLICAS="${REPLICAS:-4}"
FROM="${FROM:-canary-demo:v1}"
TO="${TO:-canary-demo:v2}"
NETWORK="${CANARY_NETWORK:-canary-net}"
P="canarybench-$(head -c3 /dev/urandom | od -An -tx1 | tr -d ' \n')"
SEED=("$P-seed-a" "$P-seed-b")
OURS=("$P-ours-a" "$P-ours-b")
KEEP_ARM="${KEEP_ARM:-1}"
KEEP=()
[[ "$KEEP_ARM" == 1 ]] && KEEP=("$P-keep-a" "$P-keep-b")

now_ms() { date +%s%3N; }
log() { printf '[bench] %s\n' "$*" >&2; }

cleanup() {
  docker service rm "${SEED[@]}" "${OURS[@]}" "${KEEP[@]}" >/dev/null 2>&1 || true
  docker rmi "$P-img:stable" >/dev/null 2>&1 || true
}
trap cleanup EXIT

docker info >/dev/null 2>&1 || { log "Docker is not reachable; run scripts/stack/up.sh"; exit 1; }
for img in "$FROM" "$TO"; do
  docker image inspect "$img" >/dev/null 2>&1 || { log "image $img missing; run scripts/stack/up.sh"; exit 1; }
done

log "building the promote-bench example"
PROFILE="${BENCH_PROFILE:-debug}"  # bench/run.sh builds everything once, in release
PROFILE_FLAG=()
[[ "$PROFILE" == release ]] && PROFILE_FLAG=(--release)
(cd "$ROOT" && cargo build -q "${PROFILE_FLAG[@]}" -p canary-swarm --example promote-bench)
TARGET_DIR="$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
BIN="$TARGET_DIR/$PROFILE/examples/promote-bench"

log "creating ${SEED[*]} ${OURS[*]} ${KEEP[*]}: $REPLICAS x $FROM each, CLI defaults"
for s in "${SEED[@]}" "${OURS[@]}" "${KEEP[@]}"; do
  docker service create --detach --quiet --name "$s" --replicas "$REPLICAS" \
    --label io.canary.test=1 --constraint node.role==manager \
    --network "$NETWORK" --env VERSION=v1 "$FROM" >/dev/null 2>&1
done
running() { docker service ps "$1" --filter desired-state=running --format '{{.CurrentState}}' | grep -c '^Running' || true; }
deadline=$(( $(date +%s) + 120 ))
for s in "${SEED[@]}" "${OURS[@]}" "${KEEP[@]}"; do
  until [[ "$(running "$s")" -eq "$REPLICAS" ]]; do
    (( $(date +%s) < deadline )) || { log "$s did not start"; exit 1; }
    sleep 0.5
  done
done
sleep 2  # let the last start-ups settle before timing
log "update config before: $(docker service inspect "${SEED[0]}" --format '{{json .Spec.UpdateConfig}}')"

log "seed arm: docker tag + docker service update --image, sequentially"
t0=$(now_ms)
docker tag "$TO" "$P-img:stable"
for s in "${SEED[@]}"; do
  docker service update --image "$P-img:stable" "$s" >/dev/null 2>&1
done
t1=$(now_ms)
SEED_MS=$((t1 - t0))

log "canary arm: promote-bench (pin + concurrent set_image + wait_converged)"
t0=$(now_ms)
"$BIN" "$TO" "${OURS[@]}" >&2
t1=$(now_ms)
OURS_MS=$((t1 - t0))

KEEP_MS=0
if [[ "$KEEP_ARM" == 1 ]]; then
  log "canary arm with the update config kept (stop-first, as the seed's)"
  t0=$(now_ms)
  "$BIN" --keep-update-config "$TO" "${KEEP[@]}" >&2
  t1=$(now_ms)
  KEEP_MS=$((t1 - t0))
fi

check() {  # every running task of $1 is on image $2
  local want=$2 n
  n=$(docker service ps "$1" --filter desired-state=running --format '{{.Image}} {{.CurrentState}}' |
      grep -c "^$want Running" || true)
  [[ "$n" -eq "$REPLICAS" ]] || { log "$1: only $n/$REPLICAS tasks on $want"; exit 1; }
}
for s in "${SEED[@]}"; do check "$s" "$P-img:stable"; done
PINNED="$(docker image inspect "$TO" --format '{{.Id}}')"
for s in "${OURS[@]}" "${KEEP[@]}"; do check "$s" "$PINNED"; done
log "update config after, seed arm:   $(docker service inspect "${SEED[0]}" --format '{{json .Spec.UpdateConfig}}')"
log "update config after, canary arm: $(docker service inspect "${OURS[0]}" --format '{{json .Spec.UpdateConfig}}')"

python3 - "$SEED_MS" "$OURS_MS" "$KEEP_MS" "$REPLICAS" <<'PY'
import sys
seed, ours, keep, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
print(f"promote of 2 services x {n} replicas")
print(f"  seed CLI sequence (tag + sequential service update):   {seed / 1000:7.1f} s")
print(f"  canary-swarm (pin + concurrent set_image + wait):       {ours / 1000:7.1f} s")
print(f"  ratio seed / canary-swarm:                             {seed / ours:7.1f}x")
if keep:
    print(f"  canary-swarm, update config kept (stop-first):         {keep / 1000:7.1f} s")
    print(f"  ratio seed / canary-swarm with the seed's config:      {seed / keep:7.1f}x")
PY
