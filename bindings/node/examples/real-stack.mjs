// The neotix example on the real local stack (docs/local-stack.md), through canary-sdk only:
//
//   1. builds the apps' images from the spec's build sections (SwarmOrchestrator.buildImage) and
//      deploys the group's stable services (SwarmOrchestrator.createService),
//   2. runs examples/neotix/canary.yaml to promotion under load (Traefik weights, Prometheus
//      analysis, state in Swarm labels),
//   3. runs examples/neotix/canary-bad.yaml (30 % of the canary's answers are 500s), which the
//      analysis rolls back,
//   4. removes everything it made.
//
// Its own names: group and stack `njt<random>`, hosts `<group>.localhost`, every service labelled
// io.canary.test=1. Traffic goes only to Traefik's web entry point on 127.0.0.1.
//
//   source scripts/stack/env.sh && node bindings/node/examples/real-stack.mjs
//
// Exit 0 when the good canary was promoted and the bad one rolled back; 2 when the stack is not
// reachable (unless CI is set, then 1).
import http from 'node:http'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'

const require = createRequire(import.meta.url)
const { Spec, Rollout, SwarmOrchestrator, TraefikRouter, PrometheusMetrics } = require('../index.js')

const here = dirname(fileURLToPath(import.meta.url))
const examples = join(here, '..', '..', '..', 'examples', 'neotix')
const env = process.env
const WEB = env.CANARY_WEB_URL ?? 'http://127.0.0.1:38080'
const TRAEFIK = env.CANARY_TRAEFIK_URL ?? 'http://127.0.0.1:38082'
const PROMETHEUS = env.CANARY_PROMETHEUS_URL ?? 'http://127.0.0.1:39090'
const NETWORK = env.CANARY_NETWORK ?? 'canary-net'
const DYNAMIC = env.CANARY_TRAEFIK_DYNAMIC_DIR ?? `${env.CANARY_STACK_DIR ?? '/var/lib/canary-stack'}/dynamic`
const TAG = env.NJT_TAG ?? `njt${Math.random().toString(36).slice(2, 8)}`
const HOST = `${TAG}.localhost`
const t0 = Date.now()
const log = (...a) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s]`, ...a)

/** The example spec with this run's names: group, stack and the Host of each rule. */
function ours(file) {
  const o = Spec.load(join(examples, file)).toObject()
  o.group = TAG
  o.stack = TAG
  for (const app of o.apps) app.rule = app.rule.replaceAll('api.localhost', HOST)
  if (env.NJT_INTERVAL) o.traffic.interval = env.NJT_INTERVAL
  return Spec.fromObject(o)
}

async function reachable() {
  const ok = async (url) => {
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(2000) })
      return r.ok
    } catch {
      return false
    }
  }
  return (await ok(`${TRAEFIK}/ping`)) && (await ok(`${PROMETHEUS}/-/ready`))
}

/** Keep-alive load on both apps' paths until stopped: about `rate` requests/s per app. */
function load(paths, rate) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 })
  const url = new URL(WEB)
  const counts = {}
  let stop = false
  const worker = async (path) => {
    while (!stop) {
      const code = await new Promise((resolve) => {
        const req = http.get({ host: url.hostname, port: url.port, path, agent, headers: { Host: HOST }, timeout: 5000 }, (res) => {
          res.resume()
          res.on('end', () => resolve(res.statusCode))
        })
        req.on('timeout', () => req.destroy(new Error('timeout')))
        req.on('error', () => resolve('error'))
      })
      counts[code] = (counts[code] ?? 0) + 1
      await sleep(1000 / rate)
    }
  }
  const done = Promise.all(paths.map(worker))
  return {
    counts,
    async stop() {
      stop = true
      await done
      agent.destroy()
      return counts
    },
  }
}

async function main() {
  if (!(await reachable())) {
    const msg = `the local stack is not reachable (${TRAEFIK}/ping, ${PROMETHEUS}/-/ready): run scripts/stack/up.sh`
    if (env.CI) throw new Error(msg)
    console.log(`SKIP: ${msg}`)
    process.exit(2)
  }
  const good = ours('canary.yaml')
  const bad = ours('canary-bad.yaml')
  log(`group ${TAG}: apps ${good.apps().map((a) => a.stable).join(', ')}; steps ${good.steps().join('/')}; Host ${HOST}`)

  const swarm = await SwarmOrchestrator.connect({ pollIntervalMs: 250 })
  const router = new TraefikRouter({ dynamicDir: DYNAMIC, apiUrl: TRAEFIK, network: NETWORK })
  const metrics = new PrometheusMetrics({ url: PROMETHEUS, scrapeIntervalMs: 1000 })
  const store = swarm.stateStore()
  const spec = good.toObject()
  const made = []
  const cleanup = async () => {
    await router.remove(TAG).catch((e) => log(`cleanup: router: ${e.code} ${e.message}`))
    for (const name of made.reverse()) await swarm.removeService(name).catch((e) => log(`cleanup: ${name}: ${e.message}`))
    for (const s of await swarm.servicesWithLabel('io.canary.njt', TAG).catch(() => [])) await swarm.removeService(s.name).catch(() => {})
    log('cleaned up')
  }
  process.on('SIGINT', () => cleanup().finally(() => process.exit(130)))

  let failures = 0
  try {
    // 1. The apps' images from the spec's build sections (what `canary build --track stable`
    //    and `--track canary` do), then the stable services, as `docker stack deploy` would
    //    have made them.
    for (const a of spec.apps) {
      for (const [track, image] of [['stable', a.stableImage], ['canary', a.image]]) {
        const tag = image.slice(image.lastIndexOf(':') + 1)
        const built = await swarm.buildImage({
          context: join(examples, a.build.context),
          dockerfile: a.build.dockerfile,
          tag: image,
          args: { ...a.build.args, CANARY_TRACK: track, CANARY_IMAGE: image, CANARY_TAG: tag },
        })
        log(`built ${image} (${built.id})`)
      }
    }
    for (const [i, app] of good.apps().entries()) {
      const a = spec.apps[i]
      await swarm.createService({
        name: app.stable,
        image: a.stableImage,
        replicas: a.stableReplicas,
        labels: { 'io.canary.test': '1', 'io.canary.njt': TAG },
        networks: [NETWORK],
        endpointMode: 'dnsrr',
      })
      made.push(app.stable, app.canary)
    }
    for (const app of good.apps()) await swarm.waitConverged(app.stable, 120000)
    log('stable services running')

    const traffic = load(['/api/orders', '/gcp/api/deployments'], 25)
    const run = async (label, s, expect) => {
      const rollout = new Rollout(s, { orchestrator: swarm, router, metrics, store }, { owner: `njt-${process.pid}/1` })
      const sub = rollout.onEvent((e) => log(`${label} ${e.kind.padEnd(11)} w=${String(e.weight).padStart(3)} ${e.message}`))
      const out = await rollout.run()
      sub.unsubscribe()
      const status = await rollout.status()
      log(`${label} outcome: ${JSON.stringify(out)}; services: ${status.services.map((x) => `${x.name}=${x.image.slice(0, 24)}x${x.desired}`).join(' ')}`)
      if (out.result !== expect) {
        failures++
        log(`${label} FAILED: expected ${expect}`)
      }
      return status
    }

    // 2. The good canary: promoted.
    const promoted = await run('good', good, 'promoted')
    for (const app of good.apps()) {
      const st = promoted.services.find((x) => x.name === app.stable)
      const canary = promoted.services.find((x) => x.name === app.canary)
      if (!st?.image.includes('sha256:') || canary?.desired !== 0) {
        failures++
        log(`promotion check FAILED for ${app.name}: stable ${st?.image}, canary x${canary?.desired}`)
      }
    }

    // 3. The bad canary (ERROR_RATE=0.3): rolled back, stable keeps the promoted image.
    const before = Object.fromEntries(promoted.services.map((x) => [x.name, x.image]))
    const rolled = await run('bad ', bad, 'rolledBack')
    for (const app of bad.apps()) {
      const st = rolled.services.find((x) => x.name === app.stable)
      if (st?.image !== before[app.stable]) {
        failures++
        log(`rollback check FAILED for ${app.name}: stable moved to ${st?.image}`)
      }
    }
    const counts = await traffic.stop()
    log(`traffic during both runs (status: count): ${JSON.stringify(counts)}`)
  } finally {
    await cleanup()
  }
  log(failures === 0 ? 'OK: promoted the neotix canary and rolled back the bad one' : `${failures} check(s) failed`)
  process.exit(failures === 0 ? 0 : 1)
}

main().catch((e) => {
  console.error(`real-stack: ${e.code ?? 'ERROR'}: ${e.message}`)
  process.exit(1)
})
