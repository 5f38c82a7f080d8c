"""Shared helpers: a small spec, Python metrics sources, and the in-memory world of the test
build (canary_sdk.testing: the cargo feature `testing`, never in the release wheel)."""

from __future__ import annotations

import asyncio
import copy
from typing import Any, Optional

import pytest

import canary_sdk as canary
from canary_sdk import testing
from canary_sdk.types import MetricQuery

BASE_SPEC: dict[str, Any] = {
    "group": "shop",
    "apps": [
        {"name": "api", "image": "api:v2", "port": 8080, "rule": "Host(`api.localhost`)"},
    ],
    "traffic": {"steps": [20, 50], "interval": "100ms"},
    "analysis": {
        "minRequests": 10,
        "inconclusiveLimit": 0,
        "checks": [{"name": "sr", "metric": "successRate", "min": 0.99}],
    },
}


def spec_dict(**changes: Any) -> dict[str, Any]:
    """BASE_SPEC with top-level sections merged (one level deep)."""
    d = copy.deepcopy(BASE_SPEC)
    for k, v in changes.items():
        if isinstance(v, dict) and isinstance(d.get(k), dict):
            d[k].update(v)
        else:
            d[k] = v
    return d


def make_spec(**changes: Any) -> canary.Spec:
    return canary.Spec.from_dict(spec_dict(**changes))


class Metrics:
    """Plenty of requests; the canary's success rate is `rate`, stable's 1.0."""

    def __init__(self, rate: float = 1.0) -> None:
        self.rate = rate
        self.queries: list[MetricQuery] = []

    def value(self, query: MetricQuery) -> Optional[float]:
        self.queries.append(query)
        if query["metric"] == "requestCount":
            return 100.0
        if query["metric"] == "successRate":
            return self.rate if query["track"] == "canary" else 1.0
        return 0.0

    def samples(self, query: MetricQuery) -> list[float]:
        return []


class AsyncMetrics(Metrics):
    """The same, with coroutine methods."""

    async def value(self, query: MetricQuery) -> Optional[float]:  # type: ignore[override]
        await asyncio.sleep(0)
        return Metrics.value(self, query)

    async def samples(self, query: MetricQuery) -> list[float]:  # type: ignore[override]
        return []


def yes(hook: Any, ctx: Any) -> bool:
    return True


class World:
    """The in-memory world with the stable services of `spec`."""

    def __init__(self, spec: Optional[canary.Spec] = None) -> None:
        self.spec = spec or make_spec()
        self.world = testing.MemoryWorld()
        for app in self.spec.apps:
            self.world.add_service(app["stable"], "api:v1", 2)

    def canary(self, metrics: Any = None, hooks: Any = yes, spec: Optional[canary.Spec] = None) -> canary.Canary:
        m = metrics if metrics is not None else Metrics(1.0)
        return testing.connect(self.world, spec or self.spec, m, hooks)

    async def canary_async(self, metrics: Any = None, hooks: Any = yes) -> canary.AsyncCanary:
        m = metrics if metrics is not None else Metrics(1.0)
        return await testing.connect_async(self.world, self.spec, m, hooks)


@pytest.fixture
def world() -> World:
    return World()
