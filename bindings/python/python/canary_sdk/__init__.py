"""canary_sdk: canary deployments on Docker Swarm with Traefik and Prometheus, from Python.

The same engine and the same operations as the ``canary`` CLI (the Rust crates canary-core and
canary-sdk), as a blocking API and an asyncio one::

    import canary_sdk as canary

    spec = canary.Spec.load("examples/neotix/canary.yaml", overrides={"traffic.interval": "5s"})
    group = canary.Canary.connect(spec)           # settings: CANARY_* variables, or a dict
    group.deploy()
    assert group.smoke_test()["ok"]
    print(group.run(on_event=print))              # {'result': 'promoted'}

    # asyncio: the same methods, awaited
    group = await canary.AsyncCanary.connect(spec)
    await group.run()

Data in and out are plain dicts (their shapes are the TypedDicts of :mod:`canary_sdk.types`);
errors are :class:`CanaryError` subclasses (see :mod:`canary_sdk.errors`).
"""

from __future__ import annotations

from ._native import Spec, __version__
from ._sync import BlockingStream, Canary, replay, run_blocking
from .aio import AsyncCanary, Stream
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
    "Spec",
    "Canary",
    "AsyncCanary",
    "Stream",
    "BlockingStream",
    "run_blocking",
    "replay",
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
