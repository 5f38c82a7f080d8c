#!/usr/bin/env bash
# Hand-written lines of each binding (its Rust and its Python or JS/TS; tests, examples,
# benchmarks, generated loaders and .pyi stubs not counted; the TypeScript header of the
# generated index.d.ts counts) against canary-core + canary-swarm + canary-traefik (their src/).
# Issue #12's budget: each binding at or under ~2,000 lines, both under 30 % of the three crates.
#
#   bindings/count-lines.sh
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

lines() { if [[ $# -gt 0 ]]; then cat "$@" | wc -l; else echo 0; fi; }

core=$(lines $(find canary-core/src canary-swarm/src canary-traefik/src -name '*.rs'))
python=$(lines $(find bindings/python/src -name '*.rs') $(find bindings/python/python -name '*.py'))
node=$(lines $(find bindings/node/src -name '*.rs') bindings/node/types-header.d.ts)

printf '%-36s %6d\n' "core + swarm + traefik (src)" "$core"
printf '%-36s %6d  (%d %% of the crates)\n' "python: src/*.rs + python/**/*.py" "$python" $((python * 100 / core))
printf '%-36s %6d  (%d %% of the crates)\n' "node: src/*.rs + types-header.d.ts" "$node" $((node * 100 / core))
printf '%-36s %6d  (%d %% of the crates)\n' "both bindings" $((python + node)) $(((python + node) * 100 / core))
