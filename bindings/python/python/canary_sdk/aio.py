"""The asyncio API: :class:`AsyncCanary`, one awaitable per operation, over the native module.

Stopping a rollout call (``task.cancel()``, or Ctrl-C in the blocking API) waits until it has
dropped its work and handed its lease back, so the next controller resumes at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import TYPE_CHECKING, Awaitable, Callable, Mapping, Optional, TypeVar, Union

from . import _native
from ._native import Spec

if TYPE_CHECKING:
    from . import types as t

__all__ = ["AsyncCanary", "Stream", "replay"]

T = TypeVar("T")
Stream = _native.Stream


async def _stoppable(start: Callable[[_native.Stop], Awaitable[Optional[T]]]) -> T:
    """Runs a rollout call; cancelled, it tells the call to stop and waits for it to end."""
    stop = _native.Stop()
    call = asyncio.ensure_future(start(stop))
    try:
        result = await asyncio.shield(call)
    except asyncio.CancelledError:
        stop.set()
        with contextlib.suppress(Exception):
            await call
        raise
    assert result is not None  # only a stopped call answers None
    return result


class AsyncCanary:
    """A canary group connected to Docker Swarm, Traefik and Prometheus; every operation a
    coroutine. Make one with ``await AsyncCanary.connect(spec)``."""

    def __init__(self, native: _native.Canary) -> None:
        self.native = native

    @classmethod
    async def connect(
        cls,
        spec: Spec,
        settings: Optional[t.Settings] = None,
        metrics: Optional[t.MetricsSourceLike] = None,
        hooks: Optional[t.HookFunction] = None,
    ) -> AsyncCanary:
        return cls(await _native.Canary.connect(spec, settings, metrics, hooks))

    @property
    def spec(self) -> Spec:
        return self.native.spec

    @property
    def settings(self) -> t.Settings:
        return self.native.settings

    async def deploy(
        self, options: Optional[t.DeployOptions] = None, on_step: Optional[t.StepCallback] = None
    ) -> list[t.DeployStep]:
        return await self.native.deploy(options, on_step)

    async def smoke_test(self, options: Optional[t.SmokeOptions] = None) -> t.SmokeReport:
        return await self.native.smoke_test(options)

    async def run(
        self, options: Optional[t.RunOptions] = None, on_event: Optional[t.EventCallback] = None
    ) -> t.Outcome:
        return await _stoppable(lambda stop: self.native.run(options, on_event, stop))

    async def step(self, on_event: Optional[t.EventCallback] = None) -> t.Phase:
        return await _stoppable(lambda stop: self.native.step(on_event, stop))

    async def command(
        self, name: t.CommandName, on_event: Optional[t.EventCallback] = None
    ) -> t.CommandOutcome:
        return await _stoppable(lambda stop: self.native.command(name, on_event, stop))

    async def pause(self, on_event: Optional[t.EventCallback] = None) -> t.CommandOutcome:
        return await self.command("pause", on_event)

    async def resume(self, on_event: Optional[t.EventCallback] = None) -> t.CommandOutcome:
        return await self.command("resume", on_event)

    async def promote(
        self, full: bool = False, on_event: Optional[t.EventCallback] = None
    ) -> t.CommandOutcome:
        return await self.command("promote-full" if full else "promote", on_event)

    async def rollback(self, on_event: Optional[t.EventCallback] = None) -> t.CommandOutcome:
        return await self.command("rollback", on_event)

    async def status(self) -> t.Status:
        return await self.native.status()

    def backends(self) -> list[t.Backend]:
        return self.native.backends()

    def logs(
        self, track: t.Track, app: Optional[str] = None, follow: bool = False,
        tail: Optional[int] = None, since: Optional[t.Duration] = None,
    ) -> Stream[t.LogLine]:
        return self.native.logs(track, app, follow, tail, since)

    def build(
        self, track: t.Track, app: Optional[str] = None, args: Optional[Mapping[str, str]] = None
    ) -> Stream[t.BuildEvent]:
        return self.native.build(track, app, args)

    async def push(self, track: t.Track, app: Optional[str] = None) -> list[t.Pushed]:
        """Pushes ``track``'s built image of each app (one app, or all) to its registry; the
        registry's digests, which a rollout then pins."""
        return await self.native.push(track, app)

    def events(self) -> Stream[t.Event]:
        return self.native.events()

    def __repr__(self) -> str:
        return repr(self.native)


async def replay(
    recording: Optional[Union[str, "os.PathLike[str]"]] = None,
    overrides: Optional[Mapping[str, object]] = None,
    spec: Optional[Spec] = None,
    prometheus: Optional[t.PrometheusRange] = None,
) -> t.ReplayReport:
    """The rollout engine run again on recorded metrics on a paused clock (``canary replay``): a
    recording ``canary run --record`` wrote, or a past span of Prometheus (with ``spec``). Every
    decision with its figures, how it ended, and, for a recording, where it differs from the
    recorded run. ``overrides`` on the spec make a what-if: ``{"analysis.checks[0].min": 0.5}``."""
    options: dict[str, object] = {}
    if recording is not None:
        options["recording"] = os.fspath(recording)
    if prometheus is not None:
        options["prometheus"] = prometheus
    return await _native.replay(options, overrides, spec)
