// Rollout: JavaScript metrics and hooks driving the core engine to promotion and to rollback, the
// commands, the events, the errors; all in memory (testing.MemoryOrchestrator/MemoryRouter).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'

import { sdk, specYaml, metricsFor, world, rejects, PINNED } from './helpers.mjs'

const { Spec, Rollout, MemoryStateStore } = sdk

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
  const spec = Spec.fromYaml(specYaml({ extra: HOOKS }))
  const r = new Rollout(spec, { ...w, metrics, hooks }, { owner: 'test/1' })
  const events = []
  r.onEvent((e) => events.push(e))

  const out = await r.run()

  assert.deepEqual(out, { result: 'promoted' })
  assert.deepEqual(w.router.weights(), [0, 10, 50, 0])
  assert.equal(w.router.canaryRouted, false)
  assert.equal(w.orchestrator.service('api').image, PINNED)
  assert.equal(w.orchestrator.service('api-canary').desired, 0)
  assert.deepEqual(calls, [
    'preRollout:gate',
    'step:smoke',
    'step:smoke',
    'confirmPromotion:confirm',
    'postRollout:notify',
  ])
  // The engine asked the JS source, with plain-data queries.
  const q = queries.find((q) => q.metric === 'successRate' && q.track === 'canary')
  assert.deepEqual(q, { app: { name: 'api', stable: 'api', canary: 'api-canary' }, track: 'canary', metric: 'successRate', window: 1000 })
  // Every event reached the listener before run() settled, in order.
  const kinds = events.map((e) => e.kind)
  assert.equal(kinds[0], 'started', kinds.join())
  assert.equal(kinds.at(-1), 'promoted', kinds.join())
  for (const k of ['hook', 'canaryReady', 'weightSet', 'analysis', 'promoting']) assert.ok(kinds.includes(k), k)
  const gate = events.find((e) => e.kind === 'hook' && e.message.includes('gate'))
  assert.match(gate.message, /hello web/)
  const analysis = events.find((e) => e.kind === 'analysis')
  assert.equal(analysis.analysis.verdict, 'pass')
  assert.equal(typeof events[0].atMs, 'number')
  assert.ok(events[0].atMs > 1.6e12)

  const st = await r.status()
  assert.equal(st.group, 'shop')
  assert.equal(st.state.phase, 'promoted')
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
  const r = new Rollout(Spec.fromYaml(specYaml({ extra: HOOKS })), { ...w, metrics, hooks }, { owner: 'test/1' })
  const out = await r.run()
  assert.equal(out.result, 'rolledBack')
  assert.match(out.cause, /a critical check failed/)
  assert.deepEqual(w.router.weights(), [0, 10, 0])
  assert.equal(w.orchestrator.service('api').image, 'api:v1')
  assert.equal(w.orchestrator.service('api-canary').desired, 0)
  assert.ok(calls.includes('rollback:notify-rollback'))
  assert.ok(!calls.includes('confirmPromotion:confirm'))
  // Out of the routing before the canary is scaled down.
  const ops = w.orchestrator.operations()
  assert.equal(ops.at(-1), 'scale api-canary 0')
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
      const r = new Rollout(Spec.fromYaml(specYaml()), { ...w, metrics }, { owner: 'test/1' })
      const events = []
      r.onEvent((e) => events.push(e))
      const out = await r.run()
      assert.equal(out.result, 'rolledBack')
      assert.match(out.cause, /inconclusive limit reached/)
      const verdicts = events.filter((e) => e.kind === 'analysis').map((e) => e.analysis.verdict)
      assert.deepEqual(verdicts, ['inconclusive', 'inconclusive'])
      const reasons = JSON.stringify(events.filter((e) => e.kind === 'analysis'))
      assert.match(reasons, name.startsWith('garbage') ? /expected a number, null or undefined/ : /boom/)
      assert.equal(w.orchestrator.service('api').image, 'api:v1')
    })
  }
})

test('a hook that throws, rejects or says no stops the rollout', async (t) => {
  const cases = {
    'pre-rollout hook throws': [(h) => { if (h.name === 'gate') throw new Error('gate is closed'); return true }, /pre-rollout hook gate failed: .*gate is closed/],
    'pre-rollout hook rejects': [async (h) => { if (h.name === 'gate') throw new Error('no deploys on friday'); return true }, /pre-rollout hook gate failed: .*no deploys on friday/],
    'step hook says no': [(h) => h.name === 'smoke' ? { ok: false, message: 'smoke test: 3 failures' } : true, /step hook smoke failed: smoke test: 3 failures/],
    'hook answers garbage': [(h) => h.name === 'gate' ? 'yes' : true, /pre-rollout hook gate failed: .*expected a boolean/],
  }
  for (const [name, [hooks, cause]] of Object.entries(cases)) {
    await t.test(name, async () => {
      const w = world()
      const r = new Rollout(Spec.fromYaml(specYaml({ extra: HOOKS })), { ...w, metrics: { value: metricsFor(1) }, hooks }, { owner: 'test/1' })
      const out = await r.run()
      assert.equal(out.result, 'rolledBack')
      assert.match(out.cause, cause)
      assert.equal(w.orchestrator.service('api').image, 'api:v1')
    })
  }
})

