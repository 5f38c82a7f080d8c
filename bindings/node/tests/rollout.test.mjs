// Rollouts through Canary: JavaScript metrics and hooks driving the core engine to promotion and
// to rollback, the commands, the events, stop(); all in memory (testing.MemoryWorld).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'

import { sdk, specYaml, metricsFor, world, canaryIn, rejects, PINNED } from './helpers.mjs'

const { Spec } = sdk

const HOOKS = `
hooks:
  preRollout: [ { name: gate, url: "http://js.invalid/gate", metadata: { team: web } } ]
  step: [ { name: smoke, url: "http://js.invalid/smoke" } ]
  confirmPromotion: [ { name: confirm, url: "http://js.invalid/confirm" } ]
  postRollout: [ { name: notify, url: "http://js.invalid/notify" } ]
  rollback: [ { name: notify-rollback, url: "http://js.invalid/rollback" } ]
`

test('a JS metrics source (sync) and an async JS hook drive a rollout to promotion', async () => {
  const w = world()
  const calls = []
  const queries = []
  const metrics = {
    value(q) {
      queries.push(q)
      return metricsFor(1.0)(q)
    },
  }
  const hooks = async (hook, ctx) => {
    calls.push(`${ctx.point}:${hook.name}`)
    await sleep(1)
    return hook.name === 'gate' ? { ok: true, message: `hello ${ctx.metadata.team}` } : true
  }
  const c = await canaryIn(w, { spec: { extra: HOOKS }, metrics, hooks })
  const events = []
  const out = await c.run({ owner: 'test/1' }, (e) => events.push(e))

  assert.deepEqual(out, { result: 'promoted' })
  assert.deepEqual(w.weights(), [0, 10, 50, 100, 0])
  assert.equal(w.canaryRouted, false)
  assert.equal(w.service('api').image, PINNED)
  assert.equal(w.service('api-canary').desired, 0)
  assert.deepEqual(calls, ['preRollout:gate', 'step:smoke', 'step:smoke', 'confirmPromotion:confirm', 'postRollout:notify'])
  // The engine asked the JS source, with plain-data queries.
  const q = queries.find((q) => q.metric === 'successRate' && q.track === 'canary')
  assert.deepEqual(q, { app: { name: 'api', stable: 'api', canary: 'api-canary' }, track: 'canary', metric: 'successRate', window: 1000 })
  // Every event reached the listener before run() settled, in order.
  const kinds = events.map((e) => e.kind)
  assert.equal(kinds[0], 'started', kinds.join())
  assert.equal(kinds.at(-1), 'promoted', kinds.join())
  for (const k of ['hook', 'canaryReady', 'weightSet', 'analysis', 'promoting']) assert.ok(kinds.includes(k), k)
  assert.match(events.find((e) => e.kind === 'hook' && e.message.includes('gate')).message, /hello web/)
  assert.equal(events.find((e) => e.kind === 'analysis').analysis.verdict, 'pass')
  assert.equal(typeof events[0].atMs, 'number')
  assert.ok(events[0].atMs > 1.6e12)

  const st = await c.status()
  assert.equal(st.group, 'shop')
  assert.equal(st.state.phase, 'promoted')
  assert.equal(typeof st.state.updatedMs, 'number')
  assert.deepEqual(st.steps, [10, 50])
  assert.equal(st.driven, false)
  assert.deepEqual(st.services.map((s) => s.name), ['api', 'api-canary'])
  assert.equal(st.splits[0].canary, 0)
})

test('an async JS metrics source showing a bad canary rolls the rollout back', async () => {
  const w = world()
  const metrics = {
    async value(q) {
      await sleep(1)
      return metricsFor(0.5)(q)
    },
    async samples() {
      return [1, 2, 3]
    },
  }
  const calls = []
  const hooks = (hook, ctx) => {
    calls.push(`${ctx.point}:${hook.name}`)
    return true
  }
  const c = await canaryIn(w, { spec: { extra: HOOKS }, metrics, hooks })
  const out = await c.run()
  assert.equal(out.result, 'rolledBack')
  assert.match(out.cause, /a critical check failed/)
  assert.deepEqual(w.weights(), [0, 10, 0])
  assert.equal(w.service('api').image, 'api:v1')
  assert.equal(w.service('api-canary').desired, 0)
  assert.ok(calls.includes('rollback:notify-rollback'))
  assert.ok(!calls.includes('confirmPromotion:confirm'))
  // Out of the routing before the canary is scaled down.
  assert.equal(w.operations().at(-1), 'scale api-canary 0')
})

