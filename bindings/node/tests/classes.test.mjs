// The dependency classes: construction, options, their own methods, and their errors. Docker is
// used when it answers (the local stack's swarm); otherwise those cases skip with a message (and fail when CI is set).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import { existsSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { spawnSync } from 'node:child_process'

import { sdk, specYaml, metricsFor, world, rejects } from './helpers.mjs'

const {
  Spec, Rollout, SwarmOrchestrator, SwarmStateStore, MemoryStateStore, TraefikRouter,
  PrometheusMetrics, TraefikScrapeMetrics, ScrapeTask, WebhookRunner, EventStream,
  EventSubscription, testing,
} = sdk

const here = dirname(fileURLToPath(import.meta.url))
const query = { app: { name: 'api', stable: 'api', canary: 'api-canary' }, track: 'canary', metric: 'successRate', window: 10000 }
// Nothing listens on the discard port on loopback: connections are refused at once.
const DEAD = 'http://127.0.0.1:9'

test('every class and function is exported', () => {
  for (const c of [Spec, Rollout, SwarmOrchestrator, SwarmStateStore, MemoryStateStore, TraefikRouter, PrometheusMetrics, TraefikScrapeMetrics, ScrapeTask, WebhookRunner, EventStream, EventSubscription, testing.MemoryOrchestrator, testing.MemoryRouter]) {
    assert.equal(typeof c, 'function')
  }
  assert.equal(typeof testing.benchStatus, 'function')
})

test('TraefikRouter: options, filePath, remove, and bad options', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'canary-sdk-'))
  const r = new TraefikRouter({ dynamicDir: dir, apiUrl: DEAD, network: 'canary-net', mode: 'weighted', version: 'v3', confirmTimeoutMs: 500, pollIntervalMs: 50, requestTimeoutMs: 200, basicAuth: { user: 'u', password: 'p' } })
  assert.equal(r.filePath('shop'), join(dir, 'canary-shop.yml'))
  await r.remove('shop') // nothing written: nothing to do
  await rejects(() => r.filePath('no spaces'), 'CANARY_INVALID_INPUT')
  await rejects(() => r.remove(7), 'CANARY_INVALID_INPUT', /^group: /)
  await rejects(() => new TraefikRouter({ dynamicDir: dir, apiUrl: DEAD }), 'CANARY_INVALID_INPUT', /network/)
  await rejects(() => new TraefikRouter({ dynamicDir: dir, apiUrl: 'not a url', network: 'n' }), 'CANARY_INVALID_INPUT', /not a URL/)
  await rejects(() => new TraefikRouter({ dynamicDir: dir, apiUrl: DEAD, network: 'n', mode: 'sideways' }), 'CANARY_INVALID_INPUT', /^options\.mode: /)
  await rejects(() => new TraefikRouter({ dynamicDir: dir, apiUrl: DEAD, network: 'n', confirmTimeoutMs: 0 }), 'CANARY_INVALID_INPUT', /must be above 0/)
  await rejects(() => new TraefikRouter(), 'CANARY_INVALID_INPUT')
})

test('PrometheusMetrics: value/samples reject CANARY_UNAVAILABLE when Prometheus is down', async () => {
  const p = new PrometheusMetrics({ url: DEAD, timeoutMs: 500, samples: 5, scrapeIntervalMs: 1000, version: 'v3', bearerToken: 't', backends: { api: 'web@swarm' } })
  await rejects(() => p.value(query), 'CANARY_UNAVAILABLE')
  await rejects(() => p.samples(query), 'CANARY_UNAVAILABLE')
  await rejects(() => p.value({ ...query, track: 'blue' }), 'CANARY_INVALID_INPUT', /^query\.track: /)
  await rejects(() => new PrometheusMetrics({ url: DEAD, samples: 1 }), 'CANARY_INVALID_INPUT', /^samples: at least 2/)
  await rejects(() => new PrometheusMetrics({ url: 'ftp://x' }), 'CANARY_INVALID_INPUT')
  await rejects(() => new PrometheusMetrics({ url: DEAD, backends: { 'bad name!': 'x@swarm' } }), 'CANARY_INVALID_INPUT')
  assert.ok(new PrometheusMetrics({ url: DEAD, basicAuth: { user: 'u', password: 'p' } }))
})

test('TraefikScrapeMetrics: start/stop, scrape, value and bad options', async () => {
  const s = new TraefikScrapeMetrics({ url: DEAD, timeoutMs: 300, retentionMs: 60000, capacity: 100, freshnessMs: 0, samples: 5, version: 'v2', basicAuth: { user: 'u', password: 'p' }, backends: { api: 'web@docker' } })
  const task = s.start(1000)
  assert.ok(task instanceof ScrapeTask)
  assert.equal(task.running, true)
  task.stop()
  task.stop()
  assert.equal(task.running, false)
  await rejects(() => s.scrape(), 'CANARY_UNAVAILABLE')
  await rejects(() => s.value(query), 'CANARY_UNAVAILABLE')
  await rejects(() => s.samples(query), 'CANARY_UNAVAILABLE')
  await rejects(() => s.start('soon'), 'CANARY_INVALID_INPUT', /^intervalMs: /)
  await rejects(() => new TraefikScrapeMetrics({ url: DEAD, capacity: 1 }), 'CANARY_INVALID_INPUT', /^capacity: /)
  await rejects(() => new TraefikScrapeMetrics({ url: DEAD, colour: 1 }), 'CANARY_INVALID_INPUT', /unknown field/)
})

