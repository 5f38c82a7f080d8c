"""Type names for annotations: the string values the API uses, and the shapes of the Python
objects the engine calls (a metrics source, a hook, an event callback)."""

from __future__ import annotations

import datetime
from typing import (
    TYPE_CHECKING,
    Any,
    Awaitable,
    Callable,
    Literal,
    Optional,
    Protocol,
    Sequence,
    Tuple,
    Union,
)

if TYPE_CHECKING:  # only for type checkers: the native classes
    from ._native import Event, Hook, HookContext, HookOutcome, MetricQuery

__all__ = [
    "Phase",
    "EventKind",
    "Track",
    "HookPoint",
    "MetricName",
    "CommandResult",
    "OutcomeResult",
    "Duration",
    "MetricsSourceLike",
    "HookResult",
    "HookFunction",
    "EventCallback",
]

#: Where a rollout is.
Phase = Literal[
    "pending",
    "progressing",
    "paused",
    "promoting",
    "promoted",
    "rollingBack",
    "rolledBack",
    "failed",
]

#: What an event reports.
EventKind = Literal[
    "started",
    "resumed",
    "hook",
    "canaryReady",
    "weightSet",
    "analysis",
    "waiting",
    "command",
    "paused",
    "promoting",
    "promoted",
    "rollingBack",
    "rolledBack",
    "failed",
    "retry",
]

#: Which version of an app.
Track = Literal["stable", "canary"]

#: Where a hook is called.
HookPoint = Literal["preRollout", "step", "confirmPromotion", "postRollout", "rollback"]

#: The kind of a metric query.
MetricName = Literal[
    "requestCount", "requestRate", "errorCount", "successRate", "errorRate", "latency", "query"
]

#: What a manual control did.
CommandResult = Literal["delivered", "applied"]

#: How a rollout ended.
OutcomeResult = Literal["promoted", "rolledBack"]

#: A duration: seconds, a ``timedelta``, or text like ``"30s"``, ``"1m30s"``, ``"500ms"``.
Duration = Union[int, float, str, datetime.timedelta]


class MetricsSourceLike(Protocol):
    """A metrics source written in Python: ``value`` returns one value over ``query.window`` (None
    for no data: never a 0 that was not measured), ``samples`` a list of values over the window
    (empty for no data). Either may be ``async def``. What they raise makes the analysis
    inconclusive, never a pass."""

    def value(self, query: MetricQuery) -> Union[Optional[float], Awaitable[Optional[float]]]: ...

    def samples(
        self, query: MetricQuery
    ) -> Union[Sequence[float], Awaitable[Sequence[float]]]: ...


#: What a hook answers: True/False, a HookOutcome, or (ok, message). Anything else is a no.
HookResult = Union[bool, "HookOutcome", Tuple[bool, str]]

#: A hook written in Python: called with the spec's hook and its context, plain or ``async def``.
#: What it raises is a no.
HookFunction = Callable[["Hook", "HookContext"], Union[HookResult, Awaitable[HookResult]]]

#: An event callback: called with each event, in order, plain or ``async def``; what it raises is
#: reported (``sys.unraisablehook``), not acted on.
EventCallback = Callable[["Event"], Any]
