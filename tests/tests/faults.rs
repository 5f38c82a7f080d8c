//! The fault suite: what canary does when things break, each case under a steady load that
//! counts failed requests, each adding a row to the fault table (printed, and kept in
//! `target/ci-artifacts/faults.md`). Stable's share is read from Traefik's own counters for
//! stable's service, so a failure is never guessed onto a share.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use canary_e2e::docker;
use canary_e2e::faults::{self, failed_between, record, traefik_requests, CutProxy, Row};
use canary_e2e::group::{Group, V1, V2};
use canary_e2e::load::{Load, Report};
use canary_e2e::stack::stack_or_skip;
use serde_json::Value;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn event<'a>(lines: &'a [Value], kind: &str) -> Option<&'a Value> {
    lines
        .iter()
        .find(|l| l["type"] == "event" && l["kind"] == kind)
}

fn failed(report: &Report) -> usize {
    report.failures(|_| false).len()
}

fn four_oh_fours(report: &Report) -> usize {
    report
        .samples
        .iter()
        .filter(|s| s.result == Ok(404))
        .count()
}

/// Stable's Traefik service name: `<group>-<app>@swarm` (the Swarm name normalized).
fn stable_backend(g: &Group, app: &str) -> String {
    format!("{}-{app}@swarm", g.name)
}

#[test]
fn a_canary_killed_mid_step_costs_stable_nothing() {
    let Some(stack) = stack_or_skip("a_canary_killed_mid_step_costs_stable_nothing") else {
        return;
    };
    let g = Group::with_prefix(&stack, "flt");
    let spec = g.write("canary.yaml", &g.spec(&["api"], "20, 50", "30s", None, ""));
    g.deploy(&spec);
    let load = Load::start(stack.web_port, &g.host, &["/api/x"], 50);
    let before = traefik_requests(stack.api_port);
    let mut run = g.spawn(&spec, &["run", "--restart"]);
    run.wait_event("weightSet", 1, Duration::from_secs(90));
    std::thread::sleep(Duration::from_secs(4));
    let killed_at = Instant::now();
    let killed_ms = now_ms();
    let killed = faults::kill_service_containers(&g.service("api", true));
    assert_eq!(killed, 1, "the canary's one task");
    let (code, lines, stderr) = run.finish(Duration::from_secs(120));
    std::thread::sleep(Duration::from_secs(1));
    let report = load.stop();
    let after = traefik_requests(stack.api_port);
    assert_eq!(code, Some(2), "rolled back: {stderr}\n{lines:#?}");
    let lost = event(&lines, "canaryLost").expect("a canaryLost event");
    let act_ms = lost["atMs"].as_u64().unwrap().saturating_sub(killed_ms);
    let stable_failed = failed_between(&before, &after, &stable_backend(&g, "api"));
    let fails = report.failures(|_| false);
    // Every failed request fell within half a second of the kill (the canary's share, in flight
    // or dialled before the router knew), and none was Traefik's "no router" 404.
    let late: Vec<_> = fails
        .iter()
        .filter(|s| s.at.duration_since(killed_at) > Duration::from_millis(500))
        .collect();
    record(&Row {
        fault: "canary task killed mid-step (1 app, weight 20)".into(),
        requests: format!(
            "{} / {} (stable's share {stable_failed}, 404s {})",
            fails.len(),
            report.samples.len(),
            four_oh_fours(&report)
        ),
        outcome: "rolled back (a lost canary is a failed analysis)".into(),
        time_to_act: format!("{act_ms} ms to routes without it"),
    });
    assert_eq!(stable_failed, 0, "stable's share lost requests");
    assert_eq!(four_oh_fours(&report), 0, "{:?}", report.summary());
    assert!(late.is_empty(), "failures after 0.5 s: {late:?}");
    assert!(act_ms < 1500, "the watch took {act_ms} ms");
    assert_eq!(docker::service_image(&g.service("api", false)), V1);
}

