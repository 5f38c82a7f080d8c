"""Spec: loading from a file, YAML, JSON and a dict; its properties; every kind of bad input."""

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
    assert a == b
    assert a.group == "neotix"
    assert a.stack == "neotix"
    assert [x.name for x in a.apps] == ["neotix-api", "gcp-deployment-api"]
    assert a.apps[0].stable == "neotix_neotix-api"
    assert a.apps[0].canary == "neotix_neotix-api-canary"
    assert all(isinstance(w, int) for w in a.steps)
    assert a.window > 0


def test_load_json_file(tmp_path: pathlib.Path) -> None:
    p = tmp_path / "spec.json"
    p.write_text(json.dumps(BASE_SPEC))
    s = canary.Spec.load(p)
    assert s.group == "shop"
    assert s.steps == [20, 50]


def test_from_yaml_json_dict_agree() -> None:
    y = canary.Spec.from_yaml(
        "group: shop\napps:\n  - {name: api, image: 'api:v2', port: 8080, rule: 'Host(`api.localhost`)'}\n"
        "traffic: {steps: [20, 50], interval: 100ms}\n"
        "analysis: {minRequests: 10, inconclusiveLimit: 0, checks: [{name: sr, metric: successRate, min: 0.99}]}\n"
    )
    j = canary.Spec.from_json(json.dumps(BASE_SPEC))
    d = canary.Spec.from_dict(BASE_SPEC)
    assert y == j == d
    assert d.stack is None
    assert d.window == pytest.approx(0.1)


def test_round_trips() -> None:
    s = canary.Spec.from_dict(BASE_SPEC)
    full = s.to_dict()
    assert full["traffic"]["steps"] == [20, 50]
    assert "timeouts" in full  # defaults are filled in
    assert canary.Spec.from_dict(full) == s
    assert canary.Spec.from_json(s.to_json()) == s
    assert "shop" in repr(s)


def test_step_weight_and_max() -> None:
    s = canary.Spec.from_dict(spec_dict(traffic={"steps": None, "stepWeight": 25, "maxWeight": 75}))
    assert s.steps == [25, 50, 75]


def test_json_schema() -> None:
    schema = canary.Spec.json_schema()
    assert schema["title"] == "canary spec"
    assert "group" in schema["properties"]


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
    assert isinstance(e, ValueError)
    assert isinstance(e, canary.CanaryError)
    assert e.code == "CANARY_INVALID_INPUT"
    assert not e.retryable
    if field:
        assert e.field.startswith(field), (e.field, str(e))
        assert str(e).startswith(field)
    else:
        assert "nonsense" in str(e)


def test_invalid_text_inputs() -> None:
    with pytest.raises(canary.InvalidSpecError):
        canary.Spec.from_yaml("group: [unclosed")
    with pytest.raises(canary.InvalidSpecError):
        canary.Spec.from_json("{not json")
    with pytest.raises(canary.InvalidSpecError, match="cannot read spec file"):
        canary.Spec.load("/nonexistent/spec.yaml")


def test_from_dict_rejects_what_is_not_plain_data() -> None:
    d = spec_dict()
    d["apps"][0]["port"] = {1, 2}
    with pytest.raises(canary.InvalidSpecError) as info:
        canary.Spec.from_dict(d)
    assert info.value.field == "apps[0].port"
    d = spec_dict()
    d["analysis"]["checks"][0]["min"] = math.nan
    with pytest.raises(canary.InvalidSpecError, match="NaN"):
        canary.Spec.from_dict(d)
    with pytest.raises(canary.InvalidSpecError):
        canary.Spec.from_dict({1: "x"})  # type: ignore[dict-item]
    with pytest.raises(canary.InvalidSpecError):
        canary.Spec.from_dict(["not", "a", "dict"])  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        canary.Spec.from_yaml(42)  # type: ignore[arg-type]
