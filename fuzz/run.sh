#!/usr/bin/env bash
# Fuzzes the spec parser (fuzz_targets/spec.rs) for a fixed number of runs, starting from the
# seed corpus in seeds/spec (the shipped examples, compose files, and inputs that once panicked).
# Any panic fails the script and leaves the crashing input in fuzz/artifacts/spec/.
#
#   fuzz/run.sh [RUNS]          default 200000 runs (about a minute here); CI runs it too
#
# cargo-fuzz needs nightly-only compiler flags; RUSTC_BOOTSTRAP=1 lets the stable toolchain
# accept them (no other toolchain can be installed on these machines).
set -euo pipefail
cd "$(dirname "$0")"
RUNS="${1:-200000}"
if ! command -v cargo-fuzz >/dev/null; then
  echo "== installing cargo-fuzz 0.13.2"
  cargo install --locked --quiet cargo-fuzz --version 0.13.2
fi
mkdir -p corpus/spec
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${CANARY_FUZZ_TARGET_DIR:-$PWD/target}"
cargo fuzz run spec corpus/spec seeds/spec -- -runs="$RUNS" -max_len=4096 -timeout=10 -rss_limit_mb=2048 2>&1 |
  tail -n 20
echo "fuzz: spec parser survived $RUNS runs"
