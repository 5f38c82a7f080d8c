// The neotix example on the real local stack (docs/local-stack.md), through canary-sdk only (no
// `canary` CLI), the way scripts/demo.sh does it with the CLI:
//
//   1. builds the apps' images from the spec's build sections, stable (v1) and canary (v2)
//      (canary.build, like `canary build --track stable|canary`),
//   2. deploys the group's stable services and routes (canary.deploy) and smoke-tests them
//      with and without the header route (canary.smokeTest),
//   3. runs examples/neotix/canary.yaml to promotion under load (Traefik weights, Prometheus
//      analysis, state in Swarm labels),
//   4. puts stable back on v1 and runs a bad canary (the same spec with the override
//      `apps.*.canaryEnv.ERROR_RATE=0.3`: 30 % of its answers are 500s), which analysis rolls back,
//   5. removes what it made: its routes file and its services (docker service rm).
//
// Its own names: group and stack `nd<random>`, Host `<group>.localhost`, services labelled
// io.canary.test=1. Traffic goes only to Traefik's web entry point on 127.0.0.1.
//
//   source scripts/stack/env.sh && node bindings/node/examples/real-stack.mjs
//
// Exit 0 when the good canary was promoted and the bad one rolled back; 2 when the stack is not
// reachable (unless CI is set, then 1).
import http from 'node:http'
import { spawnSync } from 'node:child_process'
import { rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'

const require = createRequire(import.meta.url)
const { Spec, Canary } = require('../index.js')

const here = dirname(fileURLToPath(import.meta.url))
const SPEC = join(here, '..', '..', '..', 'examples', 'neotix', 'canary.yaml')
const env = process.env
const TAG = env.ND_TAG ?? `nd${Math.random().toString(36).slice(2, 8)}`
const HOST = `${TAG}.localhost`
const t0 = Date.now()
const log = (...a) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s]`, ...a)

/** The example with this run's names (group, stack, the Host of each rule) and `extra` overrides. */
function spec(extra = {}) {
  const overrides = { group: TAG, stack: TAG, ...extra }
  for (const [app, path] of [['neotix-api', '/api'], ['gcp-deployment-api', '/gcp']]) {
    overrides[`apps.${app}.rule`] = `Host(\`${HOST}\`) && PathPrefix(\`${path}\`)`
  }
  if (env.ND_INTERVAL) overrides['traffic.interval'] = env.ND_INTERVAL
  return Spec.load(SPEC, overrides)
}

async function reachable(settings) {
  const ok = async (url) => {
    try {
      return (await fetch(url, { signal: AbortSignal.timeout(2000) })).ok
    } catch {
      return false
    }
  }
  return (await ok(`${settings.traefikUrl}/ping`)) && (await ok(`${settings.prometheusUrl}/-/ready`))
}

/** Keep-alive load on both apps' paths until stopped: about `rate` requests/s per path. */
function load(webUrl, paths, rate) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 })
  const url = new URL(webUrl)
  const counts = {}
  let stop = false
  const worker = async (path) => {
    // Bounded: at most 30 minutes of requests.
    for (let i = 0; !stop && i < rate * 1800; i++) {
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
    async stop() {
      stop = true
      await done
      agent.destroy()
      return counts
    },
  }
}

