// A canary rollout from TypeScript with every name canary-sdk exports.
//
// Run as it is, it drives a rollout in memory to promotion (testing.MemoryOrchestrator and
// testing.MemoryRouter, a TypeScript metrics source and hook), so it works anywhere. With
// CANARY_TRAEFIK_URL set (`source scripts/stack/env.sh`) it also builds the real dependencies of
// the local stack and prints the status of the spec given as its first argument.
import { readFileSync } from 'node:fs'

import {
  Spec,
  Rollout,
  SwarmOrchestrator,
  SwarmStateStore,
  MemoryStateStore,
  TraefikRouter,
  PrometheusMetrics,
  TraefikScrapeMetrics,
  ScrapeTask,
  WebhookRunner,
  EventStream,
  EventSubscription,
  testing,
} from 'canary-sdk'
import type {
  AnalysisReport,
  AppRef,
  AppSplit,
  BasicAuth,
  BuiltImage,
  CanaryErrorCode,
  CheckResult,
  CommandOutcome,
  EventKind,
  HookContext,
  HookFunction,
  HookOutcome,
  HookPoint,
  HookSpec,
  ImageBuild,
  MetricKind,
  MetricQuery,
  MetricsSourceLike,
  NewService,
  Outcome,
  Phase,
  PrometheusMetricsOptions,
  RolloutDeps,
  RolloutEvent,
  RolloutOptions,
  RolloutState,
  ServiceState,
  SpecObject,
  Status,
  SwarmConnectOptions,
  Track,
  TraefikRouterOptions,
  TraefikScrapeMetricsOptions,
  Verdict,
  VersionedState,
} from 'canary-sdk'

const yaml = `
group: shop
apps:
  - name: api
    image: api:v2
    port: 8080
    rule: "Host(\`api.localhost\`)"
traffic: { steps: [10, 50], interval: 100ms }
analysis:
  window: 1s
  checks: [ { name: success-rate, metric: successRate, min: 0.99, critical: true } ]
hooks:
  preRollout: [ { name: gate, url: "http://127.0.0.1:9/gate" } ]
`

/** A metrics source in TypeScript: plenty of requests, a healthy canary. */
const metrics: MetricsSourceLike = {
  value(q: MetricQuery): number | null {
    const metric: MetricKind = q.metric
    const track: Track = q.track
    if (metric === 'requestCount') return 500
    if (metric === 'successRate') return track === 'canary' ? 0.999 : 1
    return null // no data is never zero
  },
  async samples(_q: MetricQuery): Promise<number[]> {
    return [0.1, 0.12, 0.11]
  },
}

/** A hook in TypeScript: says go, asynchronously. */
const hooks: HookFunction = async (hook: HookSpec, ctx: HookContext) => {
  const point: HookPoint = ctx.point
  const answer: HookOutcome = { ok: true, message: `${hook.name} at ${point}: go` }
  return answer
}

function describe(e: RolloutEvent): string {
  const kind: EventKind = e.kind
  const phase: Phase = e.phase
  const report: AnalysisReport | undefined = e.analysis
  const checks: CheckResult[] = report?.checks ?? []
  const verdict: Verdict | undefined = report?.verdict
  return `${kind.padEnd(11)} ${phase.padEnd(11)} w=${e.weight} ${e.message}${verdict ? ` [${verdict}, ${checks.length} checks]` : ''}`
}

