"""A tour of every public name of canary_sdk, type-checked with `mypy --strict` (test.sh) so the
stubs cannot drift from the native module unnoticed, and run with the in-memory fakes (the parts
that need the real stack are only type-checked, in `with_the_stack`).

    python examples/api_tour.py
"""

from __future__ import annotations

import asyncio
import datetime
import pathlib
import sys
from typing import Optional, Sequence

import canary_sdk
from canary_sdk import (
    AbortedError,
    AppRef,
    AppSplit,
    CanaryError,
    CanaryTimeoutError,
    CommandOutcome,
    ConflictError,
    DeploymentFailedError,
    Event,
    EventStream,
    Hook,
    HookContext,
    HookOutcome,
    InternalError,
    InvalidSpecError,
    MemoryStateStore,
    MetricQuery,
    NotFoundError,
    Outcome,
    PrometheusMetrics,
    RejectedError,
    Rollout,
    ScrapeTask,
    ServiceState,
    Spec,
    Status,
    SwarmOrchestrator,
    SwarmStateStore,
    TraefikRouter,
    TraefikScrapeMetrics,
    UnavailableError,
    WebhookRunner,
)
from canary_sdk.errors import __all__ as error_names
from canary_sdk.testing import FakeOrchestrator, FakeRouter, bench_status_rust, raise_core_error
from canary_sdk.types import (
    CommandResult,
    Duration,
    EventCallback,
    EventKind,
    HookFunction,
    HookPoint,
    HookResult,
    MetricName,
    MetricsSourceLike,
    OutcomeResult,
    Phase,
    Track,
)

SPEC = {
    "group": "tour",
    "apps": [{"name": "api", "image": "api:v2", "port": 8080, "rule": "Host(`tour.localhost`)"}],
    "traffic": {"steps": [50], "interval": "100ms"},
    "hooks": {"preRollout": [{"name": "gate", "url": "http://python.invalid/gate"}]},
}


class Source:
    """A metrics source in Python (plain methods)."""

    def value(self, query: MetricQuery) -> Optional[float]:
        metric: MetricName = query.metric
        track: Track = query.track
        app: AppRef = query.app
        _ = (query.service, query.quantile, query.template, query.label, query.window, app.name,
             app.stable, app.canary, app.to_dict(), query.to_dict(), track)
        return 1000.0 if metric == "requestCount" else 1.0 if metric == "successRate" else 0.0

    def samples(self, query: MetricQuery) -> Sequence[float]:
        return []


class AsyncSource:
    """The same with coroutines."""

    async def value(self, query: MetricQuery) -> Optional[float]:
        return Source().value(query)

    async def samples(self, query: MetricQuery) -> Sequence[float]:
        return []


def gate(hook: Hook, ctx: HookContext) -> HookResult:
    point: HookPoint = ctx.point
    _ = (hook.name, hook.url, hook.timeout, hook.metadata, hook.to_dict(), ctx.group, ctx.apps,
         ctx.step, ctx.weight, ctx.phase, ctx.metadata, ctx.to_dict(), point)
    return HookOutcome(True, "go")


async def async_gate(hook: Hook, ctx: HookContext) -> HookResult:
    return (True, "go")


def show(e: Event) -> None:
    kind: EventKind = e.kind
    phase: Phase = e.phase
    _ = (e.at_ms, e.group, e.step, e.steps, e.weight, e.message, e.analysis, e.to_dict(), kind, phase)


def world() -> tuple[FakeOrchestrator, FakeRouter, MemoryStateStore]:
    o = FakeOrchestrator()
    s: ServiceState = o.add_service("api", "api:v1", 2, labels={"team": "a"})
    _ = (s.name, s.image, s.desired, s.running, s.labels, s.converged, s.to_dict())
    o.break_service("nothing", "never used")
    return o, FakeRouter(), MemoryStateStore()


