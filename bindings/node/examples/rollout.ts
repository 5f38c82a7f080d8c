// A deploy script in TypeScript with every name canary-sdk exports.
//
//   node out/rollout.js path/to/canary.yaml [key=value overrides...]
//       builds the canary images, deploys the group, smoke-tests it and runs the canary to its
//       end, printing every event (what scripts/demo.sh does with the CLI); exit 0 when promoted,
//       2 when rolled back.
//   node out/rollout.js
//       a dry tour that changes nothing: a spec from text, its errors, and, when Docker answers,
//       the status of a group that does not exist. bindings/node/test.sh runs it from the
//       packed package.
//
// Settings come from the CANARY_* environment (`source scripts/stack/env.sh`) and DOCKER_HOST.
import { Canary, Spec, EventStream, LogStream, BuildStream } from 'canary-sdk'
import type {
  AnalysisReport,
  AppRef,
  AppSplit,
  Backend,
  BuildOptions,
  BuildOutput,
  CanaryError,
  CanaryErrorCode,
  CheckResult,
  CommandName,
  CommandOutcome,
  ConnectOptions,
  DeployOptions,
  DeployStep,
  Duration,
  EventKind,
  HookContext,
  HookFunction,
  HookOutcome,
  HookPoint,
  HookSpec,
  LogLine,
  LogOptions,
  MetricKind,
  MetricQuery,
  MetricsSourceLike,
  Outcome,
  Phase,
  RolloutEvent,
  RolloutState,
  RunOptions,
  ServiceState,
  Settings,
  SmokeOptions,
  SmokeReport,
  SmokeTally,
  SpecObject,
  Status,
  Track,
  Verdict,
} from 'canary-sdk'

function describe(e: RolloutEvent): string {
  const kind: EventKind = e.kind
  const phase: Phase = e.phase
  const report: AnalysisReport | undefined = e.analysis
  const checks: CheckResult[] = report?.checks ?? []
  const verdict: Verdict | undefined = report?.verdict
  return `${kind.padEnd(11)} ${phase.padEnd(11)} w=${String(e.weight).padStart(3)} ${e.message}${verdict ? ` [${verdict}, ${checks.length} checks]` : ''}`
}

function describeStatus(s: Status): string {
  const state: RolloutState | null = s.state
  const splits: AppSplit[] = s.splits
  const services: ServiceState[] = s.services
  return `${s.group}: ${state?.phase ?? 'never started'}; split ${splits.map((x) => `${x.app} ${x.stable}/${x.canary}`).join(', ') || '-'}; services ${services.map((x) => `${x.name}=${x.image}x${x.desired}`).join(' ') || 'none'}`
}

/** A full rollout of the spec file `path`, as a deploy script does it. */
async function deployAndRun(path: string, overrides: Record<string, unknown>): Promise<number> {
  const spec = Spec.load(path, overrides)
  const settings: Settings = { scrapeInterval: '1s' }
  const canary = await Canary.connect(spec, settings)
  process.on('SIGINT', () => canary.stop()) // hands the lease back; the next run resumes

  for (const track of ['stable', 'canary'] as Track[]) {
    const options: BuildOptions = { args: {} }
    const builds: BuildStream = canary.build(track, options)
    for await (const out of builds) {
      const o: BuildOutput = out
      if ('built' in o) console.log(`built ${o.app} (${track}): ${o.built}`)
    }
  }
  const deployOptions: DeployOptions = { labels: { 'example.canary': '1' } }
  const steps: DeployStep[] = await canary.deploy(deployOptions, (s: DeployStep) => console.log(`deploy ${s.what} ${s.name}: ${s.action}`))
  console.log(`deployed in ${steps.length} steps`)
  const smokeOptions: SmokeOptions = { requests: 5 }
  const report: SmokeReport = await canary.smokeTest(smokeOptions)
  const tallies: SmokeTally[] = report.tallies
  console.log(`smoke test: ${report.ok ? 'ok' : 'FAILED'} (${tallies.map((t) => `${t.app}/${t.variant} ${JSON.stringify(t.statuses)}`).join(', ')})`)
  if (!report.ok) return 1

  const runOptions: RunOptions = { restart: true, poll: '1s' }
  const outcome: Outcome = await canary.run(runOptions, (e) => console.log(describe(e)))
  console.log(describeStatus(await canary.status()))
  return outcome.result === 'promoted' ? 0 : 2
}

