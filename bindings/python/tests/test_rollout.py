"""Rollouts driven from plain (blocking) Python with a Python metrics source and Python hooks,
on the in-memory orchestrator and router: promotion, rollback, steps, manual controls, events,
Ctrl-C, and bad input."""

from __future__ import annotations

import _thread
import sys
import threading
import time
from typing import Any

import pytest

import canary_sdk as canary
from canary_sdk.testing import FakeOrchestrator, FakeRouter
from conftest import AsyncMetrics, Metrics, World, make_spec

GATE = {"preRollout": [{"name": "gate", "url": "http://hooks.invalid/gate"}]}


def test_promotion_with_python_metrics_and_hook(world: World) -> None:
    spec = make_spec(hooks={**GATE, "step": [{"name": "smoke", "url": "http://hooks.invalid/smoke"}]})
    world = World(spec)
    calls: list[tuple[str, str, Any]] = []

    def hook(h: canary.Hook, ctx: canary.HookContext) -> bool:
        calls.append((h.name, ctx.point, ctx.step))
        assert ctx.group == "shop" and ctx.apps == ["api"] and h.url.startswith("http://")
        assert isinstance(h.timeout, float) and h.metadata == {} and ctx.metadata == {}
        assert "shop" in repr(ctx) and "gate" in repr(h) or h.name == "smoke"
        assert h.to_dict()["name"] == h.name and ctx.to_dict()["group"] == "shop"
        return True

    events: list[canary.Event] = []
    metrics = Metrics(1.0)
    r = world.rollout(metrics, hooks=hook)
    out = r.run(on_event=events.append)
    assert out.promoted and out.result == "promoted" and out.cause is None
    assert out.to_dict() == {"result": "promoted"}
    assert calls[0] == ("gate", "preRollout", None)
    assert ("smoke", "step", 0) in calls and ("smoke", "step", 1) in calls
    # The engine asked the Python source for both tracks.
    assert {q.track for q in metrics.queries} == {"canary", "stable"} or {
        q.track for q in metrics.queries
    } == {"canary"}
    assert world.router.weights[-1] == 0 and 20 in world.router.weights and 50 in world.router.weights
    # Stable is updated to the canary's image pinned by ID (the fake pins every image to one ID).
    pinned = [line for line in world.orchestrator.log if line.startswith("set_image api sha256:")]
    assert len(pinned) == 1
    assert world.orchestrator.log[-1] == "scale api-canary 0"
    stable = world.orchestrator.service("api")
    assert stable is not None and stable.image == pinned[0].split()[-1]
    kinds = [e.kind for e in events]
    assert kinds[0] == "started" and kinds[-1] == "promoted"
    assert "analysis" in kinds and "weightSet" in kinds
    analysis = next(e for e in events if e.kind == "analysis")
    assert analysis.analysis is not None and analysis.analysis["verdict"] == "pass"
    assert all(e.group == "shop" and e.steps == 2 and e.at_ms > 0 for e in events)
    assert events[-1].phase == "promoted" and events[-1].to_dict()["kind"] == "promoted"
    assert "promoted" in repr(events[-1])

    st = r.status()
    assert (st.group, st.phase, st.step, st.weight, st.driven) == ("shop", "promoted", 1, 0, False)
    assert st.steps == [20, 50] and st.cause is None and st.failures == 0
    assert [s.name for s in st.services] == ["api", "api-canary"]
    assert st.services[1].desired == 0 and st.services[0].converged
    assert st.splits_error is None and st.splits[0].app == "api"
    split = st.splits[0]
    assert (split.stable, split.canary, split.header_route, split.healthy) == (100, 0, False, True)
    assert split.to_dict()["app"] == "api" and "api" in repr(split)
    assert st.last_analysis is not None and st.state is not None
    assert st.to_dict()["group"] == "shop"
    assert "promoted" in repr(st)
    # Running an ended rollout again returns its outcome at once.
    assert r.run().promoted


