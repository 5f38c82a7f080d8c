//! The two ends of `canary run` on a two-app group under a steady load: a good canary promoted,
//! a bad one rolled back by analysis.

use std::time::{Duration, Instant};

use canary_e2e::docker;
use canary_e2e::group::{Group, V1, V2};
use canary_e2e::load::Load;
use canary_e2e::stack::stack_or_skip;

#[test]
fn good_canary_is_promoted_with_both_apps_moving_together() {
    let Some(stack) = stack_or_skip("good_canary_is_promoted_with_both_apps_moving_together")
    else {
        return;
    };
    let g = Group::new(&stack);
    let spec = g.write(
        "canary.yaml",
        &g.spec(&["api", "gcp"], "30, 60", "3s", None, ""),
    );
    g.deploy(&spec);
    let load = Load::start(stack.web_port, &g.host, &["/api/x", "/gcp/x"], 30);
    std::thread::sleep(Duration::from_secs(1));

    let mut run = g.spawn(&spec, &["run", "--restart"]);
    // At each step both apps have the step's weight in force, as Traefik reports it.
    for (n, weight) in [(1, 30), (2, 60)] {
        let ev = run.wait_event("weightSet", n, Duration::from_secs(90));
        assert_eq!(ev["weight"], weight, "{ev}");
        let st = g.status(&spec);
        let splits = st["splits"].as_array().expect("splits");
        assert_eq!(splits.len(), 2, "{st}");
        for s in splits {
            assert_eq!(
                (s["stable"].as_u64(), s["canary"].as_u64()),
                (Some(100 - weight), Some(weight)),
                "{s}"
            );
            assert_eq!(s["headerRoute"], true, "{s}");
        }
    }
    let (code, lines, stderr) = run.finish(Duration::from_secs(120));
    let report = load.stop();
    assert_eq!(code, Some(0), "canary run: {stderr}\n{lines:#?}");

    // Every line is JSON; events are the core's `Event`; the last line is the result.
    let mut events = Vec::new();
    for l in &lines {
        if l["type"] == "event" {
            events.push(serde_json::from_value::<canary_core::Event>(l.clone()).expect("an Event"));
        }
    }
    let kinds: Vec<_> = events.iter().map(|e| e.kind).collect();
    use canary_core::EventKind::*;
    for k in [
        Started,
        CanaryReady,
        WeightSet,
        Analysis,
        Promoting,
        Promoted,
    ] {
        assert!(kinds.contains(&k), "no {k:?} in {kinds:?}");
    }
    let analysis = events
        .iter()
        .find(|e| e.kind == Analysis)
        .and_then(|e| e.analysis.clone())
        .expect("figures");
    assert!(
        analysis.checks.iter().any(|c| c.canary.is_some()),
        "{analysis:?}"
    );
    let result = lines.last().expect("a result");
    assert_eq!(result["type"], "result");
    assert_eq!(result["result"], "promoted");
    assert!(result["durationMs"].as_u64().unwrap() > 0);

    // Stable runs the canary's image by ID, the canary is at 0, all traffic on stable.
    let v2_id = docker::image_id(V2);
    assert!(v2_id.starts_with("sha256:"));
    for app in ["api", "gcp"] {
        assert_eq!(
            docker::service_image(&g.service(app, false)),
            v2_id,
            "{app}: stable is not on the canary's image ID"
        );
        assert_eq!(
            docker::service_replicas(&g.service(app, true)),
            0,
            "{app}: canary not scaled to 0"
        );
    }
    let st = g.status(&spec);
    assert_eq!(st["state"]["phase"], "promoted", "{st}");
    for s in st["splits"].as_array().unwrap() {
        assert_eq!(
            (
                s["stable"].as_u64(),
                s["canary"].as_u64(),
                s["headerRoute"].as_bool()
            ),
            (Some(100), Some(0), Some(false)),
            "{s}"
        );
    }
    // Stable answers with the canary's version now, with or without the header.
    let t = g.canary(&spec, &["test", "-n", "3", "-o", "json"]);
    t.expect_code(0, "canary test after promotion");
    for r in t.json().into_iter().filter(|v| v["type"] == "test") {
        assert_eq!(r["versions"], serde_json::json!({"v2": 3}), "{r}");
    }

    // Not one request failed under the steady load, through every step and the promotion.
    let failures = report.failures(|_| false);
    assert!(
        failures.is_empty(),
        "{} failed requests: {:?}\n{:?}",
        failures.len(),
        &failures[..failures.len().min(5)],
        report.summary()
    );
    assert!(report.samples.len() > 200, "{:?}", report.summary());
}

