#!/usr/bin/env python3
"""One blast-radius scenario: a steady load through Traefik while the canary's task is killed.

What it does, in order (run.sh creates and removes the Swarm services and calls this once per shape):

1. renders the shape's template (templates/<shape>.yml) into the group file, with the canary's task
   addresses read from the Docker API, and keeps it current from a poller thread (what the router
   would have to do; only shapes whose template has @@CANARY_SERVERS@@ need it);
2. waits until Traefik routes to both versions;
3. sends --rps requests a second for --duration seconds to 127.0.0.1 (Host header set), one record
   per request: when it was sent, status, the X-Version that answered, or the error;
4. `docker kill`s the canary's container at each --kill-at second (as a crash or OOM would);
5. reads Traefik's service counters before and after, and writes a JSON summary.

Attribution of failed requests to a share (Traefik's WRR picks are not visible to a client):
- a 404 without X-Version is Traefik's "no router" answer: the weighted service was disabled and
  both shares failed; stable's part is its weight share of them;
- any other failure (5xx from Traefik, timeout, reset) counts against stable only as far as
  Traefik's counters show non-2xx answers on stable's own load balancer in the same run; the rest
  is the canary's share.

Only 127.0.0.1 is ever contacted over TCP, plus the Docker socket. Every loop is bounded.
"""

import argparse
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

MAX_RPS = 200
MAX_DURATION = 120.0


def die(msg):
    print(f"bench.py: {msg}", file=sys.stderr)
    sys.exit(2)


# ------------------------------------------------------------------ Docker API (unix socket)
class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=5):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.path)
        self.sock = s


def docker_get(path):
    c = UnixHTTPConnection("/var/run/docker.sock")
    try:
        c.request("GET", path)
        r = c.getresponse()
        body = r.read()
        if r.status != 200:
            raise RuntimeError(f"docker GET {path}: {r.status} {body[:200]!r}")
        return json.loads(body)
    finally:
        c.close()


def running_tasks(service, network):
    """(task id, container id, address on `network`) of the service's running tasks."""
    f = json.dumps({"service": [service], "desired-state": ["running"]})
    tasks = docker_get("/v1.41/tasks?filters=" + urllib.parse.quote(f))
    out = []
    for t in tasks:
        if t.get("Status", {}).get("State") != "running":
            continue
        if t.get("ServiceID") is None:
            continue
        cid = t.get("Status", {}).get("ContainerStatus", {}).get("ContainerID", "")
        for att in t.get("NetworksAttachments") or []:
            if att.get("Network", {}).get("Spec", {}).get("Name") != network:
                continue
            for a in att.get("Addresses") or []:
                ip = a.split("/")[0]
                if re.fullmatch(r"[0-9]{1,3}(\.[0-9]{1,3}){3}", ip):
                    out.append((t["ID"], cid, ip))
    return sorted(out, key=lambda x: x[2])


# ------------------------------------------------------------------ Traefik API and metrics
def get_local(port, path, host=None, timeout=3):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path, headers={"Host": host} if host else {})
        r = c.getresponse()
        return r.status, r.getheader("X-Version"), r.read()
    finally:
        c.close()


METRIC_RE = re.compile(r'^traefik_service_requests_total\{(.*)\} ([0-9.e+]+)$')
LABEL_RE = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def service_counters(api_port, prefix):
    """{(service, code): count} of traefik_service_requests_total for services matching the regex."""
    _, _, body = get_local(api_port, "/metrics", timeout=5)
    out = {}
    for line in body.decode().splitlines():
        m = METRIC_RE.match(line)
        if not m:
            continue
        labels = dict(LABEL_RE.findall(m.group(1)))
        svc = labels.get("service", "")
        if not re.match(prefix, svc):
            continue
        key = (svc, labels.get("code", "?"))
        out[key] = out.get(key, 0) + float(m.group(2))
    return out


