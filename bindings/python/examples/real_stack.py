"""The neotix example on the real local stack, through canary_sdk only (no `canary` CLI).

    sudo scripts/stack/up.sh && source scripts/stack/env.sh
    python bindings/python/examples/real_stack.py

Under a group, stack and host name of its own (`pyt<hex>`, so it never meets another run):

1. builds the apps' images, stable (v1) and canary (v2), through ``Canary.build``;
2. deploys the group (``deploy``: stable services on v1, routes) and smoke-tests it;
3. runs examples/neotix/canary.yaml to promotion, blocking, under steady load, with a Python
   hook; a simulated Ctrl-C at the first weight stops the run (its lease handed back) and ``run()``
   resumes it;
4. puts stable back on v1 and runs a bad canary (``apps.*.canaryEnv.ERROR_RATE=0.3``) with
   asyncio: the analysis rolls it back;
5. removes its routes and services (with the docker CLI: the SDK has no teardown).

Exits 0 when all of it went as expected. Progress goes to stderr, a summary (JSON) to stdout.
"""

from __future__ import annotations

import _thread
import asyncio
import http.client
import json
import os
import pathlib
import secrets
import subprocess
import sys
import threading
import time
from collections import Counter
from typing import Any

import canary_sdk as canary
from canary_sdk.types import Event, Hook, HookContext, HookOutcome, Outcome

NEOTIX = pathlib.Path(__file__).resolve().parents[3] / "examples" / "neotix" / "canary.yaml"
ENV = os.environ.get
WEB_PORT = int(ENV("CANARY_WEB_PORT", "38080"))


def log(*args: Any) -> None:
    print(*args, file=sys.stderr, flush=True)


def say(e: Event) -> None:
    log(f"   [{e['phase']}] {e['kind']}: {e['message']}")


def spec_of(name: str, interval: str, bad: bool = False) -> canary.Spec:
    """The neotix example as group and stack `name`, its routes on host `<name>.localhost`."""
    overrides: dict[str, Any] = {"group": name, "stack": name, "traffic.interval": interval,
                                 "analysis.window": interval}
    for app, prefix in (("neotix-api", "/api"), ("gcp-deployment-api", "/gcp")):
        overrides[f"apps.{app}.rule"] = f"Host(`{name}.localhost`) && PathPrefix(`{prefix}`)"
    hook = [{"name": "notify", "url": "http://python.invalid/notify"}]
    overrides["hooks"] = {"preRollout": hook, "postRollout": hook, "rollback": hook}
    if bad:
        overrides["apps.*.canaryEnv.ERROR_RATE"] = "0.3"
    return canary.Spec.load(NEOTIX, overrides=overrides)


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


def cleanup(name: str, spec: canary.Spec, dynamic_dir: str) -> None:
    # Routes first: Traefik must stop referencing a service before it goes away.
    try:
        os.remove(os.path.join(dynamic_dir, f"canary-{name}.yml"))
        time.sleep(1)
    except FileNotFoundError:
        pass
    services = [s for app in spec.apps for s in (app["canary"], app["stable"])]
    subprocess.run(["docker", "service", "rm", *services], capture_output=True, timeout=60)


