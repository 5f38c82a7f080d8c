#!/usr/bin/env bash
# Builds and checks the Node package canary-sdk, from a fresh machine with Node >= 20.17, npm,
# cargo and the npm registry:
#
#   1. dev dependencies (npm ci: @napi-rs/cli, typescript, @types/node), and zig with
#      cargo-zigbuild from PyPI in a venv under the build dir (needs python3 with venv)
#   2. release build of the native module, linked by zig against glibc 2.17 so it loads on
#      RHEL 8, Ubuntu 20.04, Debian 11, Amazon Linux 2 and later; the generated loader (index.js)
#      and typings (index.d.ts) must match the checked-in ones; `objdump -T` must find no
#      symbol version newer than GLIBC_2.17; the release module has no test fakes
#   3. the test build: a debug module with the cargo feature `testing` (the in-memory world),
#      in $CARGO_TARGET_DIR/node-testing, loaded by the tests through the package's own loader
#      (NAPI_RS_NATIVE_LIBRARY_PATH)
#   4. node --test tests/ (the Docker cases fail, not skip, when CI is set)
#   5. tsc --noEmit --strict on examples/rollout.ts (every exported name)
#   6. npm pack; the tarball installs offline in an empty folder and runs the example
#   7. the real stack, through the package only: the neotix example built, deployed,
#      smoke-tested and run to promotion, and a bad canary rolled back (examples/real-stack.mjs);
#      skipped when the stack is not up, required when CI is set
#
#   bindings/node/test.sh [--no-stack]
#
# CARGO_TARGET_DIR defaults to <repo>/target/node.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cd "$here"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target/node}"
stack=1
[[ "${1:-}" == "--no-stack" ]] && stack=0

step() { printf '\n==> %s\n' "$*"; }
begun=$SECONDS
took() { echo "(took $((SECONDS - $1)) s)"; }

step "dev dependencies"
node -e 'const [a,b]=process.versions.node.split(".").map(Number); if (a<20||(a===20&&b<17)) { console.error("Node >= 20.17 is needed (napi-rs CLI), found "+process.versions.node); process.exit(1) }'
npm ci --no-audit --no-fund --loglevel=error

step "zig toolchain: ziglang and cargo-zigbuild from PyPI"
# napi's --cross-compile runs `cargo zigbuild`; left to itself it would `cargo install` whatever
# cargo-zigbuild is newest and expect a zig on PATH. Both come pinned from PyPI instead, the same
# zig as bindings/python/test.sh uses.
zigenv="$CARGO_TARGET_DIR/zig-venv"
if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' 2>/dev/null; then
  if command -v apt-get >/dev/null && [[ "$(id -u)" == 0 ]]; then
    apt-get install -y -qq python3-venv >/dev/null || { apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null; }
  else
    echo "python venv support is missing: install python3-venv" >&2
    exit 1
  fi
fi
[[ -x "$zigenv/bin/python" ]] || python3 -m venv "$zigenv"
PIP_DISABLE_PIP_VERSION_CHECK=1 "$zigenv/bin/pip" install -q "ziglang==0.15.2" "cargo-zigbuild==0.24.0"
export CARGO_ZIGBUILD_PYTHON_PATH="$zigenv/bin/python"
zigpath="$zigenv/bin:$PATH"
PATH="$zigpath" cargo help zigbuild >/dev/null  # else napi would `cargo install` an unpinned one
echo "zig $("$zigenv/bin/python" -m ziglang version), $(PATH="$zigpath" cargo-zigbuild --version)"

step "release build (glibc 2.17, linked by zig)"
# The host's glibc (2.36 on Debian 12) would make the module need glibc 2.34: the `.2.17` suffix
# has zig link against glibc 2.17 stubs and compile the C in the tree (ring) for that target too.
# Stripped symbols keep the package small; the env var applies inside or outside the workspace.
started=$SECONDS
PATH="$zigpath" CARGO_PROFILE_RELEASE_STRIP=symbols \
  npx napi build --platform --release --cross-compile --target x86_64-unknown-linux-gnu.2.17
echo "built in $((SECONDS - started)) s"
if git -C "$repo" rev-parse --git-dir >/dev/null 2>&1 \
  && git -C "$repo" ls-files --error-unmatch "$here/index.d.ts" >/dev/null 2>&1 \
  && ! git -C "$repo" diff --quiet -- "$here/index.js" "$here/index.d.ts"; then
  git -C "$repo" diff --stat -- "$here/index.js" "$here/index.d.ts"
  echo "index.js / index.d.ts differ from the checked-in ones: commit the regenerated files" >&2
  [[ -n "${CI:-}" ]] && exit 1
