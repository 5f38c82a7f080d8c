// Spec: every way to load one, what it exposes, and every way to get it wrong.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

import { sdk, specYaml, rejects } from './helpers.mjs'

const { Spec } = sdk
const here = dirname(fileURLToPath(import.meta.url))
const neotix = join(here, '..', '..', '..', 'examples', 'neotix', 'canary.yaml')

test('Spec.load reads the neotix example (YAML)', () => {
  const s = Spec.load(neotix)
  assert.equal(s.group, 'neotix')
  assert.equal(s.stack, 'neotix')
  assert.deepEqual(s.steps(), [20, 50, 80])
  assert.deepEqual(s.apps(), [
    { name: 'neotix-api', stable: 'neotix_neotix-api', canary: 'neotix_neotix-api-canary' },
    { name: 'gcp-deployment-api', stable: 'neotix_gcp-deployment-api', canary: 'neotix_gcp-deployment-api-canary' },
  ])
  assert.ok(s.windowMs() >= 1000)
})

test('Spec.load reads .json files as JSON, and toJson/toObject round-trip', () => {
  const s = Spec.load(neotix)
  const dir = mkdtempSync(join(tmpdir(), 'canary-sdk-'))
  const file = join(dir, 'spec.json')
  writeFileSync(file, s.toJson())
  const back = Spec.load(file)
  assert.deepEqual(back.toObject(), s.toObject())
  assert.equal(typeof s.toObject().traffic, 'object')
})

test('Spec.fromYaml, fromJson and fromObject agree', () => {
  const y = Spec.fromYaml(specYaml())
  const j = Spec.fromJson(JSON.stringify(y.toObject()))
  const o = Spec.fromObject(y.toObject())
  for (const s of [y, j, o]) {
    assert.equal(s.group, 'shop')
    assert.equal(s.stack, null)
    assert.deepEqual(s.steps(), [10, 50])
    assert.deepEqual(s.apps(), [{ name: 'api', stable: 'api', canary: 'api-canary' }])
    assert.equal(s.windowMs(), 1000)
  }
})

test('Spec.jsonSchema is the spec schema', () => {
  const schema = Spec.jsonSchema()
  assert.equal(schema.title, 'canary spec')
  assert.ok(schema.properties.group)
})

test('a rejected spec throws CANARY_INVALID_INPUT naming the field and the reason', async () => {
  await rejects(() => Spec.fromYaml(specYaml({ steps: '[20, 120]' })), 'CANARY_INVALID_INPUT', /^traffic\.steps\[1\]: .*120.*100/)
  await rejects(() => Spec.fromObject({ group: 'g', apps: [] }), 'CANARY_INVALID_INPUT', /^apps: a group needs at least one app/)
  await rejects(() => Spec.fromObject({ group: 'g', apps: [{ name: 'a', image: 'a:1', port: 80, rule: 'Host(`a`)', colour: 1 }] }), 'CANARY_INVALID_INPUT', /colour/)
  await rejects(() => Spec.fromJson('{"group": '), 'CANARY_INVALID_INPUT')
  await rejects(() => Spec.fromYaml('group: [unclosed'), 'CANARY_INVALID_INPUT')
  await rejects(() => Spec.load('/nonexistent/spec.yaml'), 'CANARY_INVALID_INPUT', /cannot read spec file/)
})

test('bad argument types throw CANARY_INVALID_INPUT naming the argument', async () => {
  await rejects(() => Spec.fromYaml(42), 'CANARY_INVALID_INPUT', /^text: /)
  await rejects(() => Spec.fromJson(undefined), 'CANARY_INVALID_INPUT', /^text: /)
  await rejects(() => Spec.load({}), 'CANARY_INVALID_INPUT', /^path: /)
  await rejects(() => Spec.fromObject('group: x'), 'CANARY_INVALID_INPUT')
  assert.throws(() => new Spec(), Error)
})
