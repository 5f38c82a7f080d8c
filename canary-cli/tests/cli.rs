//! The binary's surface without Docker: help, version, spec errors, exit codes, JSON errors.

use std::process::Command;

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
