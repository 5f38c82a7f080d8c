#!/usr/bin/env python3
"""The table of bench/run.sh: reads each piece's output from the run's directory, prints one table
(our figure, the anchor's figure from the same run, the ratio, the target and whether it is met)
and writes it, with the raw figures, as JSON.

    report.py <run dir> <result.json> <run seconds>

A piece that failed or printed nothing usable leaves its rows "not measured" with the reason; a
target is reported, never asserted.
"""

import datetime
import json
import os
import platform
import re
import sys

RUN, RESULT, SECONDS = sys.argv[1], sys.argv[2], int(sys.argv[3])
rows, raw = [], {}


def piece(name):
    """(stdout, None) or (None, why it is not measured)."""
    try:
        rc, secs = open(f"{RUN}/{name}.rc").read().split()
    except OSError:
        return None, "not run"
    out = open(f"{RUN}/{name}.out").read()
    if rc != "0":
        err = open(f"{RUN}/{name}.err").read().strip().splitlines()
        why = "timed out" if rc in ("124", "137") else f"exit {rc}"
        return None, f"{why}: {(err[-1] if err else '')[:160]}"
    return out, None


def piece_json(name):
    out, why = piece(name)
    if out is None:
        return None, why
    try:
        v = json.loads(out.strip().splitlines()[-1])
        raw[name] = v
        return v, None
    except (ValueError, IndexError) as e:
        return None, f"unreadable output ({e})"


def row(area, measure, ours, anchor, anchor_is, unit, target=None, met=None, ratio=None, note=""):
    if ratio is None and isinstance(ours, (int, float)) and isinstance(anchor, (int, float)) and ours:
        ratio = anchor / ours
    rows.append({"area": area, "measure": measure, "ours": ours, "anchor": anchor,
                 "anchor_is": anchor_is, "unit": unit,
                 "ratio": None if ratio is None else round(ratio, 2),
                 "target": target, "met": met, "note": note})


def missing(area, measure, why):
    rows.append({"area": area, "measure": measure, "ours": None, "anchor": None, "anchor_is": None,
                 "unit": "", "ratio": None, "target": None, "met": None,
                 "note": f"not measured: {why}"})


# ---------------------------------------------------------------- promote
promote, why = piece("promote")
seed_s = ours_update_s = None
if promote:
    m = re.search(r"seed CLI sequence.*?:\s+([\d.]+) s", promote)
    n = re.search(r"canary-swarm \(pin.*?:\s+([\d.]+) s", promote)
    seed_s, ours_update_s = (float(m.group(1)) if m else None), (float(n.group(1)) if n else None)
    raw["promote"] = {"seed_s": seed_s, "canary_swarm_s": ours_update_s}
good, gwhy = piece_json("rollout-good")
if good and good.get("exit_code") != 0:
    gwhy, good = f"canary run exit {good.get('exit_code')}: {' '.join(good.get('stderr_tail', []))[:160]}", None
if good and seed_s and good.get("promoting_to_handover_s") is not None:
    h = good["promoting_to_handover_s"]
    row("promote", "all traffic on the new version (2 apps x 4): promoting -> handover vs seed tag + service update",
        h, seed_s, "seed CLI sequence", "s", "<= 2 s and >= 30x", h <= 2 and seed_s / h >= 30)
else:
    missing("promote", "all traffic on the new version", why or gwhy or "no handover event")
if ours_update_s and seed_s:
    row("promote", "stable fully on the new version: canary-swarm set_image vs seed", ours_update_s, seed_s,
        "seed CLI sequence", "s", note="stable's own update, behind the handover")
if good:
    row("promote", "whole rollout (promoting -> promoted)", good.get("promoting_to_promoted_s"), None, None, "s")