async function main() {
  const good = spec()
  const canary = await Canary.connect(good) // settings: the CANARY_* environment (scripts/stack/env.sh)
  const settings = canary.settings
  if (!(await reachable(settings))) {
    const msg = `the local stack is not reachable (${settings.traefikUrl}/ping, ${settings.prometheusUrl}/-/ready): run scripts/stack/up.sh`
    if (env.CI) throw new Error(msg)
    console.log(`SKIP: ${msg}`)
    process.exit(2)
  }
  const apps = good.apps()
  log(`group ${TAG}: apps ${apps.map((a) => a.stable).join(', ')}; Host ${HOST}`)
  const cleanup = async () => {
    // Routes first: Traefik must stop naming a service before it goes away.
    rmSync(join(settings.traefikDynamicDir, `canary-${TAG}.yml`), { force: true })
    await sleep(1000)
    for (const a of apps) for (const s of [a.canary, a.stable]) spawnSync('docker', ['service', 'rm', s], { stdio: 'ignore' })
    log('cleaned up')
  }
  process.on('SIGINT', () => {
    canary.stop()
    cleanup().finally(() => process.exit(130))
  })

  let failures = 0
  const check = (ok, what) => {
    if (!ok) failures++
    log(`${ok ? 'ok  ' : 'FAIL'} ${what}`)
  }
  try {
    // 1. The images, as `canary build --track stable` and `--track canary` make them.
    for (const track of ['stable', 'canary']) {
      let lines = 0
      for await (const out of canary.build(track)) {
        if ('built' in out) log(`built ${out.app} (${track}): ${out.built}`)
        else lines++
      }
      log(`${track} builds: ${lines} lines of output`)
    }

    // 2. Stable services and routes, then the smoke test.
    const labels = { 'io.canary.test': '1', 'io.canary.nd': TAG }
    await canary.deploy({ labels }, (s) => log(`deploy ${s.what} ${s.name}: ${s.action} ${s.detail}`))
    let smoke
    for (let i = 0; i < 5 && !smoke?.ok; i++) {
      if (i > 0) await sleep(2000) // Traefik may take a moment to load new routes
      smoke = await canary.smokeTest({ requests: 5 })
    }
    for (const t of smoke.tallies) log(`smoke ${t.app} ${t.variant}: ${JSON.stringify(t.statuses)} from ${JSON.stringify(t.versions)}`)
    check(smoke.ok, 'smoke test: every request answered 2xx, with and without X-Canary')
    const lines = []
    for await (const l of canary.logs('stable', { app: 'neotix-api', tail: 5 })) lines.push(l)
    check(lines.every((l) => l.service === apps[0].stable), `logs: ${lines.length} recent line(s) of ${apps[0].stable}`)

    const traffic = load(settings.webUrl, ['/api/orders', '/gcp/api/deployments'], 25)
    const run = async (label, c, expect) => {
      const out = await c.run({ owner: `nd-${process.pid}/1`, restart: true }, (e) =>
        log(`${label} ${e.kind.padEnd(11)} w=${String(e.weight).padStart(3)} ${e.message}`))
      const status = await c.status()
      log(`${label} outcome: ${JSON.stringify(out)}; services: ${status.services.map((x) => `${x.name}=${x.image.slice(0, 30)}x${x.desired}`).join(' ')}`)
      check(out.result === expect, `${label} canary: ${expect}`)
      return status
    }

    // 3. The good canary: promoted; stable runs the canary's image pinned by digest.
    const promoted = await run('good', canary, 'promoted')
    for (const a of apps) {
      const st = promoted.services.find((x) => x.name === a.stable)
      const cn = promoted.services.find((x) => x.name === a.canary)
      check(st?.image.includes('sha256:') && cn?.desired === 0, `${a.name}: stable on ${st?.image.slice(0, 40)}, canary x${cn?.desired}`)
    }

    // 4. Stable back on v1, then the bad canary: rolled back, stable untouched.
    const bad = await Canary.connect(spec({ 'apps.*.canaryEnv.ERROR_RATE': '0.3' }))
    await bad.deploy({ resetStable: true, labels })
    const before = Object.fromEntries((await bad.status()).services.map((x) => [x.name, x.image]))
    const rolled = await run('bad ', bad, 'rolledBack')
    for (const a of apps) {
      const st = rolled.services.find((x) => x.name === a.stable)
      check(st?.image === before[a.stable], `${a.name}: stable still on ${before[a.stable]}`)
    }
    check(/critical check failed|success-rate/.test(rolled.state?.cause ?? ''), `rollback cause: ${rolled.state?.cause}`)
    log(`traffic during both runs (status: count): ${JSON.stringify(await traffic.stop())}`)
  } finally {
    await cleanup()
  }
  log(failures === 0 ? 'OK: promoted the neotix canary and rolled back the bad one, through canary-sdk' : `${failures} check(s) failed`)
  process.exit(failures === 0 ? 0 : 1)
}

main().catch((e) => {
  console.error(`real-stack: ${e.code ?? 'ERROR'}: ${e.message}`)
  process.exit(1)
})
