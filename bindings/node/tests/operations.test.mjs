// The other operations of Canary in memory: deploy with onStep, the smoke test, logs and build
// iterators, backends, the settings in force, and the shape of errors.
import { test } from 'node:test'
import assert from 'node:assert/strict'

import { sdk, specYaml, metricsFor, world, canaryIn, rejects } from './helpers.mjs'

const { Spec, Canary, EventStream, LogStream, BuildStream, testing } = sdk

test('every class and function is exported; testing only in the test build', () => {
  for (const c of [Spec, Canary, EventStream, LogStream, BuildStream, testing.MemoryWorld]) assert.equal(typeof c, 'function')
  assert.equal(typeof Canary.connect, 'function')
  assert.equal(typeof testing.benchStatus, 'function')
})

test('deploy() creates what is missing, reports each step to onStep as it goes, and is idempotent', async () => {
  const w = new testing.MemoryWorld()
  const c = await w.connect(Spec.fromText(specYaml()), { metrics: { value: metricsFor(1) } })
  const seen = []
  const steps = await c.deploy({ labels: { team: 'web' } }, (s) => seen.push(s))
  assert.deepEqual(seen, steps)
  assert.deepEqual(steps.map((s) => `${s.what} ${s.action}`), ['network created', 'router reachable', 'stable created', 'stable running', 'routes applied'])
  assert.equal(steps[0].name, 'canary-net') // the settings' network
  assert.equal(w.service('api').image, 'api:v1')
  assert.equal(w.service('api').labels.team, 'web')
  const again = await c.deploy()
  assert.deepEqual(again.map((s) => `${s.what} ${s.action}`), ['network present', 'router reachable', 'stable adopted', 'stable running', 'routes applied'])
  const other = await c.deploy({ network: 'other-net', resetStable: true, endpointMode: 'vip' })
  assert.equal(other[0].name, 'other-net')
  await rejects(() => c.deploy({ endpointMode: 'ipvs' }), 'CANARY_INVALID_INPUT', /^options\.endpointMode: /)
  await rejects(() => c.deploy({ replicas: 3 }), 'CANARY_INVALID_INPUT', /unknown field `replicas`/)
  // A listener that throws is reported and does not stop the deploy.
  assert.equal((await c.deploy(null, () => { throw new Error('listener bug') })).length, 5)
})

test('smokeTest() counts the answers with and without the header route', async () => {
  const c = await canaryIn(world())
  const report = await c.smokeTest({ requests: 3 })
  assert.equal(report.ok, true)
  assert.deepEqual(report.tallies.map((t) => [t.app, t.variant, t.header, t.requests, t.statuses['200'], t.ok]), [
    ['api', 'plain', null, 3, 3, true],
    ['api', 'header', 'X-Canary: true', 3, 3, true],
  ])
  // Nothing routes to the canary yet: stable answers both.
  assert.deepEqual(report.tallies.map((t) => t.versions), [{ stable: 3 }, { stable: 3 }])
  assert.equal((await c.smokeTest()).tallies[0].requests, 5)
  let e = await rejects(() => c.smokeTest({ requests: 0 }), 'CANARY_INVALID_INPUT', /^requests: 0 is not between 1 and 1000/)
  assert.equal(e.field, 'requests')
  e = await rejects(() => c.smokeTest({ app: 'web' }), 'CANARY_INVALID_INPUT', /^app: /)
  await rejects(() => c.smokeTest({ requests: 'many' }), 'CANARY_INVALID_INPUT', /^options\.requests: /)
})