def counter_delta(before, after):
    d = {}
    for k in set(before) | set(after):
        # A series that vanished with its service (Traefik drops it) reads as "unknown", not 0.
        if k not in after:
            d[f"{k[0]} {k[1]}"] = "series gone"
            continue
        v = after[k] - before.get(k, 0)
        if v < 0:  # the series was dropped and re-created in between: only a lower bound
            d[f"{k[0]} {k[1]}"] = f"{int(after[k])}+ (series re-created)"
        elif v:
            d[f"{k[0]} {k[1]}"] = int(v)
    return dict(sorted(d.items()))


# ------------------------------------------------------------------ group file
def render(template, servers, port, knobs=None, flags=()):
    """The template with @@CANARY_SERVERS@@ replaced by a flow list of server URLs, @@KNOB@@s
    replaced, and its marked lines kept only when their condition holds:
    `# @if-canary` (the canary has a running task), `# @if-no-canary` (it has none), and
    `# @if-<flag>` / `# @if-no-<flag>` when a flag (sticky, mirror) is / is not given."""
    flow = "[" + ", ".join(f'{{url: "http://{ip}:{port}"}}' for ip in servers) + "]"
    holds = {"canary": bool(servers), "no-canary": not servers}
    lines = []
    for line in template.splitlines():
        m = re.search(r"\s*# @if-([a-z-]+)$", line)
        if m:
            cond = m.group(1)
            ok = holds[cond] if cond in holds else (
                cond[3:] not in flags if cond.startswith("no-") else cond in flags)
            if not ok:
                continue
            line = line[: m.start()]
        lines.append(line)
    text = "\n".join(lines).replace("@@CANARY_SERVERS@@", flow) + "\n"
    for k, v in (knobs or {}).items():
        text = text.replace(f"@@{k}@@", v)
    return text


def write_atomic(path, text):
    d, name = os.path.split(path)
    tmp = os.path.join(d, f".{name}.{os.getpid()}.tmp")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, path)


class Reconciler(threading.Thread):
    """Keeps the canary's task addresses in the group file current (the router's future job)."""

    def __init__(self, args, template, t0):
        super().__init__(daemon=True)
        self.args, self.template, self.t0 = args, template, t0
        self.stop = threading.Event()
        self.written = None
        self.events = []

    def sync(self):
        try:
            ips = [ip for _, _, ip in running_tasks(self.args.canary, self.args.network)]
        except Exception as e:  # a Docker hiccup: keep the last file
            self.events.append({"t": round(time.time() - self.t0, 3), "error": str(e)[:200]})
            return
        text = render(self.template, ips, self.args.app_port, self.args.knobs, self.args.flags)
        if text != self.written:
            write_atomic(self.args.file, text)
            self.written = text
            self.events.append({"t": round(time.time() - self.t0, 3), "servers": ips})

    def run(self):
        deadline = time.monotonic() + MAX_DURATION + 60
        while not self.stop.is_set() and time.monotonic() < deadline:
            self.sync()
            self.stop.wait(self.args.poll)


