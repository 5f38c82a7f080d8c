"""Against the real local stack (scripts/stack/up.sh): the Swarm and Traefik classes one by one,
then examples/real_stack.py, the neotix example to promotion and a bad canary to rollback.

Skipped when the stack is not up; with CI set, a missing stack fails instead. Services made here
are named `pyt<hex>...` and labelled io.canary.test=1, and removed at the end."""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import secrets
import subprocess
import sys
import urllib.request
from typing import Iterator

import pytest

import canary_sdk as canary

pytestmark = pytest.mark.real_stack

ENV = os.environ.get
TRAEFIK_URL = ENV("CANARY_TRAEFIK_URL", "http://127.0.0.1:38082")
PROMETHEUS_URL = ENV("CANARY_PROMETHEUS_URL", "http://127.0.0.1:39090")
DYNAMIC_DIR = ENV("CANARY_TRAEFIK_DYNAMIC_DIR", "/var/lib/canary-stack/dynamic")
NETWORK = ENV("CANARY_NETWORK", "canary-net")
EXAMPLE = pathlib.Path(__file__).resolve().parents[1] / "examples" / "real_stack.py"


def _up() -> str | None:
    try:
        with urllib.request.urlopen(f"{TRAEFIK_URL}/ping", timeout=2) as r:
            if r.read().strip() != b"OK":
                return "Traefik's /ping did not answer OK"
        with urllib.request.urlopen(f"{PROMETHEUS_URL}/-/ready", timeout=2):
            pass
        canary.SwarmOrchestrator(timeout=5)
    except (OSError, canary.CanaryError) as e:
        return f"the local stack is not up ({e}); run scripts/stack/up.sh"
    return None


@pytest.fixture(scope="module")
def stack() -> None:
    why = _up()
    if why is not None:
        if ENV("CI"):
            pytest.fail(why)
        pytest.skip(why)


@pytest.fixture
def swarm(stack: None) -> canary.SwarmOrchestrator:
    return canary.SwarmOrchestrator(settle=0.2)


@pytest.fixture
def name(swarm: canary.SwarmOrchestrator) -> Iterator[str]:
    n = "pyt" + secrets.token_hex(3)
    yield n
    for s in swarm.services_with_label("io.canary.pytest", n):
        swarm.remove_service(s.name)


def test_swarm_orchestrator_calls(swarm: canary.SwarmOrchestrator, name: str) -> None:
    labels = {"io.canary.test": "1", "io.canary.pytest": name, "com.docker.stack.namespace": name}
    svc = f"{name}_web"
    made = swarm.create_service(svc, "canary-demo:v1", 1, env={"VERSION": "v1"}, labels=labels,
                                networks=[NETWORK], endpoint_mode="dnsrr", init=True)
    assert made.name == svc and made.image.startswith("canary-demo:v1")
    assert swarm.wait_converged(svc, 60).running == 1
    with pytest.raises(canary.ConflictError):
        swarm.create_service(svc, "canary-demo:v1", labels=labels)
    swarm.scale(svc, 2)
    assert swarm.wait_converged(svc, 60).running == 2
    assert swarm.inspect(svc).labels["io.canary.pytest"] == name
    assert [s.name for s in swarm.stack_services(name)] == [svc]
    with pytest.raises(canary.NotFoundError) as info:
        swarm.inspect(f"{name}_missing")
    assert info.value.kind == "service"
    assert swarm.api_version.startswith("1.")
    assert "SwarmOrchestrator" in repr(swarm)

    async def main() -> None:
        o = await canary.SwarmOrchestrator.connect_async()
        svc2 = f"{name}_web2"
        await o.create_service_async(svc2, "canary-demo:v1", 1, labels=labels,
                                     networks=[NETWORK], endpoint_mode="dnsrr")
        assert (await o.wait_converged_async(svc2, 60)).running == 1
        await o.scale_async(svc2, 0)
        assert (await o.inspect_async(svc2)).desired == 0
        assert len(await o.services_with_label_async("io.canary.pytest", name)) == 2
        assert len(await o.stack_services_async(name)) == 2
        assert await o.remove_service_async(svc2) is True
        assert await o.remove_service_async(svc2) is False

    asyncio.run(main())
    assert swarm.remove_service(svc) is True