test('a metrics source that throws, rejects or answers garbage is inconclusive, never a pass', async (t) => {
  const sources = {
    throws: { value() { throw new Error('boom: prometheus is down') } },
    rejects: { value: async () => { throw new Error('boom: rejected') } },
    garbage: { value: () => 'a lot' },
    garbageAsync: { value: async () => ({ value: 1 }) },
  }
  for (const [name, metrics] of Object.entries(sources)) {
    await t.test(name, async () => {
      const w = world()
      const c = await canaryIn(w, { metrics })
      const events = []
      const out = await c.run(null, (e) => events.push(e))
      assert.equal(out.result, 'rolledBack')
      assert.match(out.cause, /inconclusive limit reached/)
      const analyses = events.filter((e) => e.kind === 'analysis')
      assert.deepEqual(analyses.map((e) => e.analysis.verdict), ['inconclusive', 'inconclusive'])
      assert.match(JSON.stringify(analyses), name.startsWith('garbage') ? /expected a number, null or undefined/ : /boom/)
      assert.equal(w.service('api').image, 'api:v1')
    })
  }
})

test('a hook that throws, rejects or says no stops the rollout', async (t) => {
  const cases = {
    'pre-rollout hook throws': [(h) => { if (h.name === 'gate') throw new Error('gate is closed'); return true }, /pre-rollout hook gate failed: .*gate is closed/],
    'pre-rollout hook rejects': [async (h) => { if (h.name === 'gate') throw new Error('no deploys on friday'); return true }, /pre-rollout hook gate failed: .*no deploys on friday/],
    'step hook says no': [(h) => (h.name === 'smoke' ? { ok: false, message: 'smoke test: 3 failures' } : true), /step hook smoke failed: smoke test: 3 failures/],
    'hook answers garbage': [(h) => (h.name === 'gate' ? 'yes' : true), /pre-rollout hook gate failed: .*expected a boolean/],
  }
  for (const [name, [hooks, cause]] of Object.entries(cases)) {
    await t.test(name, async () => {
      const w = world()
      const c = await canaryIn(w, { spec: { extra: HOOKS }, hooks })
      const out = await c.run()
      assert.equal(out.result, 'rolledBack')
      assert.match(out.cause, cause)
      assert.equal(w.service('api').image, 'api:v1')
    })
  }
})

test('a canary that does not start rolls back with the orchestrator words', async () => {
  const w = world()
  w.failToStart('api-canary', 'exec format error')
  const c = await canaryIn(w)
  const out = await c.run()
  assert.equal(out.result, 'rolledBack')
  assert.match(out.cause, /canary did not start: deployment of api-canary failed: exec format error/)
})

test('step(), the commands by method and by name, with nobody driving', async () => {
  const w = world()
  const c = await canaryIn(w)
  await rejects(() => c.pause(), 'CANARY_NOT_FOUND', /rollout "shop" not found/)
  assert.equal(await c.step(), 'progressing')
  let st = await c.status()
  assert.equal(st.state.phase, 'progressing')
  assert.equal(st.state.weight, 0)
  assert.deepEqual(await c.pause(), { result: 'applied', phase: 'paused' })
  assert.equal((await c.status()).state.phase, 'paused')
  assert.match((await c.status()).state.commandBy ?? 'node:', /^node:/)
  assert.deepEqual(await c.command('resume'), { result: 'applied', phase: 'progressing' })
  assert.deepEqual(await c.promote(), { result: 'applied', phase: 'progressing' })
  st = await c.status()
  assert.equal(st.state.step, 1)
  assert.equal(st.state.weight, 50)
  assert.deepEqual(await c.promote(true), { result: 'applied', phase: 'promoted' })
  assert.equal(w.service('api').image, PINNED)
  assert.equal(await c.step(), 'promoted')
  await rejects(() => c.rollback(), 'CANARY_CONFLICT', /already ended \(promoted\); nothing to /)
  const e = await rejects(() => c.command('explode'), 'CANARY_INVALID_INPUT', /^command: "explode" is not one of/)
  assert.equal(e.field, 'command')
  await rejects(() => c.command(7), 'CANARY_INVALID_INPUT', /^command: invalid type/)
  await rejects(() => c.promote('yes'), 'CANARY_INVALID_INPUT', /^full: /)
})