#[test]
fn a_crash_looping_canary_is_rolled_back_and_the_next_rollout_promotes() {
    let Some(stack) =
        stack_or_skip("a_crash_looping_canary_is_rolled_back_and_the_next_rollout_promotes")
    else {
        return;
    };
    let g = Group::with_prefix(&stack, "flt");
    let spec = g.write("canary.yaml", &g.spec(&["api"], "30", "20s", None, ""));
    g.deploy(&spec);
    let load = Load::start(stack.web_port, &g.host, &["/api/x"], 30);
    let before = traefik_requests(stack.api_port);
    // A build that starts, passes its start-up wait, and dies 2.5 s later, again and again.
    let run = g.spawn(
        &spec,
        &["run", "--restart", "--canary-env", "EXIT_AFTER_MS=2500"],
    );
    let t0 = Instant::now();
    let (code, lines, stderr) = run.finish(Duration::from_secs(120));
    let crash_report = load.stop();
    let after = traefik_requests(stack.api_port);
    assert_eq!(code, Some(2), "rolled back: {stderr}\n{lines:#?}");
    let stable_failed = failed_between(&before, &after, &stable_backend(&g, "api"));
    record(&Row {
        fault: "canary crash-looping (exits 2.5 s after each start)".into(),
        requests: format!(
            "{} / {} (stable's share {stable_failed})",
            failed(&crash_report),
            crash_report.samples.len()
        ),
        outcome: "rolled back".into(),
        time_to_act: format!("{:.1} s from `canary run`", t0.elapsed().as_secs_f64()),
    });
    assert_eq!(stable_failed, 0);
    assert_eq!(
        four_oh_fours(&crash_report),
        0,
        "{:?}",
        crash_report.summary()
    );

    // The canary service keeps the failed tasks of that rollout in its history: the next
    // rollout, of a healthy build, must not read them as its own.
    let load = Load::start(stack.web_port, &g.host, &["/api/x"], 30);
    let t1 = Instant::now();
    let run = g.spawn(&spec, &["run", "--restart"]);
    let (code, lines, stderr) = run.finish(Duration::from_secs(120));
    let report = load.stop();
    record(&Row {
        fault: "a new rollout after a crashed one".into(),
        requests: format!("{} / {}", failed(&report), report.samples.len()),
        outcome: if code == Some(0) {
            "promoted"
        } else {
            "NOT promoted"
        }
        .into(),
        time_to_act: format!("{:.1} s to promotion", t1.elapsed().as_secs_f64()),
    });
    assert_eq!(code, Some(0), "promoted: {stderr}\n{lines:#?}");
    assert_eq!(failed(&report), 0, "{:?}", report.summary());
    assert_eq!(
        docker::service_image(&g.service("api", false)),
        docker::image_id(V2)
    );
}

#[test]
fn a_canary_tag_moved_mid_rollout_promotes_the_tested_image() {
    let Some(stack) = stack_or_skip("a_canary_tag_moved_mid_rollout_promotes_the_tested_image")
    else {
        return;
    };
    let g = Group::with_prefix(&stack, "flt");
    let moving = format!("canary-e2e-moving:{}", g.name);
    docker::ok(&["tag", V2, &moving]);
    let text = g
        .spec(&["api"], "30, 60", "4s", None, "")
        .replace(&format!("image: {V2}"), &format!("image: {moving}"));
    let spec = g.write("canary.yaml", &text);
    g.deploy(&spec);
    let load = Load::start(stack.web_port, &g.host, &["/api/x"], 30);
    let mut run = g.spawn(&spec, &["run", "--restart"]);
    run.wait_event("weightSet", 1, Duration::from_secs(90));
    let moved_ms = now_ms();
    // Someone pushes another build under the canary's tag.
    docker::ok(&["tag", V1, &moving]);
    let (code, lines, stderr) = run.finish(Duration::from_secs(120));
    let report = load.stop();
    let _ = docker::run(&["rmi", &moving]);
    assert_eq!(code, Some(0), "{stderr}\n{lines:#?}");
    let moved = event(&lines, "tagMoved").expect("a tagMoved event");
    let v2 = docker::image_id(V2);
    record(&Row {
        fault: "canary tag moved mid-rollout".into(),
        requests: format!("{} / {}", failed(&report), report.samples.len()),
        outcome: "promoted the tested image".into(),
        time_to_act: format!(
            "reported {} ms after the move",
            moved["atMs"].as_u64().unwrap().saturating_sub(moved_ms)
        ),
    });
    assert_eq!(docker::service_image(&g.service("api", false)), v2);
    assert_eq!(failed(&report), 0, "{:?}", report.summary());
}

