"""A tour of every public name of canary_sdk, type-checked with `mypy --strict` (test.sh) so the
stubs cannot drift from the package unnoticed, and run by test.sh twice: with the release wheel
(no test fakes: the spec, the errors, connecting to no Docker at all) and with the test build,
whose in-memory world (canary_sdk.testing) drives whole rollouts. The calls that need the real
stack are only type-checked (`with_the_stack`; bindings/python/examples/real_stack.py runs them).

    python examples/api_tour.py
"""

from __future__ import annotations

import asyncio
import json
import pathlib
import sys
from typing import Any, Optional, Sequence

import canary_sdk
from canary_sdk import (
    AbortedError,
    AsyncCanary,
    BlockingStream,
    Canary,
    CanaryError,
    CanaryTimeoutError,
    ConflictError,
    DeploymentFailedError,
    InternalError,
    InvalidSpecError,
    NotFoundError,
    RejectedError,
    Spec,
    Stream,
    UnavailableError,
    run_blocking,
)
from canary_sdk.errors import __all__ as error_names
from canary_sdk.errors import from_core
from canary_sdk.types import (
    AnalysisReport,
    AppRef,
    AppSplit,
    Backend,
    BuildEvent,
    CheckResult,
    CommandName,
    CommandOutcome,
    DeployOptions,
    DeployStep,
    Duration,
    Event,
    EventCallback,
    EventKind,
    Hook,
    HookContext,
    HookFunction,
    HookOutcome,
    HookPoint,
    HookResult,
    LogLine,
    MetricQuery,
    MetricsSourceLike,
    Outcome,
    Phase,
    Pushed,
    RolloutState,
    RunOptions,
    ServiceState,
    Settings,
    SmokeOptions,
    SmokeReport,
    SmokeTally,
    Status,
    StepCallback,
    Track,
    Verdict,
)

SPEC: dict[str, Any] = {
    "group": "tour",
    "apps": [{"name": "api", "image": "api:v2", "port": 8080, "rule": "Host(`tour.localhost`)"}],
    "traffic": {"steps": [50], "interval": "100ms"},
    "hooks": {"preRollout": [{"name": "gate", "url": "http://python.invalid/gate"}]},
}


class Source:
    """A metrics source in Python (plain methods)."""

    def value(self, query: MetricQuery) -> Optional[float]:
        app: AppRef = query["app"]
        track: Track = query["track"]
        _ = (app["name"], app["stable"], app["canary"], track, query["window"])
        metric = query["metric"]
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
    point: HookPoint = ctx["point"]
    _ = (hook["name"], hook["url"], ctx["group"], ctx["apps"], ctx["step"], ctx["weight"],
         ctx["phase"], ctx["metadata"], point)
    answer: HookOutcome = {"ok": True, "message": "go"}
    return answer


async def async_gate(hook: Hook, ctx: HookContext) -> HookResult:
    return (True, "go")


def show(e: Event) -> None:
    kind: EventKind = e["kind"]
    phase: Phase = e["phase"]
    report: Optional[AnalysisReport] = e.get("analysis")
    if report is not None:
        verdict: Verdict = report["verdict"]
        checks: list[CheckResult] = report["checks"]
        _ = (verdict, checks, report["summary"])
    _ = (e["atMs"], e["group"], e["step"], e["steps"], e["weight"], e["message"], kind, phase)


def read_status(status: Status) -> None:
    state: Optional[RolloutState] = status["state"]
    splits: list[AppSplit] = status["splits"]
    services: list[ServiceState] = status["services"]
    _ = (status["group"], status["steps"], status["driven"], status.get("splitsError"), splits,
         services, state and state.get("phase"))