test('rollback() and command("rollback") with nobody driving roll back', async () => {
  for (const how of [(c) => c.rollback(), (c) => c.command('rollback')]) {
    const w = world()
    const c = await canaryIn(w)
    await c.step()
    await c.step()
    assert.deepEqual(await how(c), { result: 'applied', phase: 'rolledBack' })
    assert.match((await c.status()).state.cause, /aborted by a person/)
    assert.equal(w.service('api-canary').desired, 0)
  }
})

test('commands reach a running rollout; a second controller gets CANARY_CONFLICT', async () => {
  const w = world()
  // 1s steps: the commands below must arrive while the rollout still runs, also on a loaded
  // machine (with 200ms steps one run ended before promote-full arrived); promote-full ends it.
  const spec = { steps: '[10, 20, 30, 40, 50, 60, 70, 80, 90]', interval: '1s' }
  const c = await canaryIn(w, { spec })
  const seen = []
  let weightSet
  const firstWeight = new Promise((resolve) => (weightSet = resolve))
  const running = c.run({ owner: 'hostA/1', poll: '100ms' }, (e) => {
    seen.push(e.kind)
    if (e.kind === 'weightSet') weightSet()
  })
  await firstWeight

  const other = await canaryIn(w, { spec })
  await rejects(() => other.run({ owner: 'hostB/1' }), 'CANARY_CONFLICT', /is driven by hostA\/1/)
  assert.equal((await other.status()).driven, true)

  assert.deepEqual(await c.pause(), { result: 'delivered', owner: 'hostA/1' })
  while (!seen.includes('paused')) await sleep(5)
  assert.equal((await c.status()).state.phase, 'paused')
  assert.deepEqual(await other.resume(), { result: 'delivered', owner: 'hostA/1' })
  assert.deepEqual(await c.command('promote-full'), { result: 'delivered', owner: 'hostA/1' })
  assert.deepEqual(await running, { result: 'promoted' })
  assert.ok(seen.includes('command'))
})

test('events() iterates the events of the next run and ends with it; break stops early', async () => {
  const w = world()
  const c = await canaryIn(w)
  const it = c.events()
  const early = c.events()
  const collected = (async () => {
    const kinds = []
    for await (const e of it) kinds.push(e.kind)
    return kinds
  })()
  const first = (async () => {
    for await (const e of early) return e.kind
  })()
  assert.deepEqual(await c.run(), { result: 'promoted' })
  const kinds = await collected
  assert.equal(kinds[0], 'started')
  assert.equal(kinds.at(-1), 'promoted')
  assert.equal(await first, 'started')
  // An iterator made after the run waits for the next one: a second run of an ended rollout
  // only says so.
  const after = c.events()
  const again = (async () => {
    const out = []
    for await (const e of after) out.push(e.message)
    return out
  })()
  assert.deepEqual(await c.run(), { result: 'promoted' })
  assert.deepEqual(await again, ['rollout already ended: promoted'])
})

test('a throwing listener does not disturb the run', async () => {
  const c = await canaryIn(world())
  const out = await c.run(null, () => {
    throw new Error('listener bug')
  })
  assert.deepEqual(out, { result: 'promoted' })
})

