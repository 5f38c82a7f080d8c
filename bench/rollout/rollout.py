#!/usr/bin/env python3
"""One real `canary run` on the local stack, measured from outside: its events, its cost, the load.

    rollout.py --canary BIN --load BIN --spec FILE [--metrics prometheus|traefik] [--rps N]

What it does (bench/run.sh calls it once per scenario):
1. creates each app's stable service itself (`docker service create`, canary-demo:v1,
   VERSION=v1, the spec's stableReplicas, placement `node.role==manager` so no task lands on a
   worker that lacks the image; the canary copies stable's placement), names prefixed `bench-`;
2. `canary deploy` (the canary service and the routes), then a steady load per app
   (`canary-load`, --rps each, to 127.0.0.1 only, bounded by --max-seconds and a stop file);
3. `canary run --output json --restart` as a child; each event line is kept with its `atMs`; the
   child's peak RSS and CPU seconds come from wait4(2) (the kernel's rusage of that process);
4. stops the load, removes the routes file first and then the services, and prints one JSON
   object: the outcome, the events' times, the controller's cost and the load's answers.

Every wait is bounded; the whole scenario is killed past --max-seconds.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

NETWORK = os.environ.get("CANARY_NETWORK", "canary-net")
WEB = os.environ.get("CANARY_WEB_URL", "http://127.0.0.1:38080")
DYNAMIC = os.environ.get("CANARY_TRAEFIK_DYNAMIC_DIR", "/var/lib/canary-stack/dynamic")


def log(msg):
    print(f"[rollout] {msg}", file=sys.stderr, flush=True)


def docker(*args, check=True):
    r = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=60)
    if check and r.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)}: {r.stderr.strip()}")
    return r.stdout.strip()


def running(name):
    out = docker("service", "ps", name, "--filter", "desired-state=running",
                 "--format", "{{.CurrentState}}", check=False)
    return sum(1 for line in out.splitlines() if line.startswith("Running"))


def apps_of(spec_path):
    """(name, stableReplicas, path prefix) of each app, read from the spec file's plain lines."""
    apps, cur = [], None
    for line in open(spec_path):
        s = line.strip()
        if s.startswith("- name:"):
            cur = {"name": s.split(":", 1)[1].strip(), "replicas": 2, "prefix": None}
            apps.append(cur)
        elif cur and s.startswith("stableReplicas:"):
            cur["replicas"] = int(s.split(":", 1)[1])
        elif cur and s.startswith("rule:") and "PathPrefix(`" in s:
            cur["prefix"] = s.split("PathPrefix(`", 1)[1].split("`", 1)[0]
    for a in apps:
        if not a["name"].startswith("bench-") or not a["prefix"] or not 1 <= a["replicas"] <= 8:
            sys.exit(f"rollout.py: {spec_path}: app {a} is not a bench app (bench- name, path, 1..8 replicas)")
    return apps


def group_of(spec_path):
    for line in open(spec_path):
        if line.startswith("group:"):
            return line.split(":", 1)[1].strip()
    sys.exit("rollout.py: no group")


def cleanup(apps, group):
    try:
        os.remove(os.path.join(DYNAMIC, f"canary-{group}.yml"))
    except FileNotFoundError:
        pass
    names = [a["name"] for a in apps] + [a["name"] + "-canary" for a in apps]
    existing = [n for n in names if docker("service", "inspect", n, check=False)]
    if existing:
        docker("service", "rm", *existing, check=False)
    for _ in range(100):  # the tasks' containers gone, so the next scenario starts clean
        if not any(docker("ps", "-q", "--filter", f"label=com.docker.swarm.service.name={n}", check=False)
                   for n in names):
            break
        time.sleep(0.3)


