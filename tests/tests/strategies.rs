//! The ways to roll out beyond plain steps, on the real stack under a steady load: canary
//! capacity that follows the weight, a gate step opened by `canary resume` from another process,
//! A/B routes by cookie and by header regex, blue/green switched and rolled back.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use canary_e2e::docker;
use canary_e2e::group::{Group, V1, V2};
use canary_e2e::load::{http_get, Load, Report};
use canary_e2e::stack::{stack_or_skip, Stack};

/// `g.spec` with stable at `replicas` tasks, `app_extra` under the app, `traffic_extra` under
/// `traffic:`.
fn spec_with(
    g: &Group,
    steps: &str,
    replicas: u64,
    app_extra: &str,
    traffic_extra: &str,
    extra: &str,
) -> String {
    g.spec(&["api"], steps, "3s", None, extra)
        .replace(
            "stableReplicas: 1\n",
            &format!("stableReplicas: {replicas}\n{app_extra}"),
        )
        .replace("traffic:\n", &format!("traffic:\n{traffic_extra}"))
}

fn assert_no_failure(report: &Report, what: &str) {
    let failures = report.failures(|_| false);
    assert!(
        failures.is_empty(),
        "{what}: {} failed requests: {:?}\n{:?}",
        failures.len(),
        &failures[..failures.len().min(5)],
        report.summary()
    );
    assert!(report.samples.len() > 50, "{what}: {:?}", report.summary());
}