def test_rollback_on_bad_metrics(world: World) -> None:
    r = world.rollout(Metrics(0.5))
    out = r.run()
    assert not out.promoted and out.result == "rolledBack"
    assert out.cause is not None and "successRate 0.500" in out.cause
    stable = world.orchestrator.service("api")
    canary_svc = world.orchestrator.service("api-canary")
    assert stable is not None and stable.image == "api:v1"
    assert canary_svc is not None and canary_svc.desired == 0
    # Out of the routing before scaled down.
    assert world.router.log[-1] == "route out"
    st = r.status()
    assert st.phase == "rolledBack" and st.failures == 1 and st.cause == out.cause


class Raising(Metrics):
    def value(self, query: canary.MetricQuery) -> float | None:
        raise RuntimeError("prometheus is down")


class WrongType(Metrics):
    def value(self, query: canary.MetricQuery) -> Any:
        return "0.99"


class NoData(Metrics):
    def value(self, query: canary.MetricQuery) -> float | None:
        return None


class NaN(Metrics):
    def value(self, query: canary.MetricQuery) -> float | None:
        return float("nan")


@pytest.mark.parametrize(
    "metrics, words",
    [
        (Raising(), "RuntimeError: prometheus is down"),
        (WrongType(), "returned str, not a float or None"),
        (NoData(), "no data"),
        (NaN(), "no data"),
    ],
)
def test_metrics_failures_are_inconclusive_never_a_pass(world: World, metrics: Metrics, words: str) -> None:
    out = world.rollout(metrics).run()
    assert not out.promoted
    assert out.cause is not None and "inconclusive limit reached" in out.cause
    st = world.rollout(metrics).status()
    assert st.last_analysis is not None and st.last_analysis["verdict"] == "inconclusive"
    assert words in str(st.last_analysis)


def test_async_metrics_and_async_hook_in_a_blocking_run() -> None:
    world = World(make_spec(hooks=GATE))
    seen = []

    async def hook(h: canary.Hook, ctx: canary.HookContext) -> canary.HookOutcome:
        import asyncio

        await asyncio.sleep(0.01)
        seen.append(threading.current_thread().name)
        return canary.HookOutcome(True, "fine")

    out = world.rollout(AsyncMetrics(1.0), hooks=hook).run()
    assert out.promoted
    assert seen == ["canary-sdk-asyncio"]


@pytest.mark.parametrize(
    "answer, promoted, words",
    [
        (True, True, ""),
        ((True, "go"), True, ""),
        (canary.HookOutcome(True, "go"), True, ""),
        (False, False, "pre-rollout hook gate failed"),
        ((False, "change freeze"), False, "change freeze"),
        (canary.HookOutcome(False, "nope"), False, "nope"),
        (None, False, "returned NoneType, not a bool"),
        (1, False, "returned int, not a bool"),
        (ValueError("kaputt"), False, "ValueError: kaputt"),
    ],
)
def test_hook_answers(answer: Any, promoted: bool, words: str) -> None:
    world = World(make_spec(hooks=GATE))

    def hook(h: canary.Hook, ctx: canary.HookContext) -> Any:
        if isinstance(answer, Exception):
            raise answer
        return answer

    out = world.rollout(hooks=hook).run()
    assert out.promoted is promoted
    if not promoted:
        assert out.cause is not None and words in out.cause
        # Refused before anything moved: no canary was made.
        assert world.orchestrator.service("api-canary") is None


def test_broken_canary_is_rolled_back(world: World) -> None:
    world.orchestrator.break_service("api-canary", "task exited with code 1")
    out = world.rollout().run()
    assert not out.promoted
    assert out.cause is not None and "task exited with code 1" in out.cause


def test_step_by_step(world: World) -> None:
    r = world.rollout()
    phases = []
    events: list[str] = []
    while True:
        phases.append(r.step(on_event=lambda e: events.append(e.kind)))
        if phases[-1] in ("promoted", "rolledBack", "failed"):
            break
    assert phases == ["progressing", "progressing", "promoting", "promoted"]
    assert events[0] == "started" and events[-1] == "promoted"
    assert r.step() == "promoted"


