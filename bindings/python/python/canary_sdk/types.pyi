"""The shapes of the plain data canary_sdk takes and returns (for type checkers; at run time every
one of them is a plain ``dict``, ``str`` or ``object``: see types.py). Keys are camelCase, as in
the spec and the CLI's JSON output."""

import datetime
from typing import Any, Awaitable, Callable, Literal, Optional, Protocol, Sequence, Tuple, TypedDict, Union

#: Where a rollout is.
Phase = Literal["pending", "progressing", "paused", "promoting", "promoted", "rollingBack", "rolledBack", "failed"]
#: What an event reports.
EventKind = Literal[
    "started", "resumed", "hook", "canaryReady", "weightSet", "analysis", "waiting", "command",
    "paused", "promoting", "promoted", "rollingBack", "rolledBack", "failed", "retry",
]
#: Which version of an app.
Track = Literal["stable", "canary"]
#: Where a hook is called.
HookPoint = Literal["preRollout", "step", "confirmPromotion", "postRollout", "rollback"]
#: A manual control (``promoteFull``/``promote_full`` and ``abort`` are accepted too).
CommandName = Literal["pause", "resume", "promote", "promote-full", "rollback"]
#: An analysis verdict.
Verdict = Literal["pass", "fail", "inconclusive"]
#: A duration: whole seconds, or text like ``"30s"``, ``"1m30s"``, ``"500ms"``.
Duration = Union[int, str]

class Settings(TypedDict, total=False):
    """Where Docker, Traefik and Prometheus are (``Canary.connect``'s ``settings``); each key
    missing is taken from its environment variable (``CANARY_NETWORK``, ...), else the local
    stack's default."""
    dockerHost: Optional[str]
    network: str
    traefikDynamicDir: str
    traefikUrl: str
    router: Literal["file", "kv"]
    kvUrl: str
    kvRootKey: str
    traefikApi: Union[Sequence[str], str]
    webUrl: str
    metrics: Literal["prometheus", "traefik"]
    prometheusUrl: str
    scrapeInterval: Duration
    lease: Duration

class AppRef(TypedDict):
    name: str
    stable: str
    canary: str

class DeployOptions(TypedDict, total=False):
    network: Optional[str]
    resetStable: bool
    labels: dict[str, str]
    endpointMode: Literal["vip", "dnsrr"]

class DeployStep(TypedDict):
    what: str
    name: str
    action: str
    detail: str

class SmokeOptions(TypedDict, total=False):
    requests: int
    app: Optional[str]

class SmokeTally(TypedDict):
    app: str
    variant: Literal["plain", "header"]
    url: str
    host: Optional[str]
    header: Optional[str]
    requests: int
    statuses: dict[str, int]
    versions: dict[str, int]
    errors: dict[str, int]
    ok: bool

class SmokeReport(TypedDict):
    tallies: list[SmokeTally]
    ok: bool

class RunOptions(TypedDict, total=False):
    owner: str
    poll: Duration
    takeover: bool
    restart: bool
    retries: int

class CheckResult(TypedDict):
    name: str
    app: str
    metric: str
    canary: Optional[float]
    stable: Optional[float]
    verdict: Verdict
    critical: bool
    reason: str

class AnalysisReport(TypedDict):
    verdict: Verdict
    criticalFailure: bool
    checks: list[CheckResult]
    judges: list[dict[str, Any]]
    summary: str

class _EventBase(TypedDict):
    atMs: int
    group: str
    kind: EventKind
    phase: Phase
    step: int
    steps: int
    weight: int
    message: str

class Event(_EventBase, total=False):
    analysis: AnalysisReport

class _Lease(TypedDict, total=False):
    owner: str
    heartbeatMs: int
    ttlMs: int

class RolloutState(TypedDict, total=False):
    format: int
    phase: Phase
    step: int
    weight: int
    failures: int
    inconclusive: int
    canaryImages: dict[str, str]
    stableImages: dict[str, str]
    promotedImages: dict[str, str]
    lease: _Lease
    command: CommandName
    commandBy: str
    cause: str
    lastAnalysis: AnalysisReport
    history: list[Event]
    startedMs: int
    updatedMs: int

class ServiceState(TypedDict):
    name: str
    image: str
    desired: int
    running: int
    labels: dict[str, str]
    converged: bool

class AppSplit(TypedDict):
    app: str
    stable: int
    canary: int
    headerRoute: bool
    healthy: bool

class _StatusBase(TypedDict):
    group: str
    state: Optional[RolloutState]
    steps: list[int]
    splits: list[AppSplit]
    services: list[ServiceState]
    driven: bool