/// Requests with `headers` every 100 ms until stopped (at most 10 minutes): the preview traffic
/// testers send through the header route. Returns the versions answered.
fn preview(
    stack: &Stack,
    g: &Group,
    headers: Vec<(String, String)>,
) -> (Arc<AtomicBool>, JoinHandle<Vec<String>>) {
    let stop = Arc::new(AtomicBool::new(false));
    let (port, host, flag) = (stack.web_port, g.host.clone(), stop.clone());
    let h = std::thread::spawn(move || {
        let mut seen = Vec::new();
        let end = Instant::now() + Duration::from_secs(600);
        while !flag.load(Ordering::SeqCst) && Instant::now() < end {
            let hs: Vec<(&str, &str)> = headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            if let Ok(a) = http_get(port, &host, "/api/x", &hs, Duration::from_secs(2)) {
                seen.push(a.version.unwrap_or_else(|| format!("status {}", a.status)));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        seen
    });
    (stop, h)
}

/// The versions of `n` requests sent with `headers`.
fn versions(stack: &Stack, g: &Group, headers: &[(&str, &str)], n: usize) -> Vec<String> {
    (0..n)
        .map(|_| {
            let a = http_get(
                stack.web_port,
                &g.host,
                "/api/x",
                headers,
                Duration::from_secs(3),
            )
            .expect("an answer");
            assert_eq!(a.status, 200, "{headers:?}");
            a.version.unwrap_or_default()
        })
        .collect()
}

#[test]
fn auto_capacity_follows_every_step_and_no_request_fails() {
    let Some(stack) = stack_or_skip("auto_capacity_follows_every_step_and_no_request_fails") else {
        return;
    };
    let g = Group::new(&stack);
    let spec = g.write(
        "canary.yaml",
        &spec_with(&g, "25, 50, 75", 4, "    canaryReplicas: auto\n", "", ""),
    );
    g.deploy(&spec);
    let canary = g.service("api", true);
    let load = Load::start(stack.web_port, &g.host, &["/api/x"], 30);
    std::thread::sleep(Duration::from_secs(1));
    let mut run = g.spawn(&spec, &["run", "--restart"]);
    // ceil(4 tasks x weight): 1, 2, 3 canary tasks, running before the weight is set.
    for (n, want) in [(1, 1), (2, 2), (3, 3)] {
        let ev = run.wait_event("weightSet", n, Duration::from_secs(120));
        assert_eq!(docker::service_replicas(&canary), want, "{ev}");
        assert_eq!(docker::running_tasks(&canary).len() as u64, want, "{ev}");
    }
    let (code, lines, stderr) = run.finish(Duration::from_secs(180));
    let report = load.stop();
    assert_eq!(code, Some(0), "{stderr}\n{lines:#?}");
    assert_eq!(lines.last().unwrap()["result"], "promoted");
    let scaled: Vec<&str> = lines
        .iter()
        .filter(|l| l["kind"] == "canaryScaled")
        .filter_map(|l| l["message"].as_str())
        .collect();
    assert!(scaled.len() >= 3, "{scaled:?}");
    assert_eq!(docker::service_replicas(&canary), 0);
    assert_no_failure(&report, "auto capacity");
}

#[test]
fn a_gate_holds_until_canary_resume_from_another_process() {
    let Some(stack) = stack_or_skip("a_gate_holds_until_canary_resume_from_another_process") else {
        return;
    };
    let g = Group::new(&stack);
    let spec = g.write(
        "canary.yaml",
        &spec_with(&g, "{weight: 30, pause: true}, 60", 1, "", "", ""),
    );
    g.deploy(&spec);
    let load = Load::start(stack.web_port, &g.host, &["/api/x"], 20);
    let mut run = g.spawn(&spec, &["run", "--restart"]);
    let gate = run.wait_event("gate", 1, Duration::from_secs(90));
    assert!(
        gate["message"].as_str().unwrap().contains("canary resume"),
        "{gate}"
    );
    // Held: well past the interval, still at 30 and paused.
    std::thread::sleep(Duration::from_secs(8));
    let st = g.status(&spec);
    assert_eq!(st["state"]["phase"], "paused", "{st}");
    assert_eq!(st["splits"][0]["canary"], 30, "{st}");
    assert!(!run
        .lines()
        .iter()
        .any(|l| l["kind"] == "weightSet" && l["weight"] == 60));
    g.canary(&spec, &["resume"]).expect_code(0, "canary resume");
    let (code, lines, stderr) = run.finish(Duration::from_secs(120));
    let report = load.stop();
    assert_eq!(code, Some(0), "{stderr}\n{lines:#?}");
    assert!(lines
        .iter()
        .any(|l| l["kind"] == "weightSet" && l["weight"] == 60));
    assert_eq!(lines.last().unwrap()["result"], "promoted");
    assert_no_failure(&report, "gate");
}

#[test]
fn cookie_and_regex_routes_send_all_matching_and_no_other_request_to_the_canary() {
    let Some(stack) = stack_or_skip(
        "cookie_and_regex_routes_send_all_matching_and_no_other_request_to_the_canary",
    ) else {
        return;
    };
    for (route, matching, other) in [
        (
            "  headerRoute: {cookie: canary, value: always}\n",
            vec![("Cookie", "theme=dark; canary=always")],
            vec![
                vec![("Cookie", "canary=never")],
                vec![("Cookie", "xcanary=always")],
                vec![],
            ],
        ),
        (
            "  headerRoute: {name: X-Team, regex: \"^(qa|beta)-[0-9]+$\", example: qa-1}\n",
            vec![("X-Team", "beta-42")],
            vec![
                vec![("X-Team", "beta-42x")],
                vec![("X-Team", "prod-1")],
                vec![],
            ],
        ),
    ] {
        let g = Group::new(&stack);
        // A header-only first step held by a gate: the canary is reachable only by the match.
        let spec = g.write(
            "canary.yaml",
            &spec_with(&g, "{weight: 0, pause: true}, 50", 1, "", route, ""),
        );
        g.deploy(&spec);
        let hs: Vec<(String, String)> = matching
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let (stop, tester) = preview(&stack, &g, hs);
        let mut run = g.spawn(&spec, &["run", "--restart"]);
        run.wait_event("gate", 1, Duration::from_secs(90));
        let st = g.status(&spec);
        assert_eq!(st["splits"][0]["headerRoute"], true, "{st}");
        assert_eq!(st["splits"][0]["canary"], 0, "{st}");
        let to_canary = versions(&stack, &g, &matching, 20);
        assert!(
            to_canary.iter().all(|v| v == "v2"),
            "{route}: {to_canary:?}"
        );
        for hs in &other {
            let to_stable = versions(&stack, &g, hs, 20);
            assert!(
                to_stable.iter().all(|v| v == "v1"),
                "{route} {hs:?}: {to_stable:?}"
            );
        }
        g.canary(&spec, &["rollback"])
            .expect_code(0, "canary rollback");
        let (code, lines, _) = run.finish(Duration::from_secs(120));
        stop.store(true, Ordering::SeqCst);
        let seen = tester.join().unwrap();
        assert!(seen.iter().all(|v| v == "v2" || v == "v1"), "{seen:?}");
        assert_eq!(code, Some(2), "{lines:#?}");
        assert_eq!(lines.last().unwrap()["result"], "rolledBack");
        assert_eq!(docker::service_image(&g.service("api", false)), V1);
        assert_eq!(docker::service_replicas(&g.service("api", true)), 0);
    }
}

/// A blue/green spec of `g` (stable at 2 tasks) with `scaleDownDelay: delay`.
fn blue_green(g: &Group, delay: &str) -> String {
    spec_with(
        g,
        "1",
        2,
        "",
        "",
        &format!(
            "strategy: blueGreen\nblueGreen: {{scaleDownDelay: {delay}, abortScaleDownDelay: 2s}}\n"
        ),
    )
    .replace("  steps: [1]\n", "")
}

#[test]
fn blue_green_switches_at_once_and_rolls_back_within_the_delay() {
    let Some(stack) = stack_or_skip("blue_green_switches_at_once_and_rolls_back_within_the_delay")
    else {
        return;
    };
    // 1: switched and promoted, no request lost.
    let g = Group::new(&stack);
    let spec = g.write("canary.yaml", &blue_green(&g, "3s"));
    g.deploy(&spec);
    let (stop, tester) = preview(&stack, &g, vec![("X-Canary".into(), "true".into())]);
    let load = Load::start(stack.web_port, &g.host, &["/api/x"], 30);
    let mut run = g.spawn(&spec, &["run", "--restart"]);
    let ready = run.wait_event("canaryReady", 1, Duration::from_secs(90));
    assert_eq!(
        docker::service_replicas(&g.service("api", true)),
        2,
        "{ready}"
    );
    let (code, lines, stderr) = run.finish(Duration::from_secs(180));
    let report = load.stop();
    stop.store(true, Ordering::SeqCst);
    tester.join().unwrap();
    assert_eq!(code, Some(0), "{stderr}\n{lines:#?}");
    assert_eq!(lines.last().unwrap()["result"], "promoted", "{lines:#?}");
    let weights: Vec<u64> = lines
        .iter()
        .filter(|l| l["kind"] == "weightSet")
        .filter_map(|l| l["weight"].as_u64())
        .collect();
    assert!(weights.iter().all(|&w| w == 0 || w == 100), "{weights:?}");
    assert!(weights.contains(&100), "{weights:?}");
    assert_eq!(
        docker::service_image(&g.service("api", false)),
        docker::image_id(V2)
    );
    assert_no_failure(&report, "blue/green promotion");

    // 2: switched, then rolled back while the old version is still up: a flip, nothing lost.
    let g = Group::new(&stack);
    let spec = g.write("canary.yaml", &blue_green(&g, "60s"));
    g.deploy(&spec);
    let (stop, tester) = preview(&stack, &g, vec![("X-Canary".into(), "true".into())]);
    let load = Load::start(stack.web_port, &g.host, &["/api/x"], 30);
    let mut run = g.spawn(&spec, &["run", "--restart"]);
    run.wait_for("the switch", Duration::from_secs(120), |l| {
        l["kind"] == "weightSet" && l["weight"] == 100
    });
    std::thread::sleep(Duration::from_secs(2));
    let t = Instant::now();
    g.canary(&spec, &["rollback"])
        .expect_code(0, "canary rollback");
    let (code, lines, stderr) = run.finish(Duration::from_secs(120));
    let report = load.stop();
    stop.store(true, Ordering::SeqCst);
    tester.join().unwrap();
    assert_eq!(code, Some(2), "{stderr}\n{lines:#?}");
    assert_eq!(lines.last().unwrap()["result"], "rolledBack", "{lines:#?}");
    // Stable never changed; after the flip every request is v1 again.
    assert_eq!(docker::service_image(&g.service("api", false)), V1);
    let back = report
        .samples
        .iter()
        .filter(|s| s.at > t + Duration::from_secs(3))
        .filter(|s| s.version.as_deref() == Some("v2"))
        .count();
    assert_eq!(back, 0, "{:?}", report.summary());
    assert_no_failure(&report, "blue/green rollback");
}