test('TraefikScrapeMetrics reads a /metrics endpoint', async (t) => {
  const body = [
    'traefik_service_requests_total{code="200",method="GET",protocol="http",service="api-canary@swarm"} 100',
    'traefik_service_requests_total{code="500",method="GET",protocol="http",service="api-canary@swarm"} 0',
  ].join('\n')
  let n = 0
  const server = http.createServer((req, res) => {
    n++
    const scaled = body.replace(' 100', ` ${100 * n}`).replace(' 0', ` ${n > 1 ? 10 : 0}`)
    res.end(scaled + '\n')
  })
  await new Promise((r) => server.listen(0, '127.0.0.1', r))
  t.after(() => server.close())
  const url = `http://127.0.0.1:${server.address().port}`
  const s = new TraefikScrapeMetrics({ url, freshnessMs: 0 })
  await s.scrape()
  const v = await s.value({ ...query, metric: 'requestCount' })
  assert.equal(v, 110)
  const rate = await s.value({ ...query, metric: 'errorRate' })
  assert.ok(rate > 0 && rate < 1, `${rate}`)
  assert.equal(await s.value({ ...query, app: { name: 'x', stable: 'x', canary: 'x-canary' }, metric: 'requestCount' }), null)
})

test('WebhookRunner: a 2xx says go, anything else no, unreachable rejects', async (t) => {
  const bodies = []
  const server = http.createServer((req, res) => {
    let b = ''
    req.on('data', (c) => (b += c))
    req.on('end', () => {
      bodies.push(JSON.parse(b))
      res.statusCode = req.url === '/ok' ? 200 : 503
      res.end(req.url === '/ok' ? 'fine' : 'maintenance')
    })
  })
  await new Promise((r) => server.listen(0, '127.0.0.1', r))
  t.after(() => server.close())
  const base = `http://127.0.0.1:${server.address().port}`
  const w = new WebhookRunner()
  const ctx = { group: 'shop', apps: ['api'], point: 'preRollout', step: null, weight: 0, phase: 'pending', metadata: { a: 'b' } }
  const ok = await w.call({ name: 'gate', url: `${base}/ok` }, ctx)
  assert.equal(ok.ok, true)
  const no = await w.call({ name: 'gate', url: `${base}/no`, timeout: '2s' }, ctx)
  assert.equal(no.ok, false)
  assert.match(no.message, /503/)
  assert.equal(bodies[0].name, 'gate')
  assert.equal(bodies[0].point, 'preRollout')
  await rejects(() => w.call({ name: 'gate', url: `${DEAD}/x` }, ctx), 'CANARY_UNAVAILABLE')
  await rejects(() => w.call({ name: 'gate' }, ctx), 'CANARY_INVALID_INPUT', /^hook: missing field `url`/)
  await rejects(() => w.call({ name: 'gate', url: `${base}/ok` }, { ...ctx, point: 'later' }), 'CANARY_INVALID_INPUT', /^context\.point: /)
})

test('SwarmOrchestrator.connect rejects CANARY_UNAVAILABLE without a daemon; bad options are refused', async () => {
  await rejects(() => SwarmOrchestrator.connect({ host: 'unix:///nonexistent/docker.sock', timeoutMs: 1000 }), 'CANARY_UNAVAILABLE', /Docker/)
  await rejects(() => SwarmOrchestrator.connect({ rollingUpdate: 'sideways' }), 'CANARY_INVALID_INPUT', /^options\.rollingUpdate: /)
  await rejects(() => new SwarmStateStore({}), 'CANARY_INVALID_INPUT', /^orchestrator: expected a SwarmOrchestrator/)
})

const docker = existsSync('/var/run/docker.sock') || !!process.env.DOCKER_HOST

