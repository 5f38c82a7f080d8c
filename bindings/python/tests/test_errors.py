"""The exception hierarchy and the mapping of every core error kind."""

from __future__ import annotations

import pickle

import pytest

import canary_sdk as canary
from canary_sdk import errors
from canary_sdk.testing import raise_core_error
from conftest import World

KINDS = [
    ("CANARY_INVALID_INPUT", canary.InvalidSpecError, False),
    ("CANARY_NOT_FOUND", canary.NotFoundError, False),
    ("CANARY_CONFLICT", canary.ConflictError, False),
    ("CANARY_UNAVAILABLE", canary.UnavailableError, True),
    ("CANARY_TIMEOUT", canary.CanaryTimeoutError, True),
    ("CANARY_DEPLOYMENT_FAILED", canary.DeploymentFailedError, False),
    ("CANARY_REJECTED", canary.RejectedError, False),
    ("CANARY_ABORTED", canary.AbortedError, False),
    ("CANARY_INTERNAL", canary.InternalError, False),
]


@pytest.mark.parametrize("code, cls, retryable", KINDS)
def test_every_kind_maps_to_its_class(code: str, cls: type, retryable: bool) -> None:
    with pytest.raises(cls) as info:
        raise_core_error(code, "boom")
    e = info.value
    assert isinstance(e, canary.CanaryError)
    assert type(e) is cls
    assert e.code == code == cls.code
    assert e.retryable is retryable
    assert "boom" in str(e) and e.message == str(e)
    assert e.reason == "boom" or cls is canary.NotFoundError or cls is canary.CanaryTimeoutError


def test_kind_fields() -> None:
    with pytest.raises(canary.InvalidSpecError) as a:
        raise_core_error("CANARY_INVALID_INPUT", "too big")
    assert a.value.field == "traffic.steps[2]"
    assert str(a.value) == "traffic.steps[2]: too big"
    with pytest.raises(canary.NotFoundError) as b:
        raise_core_error("CANARY_NOT_FOUND", "api")
    assert (b.value.kind, b.value.name) == ("service", "api")
    with pytest.raises(canary.CanaryTimeoutError) as c:
        raise_core_error("CANARY_TIMEOUT", "inspect")
    assert (c.value.what, c.value.after) == ("inspect", 1.5)
    with pytest.raises(canary.DeploymentFailedError) as d:
        raise_core_error("CANARY_DEPLOYMENT_FAILED", "exit 1")
    assert d.value.service == "api-canary"
    with pytest.raises(canary.RejectedError) as r:
        raise_core_error("CANARY_REJECTED", "bad rule")
    assert r.value.by == "traefik"


def test_builtin_bases() -> None:
    assert issubclass(canary.InvalidSpecError, ValueError)
    assert issubclass(canary.NotFoundError, LookupError)
    assert issubclass(canary.CanaryTimeoutError, TimeoutError)
    for _, cls, _ in KINDS:
        assert issubclass(cls, canary.CanaryError)
    assert set(errors.__all__) == {cls.__name__ for _, cls, _ in KINDS} | {"CanaryError"}


def test_pickle_keeps_code_and_details() -> None:
    with pytest.raises(canary.CanaryTimeoutError) as info:
        raise_core_error("CANARY_TIMEOUT", "wait")
    e2 = pickle.loads(pickle.dumps(info.value))
    assert type(e2) is canary.CanaryTimeoutError
    assert (e2.code, e2.retryable, e2.what, str(e2)) == ("CANARY_TIMEOUT", True, "wait", str(info.value))


def test_user_can_raise_and_catch() -> None:
    e = canary.ConflictError("mine")
    assert e.code == "CANARY_CONFLICT" and e.details == {} and not e.retryable
    with pytest.raises(canary.CanaryError):
        raise e
    # A code the package does not know yet (a newer core) is still a CanaryError.
    u = errors.from_core("new kind", "CANARY_SOMETHING_NEW", True, {"reason": "why"})
    assert type(u) is canary.InternalError and u.code == "CANARY_SOMETHING_NEW" and u.reason == "why"


def test_invalid_arguments_keep_python_s_error_as_cause(world: World) -> None:
    c = world.canary()
    with pytest.raises(canary.InvalidSpecError) as info:
        c.deploy({"labels": {"team": object()}})  # type: ignore[dict-item]
    assert info.value.field == "options.labels.team"
    assert isinstance(info.value.__cause__, TypeError)
    with pytest.raises(canary.InvalidSpecError) as unknown:
        c.smoke_test({"requests": 5, "colour": "blue"})  # type: ignore[typeddict-unknown-key]
    assert "colour" in str(unknown.value) and unknown.value.__cause__ is None
