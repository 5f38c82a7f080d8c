"""The neotix example on the real local stack, through canary_sdk only.

    sudo scripts/stack/up.sh && source scripts/stack/env.sh
    python bindings/python/examples/real_stack.py

1. Deploys the neotix group's two stable services (canary-demo:v1, 2 tasks each) under a name of
   its own (`pyt<hex>`, label io.canary.test=1), and sends them steady traffic through Traefik.
2. Runs examples/neotix/canary.yaml (renamed) to promotion with the Swarm orchestrator, the
   Traefik router, Prometheus metrics and a Python hook, blocking; Ctrl-C is simulated at the
   first weight and `run()` resumes the rollout from its saved state.
3. Runs examples/neotix/canary-bad.yaml (the canary answers 30 % 500s) with asyncio: the
   analysis rolls it back.
4. Removes everything it made.

Exits 0 when both ended as expected. Progress goes to stderr, a summary (JSON) to stdout.
"""

from __future__ import annotations

import _thread
import asyncio
import http.client
import json
import os
import pathlib
import secrets
import sys
import threading
import time
from collections import Counter
from typing import Any

import canary_sdk as canary

HERE = pathlib.Path(__file__).resolve()
NEOTIX = HERE.parents[3] / "examples" / "neotix"
ENV = os.environ.get
WEB_PORT = int(ENV("CANARY_WEB_PORT", "38080"))
TRAEFIK_URL = ENV("CANARY_TRAEFIK_URL", "http://127.0.0.1:38082")
PROMETHEUS_URL = ENV("CANARY_PROMETHEUS_URL", "http://127.0.0.1:39090")
DYNAMIC_DIR = ENV("CANARY_TRAEFIK_DYNAMIC_DIR", "/var/lib/canary-stack/dynamic")
NETWORK = ENV("CANARY_NETWORK", "canary-net")


def log(*args: Any) -> None:
    print(*args, file=sys.stderr, flush=True)


def renamed(path: pathlib.Path, name: str, interval: str) -> canary.Spec:
    """The example spec as group and stack `name`, its rules on host `<name>.localhost`."""
    d = canary.Spec.load(path).to_dict()
    d["group"] = d["stack"] = name
    for app in d["apps"]:
        app["rule"] = app["rule"].replace("api.localhost", f"{name}.localhost")
        app.setdefault("canaryEnv", {})["VERSION"] = "v2"
    d["traffic"]["interval"] = interval
    if "window" in d.get("analysis", {}):
        d["analysis"]["window"] = interval
    d["hooks"] = {
        "preRollout": [{"name": "gate", "url": "http://python.invalid/gate"}],
        "postRollout": [{"name": "notify", "url": "http://python.invalid/notify"}],
        "rollback": [{"name": "notify", "url": "http://python.invalid/notify"}],
    }
    return canary.Spec.from_dict(d)


def traefik_name(service: str) -> str:
    return "-".join(p for p in "".join(c if c.isalnum() else " " for c in service).split())