fi

step "objdump -T: no symbol newer than GLIBC_2.17"
module="$here/canary-sdk.linux-x64-gnu.node"
if ! command -v objdump >/dev/null; then
  if command -v apt-get >/dev/null && [[ "$(id -u)" == 0 ]]; then
    apt-get install -y -qq binutils >/dev/null || { apt-get update -qq && apt-get install -y -qq binutils >/dev/null; }
  else
    echo "objdump is missing: install binutils" >&2
    exit 1
  fi
fi
symbols="$(objdump -T "$module")"
versions="$(grep -oE 'GLIBC_([0-9]+(\.[0-9]+)+|PRIVATE)' <<<"$symbols" | sort -Vu || true)"
echo "glibc symbol versions: $(tr '\n' ' ' <<<"$versions")"
# An empty list means objdump read nothing useful: not a pass.
[[ -n "$versions" ]] || { echo "no GLIBC symbol versions in $module" >&2; exit 1; }
too_new="$(grep -vxE 'GLIBC_2\.([0-9]|1[0-7])(\.[0-9]+)?' <<<"$versions" || true)"
if [[ -n "$too_new" ]]; then
  echo "$module needs glibc newer than 2.17:" >&2
  grep -E "\(?($(paste -sd'|' <<<"$too_new" | sed 's/\./\\./g'))\)?[[:space:]]" <<<"$symbols" >&2 || true
  exit 1
fi
echo "ok: newest is $(tail -1 <<<"$versions")"
if grep -q 'namespace testing' index.d.ts; then
  echo "index.d.ts declares the test fakes: the release build must not have the testing feature" >&2
  exit 1
fi

step "test build (debug, feature testing)"
started=$SECONDS
testing="$CARGO_TARGET_DIR/node-testing"
npx napi build --platform --features testing --output-dir "$testing" --no-js --dts testing.d.ts
took $started

step "node --test"
started=$SECONDS
# shellcheck source=/dev/null
[[ -f "$repo/scripts/stack/env.sh" ]] && source "$repo/scripts/stack/env.sh"
NAPI_RS_NATIVE_LIBRARY_PATH="$testing/canary-sdk.linux-x64-gnu.node" node --test --test-reporter=spec tests/
took $started

step "tsc --noEmit --strict"
npx tsc --noEmit --strict -p examples/tsconfig.json

step "npm pack, offline install, run the example"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
tgz="$(npm pack --silent --pack-destination "$work" | tail -1)"
ls -l "$work/$tgz" | awk '{print "package: " $NF ", " $5 " bytes"}'
tar -tzf "$work/$tgz" | sort | sed 's/^/  /'
mkdir "$work/app"
(
  cd "$work/app"
  npm init -y >/dev/null
  npm install --offline --no-audit --no-fund --loglevel=error "../$tgz"
  cp "$here/examples/rollout.ts" .
  cat >tsconfig.json <<'EOF'
{ "compilerOptions": { "target": "ES2022", "module": "commonjs", "moduleResolution": "node",
  "strict": true, "esModuleInterop": true, "outDir": "out",
  "typeRoots": ["TYPEROOTS"], "types": ["node"] }, "files": ["rollout.ts"] }
EOF
  sed -i "s#TYPEROOTS#$here/node_modules/@types#" tsconfig.json
  "$here/node_modules/.bin/tsc" -p tsconfig.json
  node out/rollout.js
  node -e 'const s=require("canary-sdk"); if (s.__napiBindingTarget!=="native" || s.testing !== undefined) process.exit(1); console.log("installed canary-sdk loads its native module, without test fakes")'
)

if [[ $stack == 1 ]]; then
  step "real stack: neotix built, deployed, smoke-tested, promoted; a bad canary rolled back"
  started=$SECONDS
  set +e
  node examples/real-stack.mjs
  rc=$?
  set -e
  if [[ $rc == 2 ]]; then
    echo "skipped: the local stack is not up (scripts/stack/up.sh)"
  elif [[ $rc != 0 ]]; then
    exit $rc
  fi
  took $started
fi

if [[ -x "$repo/bindings/count-lines.sh" ]]; then
  step "hand-written lines"
  "$repo/bindings/count-lines.sh"
fi

step "bindings/node: all checks passed in $((SECONDS - begun)) s"
