"""The blocking Canary over the in-memory world: promotion and rollback driven by Python metrics
sources and hooks, steps, manual controls, events, Ctrl-C (the lease handed back), deploy, smoke
test, logs, build, settings and bad input."""

from __future__ import annotations

import _thread
import os
import pathlib
import signal
import subprocess
import sys
import threading
import time
from typing import Any, Optional

import pytest

import canary_sdk as canary
from canary_sdk import testing
from canary_sdk.types import Event, MetricQuery
from conftest import AsyncMetrics, Metrics, World, make_spec

GATE = {"preRollout": [{"name": "gate", "url": "http://hooks.invalid/gate"}]}


def test_promotion_with_python_metrics_and_hook() -> None:
    world = World(make_spec(hooks={**GATE, "step": [{"name": "smoke", "url": "http://hooks.invalid/s"}]}))
    calls: list[tuple[str, str, Any]] = []

    def hook(h: Any, ctx: Any) -> bool:
        calls.append((h["name"], ctx["point"], ctx["step"]))
        assert ctx["group"] == "shop" and ctx["apps"] == ["api"] and h["url"].startswith("http://")
        assert h["timeout"] == "10s" and ctx["metadata"] == {}
        return True

    events: list[Event] = []
    metrics = Metrics(1.0)
    c = world.canary(metrics, hook)
    assert c.run(on_event=events.append) == {"result": "promoted"}
    assert calls[0] == ("gate", "preRollout", None)
    assert ("smoke", "step", 0) in calls and ("smoke", "step", 1) in calls
    q = metrics.queries[0]
    assert q["app"] == {"name": "api", "stable": "api", "canary": "api-canary"}
    assert q["window"] == 100 and q["track"] in ("canary", "stable")
    assert world.world.weights == [0, 20, 50, 100, 0]
    log = world.world.orchestrator_log
    pinned = [line for line in log if line.startswith("set_image api sha256:")]
    assert len(pinned) == 1 and log[-1] == "scale api-canary 0"
    stable = world.world.service("api")
    assert stable is not None and stable["image"] == pinned[0].split()[-1]
    kinds = [e["kind"] for e in events]
    assert kinds[0] == "started" and kinds[-1] == "promoted" and "weightSet" in kinds
    analysis = next(e for e in events if e["kind"] == "analysis")
    assert analysis["analysis"]["verdict"] == "pass"
    assert all(e["group"] == "shop" and e["steps"] == 2 and e["atMs"] > 0 for e in events)

    st = c.status()
    assert st["state"] is not None
    assert (st["group"], st["state"]["phase"], st["state"]["step"], st["driven"]) == ("shop", "promoted", 1, False)
    assert st["steps"] == [20, 50] and "cause" not in st["state"]
    assert [s["name"] for s in st["services"]] == ["api", "api-canary"]
    assert st["services"][1]["desired"] == 0 and st["services"][0]["converged"]
    assert st["splits"] == [{"app": "api", "stable": 100, "canary": 0, "headerRoute": False, "healthy": True}]
    # Running an ended rollout again returns its outcome at once.
    assert c.run() == {"result": "promoted"}


def test_rollback_on_bad_metrics(world: World) -> None:
    c = world.canary(Metrics(0.5))
    out = c.run()
    assert out["result"] == "rolledBack" and "successRate 0.500" in out["cause"]
    stable, canary_svc = world.world.service("api"), world.world.service("api-canary")
    assert stable is not None and stable["image"] == "api:v1"
    assert canary_svc is not None and canary_svc["desired"] == 0
    assert world.world.router_log[-1] == "route out"  # out of the routing before scaled down
    st = c.status()["state"]
    assert st is not None and st["phase"] == "rolledBack" and st["failures"] == 1
    assert st["cause"] == out["cause"]


class Raising(Metrics):
    def value(self, query: MetricQuery) -> Optional[float]:
        raise RuntimeError("prometheus is down")


class WrongType(Metrics):
    def value(self, query: MetricQuery) -> Any:
        return "0.99"


class NoData(Metrics):
    def value(self, query: MetricQuery) -> Optional[float]:
        return None


class NaN(Metrics):
    def value(self, query: MetricQuery) -> Optional[float]:
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
    c = world.canary(metrics)
    out = c.run()
    assert out["result"] == "rolledBack" and "inconclusive limit reached" in out["cause"]
    st = c.status()["state"]
    assert st is not None and st["lastAnalysis"]["verdict"] == "inconclusive"
    assert words in str(st["lastAnalysis"])