test('logs() and build() are async iterators; a bad app rejects the first step', async () => {
  const c = await canaryIn(world())
  const lines = []
  for await (const l of c.logs('canary', { tail: 10, since: 60, follow: false })) lines.push(l)
  assert.deepEqual(lines, []) // the in-memory orchestrator has no logs
  const built = []
  for await (const b of c.build('canary', { args: { A: '1' } })) built.push(b)
  assert.deepEqual(built, []) // no app has a build section
  await rejects(async () => {
    for await (const l of c.logs('stable', { app: 'web' })) void l
  }, 'CANARY_INVALID_INPUT', /^app: no app named "web"/)
  await rejects(async () => {
    for await (const b of c.build('canary', { app: 'web' })) void b
  }, 'CANARY_INVALID_INPUT', /^app: /)
  await rejects(() => c.logs('blue'), 'CANARY_INVALID_INPUT', /^track: /)
  await rejects(() => c.logs('canary', { tail: -1 }), 'CANARY_INVALID_INPUT', /^options\.tail: /)
  await rejects(() => c.build('canary', { args: { A: 1 } }), 'CANARY_INVALID_INPUT', /^options\.args\.A: /)
  assert.deepEqual(await c.push('canary'), []) // nothing built, nothing pushed
  await rejects(() => c.push('blue'), 'CANARY_INVALID_INPUT', /^track: /)
  await rejects(() => c.push('canary', { app: 'web' }), 'CANARY_INVALID_INPUT', /^app: no app named "web"/)
  await rejects(() => c.push('canary', { tag: 'x' }), 'CANARY_INVALID_INPUT', /^options\.tag: unknown field/)
  // Breaking out of an iterator early closes it.
  const it = c.logs('canary', { follow: true })[Symbol.asyncIterator]()
  assert.deepEqual(await it.return(), { value: undefined, done: true })
})

test('backends(), the settings in force, and status() before any rollout', async () => {
  const c = await canaryIn(world())
  const b = await c.backends()
  assert.deepEqual(b, [
    { app: 'api', track: 'stable', service: 'api@swarm' },
    { app: 'api', track: 'canary', service: 'canary-shop--api--tasks@file' },
  ])
  assert.equal(c.settings.network, 'canary-net')
  assert.equal(c.settings.lease, '15s')
  const st = await c.status()
  assert.equal(st.state, null)
  assert.deepEqual(st.services.map((s) => s.name), ['api'])
})

test('status() settles without a thread hop and agrees with the Rust call; benchStatus times it', async () => {
  const c = await canaryIn(world())
  await c.step()
  await c.step()
  const a = await c.status()
  assert.equal(a.state.weight, 10)
  // A burst of calls all settle, in order, with the same answer.
  const all = await Promise.all(Array.from({ length: 200 }, () => c.status()))
  assert.ok(all.every((s) => s.state.updatedMs === a.state.updatedMs && s.splits[0].canary === 10))
  const ns = await testing.benchStatus(c, 100)
  assert.ok(ns > 0 && ns < 1e7, `${ns}`)
})

test('errors are Errors with code, field/reason for bad input, and the words of the cause', async () => {
  const e = await rejects(() => Spec.fromText(specYaml({ steps: '[20, 120]' })), 'CANARY_INVALID_INPUT')
  assert.equal(e.field, 'traffic.steps[1]')
  assert.match(e.reason, /120.*100/)
  assert.equal(e.message, `${e.field}: ${e.reason}`)
  const c = await canaryIn(world())
  const conflict = await rejects(async () => {
    await c.step()
    await c.promote(true)
    await c.pause()
  }, 'CANARY_CONFLICT')
  assert.equal(conflict.field, undefined)
  assert.equal(conflict.reason, undefined)
  assert.match(conflict.message, /^conflict: the rollout of shop already ended \(promoted\); nothing to pause$/)
  // A core error with an underlying one carries it as `cause` (the settings' checks have none).
  const unavailable = await rejects(() => Canary.connect(Spec.fromText(specYaml()), { dockerHost: 'unix:///nonexistent/docker.sock' }), 'CANARY_UNAVAILABLE')
  assert.match(unavailable.message + (unavailable.cause?.message ?? ''), /nonexistent\/docker\.sock|No such file|connect/i)
})
