//! `canary deploy`, `canary test`, `canary status`, `canary logs` and the error paths, on the real
//! stack through the binary.

use canary_e2e::docker;
use canary_e2e::group::{Group, V1};
use canary_e2e::stack::stack_or_skip;

#[test]
fn deploy_is_idempotent_and_the_smoke_test_reports_versions() {
    let Some(stack) = stack_or_skip("deploy_is_idempotent_and_the_smoke_test_reports_versions")
    else {
        return;
    };
    let g = Group::new(&stack);
    let spec = g.write(
        "canary.yaml",
        &g.spec(&["api", "gcp"], "50", "2s", None, ""),
    );

    let first = g.deploy(&spec);
    assert!(first.stdout.contains("created"), "{}", first.stdout);
    let api = g.service("api", false);
    let tasks = docker::running_tasks(&api);
    assert_eq!(tasks.len(), 1);
    let svc = docker::service(&api);
    let labels = &svc["Spec"]["Labels"];
    assert_eq!(
        labels["com.docker.stack.namespace"],
        g.name.as_str(),
        "{labels}"
    );
    assert_eq!(labels["io.canary.test"], "1");
    assert_eq!(labels["traefik.enable"], "true");
    assert_eq!(svc["Spec"]["TaskTemplate"]["ContainerSpec"]["Init"], true);
    assert_eq!(svc["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"], V1);
    assert_eq!(svc["Spec"]["EndpointSpec"]["Mode"], "dnsrr");
    assert_eq!(svc["Spec"]["UpdateConfig"]["Order"], "start-first");

    // Again: everything adopted, nothing restarted.
    let again = g.canary(
        &spec,
        &["deploy", "--label", "io.canary.test=1", "-o", "json"],
    );
    again.expect_code(0, "second deploy");
    let actions: Vec<String> = again
        .json()
        .iter()
        .filter(|v| v["type"] == "deploy" && v["what"] == "stable")
        .map(|v| {
            format!(
                "{} {}",
                v["name"].as_str().unwrap(),
                v["action"].as_str().unwrap()
            )
        })
        .collect();
    assert!(actions.contains(&format!("{api} adopted")), "{actions:?}");
    assert!(
        !actions.iter().any(|a| a.ends_with("created")),
        "{actions:?}"
    );
    assert_eq!(
        docker::running_tasks(&api),
        tasks,
        "a second deploy restarted stable"
    );

    // Smoke test: every answer 200 from stable v1, with and without the header (no rollout yet).
    let t = g.canary(&spec, &["test", "-n", "4", "-o", "json"]);
    t.expect_code(0, "canary test");
    let results: Vec<_> = t
        .json()
        .into_iter()
        .filter(|v| v["type"] == "test")
        .collect();
    assert_eq!(
        results.len(),
        4,
        "2 apps x with/without the header: {results:?}"
    );
    for r in &results {
        assert_eq!(r["statuses"], serde_json::json!({"200": 4}), "{r}");
        assert_eq!(r["versions"], serde_json::json!({"v1": 4}), "{r}");
        assert_eq!(r["host"], g.host.as_str());
    }
    assert!(results.iter().any(|r| r["header"] == "X-Canary: true"));
    let human = g.canary(&spec, &["test", "-n", "2"]);
    human.expect_code(0, "canary test (human)");
    assert!(
        human.stdout.contains("smoke test passed"),
        "{}",
        human.stdout
    );

    // Status: no rollout, all traffic on stable as Traefik has it.
    let st = g.status(&spec);
    assert!(st["state"].is_null(), "{st}");
    let splits = st["splits"].as_array().expect("splits");
    assert_eq!(splits.len(), 2, "{st}");
    for s in splits {
        assert_eq!(
            (s["stable"].as_u64(), s["canary"].as_u64()),
            (Some(100), Some(0)),
            "{s}"
        );
        assert_eq!(s["healthy"], true, "{s}");
    }

    // Logs of stable's tasks.
    let logs = g.canary(
        &spec,
        &["logs", "--track", "stable", "--tail", "5", "-o", "json"],
    );
    logs.expect_code(0, "canary logs");
    let lines: Vec<_> = logs
        .json()
        .into_iter()
        .filter(|v| v["type"] == "log")
        .collect();
    assert!(!lines.is_empty(), "no log lines: {}", logs.stdout);
    assert!(
        lines.iter().any(|l| l["service"] == api.as_str()),
        "{lines:?}"
    );

    // A smoke test against a route nobody serves fails with a non-zero exit.
    let bad = g.canary(
        &spec,
        &[
            "test",
            "-n",
            "2",
            "--app",
            "api",
            "--set",
            "apps.api.healthPath=/nowhere",
            "--set",
            "apps.api.rule=Host(`nobody.localhost`)",
        ],
    );
    assert_eq!(bad.code, Some(1), "{}", bad.stdout);
    assert!(bad.stdout.contains("FAIL"), "{}", bad.stdout);
}

#[test]
fn errors_are_one_line_and_a_non_zero_exit() {
    let Some(stack) = stack_or_skip("errors_are_one_line_and_a_non_zero_exit") else {
        return;
    };
    let g = Group::new(&stack);
    let spec = g.write("canary.yaml", &g.spec(&["api"], "50", "2s", None, ""));

    // `run` before `deploy`: says what to do.
    let d = g.canary(&spec, &["run"]);
    assert_eq!(d.code, Some(1), "{}", d.stdout);
    let err: Vec<&str> = d.stderr.lines().collect();
    assert_eq!(err.len(), 1, "{}", d.stderr);
    assert!(
        err[0].starts_with("canary: error:") && err[0].contains("canary deploy"),
        "{}",
        d.stderr
    );

    // A bad override names the field; JSON mode prints an error object too.
    let d = g.canary(&spec, &["status", "--steps", "20,120", "-o", "json"]);
    assert_eq!(d.code, Some(1));
    assert!(d.stderr.contains("traffic.steps[1]"), "{}", d.stderr);
    let e = d.last("error").expect("an error object");
    assert_eq!(e["code"], "CANARY_INVALID_INPUT");

    // Traefik unreachable: say how to start it.
    let d = g.canary(&spec, &["deploy", "--traefik-url", "http://127.0.0.1:9"]);
    assert_eq!(d.code, Some(1));
    assert!(
        d.stderr.contains("not reachable") && d.stderr.contains("scripts/stack/up.sh"),
        "{}",
        d.stderr
    );

    // Controls without a rollout.
    let d = g.canary(&spec, &["pause"]);
    assert_eq!(d.code, Some(1));
    assert!(d.stderr.contains("not found"), "{}", d.stderr);
}
