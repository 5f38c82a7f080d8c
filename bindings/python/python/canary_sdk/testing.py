"""TEST-ONLY: the in-memory world of the Rust core (no Docker, no Traefik), in builds with the
cargo feature ``testing`` (bindings/python/test.sh makes one for the tests); the release wheel has
none of it. :class:`MemoryWorld` keeps services and routes in memory and logs every call;
``connect`` / ``connect_async`` give a :class:`~canary_sdk.Canary` over it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from ._sync import Canary, run_blocking
from .aio import AsyncCanary

try:
    from ._native import MemoryWorld, bench_status, raise_core_error
except ImportError as e:  # the release wheel
    raise ImportError(
        "canary_sdk.testing needs a build with the cargo feature `testing`; the release wheel "
        "has no test fakes"
    ) from e

if TYPE_CHECKING:
    from ._native import Spec
    from .types import HookFunction, MetricsSourceLike

__all__ = ["MemoryWorld", "raise_core_error", "bench_status", "connect", "connect_async"]


async def connect_async(
    world: MemoryWorld, spec: Spec, metrics: MetricsSourceLike,
    hooks: Optional[HookFunction] = None,
) -> AsyncCanary:
    """``spec``'s group over ``world``, for asyncio."""
    return AsyncCanary(await world.connect(spec, metrics, hooks))


def connect(
    world: MemoryWorld, spec: Spec, metrics: MetricsSourceLike,
    hooks: Optional[HookFunction] = None,
) -> Canary:
    """``spec``'s group over ``world``, blocking."""
    return Canary(run_blocking(connect_async(world, spec, metrics, hooks)))