def test_manual_controls_without_a_driver(world: World) -> None:
    r = world.rollout()
    with pytest.raises(canary.NotFoundError):
        r.pause()
    assert r.step() == "progressing"
    p = r.pause()
    assert (p.result, p.phase, p.owner) == ("applied", "paused", None)
    assert p.to_dict() == {"result": "applied", "phase": "paused"}
    assert r.status().phase == "paused"
    assert r.resume().phase == "progressing"
    assert r.promote().phase == "progressing"  # next step's weight set by a person
    assert world.router.weights[-1] == 50
    events: list[str] = []
    assert r.promote(full=True, on_event=lambda e: events.append(e.kind)).phase == "promoted"
    assert events[-1] == "promoted"
    with pytest.raises(canary.ConflictError, match="already ended"):
        r.abort()


def test_abort_rolls_back(world: World) -> None:
    r = world.rollout()
    r.step()
    out = r.abort()
    assert out.phase == "rolledBack"
    assert r.status().cause == "aborted by a person"


def test_controls_reach_a_live_driver_in_another_thread() -> None:
    world = World(make_spec(traffic={"steps": [10, 20, 30, 40, 50], "interval": "2s"}))
    driver = world.rollout(owner="host-a/1", poll=0.05)
    other = world.rollout(owner="host-b/2")
    result: dict[str, Any] = {}
    t = threading.Thread(target=lambda: result.setdefault("out", driver.run()))
    t.start()
    try:
        deadline = time.monotonic() + 10
        while other.status().phase != "progressing" and time.monotonic() < deadline:
            time.sleep(0.02)
        st = other.status()
        assert st.driven and st.phase == "progressing"
        p = other.pause()
        assert (p.result, p.owner, p.phase) == ("delivered", "host-a/1", None)
        while other.status().phase != "paused" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert other.status().phase == "paused"
        assert other.resume().result == "delivered"
        assert other.abort().result == "delivered"
    finally:
        t.join(20)
    assert not t.is_alive()
    assert result["out"].cause == "aborted by a person"


def test_ctrl_c_stops_a_run_with_its_state_saved_and_run_resumes(world: World) -> None:
    spec = make_spec(traffic={"steps": [10, 20, 30], "interval": "400ms"})
    world = World(spec)
    r = world.rollout()
    timer = threading.Timer(0.6, _thread.interrupt_main)
    timer.start()
    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        r.run()
    assert time.monotonic() - t0 < 1.5, "Ctrl-C must stop the run promptly"
    st = r.status()
    assert st.phase == "progressing" and st.weight in (10, 20)
    events: list[canary.Event] = []
    assert r.run(on_event=events.append).promoted
    assert events[0].kind == "resumed"


def test_events_iterator_in_another_thread(world: World) -> None:
    r = world.rollout()
    stream = r.events()
    kinds: list[str] = []
    t = threading.Thread(target=lambda: kinds.extend(e.kind for e in stream))
    t.start()
    assert r.run().promoted
    t.join(10)
    assert not t.is_alive()
    assert kinds[0] == "started" and kinds[-1] == "promoted"
    assert list(stream) == []  # ended for good
    s2 = r.events()
    s2.close()
    assert list(s2) == []