def blocking_tour(spec: Spec) -> None:
    from canary_sdk import testing

    world = testing.MemoryWorld()
    added: Optional[ServiceState] = world.add_service("api", "api:v1", 2, labels={"team": "a"})
    assert added is not None and world.service("api") == added
    world.break_service("nothing", "never used")
    source: MetricsSourceLike = Source()
    hooks: HookFunction = gate
    callback: EventCallback = show
    group = testing.connect(world, spec, source, hooks)
    on_step: StepCallback = print
    deploy: DeployOptions = {"resetStable": False, "labels": {"team": "a"}, "endpointMode": "dnsrr"}
    steps: list[DeployStep] = group.deploy(deploy, on_step=on_step)
    smoke: SmokeOptions = {"requests": 2, "app": "api"}
    report: SmokeReport = group.smoke_test(smoke)
    tally: SmokeTally = report["tallies"][0]
    _ = (steps, tally["statuses"], group.spec, group.settings, group.aio)
    phase: Phase = group.step(on_event=callback)
    paused: CommandOutcome = group.pause()
    group.resume()
    name: CommandName = "pause"
    group.command(name)
    group.command("resume")
    group.promote(full=True)
    events: BlockingStream[Event] = group.events()
    events.close()
    assert list(events) == []
    options: RunOptions = {"owner": "tour/1", "poll": "200ms", "takeover": False, "restart": False,
                           "retries": 3}
    out: Outcome = group.run(options, on_event=callback)
    assert out == {"result": "promoted"}, out
    read_status(group.status())
    try:
        group.rollback()
    except ConflictError as e:
        print("as expected:", e.code, e.message, e.retryable, e.details, e.reason)
    backends: list[Backend] = group.backends()
    lines: list[LogLine] = list(group.logs("canary", app="api", follow=False, tail=5, since="1m"))
    built: list[BuildEvent] = list(group.build("canary", app=None, args={"X": "1"}))
    pushed: list[Pushed] = group.push("canary", app=None)
    _ = (backends, lines, built, pushed, paused, phase, world.orchestrator_log, world.router_log,
         world.weights)
    seconds: float = testing.bench_status(group.aio.native, 2)
    assert seconds > 0
    try:
        testing.raise_core_error("CANARY_TIMEOUT", "wait")
    except CanaryTimeoutError as e:
        assert e.after == 1.5 and e.what == "wait"


async def async_tour(spec: Spec) -> None:
    from canary_sdk import testing

    world = testing.MemoryWorld()
    world.add_service("api", "api:v1")

    async def on_event(e: Event) -> None:
        show(e)

    group: AsyncCanary = await testing.connect_async(world, spec, AsyncSource(), async_gate)
    assert await group.step(on_event=on_event) == "progressing"
    await group.pause()
    await group.resume()
    await group.promote(full=False)
    stream: Stream[Event] = group.events()
    watcher = asyncio.ensure_future(collect(stream))
    await asyncio.sleep(0)
    out = await group.run(on_event=on_event)
    await watcher
    assert out["result"] == "promoted"
    read_status(await group.status())
    _ = [line async for line in group.logs("stable")] + [b async for b in group.build("stable")]
    _ = await group.push("stable")
    await group.deploy()
    await group.smoke_test()
    try:
        await group.command("pause")
    except ConflictError:
        pass


async def collect(stream: Stream[Event]) -> list[Event]:
    return [e async for e in stream]


def errors() -> None:
    classes: list[type[CanaryError]] = [
        InvalidSpecError, NotFoundError, ConflictError, UnavailableError, CanaryTimeoutError,
        DeploymentFailedError, RejectedError, AbortedError, InternalError,
    ]
    assert {c.__name__ for c in classes} | {"CanaryError"} == set(error_names)
    try:
        Spec.from_dict({"group": "x", "apps": []})
    except InvalidSpecError as e:
        assert e.field == "apps" and isinstance(e, ValueError)
    for code in ("CANARY_NOT_FOUND", "CANARY_DEPLOYMENT_FAILED", "CANARY_REJECTED"):
        try:
            raise from_core("x", code, False, {})
        except NotFoundError as e:
            _ = (e.kind, e.name)
        except DeploymentFailedError as e:
            _ = e.service
        except RejectedError as e:
            _ = e.by


def spec_tour() -> Spec:
    spec = Spec.from_dict(SPEC, dir=".")
    assert Spec.from_dict(spec.to_dict()) == spec
    assert Spec.from_text(json.dumps(SPEC)) == spec
    neotix = pathlib.Path(__file__).resolve().parents[3] / "examples" / "neotix" / "canary.yaml"
    n = Spec.load(neotix, overrides={"traffic.interval": "5s"})
    apps: list[AppRef] = n.apps
    _ = (spec.group, spec.dir, apps, Spec.json_schema(), canary_sdk.__version__)
    return spec


def with_no_docker(spec: Spec) -> None:
    settings: Settings = {"dockerHost": "unix:///nonexistent/docker.sock", "lease": "5s",
                          "scrapeInterval": 1, "metrics": "prometheus"}
    try:
        Canary.connect(spec, settings)
    except UnavailableError as e:
        assert e.retryable


def with_the_stack(spec: Spec) -> None:
    """Only type-checked here: needs Docker, Traefik and Prometheus (see real_stack.py)."""
    group = Canary.connect(spec, {"network": "canary-net"}, metrics=Source(), hooks=gate)
    d: Duration = "10m"
    for line in group.logs("stable", follow=True, since=d):
        print(line["line"])
    aio = run_blocking(AsyncCanary.connect(spec))
    _ = aio


def main() -> int:
    spec = spec_tour()
    errors()
    with_no_docker(spec)
    try:
        import canary_sdk.testing  # noqa: F401
    except ImportError as e:
        print("the release wheel: no test fakes (", e, ")")
    else:
        blocking_tour(spec)
        asyncio.run(async_tour(spec))
    if "--real" in sys.argv:
        with_the_stack(spec)
    print("tour ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