test('a canary that does not start rolls back with the orchestrator words', async () => {
  const w = world()
  w.orchestrator.failToStart('api-canary', 'exec format error')
  const r = new Rollout(Spec.fromYaml(specYaml()), { ...w, metrics: { value: metricsFor(1) } }, { owner: 'test/1' })
  const out = await r.run()
  assert.equal(out.result, 'rolledBack')
  assert.match(out.cause, /canary did not start: deployment of api-canary failed: exec format error/)
})

test('step(), pause(), resume(), promote() and promote({ full }) with nobody driving', async () => {
  const w = world()
  const r = new Rollout(Spec.fromYaml(specYaml()), { ...w, metrics: { value: metricsFor(1) } }, { owner: 'test/1' })
  await rejects(() => r.pause(), 'CANARY_NOT_FOUND', /rollout "shop" not found/)
  assert.equal(await r.step(), 'progressing')
  let st = await r.status()
  assert.equal(st.state.phase, 'progressing')
  assert.equal(st.state.weight, 0)
  assert.deepEqual(await r.pause(), { result: 'applied', phase: 'paused' })
  assert.equal((await r.status()).state.phase, 'paused')
  assert.deepEqual(await r.resume(), { result: 'applied', phase: 'progressing' })
  assert.deepEqual(await r.promote(), { result: 'applied', phase: 'progressing' })
  st = await r.status()
  assert.equal(st.state.step, 1)
  assert.equal(st.state.weight, 50)
  assert.deepEqual(await r.promote({ full: true }), { result: 'applied', phase: 'promoted' })
  assert.equal(w.orchestrator.service('api').image, PINNED)
  assert.equal(await r.step(), 'promoted')
  await rejects(() => r.abort(), 'CANARY_CONFLICT', /already ended \(promoted\); nothing to abort/)
  await rejects(() => r.promote({ full: 'yes' }), 'CANARY_INVALID_INPUT', /^options\.full: /)
})

test('abort() with nobody driving rolls back', async () => {
  const w = world()
  const r = new Rollout(Spec.fromYaml(specYaml()), { ...w, metrics: { value: metricsFor(1) } }, { owner: 'test/1' })
  await r.step()
  await r.step()
  assert.deepEqual(await r.abort(), { result: 'applied', phase: 'rolledBack' })
  const st = await r.status()
  assert.equal(st.state.cause, 'aborted by a person')
  assert.equal(w.orchestrator.service('api-canary').desired, 0)
})

test('commands reach a running rollout; a second controller gets CANARY_CONFLICT', async () => {
  const w = world()
  const spec = Spec.fromYaml(specYaml({ steps: '[10, 20, 30, 40, 50, 60, 70, 80, 90]' }).replace('interval: 100ms', 'interval: 200ms'))
  const r = new Rollout(spec, { ...w, metrics: { value: metricsFor(1) } }, { owner: 'hostA/1', pollMs: 10 })
  const seen = []
  let weightSet
  const firstWeight = new Promise((resolve) => (weightSet = resolve))
  r.onEvent((e) => {
    seen.push(e.kind)
    if (e.kind === 'weightSet') weightSet()
  })
  const running = r.run()
  await firstWeight

  const other = new Rollout(spec, { ...w, metrics: { value: metricsFor(1) } }, { owner: 'hostB/1' })
  await rejects(() => other.run(), 'CANARY_CONFLICT', /is driven by hostA\/1/)
  const otherStatus = await other.status()
  assert.equal(otherStatus.driven, true)

  assert.deepEqual(await r.pause(), { result: 'delivered', owner: 'hostA/1' })
  while (!seen.includes('paused')) await sleep(5)
  assert.equal((await r.status()).state.phase, 'paused')
  assert.deepEqual(await other.resume(), { result: 'delivered', owner: 'hostA/1' })
  assert.deepEqual(await r.promote({ full: true }), { result: 'delivered', owner: 'hostA/1' })
  assert.deepEqual(await running, { result: 'promoted' })
  assert.ok(seen.includes('command'))
})

test('events() iterates the events of the next run and ends with it; break stops early', async () => {
  const w = world()
  const r = new Rollout(Spec.fromYaml(specYaml()), { ...w, metrics: { value: metricsFor(1) } }, { owner: 'test/1' })
  const it = r.events()
  const early = r.events()
  const collected = (async () => {
    const kinds = []
    for await (const e of it) kinds.push(e.kind)
    return kinds
  })()
  const first = (async () => {
    for await (const e of early) return e.kind
  })()
  const out = await r.run()
  assert.deepEqual(out, { result: 'promoted' })
  const kinds = await collected
  assert.equal(kinds[0], 'started')
  assert.equal(kinds.at(-1), 'promoted')
  assert.equal(await first, 'started')
  // An iterator made after the run waits for the next one: a second run of an ended rollout
  // only says so.
  const after = r.events()
  const again = (async () => {
    const out = []
    for await (const e of after) out.push(e.message)
    return out
  })()
  assert.deepEqual(await r.run(), { result: 'promoted' })
  assert.deepEqual(await again, ['rollout already ended: promoted'])
})