#[test]
// Prometheus started again must outlive the test, like the one the stack started.
#[allow(clippy::zombie_processes)]
fn prometheus_stopped_mid_analysis_never_promotes() {
    let Some(stack) = stack_or_skip("prometheus_stopped_mid_analysis_never_promotes") else {
        return;
    };
    let g = Group::with_prefix(&stack, "flt");
    let spec = g.write("canary.yaml", &g.spec(&["api"], "30, 60", "5s", None, ""));
    g.deploy(&spec);
    let pidfile = std::path::PathBuf::from(
        std::env::var("CANARY_STACK_DIR").unwrap_or_else(|_| "/var/lib/canary-stack".into()),
    )
    .join("prometheus/prometheus.pid");
    let pid: u32 = std::fs::read_to_string(&pidfile)
        .expect("prometheus pid")
        .trim()
        .parse()
        .expect("a pid");
    let cmd = faults::cmdline(pid);
    assert!(!cmd.is_empty(), "prometheus {pid} runs");
    let load = Load::start(stack.web_port, &g.host, &["/api/x"], 30);
    let mut run = g.spawn(&spec, &["run", "--restart"]);
    run.wait_event("weightSet", 1, Duration::from_secs(90));
    faults::signal(pid, "TERM");
    let stopped_ms = now_ms();
    let (code, lines, stderr) = run.finish(Duration::from_secs(180));
    // Prometheus back, the way the stack started it.
    let child = std::process::Command::new(&cmd[0])
        .args(&cmd[1..])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("prometheus starts again");
    std::fs::write(&pidfile, child.id().to_string()).expect("pidfile");
    let report = load.stop();
    let ended = lines.last().cloned().unwrap_or_default();
    record(&Row {
        fault: "Prometheus stopped mid-analysis".into(),
        requests: format!("{} / {}", failed(&report), report.samples.len()),
        outcome: format!(
            "{} (never promoted)",
            ended["result"].as_str().unwrap_or("?")
        ),
        time_to_act: format!(
            "{} ms to the decision",
            ended["durationMs"]
                .as_u64()
                .unwrap_or(0)
                .saturating_sub(0)
                .min(now_ms().saturating_sub(stopped_ms))
        ),
    });
    assert_ne!(code, Some(0), "promoted without metrics: {lines:#?}");
    assert!(event(&lines, "promoted").is_none());
    assert!(
        lines.iter().any(|l| l["kind"] == "analysis"
            && l["message"].as_str().unwrap_or("").contains("inconclusive")),
        "{stderr}"
    );
    assert_eq!(docker::service_image(&g.service("api", false)), V1);
    assert_eq!(failed(&report), 0, "{:?}", report.summary());
}

