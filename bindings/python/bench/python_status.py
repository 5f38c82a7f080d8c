"""Benchmark (not a test): one blocking `Rollout.status()` from Python against the Rust call it
wraps, `canary_core::Rollout::status()`, on the same rollout (in-memory orchestrator, router and
store, so the figure is the binding's own cost, not Docker's or Traefik's).

    python bench/python_status.py [N]

Prints mean microseconds per call:
- rust awaited:   the Rust future awaited in a loop inside one Tokio task;
- rust block_on:  each call through its own `Runtime::block_on` (what a blocking Rust caller pays);
- python status(): the blocking Python call (GIL released, Ctrl-C watch, result object);
- python await status_async(): the asyncio flavour, awaited in a loop.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time

import canary_sdk as canary
from canary_sdk.testing import FakeOrchestrator, FakeRouter, bench_status_rust

SPEC = {
    "group": "bench",
    "apps": [{"name": "api", "image": "api:v2", "port": 8080, "rule": "Host(`bench.localhost`)"}],
    "traffic": {"steps": [50], "interval": "100ms"},
}


class Metrics:
    def value(self, q: canary.MetricQuery) -> float:
        return 1000.0 if q.metric == "requestCount" else 1.0

    def samples(self, q: canary.MetricQuery) -> list[float]:
        return []


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    o = FakeOrchestrator()
    o.add_service("api", "api:v1")
    r = canary.Rollout(canary.Spec.from_dict(SPEC), orchestrator=o, router=FakeRouter(),
                       metrics=Metrics(), store=canary.MemoryStateStore(), hooks=lambda h, c: True)
    assert r.run().promoted  # so status() has a saved state, services and splits to convert

    def py_blocking() -> float:
        t = time.perf_counter()
        for _ in range(n):
            r.status()
        return (time.perf_counter() - t) / n

    async def py_async() -> float:
        t = time.perf_counter()
        for _ in range(n // 4):
            await r.status_async()
        return (time.perf_counter() - t) / (n // 4)

    rounds = 5
    rust_awaited, rust_block_on, py, pya = [], [], [], []
    py_blocking()  # warm up
    for _ in range(rounds):
        rust = bench_status_rust(r, n)
        rust_awaited.append(rust["awaited"])
        rust_block_on.append(rust["block_on"])
        py.append(py_blocking())
        pya.append(asyncio.run(py_async()))
    us = lambda xs: statistics.median(xs) * 1e6  # noqa: E731
    print(f"status() calls per round: {n}, rounds: {rounds} (median of rounds)")
    print(f"rust awaited                 {us(rust_awaited):8.2f} us/call")
    print(f"rust block_on                {us(rust_block_on):8.2f} us/call")
    print(f"python status()              {us(py):8.2f} us/call")
    print(f"python await status_async()  {us(pya):8.2f} us/call")
    print(f"overhead of blocking python status() over rust block_on: "
          f"{us(py) - us(rust_block_on):+.2f} us/call")


if __name__ == "__main__":
    main()
