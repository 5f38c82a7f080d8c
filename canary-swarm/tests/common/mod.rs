//! Helpers shared by the tests that run against the real local swarm (`scripts/stack/up.sh`).
//!
//! Every object a test makes is named `canarytest-swarm-<random>-...` and labelled
//! `io.canary.test=1`; a [`Cleanup`] guard removes everything with its prefix, also when the test
//! panics. Tests never assume they are alone on the engine.
#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use canary_core::model::{EndpointMode, NewService};
use canary_core::{ImageRef, Orchestrator, ServiceName};
use canary_swarm::SwarmOrchestrator;

/// The label every test object carries.
pub const TEST_LABEL: (&str, &str) = ("io.canary.test", "1");

/// The demo images `scripts/stack/up.sh` builds.
pub const V1: &str = "canary-demo:v1";
/// See [`V1`].
pub const V2: &str = "canary-demo:v2";

/// A connected orchestrator, or `None` (after saying why) when Docker is unreachable. With `CI`
/// set an unreachable Docker fails the test instead: CI must not pass by skipping.
pub async fn swarm() -> Option<SwarmOrchestrator> {
    let fail = |why: String| -> Option<SwarmOrchestrator> {
        if std::env::var_os("CI").is_some() {
            panic!("CI is set and the swarm is unusable: {why} (run scripts/stack/up.sh)");
        }
        eprintln!(
            "SKIPPED: no usable Docker swarm ({why}); run scripts/stack/up.sh to run this test"
        );
        None
    };
    let swarm = match SwarmOrchestrator::connect().await {
        Ok(s) => s,
        Err(e) => return fail(e.to_string()),
    };
    // A daemon outside swarm mode answers 503 here.
    if let Err(e) = swarm.services_with_label("io.canary.test-probe", "1").await {
        return fail(e.to_string());
    }
    for image in [V1, V2] {
        if !docker(&["image", "inspect", image]).status.success() {
            return fail(format!("image {image} is missing"));
        }
    }
    Some(swarm)
}

/// Unwraps [`swarm`] or ends the test early.
#[macro_export]
macro_rules! swarm_or_skip {
    () => {
        match common::swarm().await {
            Some(s) => s,
            None => return,
        }
    };
}

/// A prefix no other test run uses: `canarytest-swarm-<6 hex>`.
pub fn prefix() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let mix = (nanos as u64)
        ^ ((std::process::id() as u64) << 20)
        ^ ((N.fetch_add(1, Ordering::Relaxed) as u64) << 40);
    // A cheap scramble so consecutive calls do not share leading digits.
    let h = mix.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    format!("canarytest-swarm-{:06x}", (h >> 40) & 0xff_ffff)
}

/// Runs the docker CLI (the tests use it to play the other writer and to clean up).
pub fn docker(args: &[&str]) -> std::process::Output {
    Command::new("docker")
        .args(args)
        .output()
        .expect("the docker CLI runs")
}

