"""AsyncCanary: every operation awaited, async metrics/hooks/callbacks on the caller's loop,
events as an async iterator, and cancellation (which waits for the lease to be handed back)."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

import canary_sdk as canary
from canary_sdk import testing
from canary_sdk.types import Event, MetricQuery
from conftest import AsyncMetrics, Metrics, World, make_spec


def test_run_with_async_source_hook_and_callback() -> None:
    world = World(make_spec(hooks={"preRollout": [{"name": "gate", "url": "http://hooks.invalid/g"}]}))

    async def main() -> None:
        loop_thread = threading.current_thread().name
        where: list[str] = []

        async def hook(h: Any, ctx: Any) -> bool:
            where.append(threading.current_thread().name)
            await asyncio.sleep(0)
            return True

        events: list[str] = []

        async def on_event(e: Event) -> None:
            events.append(e["kind"])

        c = await world.canary_async(AsyncMetrics(1.0), hook)
        collected: list[str] = []

        async def collect() -> None:
            async for e in c.events():
                collected.append(e["kind"])

        task = asyncio.ensure_future(collect())
        await asyncio.sleep(0)
        assert await c.run(on_event=on_event) == {"result": "promoted"}
        await asyncio.wait_for(task, 5)
        assert where == [loop_thread]  # coroutines run on the caller's loop
        assert events[0] == "started" and events[-1] == "promoted"
        assert collected == events
        st = await c.status()
        assert st["state"] is not None and st["state"]["phase"] == "promoted"
        assert c.spec.group == "shop" and c.settings["network"] == "canary-net"

    asyncio.run(main())


def test_rollback() -> None:
    async def main() -> Any:
        return await (await World().canary_async(AsyncMetrics(0.2))).run()

    out = asyncio.run(main())
    assert out["result"] == "rolledBack" and "0.200" in out["cause"]


def test_step_and_controls() -> None:
    async def main() -> None:
        c = await World().canary_async()
        with pytest.raises(canary.NotFoundError):
            await c.resume()
        assert await c.step() == "progressing"
        assert (await c.pause())["phase"] == "paused"
        assert (await c.resume())["phase"] == "progressing"
        assert (await c.promote())["phase"] == "progressing"
        kinds: list[str] = []
        assert (await c.promote(full=True, on_event=lambda e: kinds.append(e["kind"])))["phase"] == "promoted"
        assert kinds[-1] == "promoted"
        with pytest.raises(canary.ConflictError):
            await c.rollback()
        c2 = await World().canary_async()
        await c2.step()
        assert (await c2.command("abort"))["phase"] == "rolledBack"

    asyncio.run(main())


def test_deploy_smoke_test_and_streams() -> None:
    async def main() -> None:
        c = await World().canary_async()
        steps: list[str] = []

        async def on_step(s: Any) -> None:
            steps.append(s["what"])

        out = await c.deploy(on_step=on_step)
        assert [s["what"] for s in out] == steps and steps[-1] == "routes"
        assert (await c.smoke_test())["ok"]
        assert [x async for x in c.logs("canary", follow=False)] == []
        assert [x async for x in c.build("stable")] == []
        logs = c.logs("stable", follow=True)
        logs.close()
        assert [x async for x in logs] == []

    asyncio.run(main())


def test_cancelling_a_run_hands_the_lease_back_and_run_resumes() -> None:
    world = World(make_spec(traffic={"steps": [10, 20, 30], "interval": "300ms"}))

    async def main() -> None:
        c = await world.canary_async()
        task = asyncio.ensure_future(c.run())
        await asyncio.sleep(0.5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        st = await c.status()
        assert st["state"] is not None and st["state"]["phase"] == "progressing"
        # By the time the cancelled task ended, the lease was handed back.
        assert not st["driven"] and "lease" not in st["state"]
        kinds: list[str] = []
        other = await world.canary_async()
        out = await other.run({"owner": "elsewhere/2"}, on_event=lambda e: kinds.append(e["kind"]))
        assert out["result"] == "promoted" and kinds[0] == "resumed"

    asyncio.run(main())


def test_wait_for_timeout_stops_a_step_cleanly() -> None:
    world = World(make_spec(traffic={"steps": [10, 20], "interval": "5s"}))

    async def main() -> None:
        c = await world.canary_async()
        assert await c.step() == "progressing"  # weight 10 set; the next step waits 5 s
        t0 = time.monotonic()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(c.step(), 0.3)
        assert time.monotonic() - t0 < 2
        assert not (await c.status())["driven"]

    asyncio.run(main())


def test_calls_need_a_running_loop() -> None:
    c = World().canary().aio
    with pytest.raises(RuntimeError):
        c.native.status()


def test_many_groups_concurrently_on_one_loop() -> None:
    async def one(i: int) -> str:
        world = World(make_spec(group=f"g{i}"))
        c = await world.canary_async(AsyncMetrics(1.0 if i % 2 else 0.1))
        return (await c.run())["result"]

    async def main() -> list[str]:
        return list(await asyncio.gather(*(one(i) for i in range(6))))

    assert asyncio.run(main()) == ["rolledBack", "promoted"] * 3


def test_sync_source_in_async_run_does_not_block_the_loop() -> None:
    class Slow(Metrics):
        def value(self, query: MetricQuery) -> Any:
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
        out = await (await World().canary_async(Slow(1.0))).run()
        t.cancel()
        assert out["result"] == "promoted"
        return ticks

    assert asyncio.run(main()) > 20


def test_blocking_and_async_share_one_group() -> None:
    world = World()
    blocking = world.canary()

    async def main() -> Any:
        return await blocking.aio.run()

    assert asyncio.run(main())["result"] == "promoted"
    assert blocking.status()["state"] is not None
    assert isinstance(asyncio.run(testing.connect_async(world.world, world.spec, Metrics())), canary.AsyncCanary)


def test_the_blocking_api_says_so_inside_a_running_loop() -> None:
    c = World().canary()

    async def main() -> None:
        with pytest.raises(RuntimeError, match="use AsyncCanary"):
            c.status()

    asyncio.run(main())