def test_event_callback_errors_are_reported_not_acted_on(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    reported: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", reported.append)

    def bad(e: canary.Event) -> None:
        raise RuntimeError("callback bug")

    assert world.rollout().run(on_event=bad).promoted
    assert reported and "callback bug" in str(reported[0].exc_value)
    with pytest.raises(TypeError, match="on_event"):
        world.rollout().run(on_event=42)  # type: ignore[arg-type]


def test_blocking_run_releases_the_gil() -> None:
    world = World(make_spec(traffic={"interval": "300ms"}))
    ticks = 0
    stop = threading.Event()

    def spin() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            time.sleep(0.001)

    t = threading.Thread(target=spin)
    t.start()
    try:
        assert world.rollout().run().promoted
    finally:
        stop.set()
        t.join()
    assert ticks > 100


def test_constructor_rejects_bad_arguments(world: World) -> None:
    spec = world.spec
    ok: dict[str, Any] = dict(
        orchestrator=world.orchestrator, router=world.router, metrics=Metrics(), store=world.store
    )
    with pytest.raises(TypeError, match="orchestrator must be"):
        canary.Rollout(spec, **{**ok, "orchestrator": object()})
    with pytest.raises(TypeError, match="router must be"):
        canary.Rollout(spec, **{**ok, "router": "traefik"})
    with pytest.raises(TypeError, match="has no samples"):
        canary.Rollout(spec, **{**ok, "metrics": type("OnlyValue", (), {"value": lambda s, q: 1.0})()})
    with pytest.raises(TypeError, match="store must be"):
        canary.Rollout(spec, **{**ok, "store": {}})
    with pytest.raises(TypeError, match="store is required"):
        canary.Rollout(spec, **{**ok, "store": None})
    with pytest.raises(TypeError, match="not callable"):
        canary.Rollout(spec, **ok, hooks="http://x")
    with pytest.raises(canary.InvalidSpecError) as info:
        canary.Rollout(spec, **ok, lease="forever")
    assert info.value.field == "lease"
    with pytest.raises(canary.InvalidSpecError):
        canary.Rollout(spec, **ok, owner=" ")
    with pytest.raises(TypeError):
        canary.Rollout("spec.yaml", **ok)  # type: ignore[arg-type]
    r = canary.Rollout(
        spec, **ok, hooks=canary.WebhookRunner(), owner="me/1", lease=5, poll="50ms",
        takeover=True, restart=True, retries=0,
    )
    assert r.owner == "me/1" and r.spec == spec and "me/1" in repr(r)
    assert "/" in canary.Rollout(spec, **ok).owner


def test_memory_store_load_and_clear(world: World) -> None:
    assert world.store.load(world.spec) is None
    world.rollout().run()
    saved = world.store.load(world.spec)
    assert saved is not None and saved["state"]["phase"] == "promoted" and saved["version"] >= 1
    world.store.clear(world.spec)
    assert world.store.load(world.spec) is None
    assert repr(world.store) == "MemoryStateStore()"


def test_fakes_are_inspectable() -> None:
    o = FakeOrchestrator()
    s = o.add_service("api", "api:v1", 3, labels={"a": "b"})
    assert (s.name, s.image, s.desired, s.running, s.labels, s.converged) == ("api", "api:v1", 3, 3, {"a": "b"}, True)
    assert o.service("nope") is None and [x.name for x in o.services()] == ["api"]
    assert s.to_dict()["name"] == "api" and "api:v1" in repr(s)
    assert o.log == [] and FakeRouter().weights == [] and FakeRouter().log == []
    with pytest.raises(canary.InvalidSpecError):
        o.add_service("bad name", "x")


def test_close_wakes_a_reader_waiting_in_another_thread(world: World) -> None:
    stream = world.rollout().events()
    got: list[canary.Event] = []
    t = threading.Thread(target=lambda: got.extend(stream))
    t.start()
    time.sleep(0.2)
    stream.close()
    t.join(5)
    assert not t.is_alive() and got == []


def test_a_python_source_may_call_the_sdk_blocking(world: World) -> None:
    class Nested(Metrics):
        def value(self, query: canary.MetricQuery) -> float | None:
            world.store.load(world.spec)  # a blocking SDK call from inside the engine's call
            return super().value(query)

    assert world.rollout(Nested()).run().promoted


CHILD = """
import sys
sys.path.insert(0, {tests!r})
import canary_sdk as canary
from conftest import World, make_spec

world = World(make_spec(traffic={{"steps": [10, 20], "interval": "1s"}}))
r = world.rollout()

said = []

def ready(e):
    if e.kind == "weightSet" and not said:
        said.append(1)
        print("ready", flush=True)

try:
    r.run(on_event=ready)
    print("not interrupted", flush=True)
except KeyboardInterrupt:
    st = r.status()
    print("interrupted", st.phase, st.weight, flush=True)
print("outcome", r.run().result, flush=True)
"""


def test_a_real_sigint_stops_a_blocking_run_which_then_resumes() -> None:
    import os
    import pathlib
    import signal
    import subprocess

    tests = str(pathlib.Path(__file__).resolve().parent)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD.format(tests=tests)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        child.send_signal(signal.SIGINT)
        line = child.stdout.readline().split()
        # Stopped at the first step: the run (two 1 s steps) had not finished.
        assert line == ["interrupted", "progressing", "10"], line
        assert child.stdout.readline().split() == ["outcome", "promoted"]
        assert child.wait(20) == 0
    finally:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