class StepPlan(TypedDict):
    """One step of a replicas-mode rollout: its weight, the counts that come closest, and how
    many percentage points they are off."""
    weight: int
    stable: int
    canary: int
    effective: int
    off: float

class Status(_StatusBase, total=False):
    splitsError: str
    replicaPlan: list[StepPlan]

class Outcome(TypedDict, total=False):
    """``{"result": "promoted"}`` or ``{"result": "rolledBack", "cause": ...}``."""
    result: Literal["promoted", "rolledBack"]
    cause: str

class CommandOutcome(TypedDict, total=False):
    """``{"result": "delivered", "owner": ...}`` (to the live driver) or ``{"result": "applied",
    "phase": ...}`` (carried out by this call)."""
    result: Literal["delivered", "applied"]
    owner: str
    phase: Phase

class Backend(TypedDict):
    app: str
    track: Track
    service: str

class Pushed(TypedDict):
    """An image pushed: ``image`` the tag, ``digest`` the registry's ``name@sha256:...``."""
    app: str
    track: Track
    image: str
    digest: str

class LogLine(TypedDict):
    service: str
    task: Optional[str]
    timestamp: Optional[str]
    stream: str
    line: str

class BuildEvent(TypedDict, total=False):
    """``{"app": ..., "output": line}`` or ``{"app": ..., "built": image id}``."""
    app: str
    output: str
    built: str

class MetricQuery(TypedDict):
    """What a metrics source is asked: ``metric`` is ``"successRate"`` (and the other names) or
    ``{"latency": 0.99}`` or ``{"query": "..."}``; ``window`` is in milliseconds."""
    app: AppRef
    track: Track
    metric: Union[str, dict[str, Any]]
    window: int

class Hook(TypedDict, total=False):
    name: str
    url: str
    timeout: str
    metadata: dict[str, str]

class HookContext(TypedDict):
    group: str
    apps: list[str]
    point: HookPoint
    step: Optional[int]
    weight: int
    phase: str
    metadata: dict[str, str]

class HookOutcome(TypedDict):
    ok: bool
    message: str

class MetricsSourceLike(Protocol):
    """A metrics source written in Python: ``value`` is one value over ``query["window"]`` (None
    for no data, never a 0 that was not measured), ``samples`` values over the window. Either may
    be ``async def``; what they raise makes the analysis inconclusive, never a pass."""
    def value(self, query: MetricQuery, /) -> Union[Optional[float], Awaitable[Optional[float]]]: ...
    def samples(self, query: MetricQuery, /) -> Union[Sequence[float], Awaitable[Sequence[float]]]: ...

#: What a hook answers; anything else, or an exception, is a no.
HookResult = Union[bool, Tuple[bool, str], HookOutcome]
#: A hook written in Python, plain or ``async def``.
HookFunction = Callable[[Hook, HookContext], Union[HookResult, Awaitable[HookResult]]]
#: Called with each event, in order, plain or ``async def``; what it raises is reported
#: (``sys.unraisablehook``), not acted on.
EventCallback = Callable[[Event], Any]
#: Called with each deploy step as it happens.
StepCallback = Callable[[DeployStep], Any]

# A past span of Prometheus to replay: ``from`` (when the canary got traffic) and ``to``, RFC 3339
# in UTC or Unix seconds; ``url``; ``scrapeInterval`` (default 1s).
PrometheusRange = TypedDict(
    "PrometheusRange", {"url": str, "from": str, "to": str, "scrapeInterval": Duration}, total=False
)

class Decision(TypedDict):
    """One decision of a replayed or recorded rollout: ms since the canary first got traffic,
    ms since its step began, and the event."""
    atMs: int
    sinceStepMs: int
    event: Event

class ReplayOutcome(TypedDict, total=False):
    """``{"result": "promoted"|"rolledBack"|"undecided", "atMs": ...}``; ``cause`` for a
    rollback; ``phase``, ``step``, ``weight`` and ``why`` when undecided."""
    result: Literal["promoted", "rolledBack", "undecided"]
    atMs: int
    cause: str
    phase: Phase
    step: int
    weight: int
    why: str

class RecordedRun(TypedDict):
    decisions: list[Decision]
    outcome: ReplayOutcome

class _ReplayReportBase(TypedDict):
    group: str
    source: str
    overrides: list[dict[str, Any]]
    decisions: list[Decision]
    outcome: ReplayOutcome
    differences: list[str]

class ReplayReport(_ReplayReportBase, total=False):
    """What :func:`canary_sdk.replay` found; ``recorded`` when replaying a recording
    (``differences`` empty: the same decisions, figures included)."""
    recorded: RecordedRun
