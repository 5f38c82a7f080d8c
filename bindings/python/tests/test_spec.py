"""Spec: loading a file (with overrides), text and a dict; its properties; every kind of bad
input naming its field."""

from __future__ import annotations

import json
import math
import pathlib

import pytest

import canary_sdk as canary
from conftest import BASE_SPEC, spec_dict

REPO = pathlib.Path(__file__).resolve().parents[3]
NEOTIX = REPO / "examples" / "neotix" / "canary.yaml"


def test_load_yaml_file_as_str_and_path() -> None:
    a = canary.Spec.load(str(NEOTIX))
    b = canary.Spec.load(NEOTIX)
    assert a == b and a.group == "neotix"
    assert [x["name"] for x in a.apps] == ["neotix-api", "gcp-deployment-api"]
    assert a.apps[0] == {"name": "neotix-api", "stable": "neotix_neotix-api",
                         "canary": "neotix_neotix-api-canary"}
    assert pathlib.Path(a.dir) == NEOTIX.parent
    assert a.to_dict()["traffic"]["steps"] == [20, 50, 80]


def test_load_with_overrides() -> None:
    s = canary.Spec.load(NEOTIX, overrides={
        "group": "pyt1", "stack": "pyt1", "traffic.interval": "5s",
        "apps.*.canaryEnv.ERROR_RATE": "0.3", "analysis.window!": None,
        "analysis.checks.latency-p99.max": 2.5,
    })
    d = s.to_dict()
    assert s.group == "pyt1" and s.apps[1]["stable"] == "pyt1_gcp-deployment-api"
    assert d["traffic"]["interval"] == "5s"
    assert all(a["canaryEnv"] == {"ERROR_RATE": "0.3"} for a in d["apps"])
    assert "window" not in d["analysis"] and d["analysis"]["checks"][1]["max"] == 2.5
    with pytest.raises(canary.InvalidSpecError) as info:
        canary.Spec.load(NEOTIX, overrides={"traffic.steps[1]": 120})
    assert info.value.field == "traffic.steps[1]"
    with pytest.raises(canary.InvalidSpecError) as info:
        canary.Spec.load(NEOTIX, overrides={"traffic.interval": {1, 2}})
    assert info.value.field.startswith("overrides") or info.value.field == "traffic.interval"


def test_load_json_file(tmp_path: pathlib.Path) -> None:
    p = tmp_path / "spec.json"
    p.write_text(json.dumps(BASE_SPEC))
    s = canary.Spec.load(p)
    assert s.group == "shop" and s.dir == str(tmp_path)


def test_from_text_and_dict_agree() -> None:
    y = canary.Spec.from_text(
        "group: shop\napps:\n  - {name: api, image: 'api:v2', port: 8080, rule: 'Host(`api.localhost`)'}\n"
        "traffic: {steps: [20, 50], interval: 100ms}\n"
        "analysis: {minRequests: 10, inconclusiveLimit: 0, checks: [{name: sr, metric: successRate, min: 0.99}]}\n"
    )
    j = canary.Spec.from_text(json.dumps(BASE_SPEC))
    d = canary.Spec.from_dict(BASE_SPEC, dir="/srv/app")
    assert y == j == d
    assert d.dir == "/srv/app" and y.dir == "."
    assert canary.Spec.from_text(json.dumps(BASE_SPEC), overrides={"group": "x"}).group == "x"


def test_compose_file_with_x_canary(tmp_path: pathlib.Path) -> None:
    compose = tmp_path / "compose.yaml"
    compose.write_text(
        "services:\n"
        "  api:\n"
        "    image: api:v1\n"
        "    x-canary: {image: 'api:v2', port: 8080, rule: 'Host(`api.localhost`)'}\n"
        "x-canary:\n  group: shop\n  traffic: {steps: [50], interval: 1s}\n"
    )
    s = canary.Spec.load(compose, overrides={"stack": "shop"})
    assert s.apps[0]["stable"] == "shop_api" and s.to_dict()["apps"][0]["image"] == "api:v2"


def test_round_trip() -> None:
    s = canary.Spec.from_dict(BASE_SPEC)
    full = s.to_dict()
    assert "timeouts" in full  # defaults are filled in
    assert canary.Spec.from_dict(full) == s
    assert "shop" in repr(s)


def test_json_schema() -> None:
    schema = canary.Spec.json_schema()
    assert schema["title"] == "canary spec" and "group" in schema["properties"]


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"traffic": {"steps": [20, 120]}}, "traffic.steps[1]"),
        ({"traffic": {"steps": [50, 20]}}, "traffic.steps[1]"),
        ({"apps": []}, "apps"),
        ({"group": "bad name!"}, "group"),
        ({"nonsense": 1}, ""),
        ({"traffic": {"interval": "10ms"}}, "traffic.interval"),
    ],
)
def test_invalid_specs_name_the_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(canary.InvalidSpecError) as info:
        canary.Spec.from_dict(spec_dict(**changes))
    e = info.value
    assert isinstance(e, ValueError) and isinstance(e, canary.CanaryError)
    assert e.code == "CANARY_INVALID_INPUT" and not e.retryable
    if field:
        assert e.field.startswith(field), (e.field, str(e))
        assert str(e).startswith(field)
    else:
        assert "nonsense" in str(e)


def test_invalid_text_inputs() -> None:
    with pytest.raises(canary.InvalidSpecError):
        canary.Spec.from_text("group: [unclosed")
    with pytest.raises(canary.InvalidSpecError, match="cannot read spec file"):
        canary.Spec.load("/nonexistent/spec.yaml")
    with pytest.raises(TypeError):
        canary.Spec.from_text(42)  # type: ignore[arg-type]


def test_from_dict_rejects_what_is_not_plain_data() -> None:
    d = spec_dict()
    d["apps"][0]["port"] = object()
    with pytest.raises(canary.InvalidSpecError) as info:
        canary.Spec.from_dict(d)
    assert info.value.field == "apps[0].port"
    assert isinstance(info.value.__cause__, TypeError)  # Python's own words are kept
    d = spec_dict()
    d["analysis"]["checks"][0]["min"] = math.nan
    with pytest.raises(canary.InvalidSpecError) as nan:
        canary.Spec.from_dict(d)
    assert nan.value.field.startswith("analysis.checks[0]")
    with pytest.raises(canary.InvalidSpecError):
        canary.Spec.from_dict({1: "x"})  # type: ignore[dict-item]
    with pytest.raises(canary.InvalidSpecError):
        canary.Spec.from_dict(["not", "a", "dict"])  # type: ignore[arg-type]
