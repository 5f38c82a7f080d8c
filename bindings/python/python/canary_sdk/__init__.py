"""canary_sdk: canary deployments on Docker Swarm with Traefik and Prometheus, from Python.

The same engine the ``canary`` CLI drives (the Rust crates canary-core, canary-swarm and
canary-traefik), in Python's words::

    import canary_sdk as canary

    spec = canary.Spec.load("canary.yaml")
    rollout = canary.Rollout(
        spec,
        orchestrator=canary.SwarmOrchestrator(),
        router=canary.TraefikRouter("/var/lib/traefik/dynamic", "http://127.0.0.1:8082",
                                    network="canary-net"),
        metrics=canary.PrometheusMetrics("http://127.0.0.1:9090"),
    )
    outcome = rollout.run(on_event=print)

Every call that talks to the world has two flavours: ``x()`` blocks (and lets other Python
threads run; Ctrl-C stops it), ``await x_async()`` runs on asyncio. The constructor of
``SwarmOrchestrator`` connects; its async flavour is ``await SwarmOrchestrator.connect_async()``.
Errors are :class:`CanaryError` subclasses (see :mod:`canary_sdk.errors`).
"""

from __future__ import annotations

from ._native import (
    AppRef,
    AppSplit,
    CommandOutcome,
    Event,
    EventStream,
    Hook,
    HookContext,
    HookOutcome,
    MemoryStateStore,
    MetricQuery,
    Outcome,
    PrometheusMetrics,
    Rollout,
    ScrapeTask,
    ServiceState,
    Spec,
    Status,
    SwarmOrchestrator,
    SwarmStateStore,
    TraefikRouter,
    TraefikScrapeMetrics,
    WebhookRunner,
    __version__,
)
from .errors import (
    AbortedError,
    CanaryError,
    CanaryTimeoutError,
    ConflictError,
    DeploymentFailedError,
    InternalError,
    InvalidSpecError,
    NotFoundError,
    RejectedError,
    UnavailableError,
)

__all__ = [
    "__version__",
    # spec and engine
    "Spec",
    "Rollout",
    "EventStream",
    # implementations
    "SwarmOrchestrator",
    "SwarmStateStore",
    "MemoryStateStore",
    "TraefikRouter",
    "PrometheusMetrics",
    "TraefikScrapeMetrics",
    "ScrapeTask",
    "WebhookRunner",
    # data
    "AppRef",
    "AppSplit",
    "CommandOutcome",
    "Event",
    "Hook",
    "HookContext",
    "HookOutcome",
    "MetricQuery",
    "Outcome",
    "ServiceState",
    "Status",
    # errors
    "CanaryError",
    "InvalidSpecError",
    "NotFoundError",
    "ConflictError",
    "UnavailableError",
    "CanaryTimeoutError",
    "DeploymentFailedError",
    "RejectedError",
    "AbortedError",
    "InternalError",
]
