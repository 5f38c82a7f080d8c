//! Replicas mode (`traffic.mode: replicas`, the seed's split by task counts) on the real stack,
//! analysed through the apps' own metrics scraped per task (`analysis.taskMetrics`; the stack's
//! Prometheus job `swarm-tasks`, Docker Swarm discovery with role `tasks`): a good canary
//! promoted without one failed request, a canary answering 30 % errors rolled back by the
//! analysis, which measured its error rate, and a spec whose checks cannot see the canary refused
//! before anything changes.

use std::path::Path;
use std::time::{Duration, Instant};

use canary_e2e::docker;
use canary_e2e::group::{Group, V1, V2};
use canary_e2e::load::{http_get, Load};
use canary_e2e::stack::stack_or_skip;
use serde_json::Value;

/// The label the stack's Prometheus keeps a task by, with the port it scrapes.
const SCRAPE_LABEL: &str = "prometheus.port=8080";

/// A one-app replicas-mode spec of `g`: stable on [`V1`] with `stable_replicas` tasks, the canary
/// [`V2`], over `total` tasks at `steps`, and the analysis lines given (under `analysis:`).
fn spec(g: &Group, stable_replicas: u64, total: u64, steps: &str, analysis: &str) -> String {
    format!(
        "group: {name}\nstack: {name}\napps:\n  - name: api\n    image: {V2}\n    stableImage: {V1}\n    \
         stableReplicas: {stable_replicas}\n    port: 8080\n    rule: \"Host(`{host}`) && PathPrefix(`/api`)\"\n    \
         healthPath: /health\ntraffic:\n  mode: replicas\n  totalReplicas: {total}\n  steps: [{steps}]\n  \
         interval: 20s\nanalysis:\n{analysis}timeouts:\n  call: 20s\n  converge: 60s\n",
        name = g.name,
        host = g.host,
    )
}

/// The analysis of the two rollouts: the error rate of each track from the apps' own counter,
/// over 20 s (at 40 to 60 req/s to the canary, 800 to 1,200 of its answers), on its own and against
/// stable's (which shows stable's figure apart).
const PER_TASK: &str = "  window: 20s\n  minRequests: 20\n  inconclusiveLimit: 3\n  taskMetrics:\n    \
    requests: demo_http_requests_total\n    duration: demo_http_request_duration_seconds\n  checks:\n    \
    - {name: error-rate, metric: errorRate, max: 0.05, critical: true}\n    \
    - {name: errors-vs-stable, metric: errorRate, relative: {tolerance: 0.02}}\n";

/// Stable's service created here, then adopted by `canary deploy`: with the label the stack's
/// Prometheus scrapes tasks by, and kept on the manager, where the test images are (the engine
/// may have workers; the canary's service copies both from stable's).
fn deploy(g: &Group, spec: &Path, replicas: u64) {
    let name = g.service("api", false);
    docker::ok(&[
        "service",
        "create",
        "--detach",
        "--quiet",
        "--no-resolve-image",
        "--name",
        &name,
        "--label",
        &format!("com.docker.stack.namespace={}", g.name),
        "--label",
        "io.canary.test=1",
        "--label",
        SCRAPE_LABEL,
        "--constraint",
        "node.role==manager",
        "--network",
        &g.stack.network,
        "--endpoint-mode",
        "dnsrr",
        "--replicas",
        &replicas.to_string(),
        V1,
    ]);
    g.canary(spec, &["deploy"]).expect_code(0, "canary deploy");
}

/// Percent-encodes a PromQL query for a URL.
fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// How many of `service`'s tasks the stack's Prometheus scrapes successfully.
fn scraped_tasks(prometheus_port: u16, service: &str) -> usize {
    let q = format!("up{{job=\"swarm-tasks\",swarm_service=\"{service}\"}} == 1");
    let path = format!("/api/v1/query?query={}", encode(&q));
    let Ok(a) = http_get(
        prometheus_port,
        "127.0.0.1",
        &path,
        &[],
        Duration::from_secs(5),
    ) else {
        return 0;
    };
    serde_json::from_str::<Value>(&a.body)
        .ok()
        .and_then(|v| v["data"]["result"].as_array().map(Vec::len))
        .unwrap_or(0)
}