def test_metrics_source_needs_both_methods(world: World) -> None:
    only_value = type("OnlyValue", (), {"value": lambda s, q: 1.0})()
    with pytest.raises(TypeError, match="has no samples"):
        world.canary(only_value)
    with pytest.raises(TypeError, match="not callable"):
        world.canary(hooks="http://x")


def test_async_metrics_and_async_hook_in_a_blocking_run() -> None:
    world = World(make_spec(hooks=GATE))
    seen = []

    async def hook(h: Any, ctx: Any) -> dict[str, Any]:
        import asyncio

        await asyncio.sleep(0.01)
        seen.append(threading.current_thread().name)
        return {"ok": True, "message": "fine"}

    assert world.canary(AsyncMetrics(1.0), hook).run()["result"] == "promoted"
    assert seen == [threading.current_thread().name]  # on the caller's private loop


@pytest.mark.parametrize(
    "answer, promoted, words",
    [
        (True, True, ""),
        ((True, "go"), True, ""),
        ({"ok": True, "message": "go"}, True, ""),
        (False, False, "pre-rollout hook gate failed"),
        ((False, "change freeze"), False, "change freeze"),
        ({"ok": False, "message": "nope"}, False, "nope"),
        (None, False, "returned NoneType, not a bool"),
        (1, False, "returned int, not a bool"),
        (ValueError("kaputt"), False, "ValueError: kaputt"),
    ],
)
def test_hook_answers(answer: Any, promoted: bool, words: str) -> None:
    world = World(make_spec(hooks=GATE))

    def hook(h: Any, ctx: Any) -> Any:
        if isinstance(answer, Exception):
            raise answer
        return answer

    out = world.canary(hooks=hook).run()
    assert (out["result"] == "promoted") is promoted
    if not promoted:
        assert words in out["cause"]
        assert world.world.service("api-canary") is None  # refused before anything moved


def test_broken_canary_is_rolled_back(world: World) -> None:
    world.world.break_service("api-canary", "task exited with code 1")
    out = world.canary().run()
    assert out["result"] == "rolledBack" and "task exited with code 1" in out["cause"]


def test_step_by_step(world: World) -> None:
    c = world.canary()
    phases, events = [], []
    while not phases or phases[-1] not in ("promoted", "rolledBack", "failed"):
        phases.append(c.step(on_event=lambda e: events.append(e["kind"])))
    assert phases == ["progressing", "progressing", "promoting", "promoted"]
    assert events[0] == "started" and events[-1] == "promoted"
    assert c.step() == "promoted"


def test_manual_controls_without_a_driver(world: World) -> None:
    c = world.canary()
    with pytest.raises(canary.NotFoundError):
        c.pause()
    assert c.step() == "progressing"
    assert c.pause() == {"result": "applied", "phase": "paused"}
    st = c.status()["state"]
    assert st is not None and st["phase"] == "paused"
    assert c.resume()["phase"] == "progressing"
    assert c.promote()["phase"] == "progressing"  # the next step's weight, set by a person
    assert world.world.weights[-1] == 50
    events: list[str] = []
    assert c.promote(full=True, on_event=lambda e: events.append(e["kind"]))["phase"] == "promoted"
    assert events[-1] == "promoted"
    with pytest.raises(canary.ConflictError, match="already ended"):
        c.rollback()
    with pytest.raises(canary.InvalidSpecError) as info:
        c.command("yolo")  # type: ignore[arg-type]
    assert info.value.field == "command"


def test_rollback_command(world: World) -> None:
    c = world.canary()
    c.step()
    assert c.command("rollback")["phase"] == "rolledBack"
    st = c.status()["state"]
    assert st is not None and st["cause"] == "aborted by a person"


@pytest.mark.parametrize("own_options", [False, True])
def test_controls_reach_a_live_driver(own_options: bool) -> None:
    world = World(make_spec(traffic={"steps": [10, 20, 30, 40, 50], "interval": "2s"}))
    driver = world.canary()
    other = world.canary()  # another object of the same process
    opts: Any = {"owner": "host-a/1", "poll": "100ms"} if own_options else None
    result: dict[str, Any] = {}
    t = threading.Thread(target=lambda: result.setdefault("out", driver.run(opts)))
    t.start()
    try:
        deadline = time.monotonic() + 10

        def phase() -> str:
            st = other.status()["state"]
            return st["phase"] if st else "none"

        while phase() != "progressing" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert other.status()["driven"]
        # From the driving object itself (a control while it runs its own options' rollout) ...
        p = driver.pause()
        assert p["result"] == "delivered", p
        while phase() != "paused" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert phase() == "paused"
        # ... and from another one.
        if own_options:
            assert other.resume() == {"result": "delivered", "owner": "host-a/1"}
            assert other.rollback()["result"] == "delivered"
        else:
            assert driver.resume()["result"] == "delivered"
            assert driver.rollback()["result"] == "delivered"
    finally:
        t.join(20)
    assert not t.is_alive()
    assert result["out"]["cause"] == "aborted by a person"


