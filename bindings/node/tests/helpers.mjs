// Shared pieces of the tests: a small spec, an in-memory world, and an assertion on the
// package's errors (an Error with the core's stable code).
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
export const sdk = require('../index.js')

/** A one-app spec with two steps, fast intervals and the given extra YAML. */
export function specYaml({ group = 'shop', steps = '[10, 50]', extra = '' } = {}) {
  return `
group: ${group}
apps:
  - name: api
    image: api:v2
    port: 8080
    rule: "Host(\`api.localhost\`)"
traffic:
  steps: ${steps}
  interval: 100ms
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

/** An in-memory world: stable `api` on `api:v1`, a router, a store. */
export function world() {
  const orchestrator = new sdk.testing.MemoryOrchestrator()
  orchestrator.addService('api', 'api:v1', 2)
  const router = new sdk.testing.MemoryRouter()
  const store = new sdk.MemoryStateStore()
  return { orchestrator, router, store }
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