# ------------------------------------------------------------------ load
class Load:
    def __init__(self, args):
        self.args = args
        self.local = threading.local()
        self.records = []
        self.lock = threading.Lock()
        # Sticky clients: request i is client i % n, each with its own cookies.
        self.jars = [dict() for _ in range(args.sticky_clients)]

    def conn(self):
        c = getattr(self.local, "c", None)
        if c is None:
            c = http.client.HTTPConnection("127.0.0.1", self.args.web_port, timeout=self.args.timeout)
            self.local.c = c
        return c

    def one(self, i, t_sched, t0):
        t_start = time.time()
        rec = {"i": i, "t": round(t_start - t0, 4)}
        c = self.conn()
        headers = {"Host": self.args.host, **self.args.hdrs}
        jar = None
        if self.jars:
            rec["client"] = i % len(self.jars)
            jar = self.jars[rec["client"]]
            with self.lock:
                if jar:
                    headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in jar.items())
        try:
            c.request("GET", f"/bench/{i}", headers=headers)
            r = c.getresponse()
            r.read()
            rec["status"] = r.status
            rec["version"] = r.getheader("X-Version")
            if jar is not None:
                for sc in r.msg.get_all("Set-Cookie") or []:
                    k, _, v = sc.split(";", 1)[0].partition("=")
                    with self.lock:
                        jar[k.strip()] = v.strip()
                        rec["set_cookie"] = True
            if r.getheader("Connection", "").lower() == "close":
                c.close()
        except socket.timeout:
            rec["error"] = "timeout"
            c.close()
        except (ConnectionError, http.client.HTTPException, OSError) as e:
            rec["error"] = type(e).__name__
            c.close()
        rec["ms"] = round((time.time() - t_start) * 1000, 1)
        with self.lock:
            self.records.append(rec)

    def run(self, t0, kills):
        a = self.args
        n = int(a.rps * a.duration)
        start = time.monotonic()
        killed = []
        # Kills run beside the scheduler so `docker kill` never delays a request.
        killers = [threading.Timer(k, lambda: killed.append(kill_canary(a, t0))) for k in kills]
        for k in killers:
            k.start()
        with ThreadPoolExecutor(max_workers=min(400, a.rps * int(a.timeout + 2))) as pool:
            for i in range(n):
                due = start + i / a.rps
                now = time.monotonic()
                if due > now:
                    time.sleep(due - now)
                pool.submit(self.one, i, due, t0)
        for k in killers:
            k.cancel()
            k.join()
        return sorted(killed, key=lambda k: k["t"])


def kill_canary(a, t0):
    tasks = running_tasks(a.canary, a.network)
    t = round(time.time() - t0, 4)
    if not tasks:
        return {"t": t, "killed": None}
    _, cid, ip = tasks[0]
    # docker kill = SIGKILL, as an OOM kill or a crash would end the task.
    r = subprocess.run(["docker", "kill", cid], check=False, capture_output=True, timeout=10)
    return {"t": t, "done": round(time.time() - t0, 4), "killed": cid[:12], "ip": ip, "rc": r.returncode}