def test_ctrl_c_stops_a_run_hands_its_lease_back_and_run_resumes() -> None:
    world = World(make_spec(traffic={"steps": [10, 20, 30], "interval": "400ms"}))
    c = world.canary()
    timer = threading.Timer(0.6, _thread.interrupt_main)
    timer.start()
    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        c.run()
    assert time.monotonic() - t0 < 1.5, "Ctrl-C must stop the run promptly"
    st = c.status()
    assert st["state"] is not None and st["state"]["phase"] == "progressing"
    assert st["state"]["weight"] in (10, 20)
    assert not st["driven"] and "lease" not in st["state"]  # handed back, not left to expire
    # Another controller (another host, no takeover) picks it up at once.
    events: list[Event] = []
    other = world.canary()
    assert other.run({"owner": "elsewhere/1"}, on_event=events.append)["result"] == "promoted"
    assert events[0]["kind"] == "resumed"


def test_group_events_iterator_in_another_thread(world: World) -> None:
    c = world.canary()
    stream = c.events()
    kinds: list[str] = []
    t = threading.Thread(target=lambda: kinds.extend(e["kind"] for e in stream))
    t.start()
    time.sleep(0.05)
    assert c.run()["result"] == "promoted"
    t.join(10)
    assert not t.is_alive()
    assert kinds[0] == "started" and kinds[-1] == "promoted"
    assert list(stream) == []  # ended for good


def test_close_wakes_a_reader_waiting_in_another_thread(world: World) -> None:
    stream = world.canary().events()
    got: list[Event] = []
    t = threading.Thread(target=lambda: got.extend(stream))
    t.start()
    time.sleep(0.2)
    stream.close()
    t.join(5)
    assert not t.is_alive() and got == []


