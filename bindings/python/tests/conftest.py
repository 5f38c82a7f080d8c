"""Shared helpers: a small spec, Python metrics sources and an in-memory world."""

from __future__ import annotations

import copy
from typing import Any, Optional

import pytest

import canary_sdk as canary
from canary_sdk.testing import FakeOrchestrator, FakeRouter

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
        self.queries: list[canary.MetricQuery] = []

    def value(self, query: canary.MetricQuery) -> Optional[float]:
        self.queries.append(query)
        if query.metric == "requestCount":
            return 100.0
        if query.metric == "successRate":
            return self.rate if query.track == "canary" else 1.0
        return 0.0

    def samples(self, query: canary.MetricQuery) -> list[float]:
        return []


class AsyncMetrics(Metrics):
    """The same, with coroutine methods."""

    async def value(self, query: canary.MetricQuery) -> Optional[float]:  # type: ignore[override]
        import asyncio

        await asyncio.sleep(0)
        return Metrics.value(self, query)

    async def samples(self, query: canary.MetricQuery) -> list[float]:  # type: ignore[override]
        return []


class World:
    """A fake orchestrator with the stable service, a fake router and a memory store."""

    def __init__(self, spec: Optional[canary.Spec] = None) -> None:
        self.spec = spec or make_spec()
        self.orchestrator = FakeOrchestrator()
        for app in self.spec.apps:
            self.orchestrator.add_service(app.stable, "api:v1", 2)
        self.router = FakeRouter()
        self.store = canary.MemoryStateStore()

    def rollout(self, metrics: Any = None, **kwargs: Any) -> canary.Rollout:
        kwargs.setdefault("hooks", lambda hook, ctx: True)
        return canary.Rollout(
            kwargs.pop("spec", self.spec),
            orchestrator=self.orchestrator,
            router=self.router,
            metrics=metrics if metrics is not None else Metrics(1.0),
            store=self.store,
            **kwargs,
        )


@pytest.fixture
def world() -> World:
    return World()
