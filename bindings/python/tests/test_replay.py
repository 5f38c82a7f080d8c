"""replay: the engine on the shipped recording of the demo's bad canary (examples/replay), blocking
and awaited: the recorded decisions back, a what-if that decides otherwise, bad options named."""

from __future__ import annotations

import asyncio
import pathlib

import pytest

import canary_sdk as canary
from canary_sdk import aio

REPO = pathlib.Path(__file__).resolve().parents[3]
BAD = REPO / "examples" / "replay" / "neotix-bad.jsonl"
LOOSER = {"analysis.checks[0].min": 0.5, "analysis.checks[1].relative.tolerance": 0.5}


def test_the_recording_replays_to_its_decisions() -> None:
    report = canary.replay(BAD)
    assert report["differences"] == []
    assert report["outcome"]["result"] == "rolledBack"
    assert report["outcome"]["atMs"] == 10_000
    assert "success-rate" in report["outcome"]["cause"]
    assert report["recorded"]["outcome"]["result"] == "rolledBack"
    kinds = [d["event"]["kind"] for d in report["decisions"]]
    assert kinds == ["weightSet", "analysis", "rollingBack", "rolledBack"]
    checks = report["decisions"][1]["event"]["analysis"]["checks"]
    assert {c["verdict"] for c in checks if c["name"] == "success-rate"} == {"fail"}


def test_a_looser_threshold_decides_otherwise_awaited() -> None:
    report = asyncio.run(aio.replay(str(BAD), overrides=LOOSER))
    assert report["differences"], report
    out = report["outcome"]
    assert out["result"] == "undecided"
    assert (out["step"], out["weight"]) == (1, 50)
    assert "no step 2" in out["why"]
    assert [o["path"] for o in report["overrides"]] == list(LOOSER)


def test_bad_options_are_named() -> None:
    with pytest.raises(canary.InvalidSpecError) as e:
        canary.replay()
    assert "recording or a Prometheus range" in str(e.value)
    with pytest.raises(canary.InvalidSpecError) as e:
        canary.replay(REPO / "no-such-recording.jsonl")
    assert "cannot read" in str(e.value)
    with pytest.raises(canary.InvalidSpecError):
        canary.replay(BAD, overrides={"analysis.checks[0].min": "lots"})
