#!/usr/bin/env bash
# The project's test command (README): sets up everything it needs on a fresh machine (Docker
# Engine, swarm, Traefik and demo images, Prometheus), then runs the checks and every test.
# Tests that need Docker or Chromium fail (they do not skip) when CI is set and either is missing.
# The dashboard's browser test leaves its screenshots in target/ci-artifacts/ (a CI artifact).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
step() { printf '\n=== %s (%s)\n' "$*" "$(date +%T)"; }

step "format"
cargo fmt --all --check

step "local stack: Docker Engine, swarm, Traefik, Prometheus, demo images"
bash scripts/stack/up.sh
# shellcheck source=stack/env.sh
source scripts/stack/env.sh

step "headless Chromium and chromedriver, for the dashboard's real-browser test"
bash scripts/chromium.sh

step "no import circle between the modules of any crate"
python3 scripts/import-circles.py

step "clippy"
cargo clippy --workspace --all-targets -- -D warnings

step "docs"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps

step "fuzz: the spec parser, a fixed number of runs from the seed corpus (a panic fails)"
bash fuzz/run.sh "${CANARY_FUZZ_RUNS:-30000}"

step "tests (unit, fixtures, and the real stack)"
cargo test --workspace -- --test-threads="${CANARY_TEST_THREADS:-2}"

step "Python package (pyo3 + maturin): wheel, offline install, pytest, mypy --strict, stubtest, real stack"
bash bindings/python/test.sh

step "Node package (napi-rs): build, node --test, tsc --strict, npm pack + offline install, real stack"
bash bindings/node/test.sh

step "done"