def test_swarm_state_store(swarm: canary.SwarmOrchestrator, name: str) -> None:
    from canary_sdk.testing import FakeRouter
    from conftest import Metrics

    svc = f"{name}-api"
    swarm.create_service(svc, "canary-demo:v1", 1, labels={"io.canary.test": "1", "io.canary.pytest": name},
                         networks=[NETWORK], endpoint_mode="dnsrr")
    spec = canary.Spec.from_dict({
        "group": name,
        "apps": [{"name": svc, "image": "canary-demo:v2", "port": 8080, "rule": f"Host(`{name}.localhost`)"}],
        "traffic": {"steps": [50], "interval": "100ms"},
    })
    store = canary.SwarmStateStore(swarm)
    assert store.load(spec) is None and swarm.state_store().load(spec) is None
    try:
        # The default store of a Swarm orchestrator is its SwarmStateStore.
        r = canary.Rollout(spec, orchestrator=swarm, router=FakeRouter(), metrics=Metrics(), hooks=lambda h, c: True)
        assert r.step() == "progressing"
        saved = store.load(spec)
        assert saved is not None and saved["state"]["phase"] == "progressing"
        assert "io.canary.state" in swarm.inspect(svc).labels
        assert r.abort().phase == "rolledBack"
        assert swarm.inspect(f"{svc}-canary").desired == 0

        async def main() -> None:
            saved = await store.load_async(spec)
            assert saved is not None and saved["state"]["phase"] == "rolledBack"
            await store.clear_async(spec)

        asyncio.run(main())
        assert store.load(spec) is None
        store.clear(spec)
        assert repr(store) == "SwarmStateStore()"
    finally:
        swarm.remove_service(f"{svc}-canary")


def test_metrics_and_router_against_the_stack(stack: None, tmp_path: pathlib.Path) -> None:
    app = canary.AppRef("nothing", "pyt-nothing-here", "pyt-nothing-here-canary")
    q = canary.MetricQuery(app, "canary", "requestCount", 30)
    prom = canary.PrometheusMetrics(PROMETHEUS_URL, scrape_interval=1)
    assert prom.value(q) is None  # no series: no data, never 0
    assert prom.samples(canary.MetricQuery(app, "canary", {"latency": 0.5}, 30)) == []
    with pytest.raises(canary.RejectedError) as info:
        prom.value(canary.MetricQuery(app, "canary", {"query": "sum(rate(x[{{window}}]"}, 30))
    assert info.value.by == "prometheus"
    scrape = canary.TraefikScrapeMetrics(TRAEFIK_URL, freshness=0)
    scrape.scrape()
    with scrape.start(0.2):
        assert scrape.value(q) is None
    router = canary.TraefikRouter(DYNAMIC_DIR, TRAEFIK_URL, network=NETWORK, confirm_timeout=10)
    router.remove("pyt-never-written")

    async def main() -> None:
        assert await prom.value_async(q) is None
        await router.remove_async("pyt-never-written")

    asyncio.run(main())


def test_neotix_example_to_promotion_and_a_bad_canary_to_rollback(stack: None) -> None:
    r = subprocess.run([sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=900,
                       env={**os.environ, "PYT_INTERVAL": ENV("PYT_INTERVAL", "10s")})
    sys.stderr.write(r.stderr[-6000:])
    assert r.returncode == 0, r.stderr[-4000:]
    summary = json.loads(r.stdout)
    assert summary["good"]["outcome"] == {"result": "promoted"}
    assert summary["interrupted_at"] == {"phase": "progressing", "weight": 20}
    assert summary["bad"]["outcome"]["result"] == "rolledBack"
    assert "successRate" in summary["bad"]["outcome"]["cause"]
