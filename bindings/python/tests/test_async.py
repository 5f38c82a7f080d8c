"""The asyncio flavour of every Rollout call, async metrics/hooks/callbacks on the caller's loop,
events as an async iterator, and cancellation."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

import canary_sdk as canary
from conftest import AsyncMetrics, Metrics, World, make_spec


def test_run_async_with_async_source_hook_and_callback() -> None:
    world = World(make_spec(hooks={"preRollout": [{"name": "gate", "url": "http://hooks.invalid/g"}]}))

    async def main() -> None:
        loop_thread = threading.current_thread().name
        where: list[str] = []

        async def hook(h: canary.Hook, ctx: canary.HookContext) -> bool:
            where.append(threading.current_thread().name)
            await asyncio.sleep(0)
            return True

        events: list[str] = []

        async def on_event(e: canary.Event) -> None:
            events.append(e.kind)

        r = world.rollout(AsyncMetrics(1.0), hooks=hook)
        collected: list[str] = []

        async def collect() -> None:
            async for e in r.events():
                collected.append(e.kind)

        task = asyncio.ensure_future(collect())
        await asyncio.sleep(0)
        out = await r.run_async(on_event=on_event)
        await asyncio.wait_for(task, 5)
        assert out.promoted
        assert where == [loop_thread]  # coroutines run on the caller's loop
        assert events[0] == "started" and events[-1] == "promoted"
        assert collected == events
        st = await r.status_async()
        assert st.phase == "promoted"

    asyncio.run(main())


def test_rollback_async() -> None:
    world = World()

    async def main() -> canary.Outcome:
        return await world.rollout(AsyncMetrics(0.2)).run_async()

    out = asyncio.run(main())
    assert not out.promoted and out.cause is not None and "0.200" in out.cause


def test_step_and_controls_async() -> None:
    world = World()

    async def main() -> None:
        r = world.rollout()
        with pytest.raises(canary.NotFoundError):
            await r.resume_async()
        assert await r.step_async() == "progressing"
        assert (await r.pause_async()).phase == "paused"
        assert (await r.resume_async()).phase == "progressing"
        assert (await r.promote_async()).phase == "progressing"
        kinds: list[str] = []
        assert (await r.promote_async(full=True, on_event=lambda e: kinds.append(e.kind))).phase == "promoted"
        assert kinds[-1] == "promoted"
        with pytest.raises(canary.ConflictError):
            await r.abort_async()
        r2 = World().rollout()
        await r2.step_async()
        assert (await r2.abort_async()).phase == "rolledBack"

    asyncio.run(main())


def test_cancelling_run_async_keeps_the_state_and_run_resumes() -> None:
    world = World(make_spec(traffic={"steps": [10, 20, 30], "interval": "300ms"}))

    async def main() -> None:
        r = world.rollout()
        task = asyncio.ensure_future(r.run_async())
        await asyncio.sleep(0.5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        st = await r.status_async()
        assert st.phase == "progressing"
        kinds: list[str] = []
        out = await r.run_async(on_event=lambda e: kinds.append(e.kind))
        assert out.promoted and kinds[0] == "resumed"

    asyncio.run(main())


def test_store_async() -> None:
    world = World()

    async def main() -> None:
        assert await world.store.load_async(world.spec) is None
        await world.rollout().run_async()
        saved = await world.store.load_async(world.spec)
        assert saved is not None and saved["state"]["phase"] == "promoted"
        await world.store.clear_async(world.spec)
        assert await world.store.load_async(world.spec) is None

    asyncio.run(main())


def test_async_calls_need_a_running_loop() -> None:
    r = World().rollout()
    with pytest.raises(RuntimeError):
        r.status_async()


def test_many_rollouts_concurrently_on_one_loop() -> None:
    async def one(i: int) -> bool:
        world = World(make_spec(group=f"g{i}"))
        return (await world.rollout(AsyncMetrics(1.0 if i % 2 else 0.1)).run_async()).promoted

    async def main() -> list[bool]:
        return list(await asyncio.gather(*(one(i) for i in range(6))))

    assert asyncio.run(main()) == [False, True, False, True, False, True]


def test_sync_source_in_async_run_does_not_block_the_loop() -> None:
    class Slow(Metrics):
        def value(self, query: canary.MetricQuery) -> Any:
            import time

            time.sleep(0.05)  # blocking I/O in a plain method: runs off the loop
            return super().value(query)

    async def main() -> int:
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.005)

        t = asyncio.ensure_future(tick())
        out = await World().rollout(Slow(1.0)).run_async()
        t.cancel()
        assert out.promoted
        return ticks

    assert asyncio.run(main()) > 20