#[test]
fn bad_canary_is_rolled_back_and_stable_is_untouched() {
    let Some(stack) = stack_or_skip("bad_canary_is_rolled_back_and_stable_is_untouched") else {
        return;
    };
    let g = Group::new(&stack);
    let spec = g.write(
        "canary.yaml",
        &g.spec(&["api", "gcp"], "30, 60", "3s", None, ""),
    );
    g.deploy(&spec);
    let stables = [g.service("api", false), g.service("gcp", false)];
    let tasks_before: Vec<_> = stables.iter().map(|s| docker::running_tasks(s)).collect();
    let load = Load::start(stack.web_port, &g.host, &["/api/x", "/gcp/x"], 30);
    std::thread::sleep(Duration::from_secs(1));

    // Half of the canary's answers are 500s; this run reads Traefik's /metrics itself.
    let run = g.spawn(
        &spec,
        &[
            "run",
            "--restart",
            "--canary-env",
            "ERROR_RATE=0.5",
            "--metrics",
            "traefik",
        ],
    );
    let (code, lines, stderr) = run.finish(Duration::from_secs(120));
    let decided = Instant::now();
    std::thread::sleep(Duration::from_secs(2));
    let report = load.stop();
    assert_eq!(code, Some(2), "canary run: {stderr}\n{lines:#?}");
    let result = lines.last().expect("a result");
    assert_eq!(result["result"], "rolledBack", "{result}");
    assert!(
        result["cause"].as_str().unwrap().contains("success-rate"),
        "{result}"
    );
    let analysis = lines
        .iter()
        .find(|l| l["kind"] == "analysis")
        .expect("an analysis event");
    let failed: Vec<_> = analysis["analysis"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["verdict"] == "fail")
        .collect();
    assert!(
        !failed.is_empty() && failed.iter().all(|c| c["canary"].as_f64().unwrap() < 0.99),
        "{analysis}"
    );
    assert!(!lines.iter().any(|l| l["kind"] == "promoting"));

    // Stable untouched: same image, same tasks; the canary out of the routes and at 0.
    for (s, before) in stables.iter().zip(&tasks_before) {
        assert_eq!(docker::service_image(s), V1, "{s}");
        assert_eq!(&docker::running_tasks(s), before, "{s} was restarted");
    }
    for app in ["api", "gcp"] {
        assert_eq!(docker::service_replicas(&g.service(app, true)), 0, "{app}");
    }
    let st = g.status(&spec);
    assert_eq!(st["state"]["phase"], "rolledBack", "{st}");
    for s in st["splits"].as_array().unwrap() {
        assert_eq!(
            (
                s["stable"].as_u64(),
                s["canary"].as_u64(),
                s["headerRoute"].as_bool()
            ),
            (Some(100), Some(0), Some(false)),
            "{s}"
        );
    }

    // Only the canary's own injected 500s failed, and nothing answered from the canary after
    // the rollback.
    let failures = report.failures(|s| s.result == Ok(500) && s.version.as_deref() == Some("v2"));
    assert!(
        failures.is_empty(),
        "{:?}\n{:?}",
        &failures[..failures.len().min(5)],
        report.summary()
    );
    assert!(
        report.failures(|_| false).len() > 5,
        "the canary's errors were not seen: {:?}",
        report.summary()
    );
    assert_eq!(
        report.from_version_after("v2", decided),
        0,
        "{:?}",
        report.summary()
    );
}
