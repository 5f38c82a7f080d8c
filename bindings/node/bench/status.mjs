// Benchmark (not a test): one `await canary.status()` from JavaScript against the Rust
// `Rollout::status` call it wraps, on the same rollout in the same in-memory world.
//
//   npm run bench            # builds the release module with the `testing` feature, then runs this
//   node bench/status.mjs [iterations=20000]
//
// The Rust figure comes from testing.benchStatus, which awaits the same call `iterations` times on
// napi's Tokio runtime; the difference is what the binding adds: argument handling, the Promise
// and turning the Status into a JavaScript object. status() settles on the JavaScript thread when
// the call does not wait (src/promise.rs); `backends()`, an ordinary `async fn` whose Rust side is
// a few hundred nanoseconds, shows what the hop through the runtime and back would cost instead.
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const target = process.env.CARGO_TARGET_DIR ?? join(here, '..', '..', '..', 'target', 'node')
process.env.NAPI_RS_NATIVE_LIBRARY_PATH ??= join(target, 'node-bench', 'canary-sdk.linux-x64-gnu.node')
if (!existsSync(process.env.NAPI_RS_NATIVE_LIBRARY_PATH)) {
  console.error(`no release build with the testing feature at ${process.env.NAPI_RS_NATIVE_LIBRARY_PATH}: npm run bench`)
  process.exit(1)
}
const require = createRequire(import.meta.url)
const { Spec, testing } = require('../index.js')

const n = Number(process.argv[2] ?? 20000)
const spec = Spec.fromText(`
group: bench
apps:
  - { name: api, image: "api:v2", port: 8080, rule: "Host(\`api.localhost\`)" }
  - { name: web, image: "web:v2", port: 8080, rule: "Host(\`web.localhost\`)" }
traffic: { steps: [10, 50], interval: 100ms }
analysis: { window: 1s }
`)
const world = new testing.MemoryWorld()
world.addService('api', 'api:v1', 2)
world.addService('web', 'web:v1', 2)
const metrics = { value: (q) => (q.metric === 'requestCount' ? 1000 : q.metric === 'successRate' ? 1 : 0) }
const canary = await world.connect(spec, { metrics })
await canary.step() // a rollout in progress: a saved state, canaries, a split
await canary.step()

const time = async (call) => {
  const start = process.hrtime.bigint()
  for (let i = 0; i < n; i++) await call()
  return Number(process.hrtime.bigint() - start) / n
}
const status = () => time(() => canary.status())
const backends = () => time(() => canary.backends())
// Warm up every path, then alternate and keep the best of three.
await status()
await backends()
await testing.benchStatus(canary, n)
const runs = { js: [], rust: [], hop: [] }
for (let i = 0; i < 3; i++) {
  runs.js.push(await status())
  runs.rust.push(await testing.benchStatus(canary, n))
  runs.hop.push(await backends())
}
const [js, rust, hop] = [runs.js, runs.rust, runs.hop].map((r) => Math.min(...r) / 1000)
const sample = await canary.status()
console.log(`status() of a 2-app rollout at step 2 (${JSON.stringify(sample).length} bytes of JSON), ${n} sequential calls, best of 3:`)
console.log(`  Rust   Rollout::status().await   ${rust.toFixed(2)} µs/call`)
console.log(`  Node   await canary.status()     ${js.toFixed(2)} µs/call`)
console.log(`  overhead of the binding          ${(js - rust).toFixed(2)} µs/call (x${(js / rust).toFixed(1)})`)
console.log(`  for comparison, await canary.backends() (an async fn: a hop to Tokio and back) ${hop.toFixed(2)} µs/call`)
