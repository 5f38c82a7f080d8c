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
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

import canary_sdk as canary

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


def test_build_then_push_to_a_local_registry_pins_the_registry_digest(tmp_path: pathlib.Path) -> None:
    """``Canary.build`` then ``Canary.push`` against Debian's ``docker-registry`` on 127.0.0.1 (the
    daemon treats loopback registries as plain HTTP): the digest returned is the registry's own."""
    why = _down() or (None if shutil.which("docker-registry") else "no docker-registry binary")
    if why is not None:
        if ENV("CI"):
            pytest.fail(why)
        pytest.skip(why)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    registry = f"127.0.0.1:{port}"
    (tmp_path / "config.yml").write_text(
        f"version: 0.1\nlog: {{level: warn}}\nstorage: {{filesystem: {{rootdirectory: {tmp_path / 'data'}}}}}\n"
        f"http: {{addr: \"{registry}\"}}\n")
    server = subprocess.Popen(["docker-registry", "serve", str(tmp_path / "config.yml")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    name = "pyt" + secrets.token_hex(3)
    image = f"{registry}/{name}-api:v2"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the registry did not listen"
                time.sleep(0.1)
        spec = canary.Spec.load(str(EXAMPLE.parents[3] / "examples" / "neotix" / "canary.yaml"),
                                overrides={"group": name, "stack": name, "apps.neotix-api.image": image})
        c = canary.Canary.connect(spec)
        built = [e for e in c.build("canary", app="neotix-api") if "built" in e]
        assert [e["app"] for e in built] == ["neotix-api"]
        pushed = c.push("canary", app="neotix-api")
        assert len(pushed) == 1 and pushed[0]["app"] == "neotix-api" and pushed[0]["track"] == "canary"
        assert pushed[0]["image"] == image
        repo, digest = pushed[0]["digest"].split("@")
        assert repo == f"{registry}/{name}-api" and digest.startswith("sha256:")
        req = urllib.request.Request(
            f"http://{registry}/v2/{name}-api/manifests/v2",
            headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"}, method="HEAD")
        with urllib.request.urlopen(req, timeout=10) as r:
            assert r.headers["Docker-Content-Digest"] == digest
        with pytest.raises(canary.InvalidSpecError, match="no app named"):
            c.push("canary", app="nope")
    finally:
        server.kill()
        server.wait(10)
        subprocess.run(["docker", "image", "rm", image], capture_output=True, timeout=60)