def blocking_tour(spec: Spec) -> None:
    orchestrator, router, store = world()
    source: MetricsSourceLike = Source()
    hooks: HookFunction = gate
    callback: EventCallback = show
    rollout = Rollout(spec, orchestrator=orchestrator, router=router, metrics=source, store=store,
                      hooks=hooks, owner="tour/1", lease=datetime.timedelta(seconds=15), poll=0.2,
                      takeover=False, restart=False, retries=3)
    assert rollout.spec == spec and rollout.owner == "tour/1"
    phase: Phase = rollout.step(on_event=callback)
    paused: CommandOutcome = rollout.pause()
    result: CommandResult = paused.result
    _ = (paused.owner, paused.phase, paused.to_dict(), result, phase)
    rollout.resume()
    rollout.promote()
    stream: EventStream = rollout.events()
    stream.close()
    for _event in stream:
        pass
    out: Outcome = rollout.run(on_event=callback)
    how: OutcomeResult = out.result
    assert out.promoted and out.cause is None and how == "promoted" and out.to_dict()
    status: Status = rollout.status()
    split: AppSplit = status.splits[0]
    _ = (split.app, split.stable, split.canary, split.header_route, split.healthy, split.to_dict())
    _ = (status.group, status.phase, status.step, status.weight, status.cause, status.failures,
         status.inconclusive, status.steps, status.splits_error, status.services, status.driven,
         status.last_analysis, status.state, status.to_dict())
    try:
        rollout.abort()
    except ConflictError as e:
        print("as expected:", e.code, e.message, e.retryable, e.details, e.reason)
    saved = store.load(spec)
    assert saved is not None
    store.clear(spec)
    _ = (orchestrator.log, orchestrator.service("api"), orchestrator.services(), router.weights,
         router.log)
    timing: dict[str, float] = bench_status_rust(rollout, 10)
    _ = timing
    r2 = Rollout(spec, orchestrator=world()[0], router=FakeRouter(), metrics=Source(),
                 store=MemoryStateStore(), hooks=gate)
    r2.step()
    r2.promote(full=True)


async def async_tour(spec: Spec) -> None:
    orchestrator, router, store = world()

    async def on_event(e: Event) -> None:
        show(e)

    rollout = Rollout(spec, orchestrator=orchestrator, router=router, metrics=AsyncSource(),
                      store=store, hooks=async_gate)
    assert await rollout.step_async(on_event=on_event) == "progressing"
    await rollout.pause_async()
    await rollout.resume_async()
    await rollout.promote_async(full=False)
    watcher = asyncio.ensure_future(collect(rollout.events()))
    await asyncio.sleep(0)
    out = await rollout.run_async(on_event=on_event)
    await watcher
    assert out.promoted
    st = await rollout.status_async()
    assert st.phase == "promoted"
    await store.load_async(spec)
    await store.clear_async(spec)
    r2 = Rollout(spec, orchestrator=world()[0], router=FakeRouter(), metrics=Source(),
                 store=MemoryStateStore(), hooks=gate)
    await r2.step_async()
    await r2.abort_async()
    try:
        await r2.pause_async()
    except ConflictError:
        pass


async def collect(stream: EventStream) -> list[Event]:
    return [e async for e in stream]


def errors() -> None:
    classes: list[type[CanaryError]] = [
        InvalidSpecError, NotFoundError, ConflictError, UnavailableError, CanaryTimeoutError,
        DeploymentFailedError, RejectedError, AbortedError, InternalError,
    ]
    assert {c.__name__ for c in classes} | {"CanaryError"} == set(error_names)
    try:
        raise_core_error("CANARY_TIMEOUT", "wait")
    except CanaryTimeoutError as e:
        assert e.after == 1.5 and e.what == "wait"
    try:
        Spec.from_dict({"group": "x", "apps": []})
    except InvalidSpecError as e:
        assert e.field == "apps" and isinstance(e, ValueError)
    for code in ("CANARY_NOT_FOUND", "CANARY_DEPLOYMENT_FAILED", "CANARY_REJECTED"):
        try:
            raise_core_error(code, "x")
        except NotFoundError as e:
            _ = (e.kind, e.name)
        except DeploymentFailedError as e:
            _ = e.service
        except RejectedError as e:
            _ = e.by