#[test]
fn a_rollback_finishes_when_traefiks_api_is_unreachable() {
    let Some(stack) = stack_or_skip("a_rollback_finishes_when_traefiks_api_is_unreachable") else {
        return;
    };
    let g = Group::with_prefix(&stack, "flt");
    let spec = g.write("canary.yaml", &g.spec(&["api"], "30", "6s", None, ""));
    g.deploy(&spec);
    // The controller reaches Traefik's API through a connection the test can cut.
    let proxy = CutProxy::start(stack.api_port);
    let api = format!("http://127.0.0.1:{}", proxy.port);
    let load = Load::start(stack.web_port, &g.host, &["/api/x"], 30);
    let before = traefik_requests(stack.api_port);
    let mut run = g.spawn(
        &spec,
        &[
            "run",
            "--restart",
            "--traefik-url",
            &api,
            "--canary-env",
            "ERROR_RATE=0.5",
            "--set",
            "timeouts.retry=5s",
        ],
    );
    run.wait_event("weightSet", 1, Duration::from_secs(90));
    proxy.cut();
    let cut_at = Instant::now();
    let (code, lines, stderr) = run.finish(Duration::from_secs(180));
    let report = load.stop();
    let after = traefik_requests(stack.api_port);
    let stable_failed = failed_between(&before, &after, &stable_backend(&g, "api"));
    record(&Row {
        fault: "Traefik's API unreachable during rollback".into(),
        requests: format!(
            "{} / {} (stable's share {stable_failed}; the rest the canary's injected 500s)",
            failed(&report),
            report.samples.len()
        ),
        outcome: "rolled back (routes written unconfirmed)".into(),
        time_to_act: format!(
            "{:.1} s from the cut to the end",
            cut_at.elapsed().as_secs_f64()
        ),
    });
    assert_eq!(code, Some(2), "rolled back: {stderr}\n{lines:#?}");
    assert!(
        lines.iter().any(|l| l["message"]
            .as_str()
            .unwrap_or("")
            .contains("not confirmed")),
        "{lines:#?}"
    );
    assert_eq!(docker::service_replicas(&g.service("api", true)), 0);
    assert_eq!(stable_failed, 0);
    // Only the canary's own injected 500s failed (it answered v2).
    let others: Vec<_> = report
        .failures(|s| s.result == Ok(500) && s.version.as_deref() == Some("v2"))
        .into_iter()
        .collect();
    assert!(others.is_empty(), "{others:?}");
}