/** What can be shown without changing anything. */
async function tour(): Promise<void> {
  const yaml = `
group: example-${process.pid}
apps:
  - { name: example-${process.pid}-api, image: "api:v2", port: 8080, rule: "Host(\`api.localhost\`)" }
traffic: { steps: [10, 50], interval: 10s }
analysis:
  checks: [ { name: success-rate, metric: successRate, min: 0.99, critical: true } ]
hooks:
  preRollout: [ { name: gate, url: "http://127.0.0.1:9/gate" } ]
`
  const interval: Duration = '20s'
  const spec = Spec.fromText(yaml, { 'traffic.interval': interval })
  const object: SpecObject = spec.toObject()
  const again = Spec.fromObject(object)
  const apps: AppRef[] = again.apps()
  console.log(`spec ${spec.group}: ${apps.map((a) => `${a.stable} → ${a.canary}`).join(', ')}; schema has ${Object.keys(Spec.jsonSchema()).length} top-level keys`)
  try {
    Spec.fromText(yaml, { 'traffic.steps[1]': 120 })
  } catch (e) {
    const err = e as CanaryError
    const code: CanaryErrorCode = err.code
    console.log(`a bad override: ${code} at ${err.field}: ${err.reason}`)
  }

  /** A metrics source and a hook in TypeScript (they would replace Prometheus and webhooks). */
  const metrics: MetricsSourceLike = {
    value(q: MetricQuery): number | null {
      const metric: MetricKind = q.metric
      if (metric === 'requestCount') return 500
      if (metric === 'successRate') return q.track === 'canary' ? 0.999 : 1
      return null // no data is never zero
    },
    async samples(_q: MetricQuery): Promise<number[]> {
      return [0.1, 0.12, 0.11]
    },
  }
  const hooks: HookFunction = async (hook: HookSpec, ctx: HookContext) => {
    const point: HookPoint = ctx.point
    const answer: HookOutcome = { ok: true, message: `${hook.name} at ${point}: go` }
    return answer
  }
  const options: ConnectOptions = { metrics, hooks }
  let canary: Canary
  try {
    canary = await Canary.connect(spec, {}, options)
  } catch (e) {
    console.log(`no Docker to show more: ${(e as CanaryError).code}: ${(e as Error).message}`)
    return
  }
  const events: EventStream = canary.events()
  void events
  console.log(`connected with ${JSON.stringify(canary.settings)}`)
  console.log(describeStatus(await canary.status()))
  const backends: Backend[] = await canary.backends()
  console.log(`Traefik names: ${backends.map((b) => `${b.app}/${b.track}=${b.service}`).join(', ')}`)
  const logOptions: LogOptions = { tail: 5 }
  const logs: LogStream = canary.logs('stable', logOptions)
  try {
    for await (const line of logs) console.log((line as LogLine).line)
  } catch (e) {
    console.log(`logs: ${(e as CanaryError).code}: ${(e as Error).message}`)
  }
  const commands: Array<() => Promise<CommandOutcome>> = [() => canary.pause(), () => canary.resume(), () => canary.promote(true), () => canary.rollback()]
  const word: CommandName = 'promote-full'
  try {
    await canary.command(word)
  } catch (e) {
    console.log(`${word} with no rollout: ${(e as CanaryError).code} (${commands.length} other commands)`)
  }
  try {
    await canary.run()
  } catch (e) {
    console.log(`run() before deploy: ${(e as CanaryError).code}: ${(e as Error).message}`)
  }
}

async function main(): Promise<void> {
  const [path, ...sets] = process.argv.slice(2)
  if (!path) return tour()
  const overrides = Object.fromEntries(sets.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]))
  process.exitCode = await deployAndRun(path, overrides)
}

main().catch((e: CanaryError) => {
  console.error(`${e.code ?? 'ERROR'}: ${e.message}`)
  process.exit(1)
})
