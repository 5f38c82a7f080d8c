#!/usr/bin/env bash
# Rollback and promote under a steady load, this router's way beside the seed's, in one run.
#
#   bench/rollback/run.sh            (the local stack must be up: scripts/stack/up.sh)
#
# Four scenarios, each on fresh Swarm services (stable canary-demo:v1 x2, canary :v2 x1, weight 50
# in a Traefik weighted service), a steady load of 4 workers on 127.0.0.1:$CANARY_WEB_PORT:
#   router rollback  canary out of the weights (confirmed through Traefik's API), then scaled to 0
#   seed   rollback  canary scaled to 0 while still in the weights
#   router promote   stable updated to v2, canary out of the weights, then scaled to 0
#   seed   promote   stable updated to v2, canary scaled to 0 while still in the weights
# Printed per scenario: time to the canary being out of the routes (router way), time from the
# decision to the last canary response (rollbacks), failed requests from the decision until the
# canary's tasks are gone + 3s.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
# shellcheck source=/dev/null
source "$ROOT/scripts/stack/env.sh"
cd "$ROOT"
exec cargo run --quiet -p canary-traefik --example rollback-bench