#[test]
fn two_controllers_and_a_forced_lease_expiry_never_overwrite_each_other() {
    let Some(stack) =
        stack_or_skip("two_controllers_and_a_forced_lease_expiry_never_overwrite_each_other")
    else {
        return;
    };
    let g = Group::with_prefix(&stack, "flt");
    let spec = g.write("canary.yaml", &g.spec(&["api"], "20, 50", "8s", None, ""));
    g.deploy(&spec);
    let load = Load::start(stack.web_port, &g.host, &["/api/x"], 30);
    let mut a = g.spawn(&spec, &["run", "--restart", "--lease", "3s"]);
    a.wait_event("weightSet", 1, Duration::from_secs(90));
    // A stalls (a stopped process, a paused VM): its lease expires on the saved state's clock.
    faults::signal(a.pid(), "STOP");
    let stalled = Instant::now();
    let b = g.spawn(&spec, &["run", "--takeover", "--lease", "3s"]);
    let (code_b, lines_b, stderr_b) = b.finish(Duration::from_secs(120));
    assert_eq!(code_b, Some(0), "B promotes: {stderr_b}\n{lines_b:#?}");
    let st = g.status(&spec);
    assert_eq!(st["state"]["phase"], "promoted", "{st}");
    let label = |svc: &str| {
        docker::service(svc)["Spec"]["Labels"]["io.canary.state"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let finished = label(&g.service("api", false));
    // A wakes up after the end: it must stop, changing nothing.
    faults::signal(a.pid(), "CONT");
    let (code_a, _lines_a, stderr_a) = a.finish(Duration::from_secs(60));
    let report = load.stop();
    let took_over = event(&lines_b, "resumed")
        .and_then(|e| e["atMs"].as_u64())
        .unwrap_or(0);
    record(&Row {
        fault: "two controllers, the first stalled past its lease".into(),
        requests: format!("{} / {}", failed(&report), report.samples.len()),
        outcome: format!(
            "the second promoted; the first stopped (exit {:?}) without a write",
            code_a
        ),
        time_to_act: format!(
            "taken over {:.1} s after the stall",
            (took_over as f64 / 1000.0)
                - (now_ms() as f64 / 1000.0 - stalled.elapsed().as_secs_f64())
        ),
    });
    let anchor = (Instant::now(), now_ms());
    for s in report.failures(|_| false) {
        let ago = anchor.0.duration_since(s.at).as_millis() as u64;
        eprintln!("failed at {} ms: {:?}", anchor.1 - ago, s.result);
    }
    assert_ne!(code_a, Some(0), "A claimed a result: {stderr_a}");
    assert!(
        stderr_a.contains("lease") || stderr_a.contains("conflict"),
        "{stderr_a}"
    );
    assert_eq!(
        label(&g.service("api", false)),
        finished,
        "the finished state was overwritten"
    );
    assert_eq!(g.status(&spec)["state"]["phase"], "promoted");
    assert_eq!(failed(&report), 0, "{:?}", report.summary());
}

#[test]
fn every_bound_is_refused_before_anything_is_touched() {
    let Some(stack) = stack_or_skip("every_bound_is_refused_before_anything_is_touched") else {
        return;
    };
    let g = Group::with_prefix(&stack, "flt");
    let spec = g.write("canary.yaml", &g.spec(&["api"], "30", "5s", None, ""));
    let cases: &[(&[&str], &str)] = &[
        (
            &["status", "--set", "apps.*.canaryReplicas=4000000000"],
            "apps[0].canaryReplicas",
        ),
        (
            &["status", "--set", "apps.*.stableReplicas=1001"],
            "apps[0].stableReplicas",
        ),
        (
            &["status", "--set", "limits.maxReplicas=20000"],
            "limits.maxReplicas",
        ),
        (
            &["status", "--interval", "99999999999999999999s"],
            "traffic.interval",
        ),
        (
            &["status", "--set", "traffic.interval=18446744073709551615s"],
            "traffic.interval",
        ),
        (
            &["status", "--set", "traffic.interval=8d"],
            "traffic.interval",
        ),
        (&["status", "--set", "traffic.watch=1ms"], "traffic.watch"),
        (
            &["status", "--set", "timeouts.rollback=8d"],
            "timeouts.rollback",
        ),
        (
            &["status", "--set", "analysis.failureLimit=5000"],
            "analysis.failureLimit",
        ),
        (
            &["status", "--set", "analysis.minRequests=10000000000000"],
            "analysis.minRequests",
        ),
        (&["status", "--lease", "0s"], "lease"),
        (&["status", "--scrape-interval", "0s"], "scrapeInterval"),
        (&["run", "--poll", "0s"], "poll"),
        (&["run", "--poll", "99999999999999999999s"], "poll"),
    ];
    let mut refused = 0;
    for (args, field) in cases {
        let d = g.canary(&spec, args);
        assert_eq!(d.code, Some(1), "{args:?}: {}{}", d.stdout, d.stderr);
        let text = format!("{}{}", d.stdout, d.stderr);
        assert!(
            text.contains(field),
            "{args:?} does not name {field}: {text}"
        );
        assert!(!text.contains("panicked"), "{text}");
        refused += 1;
    }
    // Nothing was created: the group was never deployed and nothing above deployed it.
    assert!(
        docker::run(&["service", "inspect", &g.service("api", false)])
            .map(|o| !o.status.success())
            .unwrap_or(true)
    );
    record(&Row {
        fault: format!("{refused} out-of-range values (replicas, durations, limits, poll)"),
        requests: "none sent".into(),
        outcome: "each refused with exit 1, naming the field; nothing touched".into(),
        time_to_act: "before connecting".into(),
    });
}