def test_event_callback_errors_are_reported_not_acted_on(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    reported: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", reported.append)

    def bad(e: Event) -> None:
        raise RuntimeError("callback bug")

    assert world.canary().run(on_event=bad)["result"] == "promoted"
    assert reported and "callback bug" in str(reported[0].exc_value)
    with pytest.raises(TypeError, match="on_event"):
        world.canary().run(on_event=42)  # type: ignore[arg-type]


def test_blocking_run_lets_other_threads_run() -> None:
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
        assert world.canary().run()["result"] == "promoted"
    finally:
        stop.set()
        t.join()
    assert ticks > 100


@pytest.mark.parametrize(
    "options, field",
    [
        ({"owner": " "}, "options.owner"),
        ({"poll": "1ms"}, "options.poll"),
        ({"poll": "forever"}, "options.poll"),
        ({"retries": 1000}, "options.retries"),
        ({"takeover": "yes"}, "options.takeover"),
        ({"lease": "5s"}, "options"),
    ],
)
def test_run_options_are_checked(world: World, options: Any, field: str) -> None:
    with pytest.raises(canary.InvalidSpecError) as info:
        world.canary().run(options)
    assert info.value.field.startswith(field), info.value


def test_a_python_source_may_call_the_sdk_blocking(world: World) -> None:
    c = world.canary()

    class Nested(Metrics):
        def value(self, query: MetricQuery) -> Optional[float]:
            c.status()  # a blocking SDK call from inside the engine's call
            return super().value(query)

    assert world.canary(Nested()).run()["result"] == "promoted"


def test_deploy_smoke_test_backends_logs_and_build(world: World) -> None:
    c = world.canary()
    steps: list[Any] = []
    out = c.deploy({"labels": {"team": "a"}, "resetStable": False}, on_step=steps.append)
    assert out == steps and [s["what"] for s in out] == ["network", "router", "stable", "stable", "routes"]
    assert out[0] == {"what": "network", "name": "canary-net", "action": "created", "detail": "overlay, attachable"}
    assert c.deploy({"network": "other-net"})[0]["name"] == "other-net"
    report = c.smoke_test({"requests": 3})
    assert report["ok"] and [t["variant"] for t in report["tallies"]] == ["plain", "header"]
    assert report["tallies"][0]["statuses"] == {"200": 3}
    with pytest.raises(canary.InvalidSpecError) as bad:
        c.smoke_test({"requests": 0})
    assert bad.value.field == "requests"
    assert c.backends() == [
        {"app": "api", "track": "stable", "service": "api@swarm"},
        {"app": "api", "track": "canary", "service": "canary-shop--api--tasks@file"},
    ]
    assert list(c.logs("stable", tail=10, since="5m")) == []  # the memory world keeps no logs
    assert list(c.build("canary", args={"X": "1"})) == []  # and the spec builds nothing
    assert c.push("canary") == []  # so nothing is pushed
    with pytest.raises(canary.InvalidSpecError) as push_track:
        c.push("blue")  # type: ignore[arg-type]
    assert push_track.value.field == "track"
    with pytest.raises(canary.InvalidSpecError) as track:
        c.logs("blue")  # type: ignore[arg-type]
    assert track.value.field == "track"
    with pytest.raises(canary.InvalidSpecError, match="no app named"):
        list(c.logs("canary", app="nope"))
    with pytest.raises(canary.InvalidSpecError) as since:
        c.logs("stable", since="soon")
    assert since.value.field == "since"


def test_settings_dict_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = make_spec()
    monkeypatch.setenv("CANARY_NETWORK", "env-net")
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with pytest.raises(canary.InvalidSpecError) as info:
        canary.Canary.connect(spec, {"webUrl": "ftp://x"})
    assert info.value.field == "webUrl"
    with pytest.raises(canary.InvalidSpecError) as unknown:
        canary.Canary.connect(spec, {"colour": "blue"})  # type: ignore[typeddict-unknown-key]
    assert "colour" in str(unknown.value)
    monkeypatch.setenv("CANARY_LEASE", "99999h")
    with pytest.raises(canary.InvalidSpecError) as env:
        canary.Canary.connect(spec)
    assert env.value.field == "CANARY_LEASE"
    monkeypatch.delenv("CANARY_LEASE")
    # Valid settings: connecting fails only at Docker, which is not there.
    with pytest.raises(canary.UnavailableError) as down:
        canary.Canary.connect(spec, {"scrapeInterval": "2s"})
    assert down.value.retryable and "nonexistent" in str(down.value)


def test_version_and_release_names() -> None:
    assert canary.__version__ == "0.1.0"
    assert repr(World().canary()) == 'Canary(group="shop")'
    assert set(testing.__all__) == {"MemoryWorld", "raise_core_error", "bench_status", "connect", "connect_async"}


CHILD = """
import sys
sys.path.insert(0, {tests!r})
from conftest import World, make_spec

world = World(make_spec(traffic={{"steps": [10, 20], "interval": "1s"}}))
c = world.canary()
said = []

def ready(e):
    if e["kind"] == "weightSet" and not said:
        said.append(1)
        print("ready", flush=True)

try:
    c.run(on_event=ready)
    print("not interrupted", flush=True)
except KeyboardInterrupt:
    st = c.status()
    print("interrupted", st["state"]["phase"], st["state"]["weight"], st["driven"], flush=True)
print("outcome", c.run()["result"], flush=True)
"""


def test_a_real_sigint_stops_a_blocking_run_which_then_resumes() -> None:
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
        # Stopped at the first step (the run, two 1 s steps, had not finished), lease handed back.
        assert line == ["interrupted", "progressing", "10", "False"], (line, child.stderr)
        assert child.stdout.readline().split() == ["outcome", "promoted"]
        assert child.wait(20) == 0
    finally:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)


EXITING = """
import asyncio, sys
sys.path.insert(0, {tests!r})
import canary_sdk as canary
from conftest import World
c = World().canary()
c.status()
asyncio.run(c.aio.status())
try:
    canary.Canary.connect(c.spec, {{"dockerHost": "unix:///nonexistent/docker.sock"}})
except canary.UnavailableError:
    pass
"""


def test_the_interpreter_exits_cleanly_right_after_calls() -> None:
    # A runtime thread still inside Python when the interpreter finalizes is killed by CPython,
    # which crashed the process now and then (SIGSEGV) before `shutdown` waited for them at exit.
    tests = str(pathlib.Path(__file__).resolve().parent)
    codes = [subprocess.run([sys.executable, "-c", EXITING.format(tests=tests)], capture_output=True,
                            timeout=30).returncode for _ in range(25)]
    assert codes == [0] * 25, codes
