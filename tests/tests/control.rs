//! `pause`, `resume`, `promote --full` and `rollback` from a second process while `canary run`
//! drives the rollout; the run's `--metrics-addr`.

use std::time::Duration;

use canary_e2e::docker;
use canary_e2e::group::{Group, V1};
use canary_e2e::load::{http_get, Load};
use canary_e2e::stack::stack_or_skip;

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn pause_resume_and_promote_full_from_a_second_process() {
    let Some(stack) = stack_or_skip("pause_resume_and_promote_full_from_a_second_process") else {
        return;
    };
    let g = Group::new(&stack);
    let spec = g.write(
        "canary.yaml",
        &g.spec(&["api"], "20, 40, 60, 80", "3s", None, ""),
    );
    g.deploy(&spec);
    let load = Load::start(stack.web_port, &g.host, &["/api/x"], 30);
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut run = g.spawn(&spec, &["run", "--restart", "--metrics-addr", &addr]);
    run.wait_event("weightSet", 1, Duration::from_secs(90));

    let p = g.canary(&spec, &["pause", "-o", "json"]);
    p.expect_code(0, "canary pause");
    assert_eq!(
        p.last("command").unwrap()["result"],
        "delivered",
        "{}",
        p.stdout
    );
    let paused = run.wait_event("paused", 1, Duration::from_secs(20));
    std::thread::sleep(Duration::from_secs(4)); // longer than a step
    let st = g.status(&spec);
    assert_eq!(st["state"]["phase"], "paused", "{st}");
    assert_eq!(st["state"]["weight"], paused["weight"], "{st}");
    assert_eq!(st["driven"], true, "{st}");
    let weight_sets = run
        .lines()
        .iter()
        .filter(|l| l["kind"] == "weightSet")
        .count();
    assert_eq!(weight_sets, 1, "the rollout moved while paused");

    // The engine's decisions as metrics.
    let m = http_get(port, "127.0.0.1", "/metrics", &[], Duration::from_secs(3)).expect("metrics");
    assert_eq!(m.status, 200);
    for want in [
        format!("canary_phase{{group=\"{}\",phase=\"paused\"}} 1", g.name),
        format!("canary_weight{{group=\"{}\",app=\"api\"}} 20", g.name),
        format!("canary_step{{group=\"{}\"}} 1", g.name),
    ] {
        assert!(m.body.contains(&want), "no {want} in\n{}", m.body);
    }

    // While paused the header route reaches the canary.
    let t = g.canary(&spec, &["test", "-n", "3", "-o", "json"]);
    t.expect_code(0, "canary test while paused");
    let header = t
        .json()
        .into_iter()
        .find(|v| v["type"] == "test" && v["variant"] == "header")
        .unwrap();
    assert_eq!(header["versions"], serde_json::json!({"v2": 3}), "{header}");

    let r = g.canary(&spec, &["resume", "-o", "json"]);
    r.expect_code(0, "canary resume");
    assert_eq!(r.last("command").unwrap()["result"], "delivered");
    run.wait_event("weightSet", 2, Duration::from_secs(30));

    let f = g.canary(&spec, &["promote", "--full", "-o", "json"]);
    f.expect_code(0, "canary promote --full");
    assert_eq!(f.last("command").unwrap()["result"], "delivered");
    let (code, lines, stderr) = run.finish(Duration::from_secs(90));
    let report = load.stop();
    assert_eq!(code, Some(0), "{stderr}\n{lines:#?}");
    let promoting = lines
        .iter()
        .find(|l| l["kind"] == "promoting")
        .expect("promoting");
    assert!(
        promoting["message"]
            .as_str()
            .unwrap()
            .contains("by a person"),
        "{promoting}"
    );
    // Promoted before the last steps: the analysis never got past step 2.
    assert!(
        !lines
            .iter()
            .any(|l| l["kind"] == "weightSet" && l["weight"] == 80),
        "steps were not skipped"
    );
    assert!(docker::service_image(&g.service("api", false)).starts_with("sha256:"));
    let failures = report.failures(|_| false);
    assert!(
        failures.is_empty(),
        "{:?}\n{:?}",
        &failures[..failures.len().min(5)],
        report.summary()
    );
}

#[test]
fn rollback_from_a_second_process() {
    let Some(stack) = stack_or_skip("rollback_from_a_second_process") else {
        return;
    };
    let g = Group::new(&stack);
    let spec = g.write(
        "canary.yaml",
        &g.spec(&["api", "gcp"], "50", "60s", None, ""),
    );
    g.deploy(&spec);
    let stable = g.service("api", false);
    let tasks = docker::running_tasks(&stable);
    let load = Load::start(stack.web_port, &g.host, &["/api/x", "/gcp/x"], 30);
    let mut run = g.spawn(&spec, &["run", "--restart"]);
    run.wait_event("weightSet", 1, Duration::from_secs(90));
    std::thread::sleep(Duration::from_secs(2));

    let r = g.canary(&spec, &["rollback", "-o", "json"]);
    r.expect_code(0, "canary rollback");
    assert_eq!(
        r.last("command").unwrap()["result"],
        "delivered",
        "{}",
        r.stdout
    );
    let (code, lines, stderr) = run.finish(Duration::from_secs(60));
    std::thread::sleep(Duration::from_secs(1));
    let report = load.stop();
    assert_eq!(code, Some(2), "{stderr}\n{lines:#?}");
    let result = lines.last().unwrap();
    assert_eq!(result["result"], "rolledBack");
    assert!(
        result["cause"]
            .as_str()
            .unwrap()
            .contains("aborted by a person"),
        "{result}"
    );
    assert_eq!(docker::service_image(&stable), V1);
    assert_eq!(docker::running_tasks(&stable), tasks);
    for app in ["api", "gcp"] {
        assert_eq!(docker::service_replicas(&g.service(app, true)), 0, "{app}");
    }
    // A healthy canary taken out mid-step: not one request failed.
    let failures = report.failures(|_| false);
    assert!(
        failures.is_empty(),
        "{:?}\n{:?}",
        &failures[..failures.len().min(5)],
        report.summary()
    );
}
