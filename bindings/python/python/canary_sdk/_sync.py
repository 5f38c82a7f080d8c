"""The blocking API: :class:`Canary`, the coroutines of :class:`~canary_sdk.aio.AsyncCanary` run
to their end on a private event loop of the calling thread.

Ctrl-C cancels the call in progress and waits for it to stop (a run hands its lease back first),
then raises ``KeyboardInterrupt``; the rollout stays where it was and ``run()`` resumes it.
"""

from __future__ import annotations

import asyncio
import os
import threading
from typing import TYPE_CHECKING, Any, Coroutine, Generic, Iterator, Mapping, Optional, TypeVar, Union

from . import aio
from .aio import AsyncCanary, Stream

if TYPE_CHECKING:
    from ._native import Spec
    from . import types as t

__all__ = ["Canary", "BlockingStream", "run_blocking", "replay"]

T = TypeVar("T")
_local = threading.local()


def _tick(loop: asyncio.AbstractEventLoop) -> None:
    # The loop wakes now and then, so the main thread sees Ctrl-C even while nothing happens
    # (the signal may be delivered to one of the runtime's threads).
    loop.call_later(0.05, _tick, loop)


def run_blocking(coro: Coroutine[Any, Any, T]) -> T:
    """Runs ``coro`` to its end on this thread's private event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass  # no loop runs in this thread: fine
    else:
        coro.close()
        raise RuntimeError("the blocking API cannot run inside a running event loop: use AsyncCanary")
    loop: Optional[asyncio.AbstractEventLoop] = getattr(_local, "loop", None)
    if loop is None:
        loop = _local.loop = asyncio.new_event_loop()
        if threading.current_thread() is threading.main_thread():
            _tick(loop)
    task = loop.create_task(coro)
    try:
        return loop.run_until_complete(task)
    except KeyboardInterrupt:
        task.cancel()
        loop.run_until_complete(asyncio.wait([task], timeout=60))
        raise


async def _next(stream: Stream[T]) -> T:
    return await stream.__anext__()


class BlockingStream(Generic[T]):
    """A native stream as a plain iterator; ``close()`` ends it, from any thread."""

    def __init__(self, stream: Stream[T]) -> None:
        self.stream = stream

    def __iter__(self) -> BlockingStream[T]:
        return self

    def __next__(self) -> T:
        try:
            return run_blocking(_next(self.stream))
        except StopAsyncIteration:
            raise StopIteration from None

    def close(self) -> None:
        self.stream.close()


class Canary:
    """A canary group connected to Docker Swarm, Traefik and Prometheus; every operation blocks
    until it is done (``aio`` is the same group for asyncio). Make one with
    ``Canary.connect(spec)``."""

    def __init__(self, aio: AsyncCanary) -> None:
        self.aio = aio

    @classmethod
    def connect(
        cls,
        spec: Spec,
        settings: Optional[t.Settings] = None,
        metrics: Optional[t.MetricsSourceLike] = None,
        hooks: Optional[t.HookFunction] = None,
    ) -> Canary:
        return cls(run_blocking(AsyncCanary.connect(spec, settings, metrics, hooks)))

    @property
    def spec(self) -> Spec:
        return self.aio.spec

    @property
    def settings(self) -> t.Settings:
        return self.aio.settings

    def deploy(
        self, options: Optional[t.DeployOptions] = None, on_step: Optional[t.StepCallback] = None
    ) -> list[t.DeployStep]:
        return run_blocking(self.aio.deploy(options, on_step))

    def smoke_test(self, options: Optional[t.SmokeOptions] = None) -> t.SmokeReport:
        return run_blocking(self.aio.smoke_test(options))

    def run(
        self, options: Optional[t.RunOptions] = None, on_event: Optional[t.EventCallback] = None
    ) -> t.Outcome:
        return run_blocking(self.aio.run(options, on_event))

    def step(self, on_event: Optional[t.EventCallback] = None) -> t.Phase:
        return run_blocking(self.aio.step(on_event))

    def command(
        self, name: t.CommandName, on_event: Optional[t.EventCallback] = None
    ) -> t.CommandOutcome:
        return run_blocking(self.aio.command(name, on_event))

    def pause(self, on_event: Optional[t.EventCallback] = None) -> t.CommandOutcome:
        return run_blocking(self.aio.pause(on_event))

    def resume(self, on_event: Optional[t.EventCallback] = None) -> t.CommandOutcome:
        return run_blocking(self.aio.resume(on_event))

    def promote(
        self, full: bool = False, on_event: Optional[t.EventCallback] = None
    ) -> t.CommandOutcome:
        return run_blocking(self.aio.promote(full, on_event))

    def rollback(self, on_event: Optional[t.EventCallback] = None) -> t.CommandOutcome:
        return run_blocking(self.aio.rollback(on_event))

    def status(self) -> t.Status:
        return run_blocking(self.aio.status())

    def backends(self) -> list[t.Backend]:
        return self.aio.backends()

    def logs(
        self, track: t.Track, app: Optional[str] = None, follow: bool = False,
        tail: Optional[int] = None, since: Optional[t.Duration] = None,
    ) -> BlockingStream[t.LogLine]:
        return BlockingStream(self.aio.logs(track, app, follow, tail, since))

    def build(
        self, track: t.Track, app: Optional[str] = None, args: Optional[Mapping[str, str]] = None
    ) -> BlockingStream[t.BuildEvent]:
        return BlockingStream(self.aio.build(track, app, args))

    def push(self, track: t.Track, app: Optional[str] = None) -> list[t.Pushed]:
        """Pushes ``track``'s built image of each app (one app, or all) to its registry; the
        registry's digests, which a rollout then pins."""
        return run_blocking(self.aio.push(track, app))

    def events(self) -> BlockingStream[t.Event]:
        return BlockingStream(self.aio.events())

    def __repr__(self) -> str:
        return repr(self.aio)


def replay(
    recording: Optional[Union[str, "os.PathLike[str]"]] = None,
    overrides: Optional[Mapping[str, object]] = None,
    spec: Optional[Spec] = None,
    prometheus: Optional[t.PrometheusRange] = None,
) -> t.ReplayReport:
    """:func:`canary_sdk.aio.replay`, blocking."""
    return run_blocking(aio.replay(recording, overrides, spec, prometheus))
