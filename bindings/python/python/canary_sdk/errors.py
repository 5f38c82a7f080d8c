"""The exceptions of canary_sdk: one base class, :class:`CanaryError`, and one subclass per kind of
error of the Rust core (``canary_core::Error``).

Every exception carries the core's message (``str(e)``, ``e.message``), its stable ``code``
(``CANARY_CONFLICT``, ... the codes of the CLI's JSON output), whether retrying the same call later
may succeed (``retryable``), and the kind's fields in ``details`` (also as properties). The error
behind it, when there is one (a Python exception, a lower-level error), is its ``__cause__``.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, overload

__all__ = [
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


class _Detail:
    """A field of ``details`` as a read-only property (``""`` when absent)."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, cls: type) -> _Detail: ...
    @overload
    def __get__(self, obj: CanaryError, cls: type) -> str: ...
    def __get__(self, obj: Optional[CanaryError], cls: type) -> Any:
        return self if obj is None else str(obj.details.get(self.name) or "")


class CanaryError(Exception):
    """Base class of every error raised by canary_sdk."""

    #: The core's machine-readable code of this kind of error.
    code: str = "CANARY_INTERNAL"

    def __init__(
        self,
        message: str,
        *,
        code: Optional[str] = None,
        retryable: bool = False,
        details: Optional[Mapping[str, Any]] = None,
    ) -> None:
        super().__init__(message)
        self.message: str = message
        self.code = code or type(self).code
        self.retryable: bool = retryable
        self.details: dict[str, Any] = dict(details or {})

    @property
    def reason(self) -> str:
        """The core's words without the kind's prefix."""
        return str(self.details.get("reason") or self.message)

    def __reduce__(self) -> Any:
        # Keep code and details through pickling (multiprocessing, concurrent.futures).
        return (from_core, (self.message, self.code, self.retryable, self.details))


class InvalidSpecError(CanaryError, ValueError):
    """The input is wrong: a spec field, a setting, an option, an argument. Fix it; retrying will
    not help. ``field`` is a path into the input such as ``traffic.steps[2]`` or
    ``options.labels`` (empty when the whole input is at fault)."""

    code = "CANARY_INVALID_INPUT"

    field = _Detail()


class NotFoundError(CanaryError, LookupError):
    """Something that must exist does not (a service, an image, a saved rollout)."""

    code = "CANARY_NOT_FOUND"

    kind = _Detail()

    name = _Detail()


class ConflictError(CanaryError):
    """Someone else changed the same object or owns it (another controller, a concurrent
    ``docker service update``), or the rollout already ended. Re-read and decide."""

    code = "CANARY_CONFLICT"


class UnavailableError(CanaryError):
    """A dependency is down or answered with a transient failure; retrying later may succeed."""

    code = "CANARY_UNAVAILABLE"


class CanaryTimeoutError(CanaryError, TimeoutError):
    """An operation did not finish in time (also a built-in ``TimeoutError``)."""

    code = "CANARY_TIMEOUT"

    what = _Detail()

    @property
    def after(self) -> float:
        """How long it waited, in seconds."""
        return float(self.details.get("after", 0.0))


class DeploymentFailedError(CanaryError):
    """A deployment did not come up: a task failed to start, crashed or stayed unhealthy."""

    code = "CANARY_DEPLOYMENT_FAILED"

    service = _Detail()


class RejectedError(CanaryError):
    """A dependency refused a request it understood (a rejected router config, a bad query)."""

    code = "CANARY_REJECTED"

    by = _Detail()


class AbortedError(CanaryError):
    """The rollout was stopped before promotion (analysis failed, a hook refused, a person
    aborted it)."""

    code = "CANARY_ABORTED"


class InternalError(CanaryError):
    """A bug or an unexpected answer; report it."""

    code = "CANARY_INTERNAL"


_BY_CODE = {cls.code: cls for cls in CanaryError.__subclasses__()}


def from_core(
    message: str, code: str, retryable: bool, details: Mapping[str, Any]
) -> CanaryError:
    """The exception of a core error (the native module calls this)."""
    cls = _BY_CODE.get(code, InternalError)
    return cls(message, code=code, retryable=retryable, details=details)