# ------------------------------------------------------------------ analysis
def analyse(records, kills, counters, args):
    stable_w = args.stable_weight / 100.0
    recs = sorted(records, key=lambda r: r["t"])
    failed = [r for r in recs if not (r.get("status") == 200 and r.get("version"))]
    by_status = {}
    for r in failed:
        k = str(r.get("status") or r.get("error"))
        by_status[k] = by_status.get(k, 0) + 1
    router_level = sum(1 for r in failed if r.get("status") == 404 and not r.get("version"))
    stable_leaf_errors = 0
    for key, v in counters.items():
        svc, code = key.rsplit(" ", 1)
        if svc == args.stable_backend and not code.startswith("2"):
            if not isinstance(v, int):
                raise SystemExit(f"stable's counter {key} is unreliable ({v}); cannot attribute failures")
            stable_leaf_errors += v
    stable_failed = round(stable_w * router_level) + stable_leaf_errors
    canary_failed = len(failed) - stable_failed
    windows = []
    for k_i, k in enumerate(kills):
        tk = k["t"]
        end = kills[k_i + 1]["t"] - 0.05 if k_i + 1 < len(kills) else float("inf")
        fails = [r for r in failed if tk - 0.05 <= r["t"] < end]
        # Back: the first canary answer to a request sent after `docker kill` returned.
        back = next((r for r in recs if r["t"] > k.get("done", tk) and r["t"] < end
                     and r.get("version") == args.canary_version and r.get("status") == 200), None)
        statuses = {}
        for r in fails:
            key = str(r.get("status") or r.get("error"))
            statuses[key] = statuses.get(key, 0) + 1
        windows.append({
            "kill_at": tk,
            "failed": len(fails),
            "failed_by_status": dict(sorted(statuses.items())),
            "first_fail_after_kill_s": round(fails[0]["t"] - tk, 3) if fails else None,
            "last_fail_after_kill_s": round(fails[-1]["t"] - tk, 3) if fails else None,
            "canary_back_after_s": round(back["t"] - tk, 3) if back else None,
        })
    oks = [r for r in recs if r.get("status") == 200]
    lat = sorted(r["ms"] for r in oks)
    versions = {}
    for r in oks:
        versions[r.get("version")] = versions.get(r.get("version"), 0) + 1
    sticky = None
    if args.sticky_clients:
        # A client's version: what it was stuck to before the first kill.
        first_kill = kills[0]["t"] if kills else float("inf")
        stuck = {}
        for r in recs:
            if r["t"] < first_kill and r.get("status") == 200 and "client" in r:
                stuck[r["client"]] = r.get("version")
        sticky = {}
        for ver in sorted(set(stuck.values()), key=str):
            mine = [r for r in recs if stuck.get(r.get("client")) == ver]
            after = [r for r in mine if r["t"] >= first_kill]
            last_kill = kills[-1]
            back = [r for r in after if r["t"] > last_kill.get("done", last_kill["t"]) + 6]
            sticky[str(ver)] = {
                "clients": sum(1 for v in stuck.values() if v == ver),
                "failed": sum(1 for r in mine if not (r.get("status") == 200 and r.get("version"))),
                "answered_by_after_first_kill": count_versions(after),
                "answered_by_6s_after_last_kill": count_versions(back),
                "cookie_rewritten_after_first_kill": sum(1 for r in after if r.get("set_cookie")),
            }
    return {
        "shape": args.shape,
        "sticky": sticky,
        "requests": len(recs),
        "ok_by_version": versions,
        "failed": len(failed),
        "failed_by_status": dict(sorted(by_status.items())),
        "failed_stable_share": stable_failed,
        "failed_canary_share": canary_failed,
        "router_level_404": router_level,
        "stable_leaf_non2xx": stable_leaf_errors,
        "per_kill": windows,
        "ok_latency_ms": {
            "p50": lat[len(lat) // 2] if lat else None,
            "p99": lat[int(len(lat) * 0.99)] if lat else None,
            "max": lat[-1] if lat else None,
        },
    }


def count_versions(recs):
    out = {}
    for r in recs:
        k = r.get("version") if r.get("status") == 200 else str(r.get("status") or r.get("error"))
        out[str(k)] = out.get(str(k), 0) + 1
    return out


def wait_routed(args, deadline_s=30):
    """Until both versions answer through the app router (or give up)."""
    seen = set()
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            st, ver, _ = get_local(args.web_port, "/warmup", host=args.host)
            if st == 200 and ver:
                seen.add(ver)
        except OSError:
            pass
        if {args.stable_version, args.canary_version} <= seen:
            return True
        time.sleep(0.05)
    return False


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shape", required=True, help="template name (templates/<shape>.yml)")
    p.add_argument("--templates", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates"))
    p.add_argument("--file", required=True, help="the group file in the file-provider directory")
    p.add_argument("--canary", required=True, help="the canary's Swarm service")
    p.add_argument("--stable-backend", required=True, help="stable's Traefik service, e.g. rt-stable@swarm")
    p.add_argument("--network", default="canary-net")
    p.add_argument("--host", required=True, help="Host header of the app router")
    p.add_argument("--header", action="append", default=[], help="extra request header Name:value")
    p.add_argument("--web-port", type=int, default=38080)
    p.add_argument("--api-port", type=int, default=38082)
    p.add_argument("--app-port", type=int, default=8080)
    p.add_argument("--rps", type=int, default=50)
    p.add_argument("--duration", type=float, default=20.0)
    p.add_argument("--timeout", type=float, default=3.0, help="client timeout per request, s")
    p.add_argument("--kill-at", type=float, action="append", default=[], help="seconds into the load")
    p.add_argument("--poll", type=float, default=1.0, help="how often the task addresses are re-read, s")
    p.add_argument("--hc-interval", default="250ms", help="the canary's active health check interval")
    p.add_argument("--hc-timeout", default="250ms", help="the canary's active health check timeout")
    p.add_argument("--dial-timeout", default="250ms", help="dial timeout of the canary's transport")
    p.add_argument("--retry-attempts", type=int, default=4, help="attempts of the app router's retry middleware")
    p.add_argument("--sticky-clients", type=int, default=0,
                   help="N clients with their own cookies (request i is client i %% N); turns on @if-sticky")
    p.add_argument("--mirror", action="store_true", help="turns on @if-mirror (stable's requests copied to the canary)")
    p.add_argument("--passive", action="store_true", help="turns on @if-passive (a passive health check)")
    p.add_argument("--stable-weight", type=int, default=80)
    p.add_argument("--stable-version", default="v1")
    p.add_argument("--canary-version", default="v2")
    p.add_argument("--metric-prefix", default=r"(rt-|canary-rt--)", help="regex of Traefik service names to count")
    p.add_argument("--out", required=True, help="directory for records.jsonl and summary.json")
    args = p.parse_args()

    if not (1 <= args.rps <= MAX_RPS) or not (0 < args.duration <= MAX_DURATION):
        die(f"--rps must be 1..{MAX_RPS} and --duration 0..{MAX_DURATION}")
    if not (0.1 <= args.timeout <= 30) or not (0.05 <= args.poll <= 10):
        die("--timeout must be 0.1..30 s and --poll 0.05..10 s")
    if any(not (0 <= k < args.duration) for k in args.kill_at) or len(args.kill_at) > 10:
        die("--kill-at must be inside the load, at most 10 times")
    if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{0,60}", args.shape):
        die("bad --shape")
    for v in (args.hc_interval, args.hc_timeout, args.dial_timeout):
        if not re.fullmatch(r"[0-9]{1,5}(ms|s)", v):
            die(f"bad duration {v!r} (e.g. 250ms or 1s)")
    if not (1 <= args.retry_attempts <= 10):
        die("--retry-attempts must be 1..10")
    args.knobs = {"HC_INTERVAL": args.hc_interval, "HC_TIMEOUT": args.hc_timeout,
                  "DIAL_TIMEOUT": args.dial_timeout, "RETRY_ATTEMPTS": str(args.retry_attempts)}
    if not (0 <= args.sticky_clients <= 1000):
        die("--sticky-clients must be 0..1000")
    args.flags = ((["sticky"] if args.sticky_clients else []) + (["mirror"] if args.mirror else [])
                  + (["passive"] if args.passive else []))
    args.hdrs = {}
    for h in args.header:
        k, _, v = h.partition(":")
        args.hdrs[k.strip()] = v.strip()
    template = open(os.path.join(args.templates, f"{args.shape}.yml")).read()
    os.makedirs(args.out, exist_ok=True)

    t0 = time.time()
    rec = Reconciler(args, template, t0)
    rec.sync()
    if "@@CANARY_SERVERS@@" in template:
        rec.start()
    if not wait_routed(args):
        rec.stop.set()
        why = ""
        try:
            _, _, body = get_local(args.api_port, "/api/http/routers")
            errs = {r["name"]: r.get("error") for r in json.loads(body) if r.get("error")
                    and r.get("provider") == "file" and args.host in r.get("rule", "")}
            why = f"; Traefik's router errors: {errs}" if errs else ""
        except (OSError, ValueError, KeyError, TypeError):
            pass
        die(f"Traefik did not route {args.host} to both versions within 30s{why}")
    time.sleep(1.0)  # let the first health checks run, as in steady state
    before = service_counters(args.api_port, args.metric_prefix)
    load = Load(args)
    t_load = time.time()
    kills = load.run(t_load, args.kill_at)
    time.sleep(0.5)
    after = service_counters(args.api_port, args.metric_prefix)
    rec.stop.set()
    counters = counter_delta(before, after)
    for e in rec.events:
        e["t"] = round(e["t"] - (t_load - t0), 3)
    summary = analyse(load.records, kills, counters, args)
    summary["knobs"] = args.knobs
    summary["kills"] = kills
    summary["file_writes"] = rec.events
    summary["traefik_service_counters"] = counters
    with open(os.path.join(args.out, "records.jsonl"), "w") as f:
        for r in sorted(load.records, key=lambda r: r["i"]):
            f.write(json.dumps(r) + "\n")
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
