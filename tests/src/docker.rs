//! The docker CLI, to look at what the binary did.

use std::process::{Command, Output};

use serde_json::Value;

/// Runs `docker args`.
pub fn run(args: &[&str]) -> std::io::Result<Output> {
    Command::new("docker").args(args).output()
}

/// stdout of a docker call that must succeed.
pub fn ok(args: &[&str]) -> String {
    let out = run(args).expect("the docker CLI runs");
    assert!(
        out.status.success(),
        "docker {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// `docker service inspect NAME` (the first element).
pub fn service(name: &str) -> Value {
    let v: Value = serde_json::from_str(&ok(&["service", "inspect", name])).expect("JSON");
    v[0].clone()
}

/// The image a service's spec names.
pub fn service_image(name: &str) -> String {
    service(name)["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// A service's desired replicas.
pub fn service_replicas(name: &str) -> u64 {
    service(name)["Spec"]["Mode"]["Replicated"]["Replicas"]
        .as_u64()
        .unwrap_or(0)
}

/// IDs of a service's tasks that should run.
pub fn running_tasks(name: &str) -> Vec<String> {
    let out = ok(&[
        "service",
        "ps",
        "-q",
        "--filter",
        "desired-state=running",
        name,
    ]);
    let mut ids: Vec<String> = out
        .lines()
        .map(str::to_string)
        .filter(|l| !l.is_empty())
        .collect();
    ids.sort();
    ids
}

/// An image's ID (`sha256:...`).
pub fn image_id(image: &str) -> String {
    ok(&["image", "inspect", "--format", "{{.Id}}", image])
}
