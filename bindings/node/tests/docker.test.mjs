// Canary.connect against the real Docker engine (the local stack's swarm): settings over the
// environment, status() of a group that does not exist yet, a log stream of a missing service.
// Without a Docker daemon these cases skip, unless CI is set: then they fail.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, connect } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

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

/** A free port on 127.0.0.1. */
const freePort = () => new Promise((resolve, reject) => {
  const srv = createServer().listen(0, '127.0.0.1', () => {
    const { port } = srv.address()
    srv.close(() => resolve(port))
  }).on('error', reject)
})

const listening = (port) => new Promise((resolve) => {
  const s = connect(port, '127.0.0.1', () => { s.destroy(); resolve(true) }).on('error', () => resolve(false))
})

const registryBin = spawnSync('docker-registry', ['--version']).status === 0
test('build() then push() to a local registry pins the registry\'s own digest', {
  skip: (!docker || !registryBin) && !process.env.CI && 'no Docker daemon or docker-registry here',
}, async () => {
  assert.ok(registryBin, 'CI is set and there is no docker-registry (apt-get install docker-registry)')
  // Debian's docker-registry on 127.0.0.1 (the daemon treats loopback registries as plain HTTP).
  const dir = mkdtempSync(join(tmpdir(), 'canary-node-push-'))
  const port = await freePort()
  const registry = `127.0.0.1:${port}`
  writeFileSync(join(dir, 'config.yml'), `version: 0.1\nlog: {level: warn}\nstorage: {filesystem: {rootdirectory: ${join(dir, 'data')}}}\nhttp: {addr: "${registry}"}\n`)
  const server = spawn('docker-registry', ['serve', join(dir, 'config.yml')], { stdio: 'ignore' })
  const group = `nd${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`
  const image = `${registry}/${group}-api:v2`
  try {
    const deadline = Date.now() + 20000
    while (!(await listening(port))) {
      assert.ok(Date.now() < deadline, 'the registry did not listen')
      await new Promise((r) => setTimeout(r, 100))
    }
    const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
    const spec = Spec.load(join(repo, 'examples', 'neotix', 'canary.yaml'), { group, stack: group, 'apps.neotix-api.image': image })
    const c = await Canary.connect(spec)
    const built = []
    for await (const b of c.build('canary', { app: 'neotix-api' })) if ('built' in b) built.push(b.app)
    assert.deepEqual(built, ['neotix-api'])
    const pushed = await c.push('canary', { app: 'neotix-api' })
    assert.equal(pushed.length, 1)
    assert.equal(pushed[0].app, 'neotix-api')
    assert.equal(pushed[0].track, 'canary')
    assert.equal(pushed[0].image, image)
    const [name, digest] = pushed[0].digest.split('@')
    assert.equal(name, `${registry}/${group}-api`)
    assert.match(digest, /^sha256:[0-9a-f]{64}$/)
    const r = await fetch(`http://${registry}/v2/${group}-api/manifests/v2`, {
      method: 'HEAD',
      headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json' },
      signal: AbortSignal.timeout(10000),
    })
    assert.equal(r.headers.get('docker-content-digest'), digest)
  } finally {
    server.kill()
    spawnSync('docker', ['image', 'rm', image], { stdio: 'ignore', timeout: 60000 })
    rmSync(dir, { recursive: true, force: true })
  }
})