# ---------------------------------------------------------------- rollback (and promote failures)
rb, why = piece("rollback")
scen = {}
if rb:
    for line in rb.splitlines():
        m = re.match(r"(router|seed)\s+(rollback|promote)\s+(\S+)\s+(\S+)\s+(\d+)\s+(\d+)\s+", line)
        if m:
            secs = lambda s: None if s == "-" else float(s.rstrip("s"))
            scen[f"{m.group(1)} {m.group(2)}"] = {"out_of_routes_s": secs(m.group(3)),
                                                   "last_canary_s": secs(m.group(4)),
                                                   "failed": int(m.group(5)), "requests": int(m.group(6))}
    raw["rollback"] = scen
if "router rollback" in scen and "seed rollback" in scen:
    o, s = scen["router rollback"], scen["seed rollback"]
    row("rollback", "decision -> last canary response", o["last_canary_s"], s["last_canary_s"],
        "seed scale-to-0", "s", "<= 1 s", o["last_canary_s"] is not None and o["last_canary_s"] <= 1)
    row("rollback", "failed requests (decision -> canary gone + 3 s)", o["failed"], s["failed"],
        "seed scale-to-0", f"of {o['requests']} / {s['requests']}", "0", o["failed"] == 0, ratio=None)
else:
    missing("rollback", "decision -> last canary response; failed", why or "no figures in the output")
if good and "seed promote" in scen:
    row("promote", "failed requests through the whole rollout (ours) / the promote (seed)",
        good["failed"], scen["seed promote"]["failed"], "seed promote under load",
        f"of {good['requests']} / {scen['seed promote']['requests']}", "0", good["failed"] == 0, ratio=None)

# ---------------------------------------------------------------- detection
for m in ("prometheus", "traefik"):
    step, swhy = piece_json(f"detect-step-{m}")
    every, ewhy = piece_json(f"detect-every-{m}")
    src = "Prometheus" if m == "prometheus" else "Traefik /metrics scraped by canary"
    s_v = step.get("first_canary_traffic_to_rollback_s") if step and step.get("exit_code") == 2 else None
    e_v = every.get("first_canary_traffic_to_rollback_s") if every and every.get("exit_code") == 2 else None
    if e_v is None:
        why = ewhy or (f"canary run exit {every.get('exit_code')}, not rolled back" if every else "no output")
        missing("detection", f"30 % errors, {src}: continuous", why)
        continue
    row("detection", f"30 % errors, {src}: first canary traffic -> rollback decision, every 1s vs once per 10 s step",
        e_v, s_v, "once per step (same source)", "s", "<= 3 s", e_v <= 3,
        note="" if s_v is not None else f"once-per-step: {swhy or 'not rolled back'}")
    if every.get("rollback_decision_to_rolled_back_s") is not None:
        row("rollback", f"real rollout ({src}): rollingBack -> rolledBack", every["rollback_decision_to_rolled_back_s"],
            None, None, "s", note=f"load: {every['failed']} of {every['requests']} failed: by status "
            f"{every['failed_by_status']} (500s: the canary's injected errors), no answer {every.get('failed_without_answer', {})}")

# ---------------------------------------------------------------- blast radius
def blast(name):
    try:
        v = json.load(open(f"{RUN}/blast/{name}/summary.json"))
        raw[f"blast-{name}"] = {k: v.get(k) for k in ("requests", "failed", "failed_stable_share",
                                                       "failed_canary_share", "failed_by_status")}
        return v
    except (OSError, ValueError):
        return None


chosen, today = blast("chosen"), blast("today")
if chosen and today:
    row("blast radius", "canary task killed twice mid-step (50 req/s, weight 20): failed on stable's share",
        chosen["failed_stable_share"], today["failed_stable_share"], "weighted over @swarm (earlier shape)",
        f"of {chosen['requests']} / {today['requests']}", ratio=None)
    row("blast radius", "the same: failed on the canary's share", chosen["failed_canary_share"],
        today["failed_canary_share"], "weighted over @swarm (earlier shape)", "", ratio=None)
else:
    missing("blast radius", "canary task killed mid-step", piece("blast")[1] or "no summary")

