// Shared pieces of the tests: the package built with the `testing` feature (test.sh builds it
// into $CARGO_TARGET_DIR/node-testing; the package's own loader picks it up through
// NAPI_RS_NATIVE_LIBRARY_PATH), a small spec, an in-memory world, and an assertion on the
// package's errors.
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
export const repo = join(here, '..', '..', '..')
const target = process.env.CARGO_TARGET_DIR ?? join(repo, 'target', 'node')
process.env.NAPI_RS_NATIVE_LIBRARY_PATH ??= join(target, 'node-testing', 'canary-sdk.linux-x64-gnu.node')
if (!existsSync(process.env.NAPI_RS_NATIVE_LIBRARY_PATH)) {
  throw new Error(`no test build at ${process.env.NAPI_RS_NATIVE_LIBRARY_PATH}: run bindings/node/test.sh (or napi build --platform --features testing -o <dir>)`)
}
const require = createRequire(import.meta.url)
export const sdk = require('../index.js')
assert.equal(typeof sdk.testing?.MemoryWorld, 'function', 'the test build must have the testing feature')

/** A one-app spec with two steps, fast intervals and the given extra YAML. */
export function specYaml({ group = 'shop', steps = '[10, 50]', interval = '100ms', extra = '' } = {}) {
  return `
group: ${group}
apps:
  - name: api
    image: api:v2
    stableImage: api:v1
    port: 8080
    rule: "Host(\`api.localhost\`)"
traffic:
  steps: ${steps}
  interval: ${interval}
analysis:
  window: 1s
  inconclusiveLimit: 1
  minRequests: 10
  checks:
    - { name: success-rate, metric: successRate, min: 0.99, critical: true }
${extra}
`
}

/** Plenty of requests, and `rate` as the canary's success rate (stable always 1). */
export function metricsFor(rate) {
  return (q) => {
    if (q.metric === 'requestCount') return 1000
    if (q.metric === 'successRate') return q.track === 'canary' ? rate : 1
    if (q.metric === 'errorRate') return q.track === 'canary' ? 1 - rate : 0
    return 0
  }
}

/** An in-memory world with stable `api` on `api:v1`. */
export function world() {
  const w = new sdk.testing.MemoryWorld()
  w.addService('api', 'api:v1', 2)
  return w
}

/** A Canary of `specYaml(spec)` in `w`, healthy metrics unless given. */
export async function canaryIn(w, { spec = {}, metrics = { value: metricsFor(1) }, hooks } = {}) {
  return w.connect(sdk.Spec.fromText(specYaml(spec)), { metrics, hooks })
}

export const PINNED = 'sha256:00000000000000000000000000000000000000000000000000000000000000aa'

/** Asserts that `fn` (sync or async) throws/rejects an Error with `code` and a message matching `re`. */
export async function rejects(fn, code, re) {
  let caught
  try {
    await fn()
  } catch (e) {
    caught = e
  }
  assert.ok(caught, `expected an error with code ${code}`)
  assert.ok(caught instanceof Error, `expected an Error, got ${typeof caught}: ${caught}`)
  assert.equal(caught.code, code, `code of: ${caught.message}`)
  if (re) assert.match(caught.message, re)
  return caught
}