def main():
    apps, group = apps_of(ARGS.spec), group_of(ARGS.spec)
    deadline = time.monotonic() + ARGS.max_seconds
    env = dict(os.environ, CANARY_METRICS=ARGS.metrics)
    cleanup(apps, group)  # leftovers of an interrupted run are ours (bench- names)
    stop = tempfile.mktemp(prefix="bench-load-stop-")
    loads, child = [], None
    try:
        for a in apps:
            docker("service", "create", "--detach", "--quiet", "--name", a["name"],
                   "--replicas", str(a["replicas"]), "--constraint", "node.role==manager",
                   "--label", "io.canary.test=1", "--label", "io.canary.bench=1", "--init",
                   "--network", NETWORK, "--endpoint-mode", "dnsrr", "--stop-grace-period", "10s",
                   "--env", "VERSION=v1", "canary-demo:v1")
        while not all(running(a["name"]) == a["replicas"] for a in apps):
            if time.monotonic() > deadline:
                raise RuntimeError("stable tasks not running in time")
            time.sleep(0.5)
        d = subprocess.run([ARGS.canary, "deploy", "-f", ARGS.spec], capture_output=True, text=True,
                           env=env, timeout=180)
        if d.returncode != 0:
            raise RuntimeError(f"canary deploy: {d.stderr.strip()[-800:]}")
        secs = max(10, int(deadline - time.monotonic()))
        for a in apps:
            loads.append(subprocess.Popen(
                [ARGS.load, "--url", f"{WEB}{a['prefix']}/x", "--host", "bench.localhost",
                 "--rps", str(ARGS.rps), "--duration", f"{secs}s", "--stop-file", stop,
                 "--timeout-ms", "3000"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True))
        time.sleep(3)  # the load is steady and the metrics see it before the canary gets traffic
        t0 = time.time()
        child = subprocess.Popen([ARGS.canary, "run", "-f", ARGS.spec, "--restart", "--output", "json"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
        events = []
        # A silent, stuck controller is stopped at the deadline too.
        watchdog = threading.Timer(max(1.0, deadline - time.monotonic()), child.terminate)
        watchdog.start()
        for line in child.stdout:  # ends when the child closes stdout (it exits)
            line = line.strip()
            if line.startswith("{"):
                try:
                    events.append(json.loads(line))
                except ValueError:
                    pass
            if time.monotonic() > deadline:
                child.send_signal(signal.SIGTERM)
        _, status, ru = os.wait4(child.pid, 0)
        watchdog.cancel()
        stderr = child.stderr.read()
        took = time.time() - t0
        rc = os.waitstatus_to_exitcode(status)
        time.sleep(2)  # the answers just after the end count too
    finally:
        if child is not None and child.poll() is None:
            child.kill()
        open(stop, "w").close()
        summaries = []
        for p in loads:
            try:
                out, _ = p.communicate(timeout=20)
                summaries.append(json.loads(out.strip().splitlines()[-1]))
            except Exception as e:  # a load that died is reported, not hidden
                p.kill()
                summaries.append({"error": str(e)})
        os.remove(stop)
        cleanup(apps, group)

    def at(kind, pred=lambda e: True):
        for e in events:
            if e.get("kind") == kind and pred(e):
                return e.get("atMs")
        return None

    t_first = at("weightSet", lambda e: e.get("weight", 0) > 0)
    t = {k: at(k) for k in ("promoting", "handover", "promoted", "rollingBack", "rolledBack")}
    sent = sum(s.get("sent", 0) for s in summaries)
    ok2xx = sum(v for s in summaries for k, v in s.get("by_status", {}).items() if k.startswith("2"))
    non2xx_by_status = {}
    for s in summaries:
        for k, v in s.get("by_status", {}).items():
            if not k.startswith("2"):
                non2xx_by_status[k] = non2xx_by_status.get(k, 0) + v

    errors = {}
    for s in summaries:
        for k, v in s.get("errors", {}).items():
            errors[k] = errors.get(k, 0) + v

    def secs(a, b):
        return None if a is None or b is None else (b - a) / 1000

    print(json.dumps({
        "spec": os.path.basename(ARGS.spec), "metrics": ARGS.metrics, "exit_code": rc,
        "seconds": round(took, 2),
        "first_canary_traffic_to_rollback_s": secs(t_first, t["rollingBack"]),
        "promoting_to_handover_s": secs(t["promoting"], t["handover"]),
        "promoting_to_promoted_s": secs(t["promoting"], t["promoted"]),
        "rollback_decision_to_rolled_back_s": secs(t["rollingBack"], t["rolledBack"]),
        "peak_rss_mb": round(ru.ru_maxrss / 1024, 1),
        "cpu_s": round(ru.ru_utime + ru.ru_stime, 3),
        "requests": sent, "failed": sent - ok2xx, "failed_by_status": non2xx_by_status,
        "failed_without_answer": errors,
        "load": summaries,
        "events": [{"kind": e["kind"], "atMs": e.get("atMs"), "weight": e.get("weight")} for e in events if e.get("kind")],
        "stderr_tail": stderr.strip().splitlines()[-3:] if rc not in (0, 2) else [],
    }))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--canary", required=True)
    ap.add_argument("--load", required=True)
    ap.add_argument("--spec", required=True)
    ap.add_argument("--metrics", choices=["prometheus", "traefik"], default="prometheus")
    ap.add_argument("--rps", type=int, default=40)
    ap.add_argument("--max-seconds", type=int, default=150)
    ARGS = ap.parse_args()
    # `timeout` sends SIGTERM: leave through the finally blocks, which remove what was created.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(124))
    if not WEB.startswith("http://127.0.0.1:"):
        sys.exit("rollout.py: CANARY_WEB_URL must be on 127.0.0.1")
    ARGS.rps = max(1, min(ARGS.rps, 200))
    ARGS.max_seconds = max(30, min(ARGS.max_seconds, 300))
    main()