def spec_tour() -> Spec:
    spec = Spec.from_dict(SPEC)
    assert Spec.from_json(spec.to_json()) == spec == Spec.from_yaml(spec.to_json())
    assert Spec.from_dict(spec.to_dict()) == spec
    _ = (spec.group, spec.stack, spec.apps, spec.steps, spec.window, Spec.json_schema())
    q = MetricQuery(AppRef("api", "api", "api-canary"), "canary", {"latency": 0.99}, "30s")
    d: Duration = 1.5
    _ = (q, d, HookOutcome(False).ok, HookOutcome(True, "m").message, canary_sdk.__version__)
    return spec


def with_the_stack(spec: Spec) -> None:
    """Only type-checked here: needs Docker, Traefik and Prometheus (see real_stack.py)."""
    swarm = SwarmOrchestrator("unix:///var/run/docker.sock", tls=False, cert_path=None, timeout=30,
                              poll_interval=0.25, settle=1, rolling_update="startFirst")
    store: SwarmStateStore = swarm.state_store()
    store2 = SwarmStateStore(swarm)
    router = TraefikRouter("/var/lib/canary-stack/dynamic", "http://127.0.0.1:38082",
                           network="canary-net", mode="weighted", version="v3", confirm_timeout=30,
                           poll_interval=0.2, request_timeout=5, basic_auth=None)
    prom = PrometheusMetrics("http://127.0.0.1:39090", version="v3", backends={"api": "api@swarm"},
                             timeout=10, samples=10, scrape_interval=1, basic_auth=("u", "p"),
                             bearer_token=None)
    scrape = TraefikScrapeMetrics("http://127.0.0.1:38082", version="v3", backends=None, timeout=5,
                                  retention=900, capacity=2048, freshness=1, samples=10,
                                  basic_auth=None)
    task: ScrapeTask = scrape.start(1)
    with task:
        assert task.running
    task.stop()
    scrape.scrape()
    q = MetricQuery(spec.apps[0], "canary", "successRate", 30)
    _ = (prom.value(q), prom.samples(q), scrape.value(q), scrape.samples(q))
    _ = (swarm.api_version, swarm.inspect("api"), swarm.stack_services("shop"),
         swarm.services_with_label("a", "b"), swarm.wait_converged("api", 60))
    swarm.scale("api", 2)
    swarm.create_service("api2", "api:v1", 2, env={}, labels={}, networks=["canary-net"], init=True,
                         endpoint_mode="dnsrr")
    swarm.remove_service("api2")
    router.remove(spec.group)
    path: pathlib.Path = router.file_path(spec.group)
    _ = path
    r = Rollout(spec, orchestrator=swarm, router=router, metrics=prom, store=store2,
                hooks=WebhookRunner())
    r.run()
    _ = store


async def with_the_stack_async(spec: Spec) -> None:
    swarm = await SwarmOrchestrator.connect_async()
    router = TraefikRouter("/tmp", "http://127.0.0.1:38082", network="canary-net")
    prom = PrometheusMetrics("http://127.0.0.1:39090")
    scrape = TraefikScrapeMetrics("http://127.0.0.1:38082")
    q = MetricQuery(spec.apps[0], "stable", "errorRate", 30)
    _ = (await prom.value_async(q), await prom.samples_async(q), await scrape.value_async(q),
         await scrape.samples_async(q))
    await scrape.scrape_async()
    _ = (await swarm.inspect_async("api"), await swarm.stack_services_async("shop"),
         await swarm.services_with_label_async("a", "b"), await swarm.wait_converged_async("api", 9))
    await swarm.scale_async("api", 1)
    await swarm.create_service_async("x", "api:v1")
    await swarm.remove_service_async("x")
    await router.remove_async(spec.group)
    await Rollout(spec, orchestrator=swarm, router=router, metrics=scrape).run_async()


def main() -> int:
    spec = spec_tour()
    errors()
    blocking_tour(spec)
    asyncio.run(async_tour(spec))
    if "--real" in sys.argv:
        with_the_stack(spec)
        asyncio.run(with_the_stack_async(spec))
    print("tour ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
