//! `canary run` stopped by SIGTERM or killed with SIGKILL mid-rollout: a new `canary run` resumes
//! at the saved step and finishes; with nobody driving, the controls work standalone.

use std::time::Duration;

use canary_e2e::docker;
use canary_e2e::group::{Group, V1};
use canary_e2e::load::Load;
use canary_e2e::stack::stack_or_skip;

#[test]
fn a_stopped_or_killed_run_is_resumed_at_its_step_and_promoted() {
    let Some(stack) = stack_or_skip("a_stopped_or_killed_run_is_resumed_at_its_step_and_promoted")
    else {
        return;
    };
    let g = Group::new(&stack);
    let spec = g.write(
        "canary.yaml",
        &g.spec(&["api"], "25, 50, 75", "3s", None, ""),
    );
    g.deploy(&spec);
    let load = Load::start(stack.web_port, &g.host, &["/api/x"], 30);
    // SIGTERM: the run stops driving, says so, and leaves the state saved.
    let mut first = g.spawn(&spec, &["run", "--restart", "--lease", "2s"]);
    first.wait_event("weightSet", 1, Duration::from_secs(90));
    let term = std::process::Command::new("kill")
        .args(["-TERM", &first.pid().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let (code, lines, stderr) = first.finish(Duration::from_secs(20));
    assert_eq!(code, Some(143), "{stderr}\n{lines:#?}");
    let last = lines.last().unwrap();
    assert_eq!(
        (last["result"].as_str(), last["signal"].as_str()),
        (Some("interrupted"), Some("SIGTERM")),
        "{last}"
    );
    let st = g.status(&spec);
    assert_eq!(st["state"]["phase"], "progressing");
    assert!(
        st["state"]["lease"].is_null(),
        "a stopped run hands its lease back: {st}"
    );

    // The next run picks it up; SIGKILL it at the second step.
    let mut second = g.spawn(&spec, &["run", "--lease", "2s"]);
    let at = second.wait_event("weightSet", 2, Duration::from_secs(90));
    assert_eq!(at["weight"], 50);
    assert!(
        second.lines().iter().any(|l| l["kind"] == "resumed"),
        "{:#?}",
        second.lines()
    );
    second.kill();

    let st = g.status(&spec);
    assert_eq!(st["state"]["phase"], "progressing", "{st}");
    assert_eq!(st["state"]["step"], 1, "{st}");
    assert_eq!(st["state"]["weight"], 50, "{st}");
    assert!(
        st["state"]["lease"]["owner"]
            .as_str()
            .unwrap()
            .contains(&format!("/{}/", second.pid())),
        "{st}"
    );

    // No --restart: the saved rollout is picked up where it was, after the dead lease expires.
    let third = g.spawn(&spec, &["run", "--lease", "2s"]);
    let (code, lines, stderr) = third.finish(Duration::from_secs(120));
    let report = load.stop();
    assert_eq!(code, Some(0), "{stderr}\n{lines:#?}");
    let resumed = lines
        .iter()
        .find(|l| l["kind"] == "resumed")
        .expect("a resumed event");
    assert_eq!(resumed["step"], 1, "{resumed}");
    let weights: Vec<u64> = lines
        .iter()
        .filter(|l| l["kind"] == "weightSet")
        .map(|l| l["weight"].as_u64().unwrap())
        .collect();
    assert_eq!(weights, vec![50, 75], "resumed at the wrong step");
    assert_eq!(lines.last().unwrap()["result"], "promoted");
    assert!(docker::service_image(&g.service("api", false)).starts_with("sha256:"));
    assert_eq!(docker::service_replicas(&g.service("api", true)), 0);
    let failures = report.failures(|_| false);
    assert!(
        failures.is_empty(),
        "{:?}\n{:?}",
        &failures[..failures.len().min(5)],
        report.summary()
    );
}

#[test]
fn with_nobody_driving_the_controls_apply_standalone() {
    let Some(stack) = stack_or_skip("with_nobody_driving_the_controls_apply_standalone") else {
        return;
    };
    let g = Group::new(&stack);
    let spec = g.write("canary.yaml", &g.spec(&["api"], "30, 60", "4s", None, ""));
    g.deploy(&spec);
    let load = Load::start(stack.web_port, &g.host, &["/api/x"], 30);
    let mut run = g.spawn(&spec, &["run", "--restart", "--lease", "2s"]);
    run.wait_event("weightSet", 1, Duration::from_secs(90));
    run.kill();
    std::thread::sleep(Duration::from_millis(2500)); // the dead controller's lease expires

    // Every command of the group judges leases by the same duration.
    let p = g.canary(&spec, &["pause", "--lease", "2s", "-o", "json"]);
    p.expect_code(0, "standalone pause");
    let c = p.last("command").unwrap();
    assert_eq!(
        (c["result"].as_str(), c["phase"].as_str()),
        (Some("applied"), Some("paused")),
        "{c}"
    );
    let st = g
        .canary(&spec, &["status", "--lease", "2s", "-o", "json"])
        .last("status")
        .unwrap();
    assert_eq!(
        (st["state"]["phase"].as_str(), st["driven"].as_bool()),
        (Some("paused"), Some(false)),
        "{st}"
    );

    let r = g.canary(&spec, &["rollback", "--lease", "2s", "-o", "json"]);
    r.expect_code(0, "standalone rollback");
    let c = r.last("command").unwrap();
    assert_eq!(
        (c["result"].as_str(), c["phase"].as_str()),
        (Some("applied"), Some("rolledBack")),
        "{c}"
    );
    assert!(
        r.json().iter().any(|l| l["kind"] == "rolledBack"),
        "{}",
        r.stdout
    );
    std::thread::sleep(Duration::from_secs(1));
    let report = load.stop();

    let st = g.status(&spec);
    assert_eq!(st["state"]["phase"], "rolledBack", "{st}");
    assert_eq!(st["splits"][0]["canary"], 0, "{st}");
    assert_eq!(docker::service_image(&g.service("api", false)), V1);
    assert_eq!(docker::service_replicas(&g.service("api", true)), 0);
    let failures = report.failures(|_| false);
    assert!(
        failures.is_empty(),
        "{:?}\n{:?}",
        &failures[..failures.len().min(5)],
        report.summary()
    );
}
