// Canary.connect against the real Docker engine (the local stack's swarm): settings over the
// environment, status() of a group that does not exist yet, a log stream of a missing service.
// Without a Docker daemon these cases skip, unless CI is set: then they fail.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'

import { sdk, specYaml, rejects } from './helpers.mjs'

const { Spec, Canary } = sdk
const docker = existsSync('/var/run/docker.sock') || !!process.env.DOCKER_HOST

test('settings are checked before anything connects', async () => {
  const spec = Spec.fromText(specYaml())
  let e = await rejects(() => Canary.connect(spec, { webUrl: 'ftp://x' }), 'CANARY_INVALID_INPUT', /^webUrl: "ftp:\/\/x" is not an http\(s\) URL/)
  assert.equal(e.field, 'webUrl')
  e = await rejects(() => Canary.connect(spec, { lease: '2h' }), 'CANARY_INVALID_INPUT', /^lease: 2h is not between 1s and 1h/)
  await rejects(() => Canary.connect(spec, { colour: 'blue' }), 'CANARY_INVALID_INPUT', /^colour: unknown field/)
  await rejects(() => Canary.connect(spec, 'local'), 'CANARY_INVALID_INPUT', /^settings: invalid type: string/)
  await rejects(() => Canary.connect(spec, { dockerHost: 'unix:///nonexistent/docker.sock' }), 'CANARY_UNAVAILABLE', /no Docker socket at \/nonexistent\/docker\.sock/)
  await rejects(() => Canary.connect(spec, null, { metrics: 42 }), 'CANARY_INVALID_INPUT', /^options\.metrics: /)
})

test('a Canary on the local Docker engine', { skip: !docker && !process.env.CI && 'no Docker daemon here' }, async () => {
  const group = `nd${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`
  const spec = Spec.fromText(specYaml({ group }).replace('name: api', `name: ${group}-api`))
  const c = await Canary.connect(spec, { scrapeInterval: '2s' })
  assert.equal(c.settings.scrapeInterval, '2s')
  const st = await c.status()
  assert.equal(st.group, group)
  assert.equal(st.state, null)
  assert.deepEqual(st.services, [])
  assert.equal(st.driven, false)
  await rejects(async () => {
    for await (const line of c.logs('stable')) void line
  }, 'CANARY_NOT_FOUND', new RegExp(`service "${group}-api" not found`))
  await rejects(() => c.run(), 'CANARY_NOT_FOUND', /deploy the group first/)
  await rejects(() => c.pause(), 'CANARY_NOT_FOUND', new RegExp(`rollout "${group}" not found`))
  assert.deepEqual((await c.backends()).map((b) => b.track), ['stable', 'canary'])
})