def main() -> int:
    name = "pyt" + secrets.token_hex(3)
    interval = ENV("PYT_INTERVAL", "10s")
    good, bad = spec_of(name, interval), spec_of(name, interval, bad=True)
    summary: dict[str, Any] = {"group": name}
    hook_calls: list[str] = []

    def hook(h: Hook, ctx: HookContext) -> HookOutcome:
        hook_calls.append(f"{ctx['point']}:{h['name']}")
        return {"ok": True, "message": "from Python"}

    group = canary.Canary.connect(good, hooks=hook)
    log(f"== group {name}, settings {group.settings}")
    load = None
    try:
        # 1. The images: neotix-api:v1, gcp-deployment-api:v1, then :v2.
        built = []
        for track in ("stable", "canary"):
            for ev in group.build(track):
                if "built" in ev:
                    built.append((track, ev["app"]))
        assert sorted(built) == sorted((t, a["name"]) for t in ("stable", "canary") for a in good.apps), built
        summary["built"] = len(built)

        # 2. Deploy (stable on v1) and smoke-test.
        steps = group.deploy({"resetStable": True, "labels": {"io.canary.test": "1"}}, on_step=lambda s: log(f"   {s}"))
        assert {s["what"] for s in steps} >= {"network", "router", "stable", "routes"}, steps
        report = group.smoke_test({"requests": 5})
        assert report["ok"], report
        assert all(set(t["versions"]) == {"v1"} for t in report["tallies"]), report
        lines = list(group.logs("stable", tail=20))
        assert lines and all(line["service"] in {a["stable"] for a in good.apps} for line in lines), lines
        assert any("version=v1" in line["line"] for line in lines), lines
        summary["smoke"] = {t["app"] + "/" + t["variant"]: t["statuses"] for t in report["tallies"]}
        load = Load(f"{name}.localhost", ["/api/orders", "/gcp/api/deploy"])
        time.sleep(3)
        log(f"   load before the rollout: {load.take()}")

        # 3. The good canary, blocking, interrupted once (a simulated Ctrl-C) and resumed.
        armed = [True]

        def on_event(e: Event) -> None:
            say(e)
            if e["kind"] == "weightSet" and armed:
                armed.clear()
                threading.Timer(1.0, _thread.interrupt_main).start()

        t0 = time.monotonic()
        try:
            group.run(on_event=on_event)
            raise AssertionError("the simulated Ctrl-C did not stop the run")
        except KeyboardInterrupt:
            st = group.status()
            state = st["state"]
            assert state is not None and (state["phase"], state["weight"]) == ("progressing", 20), st
            assert not st["driven"], "a stopped run hands its lease back"
            summary["interrupted_at"] = {"phase": state["phase"], "weight": state["weight"]}
        resumed: list[Event] = []
        out = group.run(on_event=lambda e: (resumed.append(e), say(e)))
        summary["good"] = {"outcome": out, "seconds": round(time.monotonic() - t0, 1), "traffic": load.take()}
        log(f"== {out}; traffic {summary['good']['traffic']}")
        assert out == {"result": "promoted"}, out
        assert resumed[0]["kind"] == "resumed"
        st = group.status()
        assert st["state"] is not None and st["state"]["phase"] == "promoted" and not st["driven"]
        images = {s["name"]: s for s in st["services"]}
        for app in good.apps:
            assert images[app["stable"]]["image"].startswith(("neotix-api:v2@", "gcp-deployment-api:v2@", "sha256:")), images
            assert images[app["canary"]]["desired"] == 0
        assert "preRollout:notify" in hook_calls and "postRollout:notify" in hook_calls
        assert group.smoke_test()["ok"]

        # 4. The bad canary, with asyncio, after stable is put back on v1: rolled back.
        async def run_bad() -> Outcome:
            g = await canary.AsyncCanary.connect(bad, hooks=hook)
            await g.deploy({"resetStable": True})
            seen: list[str] = []

            async def watch() -> None:
                async for e in g.events():
                    seen.append(e["kind"])

            w = asyncio.ensure_future(watch())
            await asyncio.sleep(0)
            o = await g.run(on_event=say)
            await asyncio.wait_for(w, 10)
            assert seen[-1] == "rolledBack", seen
            canary_lines = [x async for x in g.logs("canary", tail=5)]
            assert any("error_rate=0.3" in x["line"] for x in canary_lines), canary_lines
            return o

        t0 = time.monotonic()
        out = asyncio.run(run_bad())
        summary["bad"] = {"outcome": out, "seconds": round(time.monotonic() - t0, 1), "traffic": load.take()}
        log(f"== {out}; traffic {summary['bad']['traffic']}")
        assert out["result"] == "rolledBack" and "successRate" in out.get("cause", ""), out
        st = group.status()
        for s in st["services"]:
            if s["name"].endswith("-canary"):
                assert s["desired"] == 0, s
            else:
                assert s["image"].startswith(("neotix-api:v1", "gcp-deployment-api:v1", "sha256:")), s
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
        cleanup(name, good, group.settings["traefikDynamicDir"])


if __name__ == "__main__":
    sys.exit(main())
