"""Stubs of the native module (Rust, pyo3): ``Spec``, ``Canary`` (asyncio), ``Stream``, ``Stop``,
and, in builds with the cargo feature ``testing`` only, ``MemoryWorld`` and ``raise_core_error``.
Users import them from :mod:`canary_sdk`; ``Canary`` here is the native half of
:class:`canary_sdk.AsyncCanary`."""

import os
from typing import Any, Awaitable, Generic, Mapping, Optional, TypeVar, Union, final

from .types import (
    AppRef,
    Backend,
    BuildEvent,
    CommandOutcome,
    DeployOptions,
    DeployStep,
    Duration,
    Event,
    EventCallback,
    HookFunction,
    LogLine,
    MetricsSourceLike,
    Outcome,
    Phase,
    Pushed,
    ReplayReport,
    RunOptions,
    ServiceState,
    Settings,
    SmokeOptions,
    SmokeReport,
    Status,
    StepCallback,
)

_T = TypeVar("_T")
_Path = Union[str, "os.PathLike[str]"]

__all__ = [
    "__version__", "Spec", "Canary", "Stream", "Stop", "replay", "MemoryWorld", "raise_core_error", "bench_status",
]
__version__: str

@final
class Spec:
    """A validated canary spec (a plain spec or a compose file with ``x-canary``)."""
    @staticmethod
    def load(path: _Path, overrides: Optional[Mapping[str, Any]] = None) -> Spec:
        """Reads a spec file, ``overrides`` (``{"traffic.interval": "5s"}``; a path ending in
        ``!`` removes the field) on top."""
    @staticmethod
    def from_text(
        text: str, overrides: Optional[Mapping[str, Any]] = None, dir: Optional[_Path] = None
    ) -> Spec:
        """Parses YAML or JSON text (or a compose file); build contexts are relative to ``dir``."""
    @staticmethod
    def from_dict(data: Mapping[str, Any], dir: Optional[_Path] = None) -> Spec:
        """Validates a spec given as plain data (the YAML's shape: camelCase keys)."""
    @staticmethod
    def json_schema() -> dict[str, Any]:
        """The JSON Schema of the spec."""
    def to_dict(self) -> dict[str, Any]:
        """The whole spec with its defaults (``from_dict`` takes it back)."""
    @property
    def group(self) -> str: ...
    @property
    def apps(self) -> list[AppRef]:
        """The apps with their Swarm service names."""
    @property
    def dir(self) -> str:
        """The directory build contexts are relative to."""
    def __eq__(self, other: object, /) -> bool: ...

@final
class Stream(Generic[_T]):
    """An async iterator of plain dicts; ``close()`` ends it (from any thread)."""
    def __aiter__(self) -> Stream[_T]: ...
    def __anext__(self) -> Awaitable[_T]: ...
    def close(self) -> None: ...

@final
class Stop:
    """Stops the call it was given to (used by :mod:`canary_sdk.aio`)."""
    def __init__(self) -> None: ...
    def set(self) -> None: ...

@final
class Canary:
    """The native half of :class:`canary_sdk.AsyncCanary`: every method returns an awaitable."""
    @staticmethod
    def connect(
        spec: Spec,
        settings: Optional[Settings] = None,
        metrics: Optional[MetricsSourceLike] = None,
        hooks: Optional[HookFunction] = None,
    ) -> Awaitable[Canary]: ...
    @property
    def spec(self) -> Spec: ...
    @property
    def settings(self) -> Settings: ...
    def deploy(
        self, options: Optional[DeployOptions] = None, on_step: Optional[StepCallback] = None
    ) -> Awaitable[list[DeployStep]]: ...
    def smoke_test(self, options: Optional[SmokeOptions] = None) -> Awaitable[SmokeReport]: ...
    def run(
        self, options: Optional[RunOptions] = None, on_event: Optional[EventCallback] = None,
        stop: Optional[Stop] = None,
    ) -> Awaitable[Optional[Outcome]]: ...
    def step(
        self, on_event: Optional[EventCallback] = None, stop: Optional[Stop] = None
    ) -> Awaitable[Optional[Phase]]: ...
    def command(
        self, name: str, on_event: Optional[EventCallback] = None, stop: Optional[Stop] = None
    ) -> Awaitable[Optional[CommandOutcome]]: ...
    def status(self) -> Awaitable[Status]: ...
    def backends(self) -> list[Backend]: ...
    def logs(
        self, track: str, app: Optional[str] = None, follow: bool = False,
        tail: Optional[int] = None, since: Optional[Duration] = None,
    ) -> Stream[LogLine]: ...
    def build(
        self, track: str, app: Optional[str] = None, args: Optional[Mapping[str, str]] = None
    ) -> Stream[BuildEvent]: ...
    def push(self, track: str, app: Optional[str] = None) -> Awaitable[list[Pushed]]: ...
    def events(self) -> Stream[Event]: ...

@final
class MemoryWorld:
    """TEST-ONLY (feature ``testing``): services and routes in memory, every call logged."""
    def __init__(self) -> None: ...
    def connect(
        self, spec: Spec, metrics: MetricsSourceLike, hooks: Optional[HookFunction] = None
    ) -> Awaitable[Canary]: ...
    def add_service(
        self, name: str, image: str, replicas: int = 2, labels: Optional[Mapping[str, str]] = None
    ) -> ServiceState: ...
    def break_service(self, name: str, message: str) -> None: ...
    def service(self, name: str) -> Optional[ServiceState]: ...
    @property
    def orchestrator_log(self) -> list[str]: ...
    @property
    def router_log(self) -> list[str]: ...
    @property
    def weights(self) -> list[int]: ...

def replay(
    options: Mapping[str, Any],
    overrides: Optional[Mapping[str, Any]] = None,
    spec: Optional[Spec] = None,
) -> Awaitable[ReplayReport]:
    """The engine on recorded metrics (see :func:`canary_sdk.aio.replay`)."""

def raise_core_error(code: str, message: str) -> None:
    """TEST-ONLY (feature ``testing``): raises the exception of a core error of ``code``."""

def bench_status(canary: Canary, n: int) -> float:
    """BENCHMARK-ONLY (feature ``testing``): the mean seconds of one ``status()`` of ``canary``
    awaited ``n`` times in one Rust task."""