async function inMemory(): Promise<void> {
  const object: SpecObject = Spec.fromYaml(yaml).toObject()
  const spec = Spec.fromObject(object)
  const again = Spec.fromJson(spec.toJson())
  const apps: AppRef[] = again.apps()
  console.log(`spec ${spec.group}: ${apps.map((a) => `${a.stable} → ${a.canary}`).join(', ')}, steps ${spec.steps().join('/')}`)
  console.log(`schema: ${Object.keys(Spec.jsonSchema()).length} top-level keys`)

  const orchestrator = new testing.MemoryOrchestrator()
  orchestrator.addService('api', 'api:v1', 2)
  const router = new testing.MemoryRouter()
  const store = new MemoryStateStore()
  const deps: RolloutDeps = { orchestrator, router, metrics, store, hooks }
  const options: RolloutOptions = { owner: 'example/1', pollMs: 50 }
  const rollout = new Rollout(spec, deps, options)

  const subscription: EventSubscription = rollout.onEvent((e) => console.log(describe(e)))
  const events: EventStream = rollout.events()
  const kinds = (async () => {
    const seen: EventKind[] = []
    for await (const e of events) seen.push(e.kind)
    return seen
  })()

  const outcome: Outcome = await rollout.run()
  subscription.unsubscribe()
  console.log(`outcome: ${outcome.result}${outcome.result === 'rolledBack' ? ` (${outcome.cause})` : ''}`)
  console.log(`iterated ${(await kinds).length} events`)

  const status: Status = await rollout.status()
  const state: RolloutState | null = status.state
  const splits: AppSplit[] = status.splits
  const services: ServiceState[] = status.services
  console.log(`status: ${state?.phase}, splits ${JSON.stringify(splits)}, services ${services.map((s) => `${s.name}=${s.image}x${s.desired}`).join(' ')}`)
  console.log(`router weights: ${router.weights().join(' → ')}; canary routed: ${router.canaryRouted}`)
  console.log(`operations: ${orchestrator.operations().join('; ')}`)
  const saved: VersionedState | null = await store.load(spec)
  console.log(`saved state version ${saved?.version}`)

  try {
    await rollout.abort()
  } catch (e) {
    const code = (e as Error & { code: CanaryErrorCode }).code
    console.log(`abort after the end: ${code}: ${(e as Error).message}`)
  }
  const stepped: Phase = await rollout.step()
  const commands: Array<() => Promise<CommandOutcome>> = [() => rollout.pause(), () => rollout.resume(), () => rollout.promote(), () => rollout.promote({ full: true })]
  console.log(`step() after the end: ${stepped}; ${commands.length} commands available`)
  console.log(`status() in Rust: ${(await testing.benchStatus(rollout, 100)).toFixed(0)} ns per call`)
  if (outcome.result !== 'promoted') process.exitCode = 1
}

async function realStack(specPath: string): Promise<void> {
  const env = process.env
  const connect: SwarmConnectOptions = { pollIntervalMs: 250 }
  const swarm = await SwarmOrchestrator.connect(connect)
  const store: SwarmStateStore = new SwarmStateStore(swarm)
  const auth: BasicAuth | undefined = undefined
  const routerOptions: TraefikRouterOptions = {
    dynamicDir: env.CANARY_TRAEFIK_DYNAMIC_DIR ?? '/var/lib/canary-stack/dynamic',
    apiUrl: env.CANARY_TRAEFIK_URL ?? 'http://127.0.0.1:38082',
    network: env.CANARY_NETWORK ?? 'canary-net',
    basicAuth: auth,
  }
  const router = new TraefikRouter(routerOptions)
  const promOptions: PrometheusMetricsOptions = { url: env.CANARY_PROMETHEUS_URL ?? 'http://127.0.0.1:39090', scrapeIntervalMs: 1000 }
  const prometheus = new PrometheusMetrics(promOptions)
  const scrapeOptions: TraefikScrapeMetricsOptions = { url: routerOptions.apiUrl }
  const scrape = new TraefikScrapeMetrics(scrapeOptions)
  const scraping: ScrapeTask = scrape.start(1000)
  const spec = Spec.load(specPath)
  const rollout = new Rollout(spec, { orchestrator: swarm, router, metrics: prometheus, store, hooks: new WebhookRunner() })
  const status = await rollout.status()
  console.log(`${spec.group} on the real stack: ${status.state?.phase ?? 'never started'}; ${status.services.length} services; Docker API ${swarm.apiVersion}; ${router.filePath(spec.group)}`)
  const notMade: Array<NewService | ImageBuild | BuiltImage> = []
  void notMade
  scraping.stop()
  const yamlText = readFileSync(specPath, 'utf8')
  console.log(`the same spec from text: ${Spec.fromYaml(yamlText).group}`)
}

async function main(): Promise<void> {
  await inMemory()
  if (process.env.CANARY_TRAEFIK_URL && process.argv[2]) await realStack(process.argv[2])
}

main().catch((e: Error & { code?: string }) => {
  console.error(`${e.code ?? 'ERROR'}: ${e.message}`)
  process.exit(1)
})