test('a listener can unsubscribe; a throwing listener does not disturb the run', async () => {
  const w = world()
  const r = new Rollout(Spec.fromYaml(specYaml()), { ...w, metrics: { value: metricsFor(1) } }, { owner: 'test/1' })
  const a = []
  const sub = r.onEvent((e) => a.push(e.kind))
  sub.unsubscribe()
  sub.unsubscribe()
  r.onEvent(() => {
    throw new Error('listener bug')
  })
  assert.deepEqual(await r.run(), { result: 'promoted' })
  assert.deepEqual(a, [])
})

test('a run never blocks the event loop', async () => {
  const w = world()
  const spec = Spec.fromYaml(specYaml({ steps: '[10, 30, 50]' }).replace('interval: 100ms', 'interval: 150ms'))
  const r = new Rollout(spec, { ...w, metrics: { value: metricsFor(1) } }, { owner: 'test/1' })
  let ticks = 0
  let last = performance.now()
  let worst = 0
  const timer = setInterval(() => {
    const now = performance.now()
    worst = Math.max(worst, now - last)
    last = now
    ticks++
  }, 5)
  const out = await r.run()
  clearInterval(timer)
  assert.deepEqual(out, { result: 'promoted' })
  assert.ok(ticks >= 30, `only ${ticks} timer ticks during a ~450 ms run`)
  assert.ok(worst < 250, `the event loop stalled for ${worst.toFixed(0)} ms`)
})

test('the constructor checks its arguments', async () => {
  const w = world()
  const spec = Spec.fromYaml(specYaml())
  const metrics = { value: metricsFor(1) }
  await rejects(() => new Rollout({}, { ...w, metrics }), 'CANARY_INVALID_INPUT', /^spec: expected a Spec/)
  await rejects(() => new Rollout(spec, null), 'CANARY_INVALID_INPUT', /^deps: /)
  await rejects(() => new Rollout(spec, { ...w }), 'CANARY_INVALID_INPUT', /^deps\.metrics: /)
  await rejects(() => new Rollout(spec, { ...w, metrics: { samples() {} } }), 'CANARY_INVALID_INPUT', /^deps\.metrics: it has no value\(query\) method/)
  await rejects(() => new Rollout(spec, { ...w, metrics: { value: 3 } }), 'CANARY_INVALID_INPUT', /^deps\.metrics: value is a number, not a function/)
  await rejects(() => new Rollout(spec, { ...w, metrics, orchestrator: {} }), 'CANARY_INVALID_INPUT', /^deps\.orchestrator: /)
  await rejects(() => new Rollout(spec, { ...w, metrics, router: w.orchestrator }), 'CANARY_INVALID_INPUT', /^deps\.router: /)
  await rejects(() => new Rollout(spec, { ...w, metrics, store: undefined }), 'CANARY_INVALID_INPUT', /^deps\.store: /)
  await rejects(() => new Rollout(spec, { ...w, metrics, hooks: 'http://x' }), 'CANARY_INVALID_INPUT', /^deps\.hooks: /)
  await rejects(() => new Rollout(spec, { ...w, metrics }, { leaseMs: 'long' }), 'CANARY_INVALID_INPUT', /^options\.leaseMs: /)
  await rejects(() => new Rollout(spec, { ...w, metrics }, { colour: 'red' }), 'CANARY_INVALID_INPUT', /unknown field `colour`/)
  const r = new Rollout(spec, { ...w, metrics, hooks: new sdk.WebhookRunner() }, { owner: 'x/1', leaseMs: 5000, pollMs: 50, takeover: true, restart: false, retries: 1 })
  assert.equal(r.spec.group, 'shop')
  await rejects(() => r.onEvent(42), 'CANARY_INVALID_INPUT', /^listener: /)
})

test('a fresh store per rollout: MemoryStateStore keeps the state, load() and clear()', async () => {
  const w = world()
  const spec = Spec.fromYaml(specYaml())
  assert.equal(await w.store.load(spec), null)
  const r = new Rollout(spec, { ...w, metrics: { value: metricsFor(1) } }, { owner: 'test/1' })
  await r.run()
  const saved = await w.store.load(spec)
  assert.equal(saved.state.phase, 'promoted')
  assert.equal(typeof saved.version, 'number')
  await w.store.clear(spec)
  assert.equal(await w.store.load(spec), null)
  await rejects(() => w.store.load('shop'), 'CANARY_INVALID_INPUT', /^spec: expected a Spec/)
  assert.ok(new MemoryStateStore())
})
