"""The Swarm and Traefik classes without the stack: construction, bad input, errors of
unreachable servers (blocking and async), background scraping, and HTTP webhooks through the
engine."""

from __future__ import annotations

import asyncio
import http.server
import json
import pathlib
import socket
import threading
from typing import Any

import pytest

import canary_sdk as canary
from conftest import World, make_spec

APP = canary.AppRef("api", "api", "api-canary")
Q = canary.MetricQuery(APP, "canary", "successRate", 30)


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = int(s.getsockname()[1])
    s.close()
    return port


def test_swarm_orchestrator_unreachable() -> None:
    with pytest.raises(canary.UnavailableError) as info:
        canary.SwarmOrchestrator("unix:///nonexistent/docker.sock", timeout=2)
    assert info.value.retryable and "nonexistent" in str(info.value)

    async def main() -> None:
        with pytest.raises(canary.UnavailableError):
            await canary.SwarmOrchestrator.connect_async(
                "unix:///nonexistent/docker.sock", timeout="2s", poll_interval=0.1,
                settle=0, rolling_update="keep",
            )

    asyncio.run(main())


def test_swarm_orchestrator_bad_arguments() -> None:
    with pytest.raises(canary.InvalidSpecError) as a:
        canary.SwarmOrchestrator("unix:///x.sock", rolling_update="sideways")
    assert a.value.field == "rolling_update"
    with pytest.raises(canary.InvalidSpecError) as b:
        canary.SwarmOrchestrator("unix:///x.sock", timeout=-1)
    assert b.value.field == "timeout"


def router(tmp_path: pathlib.Path, **kw: Any) -> canary.TraefikRouter:
    return canary.TraefikRouter(tmp_path, f"http://127.0.0.1:{closed_port()}", network="canary-net", **kw)


def test_traefik_router(tmp_path: pathlib.Path) -> None:
    r = router(tmp_path, mode="replicas", version="v2", confirm_timeout=1, poll_interval=0.05,
               request_timeout="1s", basic_auth=("u", "p"))
    assert repr(r) == "TraefikRouter(version='v2')"
    assert r.file_path("shop") == tmp_path / "canary-shop.yml"
    with pytest.raises(canary.InvalidSpecError) as a:
        router(tmp_path, mode="sideways")
    assert a.value.field == "mode"
    with pytest.raises(canary.InvalidSpecError) as b:
        router(tmp_path, version="v9")
    assert b.value.field == "version"
    with pytest.raises(canary.InvalidSpecError) as c:
        canary.TraefikRouter(tmp_path, "http://127.0.0.1:1", network="has space")
    assert c.value.field == "network"
    with pytest.raises(TypeError):
        canary.TraefikRouter(tmp_path, "http://127.0.0.1:1")  # type: ignore[call-arg]
    with pytest.raises(canary.InvalidSpecError):
        r.file_path("bad group!")


def test_traefik_router_remove_without_traefik(tmp_path: pathlib.Path) -> None:
    r = router(tmp_path, confirm_timeout=1)
    (tmp_path / "canary-shop.yml").write_text("http: {}\n")
    try:
        r.remove("shop")
    except canary.CanaryError as e:  # confirming needs Traefik's API
        assert isinstance(e, (canary.UnavailableError, canary.CanaryTimeoutError)), e

    async def main() -> None:
        try:
            await r.remove_async("shop")
        except canary.CanaryError as e:
            assert isinstance(e, (canary.UnavailableError, canary.CanaryTimeoutError)), e

    asyncio.run(main())


def test_prometheus_metrics() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    m = canary.PrometheusMetrics(url, backends={"api": "web@swarm"}, timeout=1, samples=5,
                                 scrape_interval="1s", basic_auth=("u", "p"))
    assert repr(m) == "PrometheusMetrics()"
    with pytest.raises(canary.UnavailableError):
        m.value(Q)
    with pytest.raises(canary.UnavailableError):
        m.samples(Q)

    async def main() -> None:
        with pytest.raises(canary.UnavailableError):
            await m.value_async(Q)
        with pytest.raises(canary.UnavailableError):
            await m.samples_async(Q)

    asyncio.run(main())
    canary.PrometheusMetrics(url, bearer_token="t", version="v2")
    with pytest.raises(canary.InvalidSpecError):
        canary.PrometheusMetrics(url, samples=1)
    with pytest.raises(canary.InvalidSpecError):
        canary.PrometheusMetrics("not a url")
    with pytest.raises(canary.InvalidSpecError) as info:
        canary.PrometheusMetrics(url, backends={"bad name": "x@swarm"})
    assert info.value.field == "backends"


def test_traefik_scrape_metrics() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    m = canary.TraefikScrapeMetrics(url, backends={"api": "api@swarm"}, timeout=1, retention=60,
                                    capacity=10, freshness=0, samples=3, basic_auth=("u", "p"))
    assert repr(m) == "TraefikScrapeMetrics()"
    with pytest.raises(canary.UnavailableError):
        m.scrape()
    with pytest.raises(canary.CanaryError):
        m.value(Q)
    with pytest.raises(canary.UnavailableError):
        m.samples(Q)

    async def main() -> None:
        with pytest.raises(canary.UnavailableError):
            await m.scrape_async()
        with pytest.raises(canary.CanaryError):
            await m.value_async(Q)
        with pytest.raises(canary.UnavailableError):
            await m.samples_async(Q)

    asyncio.run(main())
    task = m.start(0.1)
    assert task.running
    task.stop()
    task.stop()
    assert not task.running
    with m.start("100ms") as t2:
        assert t2.running
    assert not t2.running
    with pytest.raises(canary.InvalidSpecError):
        canary.TraefikScrapeMetrics(url, capacity=1)


class Hooks(http.server.BaseHTTPRequestHandler):
    bodies: list[dict[str, Any]] = []
    status = 200

    def do_POST(self) -> None:  # noqa: N802
        n = int(self.headers.get("Content-Length", "0"))
        Hooks.bodies.append(json.loads(self.rfile.read(n)))
        self.send_response(Hooks.status)
        self.end_headers()
        self.wfile.write(b"no thanks" if Hooks.status >= 300 else b"ok")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.mark.parametrize("explicit", [False, True])
def test_webhooks_through_the_engine(explicit: bool) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hooks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/gate"
        world = World(make_spec(hooks={"preRollout": [{"name": "gate", "url": url, "metadata": {"team": "a"}}]}))
        Hooks.bodies.clear()
        Hooks.status = 200
        kw: dict[str, Any] = {"hooks": canary.WebhookRunner()} if explicit else {"hooks": None}
        assert world.rollout(**kw).run().promoted
        assert Hooks.bodies[0]["name"] == "gate" and Hooks.bodies[0]["point"] == "preRollout"
        assert Hooks.bodies[0]["metadata"] == {"team": "a"}
        world2 = World(make_spec(group="shop2", hooks={"preRollout": [{"name": "gate", "url": url}]}))
        Hooks.status = 403
        out = world2.rollout(hooks=None).run()
        assert not out.promoted and out.cause is not None and "403" in out.cause
    finally:
        server.shutdown()
    assert repr(canary.WebhookRunner()) == "WebhookRunner()"


def test_swarm_state_store_needs_an_orchestrator() -> None:
    with pytest.raises(TypeError):
        canary.SwarmStateStore(object())  # type: ignore[arg-type]


def test_version() -> None:
    assert canary.__version__ == "0.1.0"
