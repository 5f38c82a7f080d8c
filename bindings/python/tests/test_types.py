"""The data classes: construction where Python builds them, getters, equality, bad input."""

from __future__ import annotations

import datetime

import pytest

import canary_sdk as canary

APP = canary.AppRef("api", "shop_api", "shop_api-canary")


def test_app_ref() -> None:
    assert (APP.name, APP.stable, APP.canary) == ("api", "shop_api", "shop_api-canary")
    assert APP == canary.AppRef("api", "shop_api", "shop_api-canary")
    assert APP != canary.AppRef("api", "shop_api", "other")
    assert APP.to_dict() == {"name": "api", "stable": "shop_api", "canary": "shop_api-canary"}
    assert "shop_api" in repr(APP)
    with pytest.raises(canary.InvalidSpecError) as info:
        canary.AppRef("api", "bad name", "x")
    assert info.value.field == "stable"


@pytest.mark.parametrize(
    "metric, name, quantile, template, label",
    [
        ("successRate", "successRate", None, None, "successRate"),
        ("requestCount", "requestCount", None, None, "requestCount"),
        ({"latency": 0.99}, "latency", 0.99, None, "latency(p99)"),
        ({"query": "up{x='{{service}}'}"}, "query", None, "up{x='{{service}}'}", "query"),
    ],
)
def test_metric_query(
    metric: object, name: str, quantile: object, template: object, label: str
) -> None:
    q = canary.MetricQuery(APP, "canary", metric, 30)  # type: ignore[arg-type]
    assert q.app == APP
    assert q.track == "canary"
    assert q.service == "shop_api-canary"
    assert q.metric == name
    assert q.quantile == quantile
    assert q.template == template
    assert q.label.startswith(label.split("(")[0])
    assert q.window == 30.0
    assert q.to_dict()["track"] == "canary"
    assert q == canary.MetricQuery(APP, "canary", metric, 30.0)  # type: ignore[arg-type]
    assert "shop_api-canary" in repr(q)


@pytest.mark.parametrize(
    "window, seconds",
    [(1, 1.0), (2.5, 2.5), ("1m30s", 90.0), ("500ms", 0.5), (datetime.timedelta(minutes=2), 120.0)],
)
def test_durations(window: object, seconds: float) -> None:
    q = canary.MetricQuery(APP, "stable", "errorRate", window)  # type: ignore[arg-type]
    assert q.window == pytest.approx(seconds)
    assert q.service == "shop_api"


@pytest.mark.parametrize("window", [-1, True, "soon", [1], float("nan")])
def test_bad_durations(window: object) -> None:
    with pytest.raises(canary.InvalidSpecError) as info:
        canary.MetricQuery(APP, "stable", "errorRate", window)  # type: ignore[arg-type]
    assert info.value.field == "window"


def test_bad_metric_query() -> None:
    with pytest.raises(canary.InvalidSpecError) as a:
        canary.MetricQuery(APP, "blue", "errorRate", 1)  # type: ignore[arg-type]
    assert a.value.field == "track"
    with pytest.raises(canary.InvalidSpecError) as b:
        canary.MetricQuery(APP, "canary", "happiness", 1)
    assert b.value.field == "metric"
    with pytest.raises(canary.InvalidSpecError):
        canary.MetricQuery(APP, "canary", {"latency": 0.9, "query": "x"}, 1)
    with pytest.raises(TypeError):
        canary.MetricQuery("api", "canary", "errorRate", 1)  # type: ignore[arg-type]


def test_hook_outcome() -> None:
    o = canary.HookOutcome(True)
    assert (o.ok, o.message) == (True, "")
    assert canary.HookOutcome(False, "no") == canary.HookOutcome(False, "no")
    assert "False" in repr(canary.HookOutcome(False, "no"))