# ---------------------------------------------------------------- controller cost
if good:
    row("controller", "peak RSS of `canary run`, whole rollout of 2 apps", good["peak_rss_mb"], None,
        "reference 11.1 MB (2026-11-30, neotix, not this run)", "MB", "<= 15 MB", good["peak_rss_mb"] <= 15)
    row("controller", "CPU seconds of `canary run`, whole rollout", good["cpu_s"], None,
        "reference 0.19 s (2026-11-30, neotix, not this run)", "s", note=f"rollout of {good['seconds']} s")
else:
    missing("controller", "peak RSS and CPU of canary run", gwhy)
steps, why = piece_json("steps")
if steps:
    per = {s["apps"]: s["step_us"] for s in steps["steps"]}
    for n in (4, 16):
        growth = per[n] / per[1]
        row("controller", f"engine step, in-memory fakes: {n} apps vs 1 app", per[n], per[1], "1 app", "us",
            f"<= {n}x (linear)", growth <= n, ratio=growth, note="ratio = growth over 1 app")
else:
    missing("controller", "engine step with 1, 4, 16 apps", why)

# ---------------------------------------------------------------- judge
ours, owhy = piece_json("judge-ours")
scipy, swhy = piece_json("judge-scipy")
if ours and scipy:
    row("judge", f"Mann-Whitney U, {ours['n1']} vs {ours['n2']} samples (median of 20)", ours["ms"], scipy["ms"],
        f"scipy {scipy['scipy']} mannwhitneyu", "ms", ">= 10x", scipy["ms"] / ours["ms"] >= 10)
    d = abs(ours["p_value"] - scipy["p_value"])
    row("judge", "same data: |p ours - p scipy| (and U equal)", d, None, f"p = {scipy['p_value']:.15g}", "",
        "<= 1e-12", d <= 1e-12 and ours["u"] == scipy["u"], note=f"U {ours['u']} vs {scipy['u']}")
else:
    missing("judge", "Mann-Whitney vs scipy", owhy or swhy)

# ---------------------------------------------------------------- bindings
missing("bindings", "status() per call, Python and Node vs Rust",
        "their test builds (pyo3 wheel via maturin+zig, napi addon, both release) take longer on 2 cores "
        "than this run's 15 minutes; run `python bindings/python/bench/python_status.py` after "
        "bindings/python/test.sh, and `npm run bench` in bindings/node (target: Node <= 10 us)")


# ---------------------------------------------------------------- print and write
AREAS = ["promote", "rollback", "detection", "blast radius", "controller", "judge", "bindings"]
rows.sort(key=lambda r: AREAS.index(r["area"]))  # stable: each area keeps its rows' order
def fmt(v):
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if v != 0 and abs(v) < 1e-3:
            return f"{v:.1e}"
        return f"{v:,.3f}" if abs(v) < 10 else f"{v:,.1f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


head = ["area", "measure", "ours", "anchor", "ratio", "unit", "target", "met"]
table = [[r["area"], r["measure"], fmt(r["ours"]), fmt(r["anchor"]) + (f" ({r['anchor_is']})" if r["anchor_is"] else ""),
          "-" if r["ratio"] is None else f"{r['ratio']:g}x", r["unit"], r["target"] or "-",
          fmt(r["met"]) + (f"; {r['note']}" if r["note"] else "")] for r in rows]
print("| " + " | ".join(head) + " |")
print("|" + "---|" * len(head))
for t in table:
    print("| " + " | ".join(c.replace("|", "/") for c in t) + " |")
print(f"\nrun: {SECONDS} s")
doc = {
    "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "host": {"node": platform.node(), "cpus": os.cpu_count(), "kernel": platform.release()},
    "run_seconds": SECONDS, "rows": rows, "raw": raw,
}
with open(RESULT, "w") as f:
    json.dump(doc, f, indent=1)
    f.write("\n")