class Load:
    """Steady requests to both apps through Traefik's web entry point (127.0.0.1 only)."""

    def __init__(self, host: str, paths: list[str], workers: int = 4, pause: float = 0.01) -> None:
        self.host, self.paths, self.pause = host, paths, pause
        self.counts: Counter[str] = Counter()
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.work, args=(i,), daemon=True) for i in range(workers)]
        for t in self.threads:
            t.start()

    def work(self, i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", WEB_PORT, timeout=5)
        n = i
        deadline = time.monotonic() + 900  # bounded, whatever happens
        while not self.stop.is_set() and time.monotonic() < deadline:
            path = self.paths[n % len(self.paths)]
            n += 1
            try:
                conn.request("GET", path, headers={"Host": self.host})
                r = conn.getresponse()
                r.read()
                key = f"{r.status} {r.getheader('X-Version', '-')}"
            except (OSError, http.client.HTTPException) as e:
                key = f"error {type(e).__name__}"
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", WEB_PORT, timeout=5)
            with self.lock:
                self.counts[key] += 1
            time.sleep(self.pause)

    def take(self) -> dict[str, int]:
        with self.lock:
            c = dict(self.counts)
            self.counts.clear()
        return c

    def close(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(10)


def main() -> int:
    name = "pyt" + secrets.token_hex(3)
    interval = ENV("PYT_INTERVAL", "10s")
    good = renamed(NEOTIX / "canary.yaml", name, interval)
    bad = renamed(NEOTIX / "canary-bad.yaml", name, interval)
    log(f"== group {name}: {good}")

    swarm = canary.SwarmOrchestrator(settle=0.5)
    router = canary.TraefikRouter(DYNAMIC_DIR, TRAEFIK_URL, network=NETWORK)
    metrics = canary.PrometheusMetrics(PROMETHEUS_URL, scrape_interval=1)
    hook_calls: list[str] = []

    def hook(h: canary.Hook, ctx: canary.HookContext) -> canary.HookOutcome:
        hook_calls.append(f"{ctx.point}:{h.name}")
        log(f"   hook {h.name} at {ctx.point} (weight {ctx.weight})")
        return canary.HookOutcome(True, "from Python")

    summary: dict[str, Any] = {"group": name}
    load = None
    try:
        # 1. The stable services, as `docker stack deploy` would name and label them.
        for app, spec_app in zip(good.apps, good.to_dict()["apps"]):
            n = traefik_name(app.stable)
            swarm.create_service(
                app.stable,
                spec_app["stableImage"],
                spec_app["stableReplicas"],
                env={"VERSION": "v1"},
                labels={
                    "io.canary.test": "1",
                    "com.docker.stack.namespace": name,
                    "traefik.enable": "true",
                    "traefik.swarm.network": NETWORK,
                    f"traefik.http.services.{n}.loadbalancer.server.port": str(spec_app["port"]),
                    f"traefik.http.routers.{n}.rule": spec_app["rule"],
                    f"traefik.http.routers.{n}.entrypoints": "web",
                },
                networks=[NETWORK],
                endpoint_mode="dnsrr",
            )
        for app in good.apps:
            s = swarm.wait_converged(app.stable, 120)
            log(f"   {s}")
        assert [s.name for s in swarm.stack_services(name)] == sorted(a.stable for a in good.apps)
        assert len(swarm.services_with_label("com.docker.stack.namespace", name)) == 2
        load = Load(f"{name}.localhost", ["/api/orders", "/gcp/api/deploy"])
        time.sleep(3)
        log(f"   load before the rollout: {load.take()}")

        # 2. The good canary, blocking, interrupted once (a simulated Ctrl-C) and resumed.
        rollout = canary.Rollout(good, orchestrator=swarm, router=router, metrics=metrics, hooks=hook)
        interrupted = {"armed": True}

        def on_event(e: canary.Event) -> None:
            log(f"   [{e.phase}] {e.kind}: {e.message}")
            if e.kind == "weightSet" and interrupted["armed"]:
                interrupted["armed"] = False
                threading.Timer(1.0, _thread.interrupt_main).start()

        t0 = time.monotonic()
        try:
            rollout.run(on_event=on_event)
            raise AssertionError("the simulated Ctrl-C did not stop the run")
        except KeyboardInterrupt:
            st = rollout.status()
            log(f"== Ctrl-C: {st} (splits {[(x.app, x.stable, x.canary) for x in st.splits]})")
            assert st.phase == "progressing" and st.weight == 20
            summary["interrupted_at"] = {"phase": st.phase, "weight": st.weight}
        out = rollout.run(on_event=lambda e: log(f"   [{e.phase}] {e.kind}: {e.message}"))
        summary["good"] = {"outcome": out.to_dict(), "seconds": round(time.monotonic() - t0, 1),
                           "traffic": load.take()}
        log(f"== {out} in {summary['good']['seconds']}s; traffic {summary['good']['traffic']}")
        assert out.promoted, out
        for app in good.apps:
            s = swarm.inspect(app.stable)
            assert s.image.startswith("canary-demo:v2@") or s.image.startswith("sha256:"), s
            c = swarm.inspect(app.canary)
            assert c.desired == 0, c
        st = rollout.status()
        assert st.phase == "promoted" and not st.driven
        assert "preRollout:gate" in hook_calls and "postRollout:notify" in hook_calls
        promoted_images = {a.stable: swarm.inspect(a.stable).image for a in good.apps}

        # 3. The bad canary, with asyncio: rolled back by the analysis.
        async def run_bad() -> canary.Outcome:
            r = canary.Rollout(bad, orchestrator=await canary.SwarmOrchestrator.connect_async(),
                               router=router, metrics=metrics, hooks=hook)
            seen: list[str] = []

            async def watch() -> None:
                async for e in r.events():
                    seen.append(e.kind)

            w = asyncio.ensure_future(watch())
            await asyncio.sleep(0)
            o = await r.run_async(on_event=lambda e: log(f"   [{e.phase}] {e.kind}: {e.message}"))
            await asyncio.wait_for(w, 10)
            assert seen[-1] == "rolledBack", seen
            assert (await r.status_async()).phase == "rolledBack"
            return o

        t0 = time.monotonic()
        out = asyncio.run(run_bad())
        summary["bad"] = {"outcome": out.to_dict(), "seconds": round(time.monotonic() - t0, 1),
                          "traffic": load.take()}
        log(f"== {out} in {summary['bad']['seconds']}s; traffic {summary['bad']['traffic']}")
        assert not out.promoted and out.cause is not None, out
        for app in bad.apps:
            assert swarm.inspect(app.stable).image == promoted_images[app.stable]
            assert swarm.inspect(app.canary).desired == 0
        assert "rollback:notify" in hook_calls
        time.sleep(2)
        after = load.take()
        summary["after"] = after
        assert after and all(k.startswith("200 ") for k in after), after
        print(json.dumps(summary, indent=2))
        return 0
    finally:
        if load is not None:
            load.close()
        try:
            router.remove(name)
        except canary.CanaryError as e:
            log(f"   cleanup: {e}")
        for app in good.apps:
            for service in (app.canary, app.stable):
                try:
                    swarm.remove_service(service)
                except canary.CanaryError as e:
                    log(f"   cleanup: {e}")


if __name__ == "__main__":
    sys.exit(main())