test('stop() ends a run between transitions and hands the lease back; the next run resumes', async () => {
  const w = world()
  const c = await canaryIn(w, { spec: { steps: '[10, 20, 30, 40, 50]', interval: '300ms' } })
  let weightSet
  const firstWeight = new Promise((resolve) => (weightSet = resolve))
  const running = c.run({ owner: 'hostA/1' }, (e) => e.kind === 'weightSet' && weightSet())
  await firstWeight
  c.stop()
  const e = await rejects(() => running, 'CANARY_ABORTED', /stopped by stop\(\)/)
  assert.ok(e instanceof Error)
  const st = await c.status()
  assert.equal(st.driven, false)
  assert.equal(st.state.lease, undefined)
  assert.equal(st.state.phase, 'progressing')
  // Another controller takes over at once (no lease to wait for) and finishes it.
  const other = await canaryIn(w, { spec: { steps: '[10, 20, 30, 40, 50]', interval: '100ms' } })
  const kinds = []
  assert.deepEqual(await other.run({ owner: 'hostB/1' }, (e) => kinds.push(e.kind)), { result: 'promoted' })
  assert.equal(kinds[0], 'resumed')
})

test('a run never blocks the event loop', async () => {
  const c = await canaryIn(world(), { spec: { steps: '[10, 30, 50]', interval: '150ms' } })
  let ticks = 0
  let last = performance.now()
  let worst = 0
  const timer = setInterval(() => {
    const now = performance.now()
    worst = Math.max(worst, now - last)
    last = now
    ticks++
  }, 5)
  const out = await c.run()
  clearInterval(timer)
  assert.deepEqual(out, { result: 'promoted' })
  assert.ok(ticks >= 30, `only ${ticks} timer ticks during a ~450 ms run`)
  assert.ok(worst < 250, `the event loop stalled for ${worst.toFixed(0)} ms`)
})

test('run() and connect() check their arguments', async () => {
  const w = world()
  const spec = Spec.fromText(specYaml())
  const metrics = { value: metricsFor(1) }
  const c = await w.connect(spec, { metrics })
  let e = await rejects(() => c.run({ poll: '1ms' }), 'CANARY_INVALID_INPUT', /^options\.poll: 1ms is not between 100ms and 1h/)
  assert.equal(e.field, 'options.poll')
  assert.match(e.reason, /not between/)
  await rejects(() => c.run({ poll: 'soon' }), 'CANARY_INVALID_INPUT', /^options\.poll: /)
  await rejects(() => c.run({ retries: 1000 }), 'CANARY_INVALID_INPUT', /^options\.retries: /)
  await rejects(() => c.run({ colour: 'red' }), 'CANARY_INVALID_INPUT', /unknown field `colour`/)
  await rejects(() => c.run('fast'), 'CANARY_INVALID_INPUT', /^options: invalid type: string/)
  await rejects(() => w.connect(spec, { metrics, hook: () => true }), 'CANARY_INVALID_INPUT', /^options\.hook: unknown/)
  await rejects(() => w.connect(spec, { metrics: { samples() {} } }), 'CANARY_INVALID_INPUT', /^options\.metrics: it has no value\(query\) method/)
  await rejects(() => w.connect(spec, { metrics: { value: 3 } }), 'CANARY_INVALID_INPUT', /^options\.metrics: value is a number, not a function/)
  await rejects(() => w.connect(spec, { metrics: 'prometheus' }), 'CANARY_INVALID_INPUT', /^options\.metrics: expected an object/)
  await rejects(() => w.connect(spec, { metrics, hooks: 'http://x' }), 'CANARY_INVALID_INPUT', /^options\.hooks: /)
  await rejects(() => w.connect(spec, 42), 'CANARY_INVALID_INPUT', /^options: /)
  await rejects(() => w.connect(spec), 'CANARY_INVALID_INPUT', /^options\.metrics: the in-memory world needs/)
  assert.throws(() => w.connect({}, { metrics }), Error)
  // A missing stable service is refused before anything is touched.
  const empty = new sdk.testing.MemoryWorld()
  const lonely = await empty.connect(spec, { metrics })
  e = await rejects(() => lonely.run(), 'CANARY_NOT_FOUND', /stable service "api" not found: deploy the group first/)
  assert.deepEqual(empty.operations(), [])
})
