//! The local stack's addresses (the variables of `scripts/stack/env.sh`, with its defaults) and
//! whether it is usable.

use std::path::PathBuf;
use std::time::Duration;

use crate::docker;
use crate::load::http_get;

/// Where the local stack is.
#[derive(Debug, Clone)]
pub struct Stack {
    /// Traefik's web entry point port on 127.0.0.1.
    pub web_port: u16,
    /// Traefik's API port on 127.0.0.1.
    pub api_port: u16,
    /// Prometheus' port on 127.0.0.1.
    pub prometheus_port: u16,
    /// Traefik's file-provider directory.
    pub dynamic_dir: PathBuf,
    /// The overlay network.
    pub network: String,
}

fn var(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_string())
}

impl Stack {
    /// The settings from the environment, with `scripts/stack/env.sh`'s defaults.
    pub fn from_env() -> Self {
        let state = var("CANARY_STACK_DIR", "/var/lib/canary-stack");
        Stack {
            web_port: var("CANARY_WEB_PORT", "38080")
                .parse()
                .expect("CANARY_WEB_PORT"),
            api_port: var("CANARY_API_PORT", "38082")
                .parse()
                .expect("CANARY_API_PORT"),
            prometheus_port: var("CANARY_PROM_PORT", "39090")
                .parse()
                .expect("CANARY_PROM_PORT"),
            dynamic_dir: PathBuf::from(var(
                "CANARY_TRAEFIK_DYNAMIC_DIR",
                &format!("{state}/dynamic"),
            )),
            network: var("CANARY_NETWORK", "canary-net"),
        }
    }

    /// The environment a `canary` process gets so it talks to this stack.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            (
                "CANARY_TRAEFIK_DYNAMIC_DIR".into(),
                self.dynamic_dir.display().to_string(),
            ),
            (
                "CANARY_TRAEFIK_URL".into(),
                format!("http://127.0.0.1:{}", self.api_port),
            ),
            (
                "CANARY_WEB_URL".into(),
                format!("http://127.0.0.1:{}", self.web_port),
            ),
            (
                "CANARY_PROMETHEUS_URL".into(),
                format!("http://127.0.0.1:{}", self.prometheus_port),
            ),
            ("CANARY_NETWORK".into(), self.network.clone()),
            ("CANARY_SCRAPE_INTERVAL".into(), "1s".into()),
            ("CANARY_LOG".into(), "warn".into()),
        ]
    }

    /// Why the stack is not usable, if it is not.
    pub fn problem(&self) -> Option<String> {
        match docker::run(&["service", "ls", "-q"]) {
            Err(e) => return Some(format!("the docker CLI does not run: {e}")),
            Ok(o) if !o.status.success() => {
                return Some(format!(
                    "docker service ls: {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                ))
            }
            Ok(_) => {}
        }
        match http_get(
            self.api_port,
            "127.0.0.1",
            "/ping",
            &[],
            Duration::from_secs(3),
        ) {
            Ok(r) if r.status == 200 => {}
            Ok(r) => return Some(format!("Traefik's /ping answered {}", r.status)),
            Err(e) => {
                return Some(format!(
                    "Traefik's /ping on 127.0.0.1:{}: {e}",
                    self.api_port
                ))
            }
        }
        match http_get(
            self.prometheus_port,
            "127.0.0.1",
            "/-/ready",
            &[],
            Duration::from_secs(3),
        ) {
            Ok(r) if r.status == 200 => {}
            Ok(r) => return Some(format!("Prometheus /-/ready answered {}", r.status)),
            Err(e) => {
                return Some(format!(
                    "Prometheus on 127.0.0.1:{}: {e}",
                    self.prometheus_port
                ))
            }
        }
        if !self.dynamic_dir.is_dir() {
            return Some(format!(
                "no file-provider directory {}",
                self.dynamic_dir.display()
            ));
        }
        if !docker::run(&["image", "inspect", "canary-demo:latest"])
            .is_ok_and(|o| o.status.success())
        {
            return Some("image canary-demo:latest is missing".into());
        }
        None
    }
}

/// The stack, or `None` after printing why the test is skipped. With `CI` set an unusable stack
/// fails the test instead: CI must not pass by skipping.
pub fn stack_or_skip(test: &str) -> Option<Stack> {
    let stack = Stack::from_env();
    match stack.problem() {
        None => Some(stack),
        Some(why) if std::env::var_os("CI").is_some() => {
            panic!("{test}: CI is set and the local stack is unusable: {why} (run scripts/stack/up.sh)")
        }
        Some(why) => {
            eprintln!(
                "SKIPPED {test}: the local stack is unusable: {why} (run scripts/stack/up.sh)"
            );
            None
        }
    }
}

/// The workspace's root directory.
pub fn repo_root() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace")
        .to_path_buf()
}

/// A port free on the host now (bound on 127.0.0.1 and released), for a port a test publishes.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}
