#!/usr/bin/env bash
# Builds and checks the Node package canary-sdk, from a fresh machine with Node >= 20.17, npm,
# cargo and the npm registry:
#
#   1. dev dependencies (npm ci: @napi-rs/cli, typescript, @types/node)
#   2. release build of the native module; the generated loader (index.js) and typings
#      (index.d.ts) must match the checked-in ones
#   3. node --test tests/
#   4. tsc --noEmit --strict on examples/rollout.ts (every exported name)
#   5. npm pack; the tarball installs offline in an empty folder and runs the example
#   6. the real stack: the neotix example to promotion and a bad canary to rollback
#      (examples/real-stack.mjs); skipped when the stack is not up, required when CI is set
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

step "dev dependencies"
node -e 'const [a,b]=process.versions.node.split(".").map(Number); if (a<20||(a===20&&b<17)) { console.error("Node >= 20.17 is needed (napi-rs CLI), found "+process.versions.node); process.exit(1) }'
npm ci --no-audit --no-fund --loglevel=error

step "release build"
# Stripped symbols keep the package small; the env var applies inside or outside the workspace.
CARGO_PROFILE_RELEASE_STRIP=symbols npx napi build --platform --release
if git -C "$repo" rev-parse --git-dir >/dev/null 2>&1 \
  && git -C "$repo" ls-files --error-unmatch "$here/index.d.ts" >/dev/null 2>&1 \
  && ! git -C "$repo" diff --quiet -- "$here/index.js" "$here/index.d.ts"; then
  git -C "$repo" diff --stat -- "$here/index.js" "$here/index.d.ts"
  echo "index.js / index.d.ts differ from the checked-in ones: commit the regenerated files" >&2
  [[ -n "${CI:-}" ]] && exit 1
fi

step "node --test"
node --test --test-reporter=spec tests/

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
  node -e 'const s=require("canary-sdk"); if (s.__napiBindingTarget!=="native") process.exit(1); console.log("installed canary-sdk loads its native module")'
)

if [[ $stack == 1 ]]; then
  step "real stack: neotix to promotion, a bad canary to rollback"
  # shellcheck source=/dev/null
  source "$repo/scripts/stack/env.sh"
  set +e
  node examples/real-stack.mjs
  rc=$?
  set -e
  if [[ $rc == 2 ]]; then
    echo "skipped: the local stack is not up (scripts/stack/up.sh)"
  elif [[ $rc != 0 ]]; then
    exit $rc
  fi
fi

step "bindings/node: all checks passed"