/// Waits until Prometheus scrapes `n` tasks of `service`; panics with what to do otherwise.
fn wait_scraped(prometheus_port: u16, service: &str, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while scraped_tasks(prometheus_port, service) < n {
        assert!(
            Instant::now() < deadline,
            "Prometheus does not scrape {n} tasks of {service} (job swarm-tasks): run \
             scripts/stack/up.sh, which configures it"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The `type: event` lines of `kind`.
fn events<'a>(lines: &'a [Value], kind: &str) -> Vec<&'a Value> {
    lines
        .iter()
        .filter(|l| l["type"] == "event" && l["kind"] == kind)
        .collect()
}

#[test]
fn good_canary_is_promoted_with_no_failed_request() {
    let Some(stack) = stack_or_skip("good_canary_is_promoted_with_no_failed_request") else {
        return;
    };
    let g = Group::with_prefix(&stack, "rpl");
    let spec = g.write("canary.yaml", &spec(&g, 4, 4, "25, 50", PER_TASK));
    deploy(&g, &spec, 4);
    wait_scraped(stack.prometheus_port, &g.service("api", false), 4);

    // Status says the plan before anything runs: each step's counts, both exact.
    let st = g.status(&spec);
    let plan: Vec<_> = st["replicaPlan"]
        .as_array()
        .unwrap_or_else(|| panic!("no replicaPlan in {st}"))
        .iter()
        .map(|p| {
            (
                p["weight"].as_u64(),
                p["canary"].as_u64(),
                p["stable"].as_u64(),
                p["off"].as_f64(),
            )
        })
        .collect();
    assert_eq!(
        plan,
        [
            (Some(25), Some(1), Some(3), Some(0.0)),
            (Some(50), Some(2), Some(2), Some(0.0))
        ],
        "{st}"
    );

    let load = Load::start(stack.web_port, &g.host, &["/api/a", "/api/b"], 40);
    std::thread::sleep(Duration::from_secs(1));
    let run = g.spawn(&spec, &["run", "--restart"]);
    let (code, lines, stderr) = run.finish(Duration::from_secs(240));
    std::thread::sleep(Duration::from_secs(2));
    let report = load.stop();
    assert_eq!(code, Some(0), "canary run: {stderr}\n{lines:#?}");
    assert_eq!(lines.last().expect("a result")["result"], "promoted");

    // Each step's event says its counts.
    let said: Vec<_> = events(&lines, "weightSet")
        .iter()
        .map(|e| e["message"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        said,
        [
            "step 1 of 2: canary weight 25% (replicas: 1 canary + 3 stable tasks: exactly 25%)",
            "step 2 of 2: canary weight 50% (replicas: 2 canary + 2 stable tasks: exactly 50%)",
        ]
    );
    // The analysis saw both tracks' own answers: the canary's error rate measured, and 0.
    let analyses = events(&lines, "analysis");
    assert_eq!(analyses.len(), 2, "{analyses:#?}");
    for a in &analyses {
        let checks = a["analysis"]["checks"].as_array().expect("checks");
        let check = |name: &str| {
            checks
                .iter()
                .find(|c| c["name"] == name)
                .unwrap_or_else(|| panic!("no check {name} in {a}"))
        };
        // The request gate counts the canary's own answers (its tasks' counters).
        assert!(check("minRequests")["canary"].as_f64() > Some(100.0), "{a}");
        for name in ["error-rate", "errors-vs-stable"] {
            assert_eq!(check(name)["verdict"], "pass", "{a}");
            assert_eq!(check(name)["canary"].as_f64(), Some(0.0), "{a}");
        }
        assert_eq!(
            check("errors-vs-stable")["stable"].as_f64(),
            Some(0.0),
            "{a}"
        );
    }

    // Promoted: stable on the canary's image at the total, the canary at 0.
    assert_eq!(
        docker::service_image(&g.service("api", false)),
        docker::image_id(V2)
    );
    assert_eq!(docker::service_replicas(&g.service("api", false)), 4);
    assert_eq!(docker::service_replicas(&g.service("api", true)), 0);

    // Not one request failed under the steady load, through both steps and the promotion.
    let failures = report.failures(|_| false);
    assert!(
        failures.is_empty(),
        "{} failed requests: {:?}\n{:?}",
        failures.len(),
        &failures[..failures.len().min(5)],
        report.summary()
    );
    assert!(report.samples.len() > 2000, "{:?}", report.summary());
    eprintln!(
        "replicas mode, good canary: {} requests, 0 failed; {:?}",
        report.samples.len(),
        report.summary()
    );
}

#[test]
fn canary_with_30_percent_errors_is_rolled_back_by_analysis() {
    let Some(stack) = stack_or_skip("canary_with_30_percent_errors_is_rolled_back_by_analysis")
    else {
        return;
    };
    let g = Group::with_prefix(&stack, "rpl");
    let spec = g.write("canary.yaml", &spec(&g, 2, 2, "50", PER_TASK));
    deploy(&g, &spec, 2);
    wait_scraped(stack.prometheus_port, &g.service("api", false), 2);
    // 60 req/s to the canary's task: some 1,200 answers in the window, so the injected rate's
    // own randomness stays well inside 0.05 (a demo image that still counts its health checks
    // and scrapes, 5 a second, reads about 0.02 low).
    let load = Load::start(stack.web_port, &g.host, &["/api/a", "/api/b", "/api/c"], 40);
    std::thread::sleep(Duration::from_secs(1));

    let run = g.spawn(
        &spec,
        &["run", "--restart", "--canary-env", "ERROR_RATE=0.3"],
    );
    let (code, lines, stderr) = run.finish(Duration::from_secs(180));
    std::thread::sleep(Duration::from_secs(2));
    let report = load.stop();
    assert_eq!(code, Some(2), "canary run: {stderr}\n{lines:#?}");
    let result = lines.last().expect("a result");
    assert_eq!(result["result"], "rolledBack", "{result}");

    // By the analysis, not by a deployment error: the check failed, on the canary's figure.
    let analysis = *events(&lines, "analysis")
        .first()
        .expect("an analysis event");
    let checks = analysis["analysis"]["checks"].as_array().expect("checks");
    let check = checks
        .iter()
        .find(|c| c["name"] == "error-rate")
        .expect("the error-rate check");
    assert_eq!(check["verdict"], "fail", "{analysis}");
    let measured = check["canary"].as_f64().expect("the canary's error rate");
    assert!(
        (measured - 0.3).abs() <= 0.05,
        "the canary's measured error rate {measured} is not within 0.05 of 0.3: {analysis}"
    );
    // Stable's own answers, apart: no error (Traefik's per-service figure would mix the two).
    let vs = checks
        .iter()
        .find(|c| c["name"] == "errors-vs-stable")
        .expect("the relative check");
    assert!(
        vs["stable"].as_f64().expect("stable's error rate") < 0.01,
        "{analysis}"
    );
    let rolling = *events(&lines, "rollingBack")
        .first()
        .expect("a rollingBack event");
    let msg = rolling["message"].as_str().unwrap_or_default();
    assert!(
        msg.contains("a critical check failed") && msg.contains("error-rate"),
        "{rolling}"
    );
    assert!(
        result["cause"]
            .as_str()
            .unwrap_or_default()
            .contains("error-rate"),
        "{result}"
    );
    assert!(events(&lines, "promoting").is_empty());
    // What the clients saw of the canary's answers, for comparison with what the analysis read.
    let from_canary: Vec<_> = report
        .samples
        .iter()
        .filter(|s| s.version.as_deref() == Some("v2"))
        .collect();
    let errors = from_canary.iter().filter(|s| s.result == Ok(500)).count();
    eprintln!(
        "replicas mode, 30% errors: the canary's measured error rate {measured:.3}; the clients \
         got {errors} 500s in {} answers from the canary ({:.3}); {msg}",
        from_canary.len(),
        errors as f64 / from_canary.len().max(1) as f64
    );

    // Rolled back: stable on its image at the total again, the canary at 0.
    assert_eq!(docker::service_image(&g.service("api", false)), V1);
    assert_eq!(docker::service_replicas(&g.service("api", false)), 2);
    assert_eq!(docker::service_replicas(&g.service("api", true)), 0);
    // Only the canary's injected 500s failed.
    let failures = report.failures(|s| s.result == Ok(500) && s.version.as_deref() == Some("v2"));
    assert!(
        failures.is_empty(),
        "{:?}\n{:?}",
        &failures[..failures.len().min(5)],
        report.summary()
    );
}

#[test]
fn blind_spec_is_refused_before_anything_changes() {
    let Some(stack) = stack_or_skip("blind_spec_is_refused_before_anything_changes") else {
        return;
    };
    let g = Group::with_prefix(&stack, "rpl");
    // Stable deployed from a spec that sees both tracks.
    let good = g.write("good.yaml", &spec(&g, 2, 2, "50", PER_TASK));
    deploy(&g, &good, 2);
    let stable = g.service("api", false);
    let before = docker::service(&stable);
    let routes = stack.dynamic_dir.join(format!("canary-{}.yml", g.name));
    let routes_before = std::fs::read(&routes).ok();

    // The same rollout judged by Traefik's per-service success rate: blind to the canary.
    let blind = g.write(
        "blind.yaml",
        &spec(
            &g,
            2,
            2,
            "50",
            "  window: 20s\n  minRequests: 0\n  checks:\n    - {name: success-rate, metric: successRate, min: 0.99}\n",
        ),
    );
    let d = g.canary(&blind, &["run", "--restart"]);
    assert_eq!(d.code, Some(1), "{d:?}");
    assert!(
        d.stderr.contains("analysis.checks[0].metric")
            && d.stderr.contains("replicas mode")
            && d.stderr.contains("taskMetrics"),
        "{}",
        d.stderr
    );
    eprintln!("refused: {}", d.stderr.trim());
    // And `deploy`, which would adopt or create stable's service, is refused the same way.
    let d = g.canary(&blind, &["deploy"]);
    assert_eq!(d.code, Some(1), "{d:?}");
    assert!(
        d.stderr.contains("analysis.checks[0].metric"),
        "{}",
        d.stderr
    );

    // Nothing changed: stable's spec and version, no canary service, the routes as they were.
    let after = docker::service(&stable);
    assert_eq!(after["Version"], before["Version"], "stable was updated");
    assert_eq!(after["Spec"], before["Spec"]);
    let canary = docker::run(&["service", "inspect", &g.service("api", true)]).expect("docker");
    assert!(!canary.status.success(), "a canary service exists");
    assert_eq!(std::fs::read(&routes).ok(), routes_before);

    // A dry run of the same check is accepted: `status` loads the spec.
    let dry = g.write(
        "dry.yaml",
        &spec(
            &g,
            2,
            2,
            "50",
            "  window: 20s\n  minRequests: 0\n  checks:\n    - {name: success-rate, metric: successRate, min: 0.99, dryRun: true}\n    \
             - {name: custom, metric: {query: 'sum(rate(demo_http_requests_total{swarm_service=\"{{swarmService}}\"}[{{window}}]))'}, min: 0}\n",
        ),
    );
    g.canary(&dry, &["status", "-o", "json"])
        .expect_code(0, "canary status with a dryRun check");
}
