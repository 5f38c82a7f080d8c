//! The statistical judge on real traffic: a canary 50 ms slower than stable (`LATENCY_MS=50`),
//! every request answered, is rolled back by the Mann-Whitney judge on the per-request durations
//! of Traefik's access log, while every threshold check of the same analysis passes. The run is
//! recorded, and its replay without the judge promotes: the thresholds alone would have let it
//! through.

use std::path::PathBuf;
use std::time::Duration;

use canary_e2e::docker;
use canary_e2e::group::{Group, V1};
use canary_e2e::load::Load;
use canary_e2e::stack::stack_or_skip;

/// Traefik's access log as `scripts/stack/up.sh` has it written (`CANARY_TRAEFIK_ACCESS_LOG`).
fn access_log() -> PathBuf {
    let var = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
    var("CANARY_TRAEFIK_ACCESS_LOG")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(var("CANARY_STACK_DIR").unwrap_or("/var/lib/canary-stack".into()))
                .join("traefik/log/access.json")
        })
}

/// When the swarm has other nodes (whose engines lack the locally built test images), creates
/// `app`'s stable on a manager; `canary deploy` adopts it and the canary keeps its placement.
fn pin_stable_here(g: &Group, app: &str) {
    let nodes = docker::ok(&["node", "ls", "-q"]);
    if nodes.split_whitespace().count() < 2 {
        return;
    }
    let namespace = format!("com.docker.stack.namespace={}", g.name);
    docker::ok(&[
        "service",
        "create",
        "--quiet",
        "--detach",
        "--name",
        &g.service(app, false),
        "--constraint",
        "node.role==manager",
        "--network",
        &g.stack.network,
        "--endpoint-mode",
        "dnsrr",
        "--label",
        &namespace,
        "--label",
        "io.canary.test=1",
        "--replicas",
        "1",
        V1,
    ]);
}

#[test]
fn a_slower_canary_is_rolled_back_by_the_judge_where_thresholds_pass() {
    let test = "a_slower_canary_is_rolled_back_by_the_judge_where_thresholds_pass";
    let Some(stack) = stack_or_skip(test) else {
        return;
    };
    let log = access_log();
    if !log.is_file() {
        let why = format!(
            "no Traefik access log at {} (scripts/stack/up.sh turns it on)",
            log.display()
        );
        assert!(std::env::var_os("CI").is_none(), "{test}: {why}");
        eprintln!("SKIPPED {test}: {why}");
        return;
    }
    let g = Group::with_prefix(&stack, "ctj");
    // Thresholds a 50 ms canary passes (no error, p99 far under 1 s); the judge compares the
    // medians of each request's duration.
    let analysis = "  window: 6s\n  minRequests: 20\n  checks:\n    \
         - {name: success-rate, metric: successRate, min: 0.99, critical: true}\n    \
         - {name: latency-p99, metric: {latency: 0.99}, max: 1.0}\n  \
         judge:\n    confidence: 0.95\n    minSamples: 20\n    \
         metrics: [{name: latency, metric: {latency: 0.5}, critical: true}]\n";
    let spec = g.write(
        "canary.yaml",
        &g.spec(&["api"], "50", "6s", Some(analysis), ""),
    );
    pin_stable_here(&g, "api");
    g.deploy(&spec);
    let load = Load::start(stack.web_port, &g.host, &["/api/x"], 30);
    std::thread::sleep(Duration::from_secs(1));

    let recording = g.dir.join("judge.jsonl");
    let log_arg = log.display().to_string();
    let rec_arg = recording.display().to_string();
    let run = g.spawn(
        &spec,
        &[
            "run",
            "--restart",
            "--canary-env",
            "LATENCY_MS=50",
            "--traefik-access-log",
            &log_arg,
            "--record",
            &rec_arg,
        ],
    );
    let (code, lines, stderr) = run.finish(Duration::from_secs(120));
    let report = load.stop();
    assert_eq!(code, Some(2), "canary run: {stderr}\n{lines:#?}");
    let result = lines.last().expect("a result");
    assert_eq!(result["result"], "rolledBack", "{result}");
    assert!(
        result["cause"].as_str().unwrap_or("").contains("judge"),
        "{result}"
    );

    // The deciding analysis: every threshold check passed, the judge failed on latency with the
    // canary's median at least 40 ms above stable's, on enough real samples of each track.
    let analysis = lines
        .iter()
        .rfind(|l| l["kind"] == "analysis")
        .map(|l| l["analysis"].clone())
        .expect("an analysis event");
    let checks = analysis["checks"].as_array().expect("checks");
    // The request gate, success rate and p99.
    assert_eq!(checks.len(), 3, "{analysis}");
    for c in checks {
        assert_eq!(c["verdict"], "pass", "a threshold check did not pass: {c}");
    }
    let judged = &analysis["judges"][0]["metrics"][0];
    assert_eq!(analysis["judges"][0]["verdict"], "fail", "{analysis}");
    assert_eq!(judged["classification"], "high", "{judged}");
    let (canary, stable) = (
        judged["canaryMedian"].as_f64().expect("canary median"),
        judged["stableMedian"].as_f64().expect("stable median"),
    );
    assert!(canary - stable > 0.040, "{judged}");
    assert!(judged["pValue"].as_f64().unwrap() < 0.05, "{judged}");
    for n in judged["samples"].as_array().unwrap() {
        assert!(n.as_u64().unwrap() >= 20, "{judged}");
    }
    // Every request of the load was answered (the canary is slow, not failing).
    let failures = report.failures(|_| false);
    assert!(failures.is_empty(), "{:?}", report.summary());

    // The recorded run replays to the same decisions; without the judge it promotes.
    let same = g.canary(&spec, &["replay", &rec_arg, "-o", "json"]);
    same.expect_code(2, "canary replay");
    let r = same.last("replay").expect("a replay line");
    assert_eq!(r["sameAsRecorded"], true, "{r}");
    let without = g.canary(
        &spec,
        &[
            "replay",
            &rec_arg,
            "--set",
            "analysis.judge!=",
            "-o",
            "json",
        ],
    );
    without.expect_code(0, "canary replay without the judge");
    let r = without.last("replay").expect("a replay line");
    assert_eq!(r["outcome"]["result"], "promoted", "{r}");
    assert_eq!(r["sameAsRecorded"], false, "{r}");
}
