// Benchmark (not a test): one `await rollout.status()` from JavaScript against the Rust
// `Rollout::status` call it wraps, on the same rollout and the same in-memory dependencies.
//
//   node bench/status.mjs [iterations=20000]
//
// The Rust figure comes from testing.benchStatus, which awaits the same call `iterations` times
// on napi's Tokio runtime; the difference is what the binding adds: argument handling, the
// Promise, the hop from a Tokio thread back to the JavaScript thread, and turning the Status
// into a JavaScript object.
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const { Spec, Rollout, MemoryStateStore, testing } = require('../index.js')

const n = Number(process.argv[2] ?? 20000)
const spec = Spec.fromYaml(`
group: bench
apps:
  - { name: api, image: "api:v2", port: 8080, rule: "Host(\`api.localhost\`)" }
  - { name: web, image: "web:v2", port: 8080, rule: "Host(\`web.localhost\`)" }
traffic: { steps: [10, 50], interval: 100ms }
analysis: { window: 1s }
`)
const orchestrator = new testing.MemoryOrchestrator()
orchestrator.addService('api', 'api:v1', 2)
orchestrator.addService('web', 'web:v1', 2)
const router = new testing.MemoryRouter()
const metrics = { value: (q) => (q.metric === 'requestCount' ? 1000 : q.metric === 'successRate' ? 1 : 0) }
const rollout = new Rollout(spec, { orchestrator, router, metrics, store: new MemoryStateStore() }, { owner: 'bench/1' })
await rollout.step() // a rollout in progress: a saved state, canaries, a split
await rollout.step()

const js = async () => {
  const start = process.hrtime.bigint()
  for (let i = 0; i < n; i++) await rollout.status()
  return Number(process.hrtime.bigint() - start) / n
}
// Warm up both paths, then alternate and keep the best of three.
await js()
await testing.benchStatus(rollout, n)
const jsRuns = []
const rustRuns = []
for (let i = 0; i < 3; i++) {
  jsRuns.push(await js())
  rustRuns.push(await testing.benchStatus(rollout, n))
}
const jsNs = Math.min(...jsRuns)
const rustNs = Math.min(...rustRuns)
const sample = await rollout.status()
console.log(`status() of a 2-app rollout at step 2 (${JSON.stringify(sample).length} bytes of JSON), ${n} sequential calls, best of 3:`)
console.log(`  Rust   Rollout::status().await   ${(rustNs / 1000).toFixed(2)} µs/call`)
console.log(`  Node   await rollout.status()    ${(jsNs / 1000).toFixed(2)} µs/call`)
console.log(`  overhead of the binding          ${((jsNs - rustNs) / 1000).toFixed(2)} µs/call (x${(jsNs / rustNs).toFixed(1)})`)
