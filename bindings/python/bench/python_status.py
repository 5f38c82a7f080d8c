"""Benchmark (not a test): what the binding adds to one call, `status()` of a group in the
in-memory world (so the figure is the binding's own cost, not Docker's or Traefik's). Needs the
test build (canary_sdk.testing).

    python bench/python_status.py [N]

Prints mean microseconds per call, median of 5 rounds:
- rust awaited:           `canary_sdk::Canary::status()` awaited in a loop inside one Tokio task;
- python await status():  the asyncio API, awaited in a loop on one event loop;
- python status():        the blocking API (one run of the private event loop per call).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from typing import Any, Optional

import canary_sdk as canary
from canary_sdk import testing

SPEC = {
    "group": "bench",
    "apps": [{"name": "api", "image": "api:v2", "port": 8080, "rule": "Host(`bench.localhost`)"}],
    "traffic": {"steps": [50], "interval": "100ms"},
}


class Metrics:
    def value(self, q: Any) -> Optional[float]:
        return 1000.0 if q["metric"] == "requestCount" else 1.0

    def samples(self, q: Any) -> list[float]:
        return []


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    world = testing.MemoryWorld()
    world.add_service("api", "api:v1")
    group = testing.connect(world, canary.Spec.from_dict(SPEC), Metrics(), lambda h, c: True)
    assert group.run()["result"] == "promoted"  # so status() has a state, services and splits

    def blocking() -> float:
        t = time.perf_counter()
        for _ in range(n):
            group.status()
        return (time.perf_counter() - t) / n

    async def awaited() -> float:
        t = time.perf_counter()
        for _ in range(n):
            await group.aio.status()
        return (time.perf_counter() - t) / n

    rust, aio, sync = [], [], []
    blocking()  # warm up
    for _ in range(5):
        rust.append(testing.bench_status(group.aio.native, n))
        aio.append(asyncio.run(awaited()))
        sync.append(blocking())
    us = lambda xs: statistics.median(xs) * 1e6  # noqa: E731
    print(f"status() calls per round: {n}, 5 rounds (median)")
    print(f"rust awaited              {us(rust):8.2f} us/call")
    print(f"python await status()     {us(aio):8.2f} us/call")
    print(f"python status()           {us(sync):8.2f} us/call")


if __name__ == "__main__":
    main()
