//! The fault suite's one case that restarts the Docker daemon itself, in a test binary of its
//! own so no other test of the suite runs while the engine is down. The controller rides out the
//! outage (Docker calls are retried; a canary and a stable that vanish together are the
//! cluster's fault, not the canary's); one whose lease lapsed meanwhile stops, and the next
//! `canary run` resumes the rollout where it was. Either way the rollout finishes and nothing
//! is clobbered.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use canary_e2e::docker;
use canary_e2e::faults::{self, record, Row};
use canary_e2e::group::{Group, V1, V2};
use canary_e2e::load::Load;
use canary_e2e::stack::stack_or_skip;

fn docker_answers() -> bool {
    docker::run(&["info", "--format", "{{.Swarm.LocalNodeState}}"])
        .map(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).trim() == "active")
        .unwrap_or(false)
}

/// Stops dockerd (SIGTERM, as a package upgrade or a service restart would) and starts it again
/// with the same command line and environment; returns how long Docker did not answer.
// The new daemon must outlive the test, as the one the stack started does: it is not waited for.
#[allow(clippy::zombie_processes)]
fn restart_dockerd() -> Duration {
    let pid: u32 = std::fs::read_to_string("/var/run/docker.pid")
        .expect("/var/run/docker.pid")
        .trim()
        .parse()
        .expect("a pid");
    let cmd = faults::cmdline(pid);
    assert!(!cmd.is_empty(), "dockerd {pid} runs");
    let env: Vec<(String, String)> = std::fs::read(format!("/proc/{pid}/environ"))
        .unwrap_or_default()
        .split(|c| *c == 0)
        .filter_map(|kv| {
            let kv = String::from_utf8_lossy(kv);
            kv.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect();
    let down = Instant::now();
    faults::signal(pid, "TERM");
    let deadline = Instant::now() + Duration::from_secs(90);
    while std::path::Path::new(&format!("/proc/{pid}")).exists() {
        assert!(Instant::now() < deadline, "dockerd did not stop");
        std::thread::sleep(Duration::from_millis(200));
    }
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(
            std::env::var("CANARY_STACK_DIR").unwrap_or_else(|_| "/var/lib/canary-stack".into())
                + "/dockerd.log",
        )
        .expect("dockerd log");
    Command::new("setsid")
        .args(&cmd)
        .env_clear()
        .envs(env)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("dockerd starts again");
    let deadline = Instant::now() + Duration::from_secs(120);
    while !docker_answers() {
        assert!(Instant::now() < deadline, "dockerd did not come back");
        std::thread::sleep(Duration::from_millis(250));
    }
    down.elapsed()
}

#[test]
fn dockerd_restarted_mid_step_the_rollout_resumes_and_finishes() {
    let Some(stack) = stack_or_skip("dockerd_restarted_mid_step_the_rollout_resumes_and_finishes")
    else {
        return;
    };
    let g = Group::with_prefix(&stack, "fld");
    let spec = g.write(
        "canary.yaml",
        &g.spec(
            &["api"],
            "20, 50",
            "20s",
            Some("  window: 3s\n  minRequests: 5\n  inconclusiveLimit: 6\n  checks:\n    - {name: success-rate, metric: successRate, min: 0.99, critical: true}\n"),
            "",
        ),
    );
    g.deploy(&spec);
    let load = Load::start(stack.web_port, &g.host, &["/api/x"], 20);
    let mut run = g.spawn(&spec, &["run", "--restart"]);
    run.wait_event("weightSet", 1, Duration::from_secs(90));
    std::thread::sleep(Duration::from_secs(3));
    let outage = restart_dockerd();
    let (code, lines, stderr) = run.finish(Duration::from_secs(300));
    let mut resumed = false;
    let (code, lines) = if code == Some(0) || code == Some(2) {
        (code, lines)
    } else {
        // The controller gave its lease up during the outage: the next run resumes.
        assert!(
            stderr.contains("lease") || stderr.contains("unavailable"),
            "the first run ended with {code:?}: {stderr}"
        );
        resumed = true;
        let again = g.spawn(&spec, &["run"]);
        let (code, lines, stderr) = again.finish(Duration::from_secs(300));
        assert!(
            lines.iter().any(|l| l["kind"] == "resumed"),
            "not resumed: {stderr}\n{lines:#?}"
        );
        (code, lines)
    };
    let report = load.stop();
    let st = g.status(&spec);
    let phase = st["state"]["phase"].as_str().unwrap_or("").to_string();
    record(&Row {
        fault: format!(
            "dockerd restarted mid-step (Docker unanswering {:.1} s)",
            outage.as_secs_f64()
        ),
        requests: format!(
            "{} / {} (all during the outage: Traefik restarts with dockerd)",
            report.failures(|_| false).len(),
            report.samples.len()
        ),
        outcome: format!(
            "{phase}{}",
            if resumed {
                ", by the next `canary run`, resumed"
            } else {
                ", by the same run"
            }
        ),
        time_to_act: "-".into(),
    });
    // Finished, consistently: promoted runs the canary's image; rolled back keeps stable's.
    assert!(code == Some(0) || code == Some(2), "{lines:#?}");
    let stable = docker::service_image(&g.service("api", false));
    match phase.as_str() {
        "promoted" => assert_eq!(stable, docker::image_id(V2)),
        "rolledBack" => assert_eq!(stable, V1),
        other => panic!("the rollout did not finish: {other}\n{st}"),
    }
    assert_eq!(docker::service_replicas(&g.service("api", true)), 0);
    assert!(st["state"]["lease"].is_null(), "{st}");
}
