//! The binary's surface without Docker: help, version, spec errors, exit codes, JSON errors.

use std::process::Command;
use std::time::Duration;

use canary_testkit::{Answer, Server};

fn canary(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_canary"))
        .args(args)
        // Nothing is listening here: commands that need Docker fail fast and clearly.
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .env_remove("CANARY_SPEC")
        .output()
        .expect("canary runs")
}

fn spec_file(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("canary-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

const SPEC: &str = "group: shop\napps:\n  - {name: api, image: 'api:2', port: 8080, rule: 'Host(`api.localhost`)'}\n";

#[test]
fn help_lists_every_command() {
    let out = canary(&["--help"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for cmd in [
        "build", "deploy", "test", "run", "status", "promote", "rollback", "pause", "resume",
        "logs",
    ] {
        assert!(
            text.contains(&format!("  {cmd} ")),
            "{cmd} missing from\n{text}"
        );
    }
    let out = canary(&["run", "--help"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--restart",
        "--takeover",
        "--lease",
        "--metrics-addr",
        "CANARY_PROMETHEUS_URL",
        "--set",
    ] {
        assert!(text.contains(flag), "{flag} missing from\n{text}");
    }
    assert!(canary(&["--version"]).status.success());
}

#[test]
fn a_bad_spec_is_one_line_naming_the_field() {
    let bad = spec_file("bad.yaml", &format!("{SPEC}traffic:\n  steps: [20, 120]\n"));
    let out = canary(&["status", "-f", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("canary: error:") && err.contains("traffic.steps[1]"),
        "{err}"
    );
    assert!(out.stdout.is_empty());

    let out = canary(&["status", "-f", "/nonexistent/canary.yaml", "-o", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(line["type"], "error");
    assert_eq!(line["code"], "CANARY_INVALID_INPUT");
    assert!(line["message"]
        .as_str()
        .unwrap()
        .contains("cannot read spec file"));
}

#[test]
fn overrides_are_validated_like_the_file() {
    let good = spec_file("good.yaml", SPEC);
    let f = good.to_str().unwrap();
    let out = canary(&["status", "-f", f, "--set", "traffic.colour=blue"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("colour"));
    let out = canary(&["status", "-f", f, "--image", "nope=api:3"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no element named \"nope\""));
    // A valid spec gets as far as Docker, which is not there.
    let out = canary(&["status", "-f", f, "--steps", "10,20", "--interval", "2s"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/docker.sock"), "{err}");
}

#[test]
fn usage_errors_exit_1_because_2_means_rolled_back() {
    let out = canary(&["run", "--no-such-flag"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--no-such-flag"));
    let out = canary(&["build", "--track", "blue", "-f", "x.yaml"]);
    assert_eq!(out.status.code(), Some(1), "--track is stable or canary");
}

/// A server on 127.0.0.1 answering `status` to at most `n` POSTs; returns its URL (with a secret
/// in the path) and the server, which keeps the bodies.
fn post_server(status: u16, n: usize) -> (String, Server) {
    let server = Server::builder()
        .connections(n)
        .start(move |_| Answer::status(status).body("ok"));
    (server.url("/services/T0/B0/s3cr3t"), server)
}

/// The JSON bodies of the `n` POSTs `server` gets within 10 seconds.
fn bodies(server: &Server, n: usize) -> Vec<serde_json::Value> {
    let got = server.wait(n, Duration::from_secs(10));
    assert_eq!(got.len(), n, "{got:?}");
    got.iter().map(|r| r.json()).collect()
}

#[test]
fn notify_test_sends_one_message_per_notification_without_docker() {
    let out = canary(&["--help"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("  notify-test "));
    let (ok_url, ok) = post_server(200, 1);
    let (bad_url, bad) = post_server(404, 1);
    let spec = spec_file(
        "notify.yaml",
        &format!(
            "{SPEC}notifications:\n  - {{name: team, kind: slack, url: '{ok_url}', events: [promoted]}}\n  - {{name: gone, kind: discord, url: '{bad_url}'}}\n  - {{name: later, kind: json, urlFrom: {{env: CANARY_CLI_TEST_NEVER_SET}}}}\n"
        ),
    );
    let out = Command::new(env!("CARGO_BIN_EXE_canary"))
        .args(["notify-test", "-o", "json", "-f", spec.to_str().unwrap()])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .env_remove("CANARY_CLI_TEST_NEVER_SET")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        !stdout.contains("s3cr3t") && !stderr.contains("s3cr3t"),
        "{stdout}{stderr}"
    );
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4, "{stdout}");
    assert_eq!(lines[0]["name"], "team");
    assert_eq!(lines[0]["status"], 200);
    assert_eq!(lines[1]["name"], "gone");
    assert!(
        lines[1]["error"].as_str().unwrap().contains("HTTP 404"),
        "{stdout}"
    );
    assert_eq!(lines[2]["target"], "$CANARY_CLI_TEST_NEVER_SET");
    assert!(
        lines[2]["error"].as_str().unwrap().contains("is not set"),
        "{stdout}"
    );
    assert_eq!(
        lines[3],
        serde_json::json!({"type": "notificationTest", "group": "shop", "sent": 1, "failed": 2})
    );
    // The messages really arrived, in each service's format, whatever the events filter.
    let slack = bodies(&ok, 1);
    assert_eq!(
        slack[0]["blocks"][0]["text"]["text"],
        "canary shop: test notification"
    );
    let discord = bodies(&bad, 1);
    assert_eq!(
        discord[0]["embeds"][0]["title"],
        "canary shop: test notification"
    );

    let plain = spec_file("plain.yaml", SPEC);
    let out = canary(&["notify-test", "-f", plain.to_str().unwrap()]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("has no notifications"));
}