test('SwarmOrchestrator and SwarmStateStore on the local swarm', { skip: !docker && !process.env.CI && 'no Docker daemon here' }, async (t) => {
  let swarm
  try {
    swarm = await SwarmOrchestrator.connect({ pollIntervalMs: 100, settleMs: 500, rollingUpdate: 'startFirst' })
  } catch (e) {
    if (process.env.CI) throw e
    t.skip(`Docker does not answer: ${e.message}`)
    return
  }
  assert.match(swarm.apiVersion, /^1\.\d+$/)
  const tag = `njt${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`
  const name = `${tag}-api`
  await rejects(() => swarm.inspect(name), 'CANARY_NOT_FOUND', new RegExp(name))
  await rejects(() => swarm.inspect('Not A Name'), 'CANARY_INVALID_INPUT')
  assert.equal(await swarm.removeService(name), false)
  let image = 'canary-demo:v1'
  const created = await swarm.createService({ name, image, replicas: 1, env: { VERSION: 'v1' }, labels: { 'io.canary.test': '1', [`io.canary.njt`]: tag }, networks: [], init: true, endpointMode: 'dnsrr' })
    .catch((e) => {
      if (e.code === 'CANARY_NOT_FOUND' || /image/.test(e.message)) return null
      throw e
    })
  t.after(async () => {
    await swarm.removeService(name).catch(() => {})
  })
  if (!created) {
    // Under CI the stack is required: a missing image is a failure, not a skip.
    if (process.env.CI) throw new Error('no canary-demo image (scripts/stack/up.sh builds it)')
    t.skip('no canary-demo image (scripts/stack/up.sh builds it)')
    return
  }
  assert.equal(created.name, name)
  assert.equal(created.labels['io.canary.test'], '1')
  await rejects(() => swarm.createService({ name, image }), 'CANARY_CONFLICT')
  await rejects(() => swarm.createService({ name, image: 'Bad Image' }), 'CANARY_INVALID_INPUT')
  await rejects(() => swarm.createService({ image }), 'CANARY_INVALID_INPUT', /^service: missing field `name`/)
  const up = await swarm.waitConverged(name, 60000)
  assert.equal(up.running, 1)
  await swarm.scale(name, 2)
  assert.equal((await swarm.waitConverged(name, 60000)).running, 2)
  assert.equal((await swarm.inspect(name)).desired, 2)
  const labelled = await swarm.servicesWithLabel('io.canary.njt', tag)
  assert.deepEqual(labelled.map((s) => s.name), [name])
  assert.deepEqual(await swarm.stackServices(tag), [])

  // Images: a build from a context directory, and another tag for it.
  const app = join(here, '..', '..', '..', 'examples', 'neotix', 'app')
  const img = `njt-test-${tag}`
  t.after(() => spawnSync('docker', ['rmi', '-f', `${img}:v1`, `${img}:v2`]))
  const built = await swarm.buildImage({ context: app, tag: `${img}:v1`, args: { CANARY_TAG: 'v1' } })
  assert.match(built.id, /^sha256:/)
  assert.ok(Array.isArray(built.output))
  await swarm.tagImage(`${img}:v1`, `${img}:v2`)
  await rejects(() => swarm.tagImage(`${img}:nope`, `${img}:v3`), 'CANARY_NOT_FOUND')
  await rejects(() => swarm.buildImage({ context: app, tag: 'Bad Tag' }), 'CANARY_INVALID_INPUT')
  await rejects(() => swarm.buildImage({ context: app, dockerfile: 'Nope.Dockerfile', tag: `${img}:v3` }), 'CANARY_INVALID_INPUT', /^dockerfile: .*Nope.Dockerfile/)

  // The Swarm state store keeps a rollout's state on the stable service's labels.
  const spec = Spec.fromYaml(specYaml({ group: tag }).replace('name: api', `name: ${name}`))
  for (const store of [swarm.stateStore(), new SwarmStateStore(swarm)]) {
    assert.equal(await store.load(spec), null)
  }
  const w = world()
  w.orchestrator.addService(name, 'api:v1', 2)
  const r = new Rollout(spec, { orchestrator: w.orchestrator, router: w.router, store: swarm.stateStore(), metrics: { value: metricsFor(1) } }, { owner: 'test/1' })
  assert.equal(await r.step(), 'progressing')
  const saved = await swarm.stateStore().load(spec)
  assert.equal(saved.state.phase, 'progressing')
  assert.equal((await swarm.inspect(name)).labels['io.canary.state-group'], tag)
  await swarm.stateStore().clear(spec)
  assert.equal(await swarm.stateStore().load(spec), null)
  assert.equal(await swarm.removeService(name), true)
})

test('testing.MemoryOrchestrator, testing.MemoryRouter and testing.benchStatus', async () => {
  const o = new testing.MemoryOrchestrator()
  o.addService('api', 'api:v1', 2)
  assert.deepEqual(o.service('api'), { name: 'api', image: 'api:v1', desired: 2, running: 2, labels: {}, converged: true })
  assert.equal(o.service('nope'), null)
  await rejects(() => o.addService('Bad Name', 'api:v1', 1), 'CANARY_INVALID_INPUT')
  await rejects(() => o.addService('api', 'api:v1', -1), 'CANARY_INVALID_INPUT', /^replicas: /)
  o.failToStart('api-canary', 'boom')
  assert.deepEqual(o.operations(), [])
  const r = new testing.MemoryRouter()
  assert.deepEqual(r.weights(), [])
  assert.equal(r.canaryRouted, false)
  const w = world()
  const rollout = new Rollout(Spec.fromYaml(specYaml()), { ...w, metrics: { value: metricsFor(1) } })
  const ns = await testing.benchStatus(rollout, 10)
  assert.ok(ns > 0)
  await rejects(() => testing.benchStatus({}, 1), 'CANARY_INVALID_INPUT', /^rollout: /)
})
