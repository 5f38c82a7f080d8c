// replay(): the shipped recording of the demo's bad canary (examples/replay) gives its recorded
// decisions back; a looser threshold decides otherwise; bad options are named.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'

import { sdk, rejects, repo } from './helpers.mjs'

const bad = join(repo, 'examples', 'replay', 'neotix-bad.jsonl')
const looser = { 'analysis.checks[0].min': 0.5, 'analysis.checks[1].relative.tolerance': 0.5 }

test('the recording replays to its decisions, figures included', async () => {
  const r = await sdk.replay({ recording: bad })
  assert.deepEqual(r.differences, [])
  assert.equal(r.outcome.result, 'rolledBack')
  assert.equal(r.outcome.atMs, 10000)
  assert.match(r.outcome.cause, /success-rate/)
  assert.deepEqual(r.decisions.map((d) => d.event.kind), ['weightSet', 'analysis', 'rollingBack', 'rolledBack'])
  assert.equal(r.recorded.outcome.result, 'rolledBack')
})

test('a looser threshold moves on to step 2 where the recording ends', async () => {
  const r = await sdk.replay({ recording: bad, overrides: looser })
  assert.notDeepEqual(r.differences, [])
  assert.equal(r.outcome.result, 'undecided')
  assert.deepEqual([r.outcome.step, r.outcome.weight], [1, 50])
  assert.match(r.outcome.why, /no step 2/)
})

test('a spec object replaces the recording\'s own', async () => {
  const spec = sdk.Spec.load(join(repo, 'examples', 'neotix', 'canary-bad.yaml'), { group: 'benchcont', stack: 'benchcont' }).toObject()
  spec.analysis.checks[0].min = 0.5
  spec.analysis.checks[1].relative.tolerance = 0.5
  const r = await sdk.replay({ recording: bad, spec })
  assert.equal(r.outcome.result, 'undecided')
})

test('bad options are named', async () => {
  await rejects(() => sdk.replay({}), 'CANARY_INVALID_INPUT', /recording or a Prometheus range/)
  await rejects(() => sdk.replay({ recording: bad, colour: 'red' }), 'CANARY_INVALID_INPUT', /colour/)
  await rejects(() => sdk.replay({ recording: join(repo, 'nope.jsonl') }), 'CANARY_INVALID_INPUT', /cannot read/)
})