/// stdout of a docker CLI call that must succeed.
pub fn docker_ok(args: &[&str]) -> String {
    let out = docker(args);
    assert!(
        out.status.success(),
        "docker {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A service's spec version index, read with the CLI.
pub fn version_index(service: &str) -> u64 {
    docker_ok(&[
        "service",
        "inspect",
        service,
        "--format",
        "{{.Version.Index}}",
    ])
    .parse()
    .unwrap()
}

/// A service's inspect JSON.
pub fn inspect_json(service: &str) -> serde_json::Value {
    let out = docker_ok(&["service", "inspect", service]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v[0].clone()
}

/// Names of things left with `prefix`: services, networks, containers, images.
pub fn leftovers(prefix: &str) -> Vec<String> {
    let mut left = Vec::new();
    let name_filter = format!("name={prefix}");
    for (what, args) in [
        (
            "service",
            vec!["service", "ls", "-q", "--filter", name_filter.as_str()],
        ),
        (
            "network",
            vec!["network", "ls", "-q", "--filter", name_filter.as_str()],
        ),
        (
            "container",
            vec!["ps", "-aq", "--filter", name_filter.as_str()],
        ),
    ] {
        for id in docker_ok(&args).lines().filter(|l| !l.is_empty()) {
            left.push(format!("{what} {id}"));
        }
    }
    let images = docker_ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    left.extend(
        images
            .lines()
            .filter(|l| l.starts_with(prefix))
            .map(|l| format!("image {l}")),
    );
    left
}

/// Removes everything named with its prefix when dropped (also on panic).
pub struct Cleanup {
    /// The prefix of everything this test makes.
    pub prefix: String,
    stacks: Vec<String>,
    dirs: Vec<std::path::PathBuf>,
    done: bool,
}

impl Cleanup {
    /// A guard with a fresh prefix.
    pub fn new() -> Self {
        Cleanup {
            prefix: prefix(),
            stacks: Vec::new(),
            dirs: Vec::new(),
            done: false,
        }
    }

    /// `<prefix>-<what>`.
    pub fn name(&self, what: &str) -> String {
        format!("{}-{what}", self.prefix)
    }

    /// `<prefix>-<what>` as a service name.
    pub fn service(&self, what: &str) -> ServiceName {
        ServiceName::parse(&self.name(what)).unwrap()
    }

    /// Also runs `docker stack rm` on `stack` when done.
    pub fn stack(&mut self, stack: &str) {
        self.stacks.push(stack.to_string());
    }

    /// A fresh temporary directory, removed when done.
    pub fn dir(&mut self, what: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(self.name(what));
        std::fs::create_dir_all(&d).unwrap();
        self.dirs.push(d.clone());
        d
    }

    fn remove_all(&self) {
        for s in &self.stacks {
            let _ = docker(&["stack", "rm", s]);
        }
        let filter = format!("name={}", self.prefix);
        let services = docker(&["service", "ls", "-q", "--filter", &filter]);
        for id in String::from_utf8_lossy(&services.stdout).split_whitespace() {
            let _ = docker(&["service", "rm", id]);
        }
        let images = docker(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
        for img in String::from_utf8_lossy(&images.stdout).lines() {
            if img.starts_with(&self.prefix) {
                let _ = docker(&["rmi", "-f", img]);
            }
        }
        for d in &self.dirs {
            let _ = std::fs::remove_dir_all(d);
        }
    }

    /// Removes everything and checks nothing is left (networks and containers go a moment after
    /// their services).
    pub fn finish(mut self) {
        self.remove_all();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = leftovers(&self.prefix);
            if left.is_empty() {
                break;
            }
            assert!(Instant::now() < deadline, "left behind: {left:?}");
            // A stack's network can only go once its tasks are gone; `stack rm` may have tried
            // too early.
            let filter = format!("name={}", self.prefix);
            for id in docker_ok(&["network", "ls", "-q", "--filter", &filter]).lines() {
                let _ = docker(&["network", "rm", id]);
            }
            std::thread::sleep(Duration::from_millis(300));
        }
        self.done = true;
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if !self.done {
            self.remove_all();
        }
    }
}

/// The overlay network the local stack made (`CANARY_NETWORK`, default `canary-net`).
pub fn network() -> String {
    std::env::var("CANARY_NETWORK").unwrap_or_else(|_| "canary-net".into())
}

/// A stable service of `replicas` demo tasks, labelled for tests, on the stack's network, that
/// stops at once when asked (no drain).
pub fn stable(name: &ServiceName, image: &str, replicas: u64) -> NewService {
    let mut s = NewService::new(name.clone(), ImageRef::parse(image).unwrap(), replicas);
    s.labels.insert(TEST_LABEL.0.into(), TEST_LABEL.1.into());
    s.env.insert("VERSION".into(), "v1".into());
    s.env.insert("DRAIN_SECONDS".into(), "0".into());
    s.networks.push(network());
    s.endpoint_mode = Some(EndpointMode::Dnsrr);
    s
}

/// The labels a test's canary gets.
pub fn test_labels() -> BTreeMap<String, String> {
    BTreeMap::from([(TEST_LABEL.0.to_string(), TEST_LABEL.1.to_string())])
}

/// Creates `service` and waits until it runs.
pub async fn deploy(swarm: &SwarmOrchestrator, service: &NewService) {
    swarm.create_service(service).await.unwrap();
    swarm
        .wait_converged(&service.name, Duration::from_secs(60))
        .await
        .unwrap();
}
