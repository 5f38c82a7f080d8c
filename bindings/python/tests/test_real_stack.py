"""Against the real local stack (scripts/stack/up.sh): examples/real_stack.py builds, deploys,
smoke-tests and runs the neotix example to promotion, then a bad canary to rollback, through the
package only. It runs with the RELEASE wheel when test.sh says where that is installed
(CANARY_RELEASE_PYTHON), else with this interpreter.

Skipped when the stack is not up; with CI set, a missing stack fails instead. Everything it makes
is named `pyt<hex>...` and removed at the end."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import urllib.request

import pytest

pytestmark = pytest.mark.real_stack

ENV = os.environ.get
TRAEFIK_URL = ENV("CANARY_TRAEFIK_URL", "http://127.0.0.1:38082")
PROMETHEUS_URL = ENV("CANARY_PROMETHEUS_URL", "http://127.0.0.1:39090")
EXAMPLE = pathlib.Path(__file__).resolve().parents[1] / "examples" / "real_stack.py"


def _down() -> str | None:
    try:
        with urllib.request.urlopen(f"{TRAEFIK_URL}/ping", timeout=2) as r:
            if r.read().strip() != b"OK":
                return "Traefik's /ping did not answer OK"
        with urllib.request.urlopen(f"{PROMETHEUS_URL}/-/ready", timeout=2):
            pass
        subprocess.run(["docker", "info"], capture_output=True, timeout=20, check=True)
    except (OSError, subprocess.SubprocessError) as e:
        return f"the local stack is not up ({e}); run scripts/stack/up.sh"
    return None


def test_neotix_example_built_deployed_promoted_and_a_bad_canary_rolled_back() -> None:
    why = _down()
    if why is not None:
        if ENV("CI"):
            pytest.fail(why)
        pytest.skip(why)
    python = ENV("CANARY_RELEASE_PYTHON") or sys.executable
    r = subprocess.run([python, str(EXAMPLE)], capture_output=True, text=True, timeout=900,
                       env={**os.environ, "PYT_INTERVAL": ENV("PYT_INTERVAL", "10s")})
    sys.stderr.write(r.stderr[-8000:])
    assert r.returncode == 0, r.stderr[-4000:]
    summary = json.loads(r.stdout)
    assert summary["built"] == 4
    assert summary["interrupted_at"] == {"phase": "progressing", "weight": 20}
    assert summary["good"]["outcome"] == {"result": "promoted"}
    assert summary["bad"]["outcome"]["result"] == "rolledBack"
    assert "successRate" in summary["bad"]["outcome"]["cause"]
    assert set(summary["smoke"]) == {"neotix-api/plain", "neotix-api/header", "gcp-deployment-api/plain",
                                     "gcp-deployment-api/header"}
