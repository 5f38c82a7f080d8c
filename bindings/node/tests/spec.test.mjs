// Spec: every way to load one, overrides, what it exposes, and every way to get it wrong.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { sdk, specYaml, rejects, repo } from './helpers.mjs'

const { Spec } = sdk
const neotix = join(repo, 'examples', 'neotix', 'canary.yaml')

test('Spec.load reads the neotix example', () => {
  const s = Spec.load(neotix)
  assert.equal(s.group, 'neotix')
  assert.deepEqual(s.apps(), [
    { name: 'neotix-api', stable: 'neotix_neotix-api', canary: 'neotix_neotix-api-canary' },
    { name: 'gcp-deployment-api', stable: 'neotix_gcp-deployment-api', canary: 'neotix_gcp-deployment-api-canary' },
  ])
  const o = s.toObject()
  assert.deepEqual(o.traffic.steps, [20, 50, 80])
  assert.equal(o.apps[0].build.context, 'app')
})

test('overrides are applied in order before validation, by path', () => {
  const s = Spec.load(neotix, {
    group: 'ndx',
    stack: 'ndx',
    'traffic.interval': '5s',
    'apps.*.canaryEnv.ERROR_RATE': '0.3',
    'apps.neotix-api.canaryReplicas': 2,
    'analysis.checks[0].min': 0.5,
  })
  assert.equal(s.group, 'ndx')
  assert.equal(s.apps()[0].stable, 'ndx_neotix-api')
  const o = s.toObject()
  assert.equal(o.traffic.interval, '5s')
  assert.deepEqual(o.apps.map((a) => a.canaryEnv), [{ ERROR_RATE: '0.3' }, { ERROR_RATE: '0.3' }])
  assert.equal(o.apps[0].canaryReplicas, 2)
  assert.equal(o.analysis.checks[0].min, 0.5)
  const e = sdk.Spec.load
  assert.equal(typeof e, 'function')
})

test('Spec.fromText (YAML, JSON, compose) and fromObject agree; toObject round-trips', () => {
  const y = Spec.fromText(specYaml())
  const j = Spec.fromText(JSON.stringify(y.toObject()))
  const o = Spec.fromObject(y.toObject())
  for (const s of [y, j, o]) {
    assert.equal(s.group, 'shop')
    assert.deepEqual(s.apps(), [{ name: 'api', stable: 'api', canary: 'api-canary' }])
    assert.deepEqual(s.toObject(), y.toObject())
  }
  const compose = Spec.fromText(`
x-canary: { group: shop }
services:
  api:
    image: api:v1
    x-canary: { image: api:v2, port: 8080, rule: "Host(\`api.localhost\`)" }
`, { stack: 'shop' })
  assert.equal(compose.apps()[0].stable, 'shop_api')
  const dir = mkdtempSync(join(tmpdir(), 'canary-sdk-'))
  writeFileSync(join(dir, 'spec.json'), JSON.stringify(y.toObject()))
  assert.deepEqual(Spec.load(join(dir, 'spec.json')).toObject(), y.toObject())
})

test('Spec.jsonSchema is the spec schema', () => {
  const schema = Spec.jsonSchema()
  assert.equal(schema.title, 'canary spec')
  assert.ok(schema.properties.group)
})

test('a rejected spec throws CANARY_INVALID_INPUT naming the field and the reason', async () => {
  let e = await rejects(() => Spec.fromText(specYaml({ steps: '[20, 120]' })), 'CANARY_INVALID_INPUT', /^traffic\.steps\[1\]: .*120.*100/)
  assert.equal(e.field, 'traffic.steps[1]')
  e = await rejects(() => Spec.fromObject({ group: 'g', apps: [] }), 'CANARY_INVALID_INPUT', /^apps: a group needs at least one app/)
  assert.equal(e.field, 'apps')
  await rejects(() => Spec.fromObject({ group: 'g', apps: [{ name: 'a', image: 'a:1', port: 80, rule: 'Host(`a`)', colour: 1 }] }), 'CANARY_INVALID_INPUT', /colour/)
  await rejects(() => Spec.fromText('{"group": '), 'CANARY_INVALID_INPUT')
  await rejects(() => Spec.fromText('group: [unclosed'), 'CANARY_INVALID_INPUT')
  await rejects(() => Spec.load('/nonexistent/spec.yaml'), 'CANARY_INVALID_INPUT', /cannot read spec file/)
  e = await rejects(() => Spec.load(neotix, { 'traffic.steps[1]': 120 }), 'CANARY_INVALID_INPUT', /^traffic\.steps\[1\]: /)
  await rejects(() => Spec.load(neotix, { 'apps.nope.image': 'x:1' }), 'CANARY_INVALID_INPUT', /^apps\.nope\.image: override: no element named "nope"/)
  await rejects(() => Spec.load(neotix, ['traffic.interval', '5s']), 'CANARY_INVALID_INPUT', /^overrides: /)
})

test('bad argument types throw CANARY_INVALID_INPUT naming the argument', async () => {
  await rejects(() => Spec.fromText(42), 'CANARY_INVALID_INPUT', /^text: /)
  await rejects(() => Spec.fromText(undefined), 'CANARY_INVALID_INPUT', /^text: /)
  await rejects(() => Spec.load({}), 'CANARY_INVALID_INPUT', /^path: /)
  await rejects(() => Spec.fromObject('group: x'), 'CANARY_INVALID_INPUT')
  assert.throws(() => new Spec(), Error)
})
