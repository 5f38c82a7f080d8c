//! Traefik's static configuration as command-line arguments: the entry points, the API and
//! metrics, and the two providers canary needs (Swarm for the backends, a file directory for the
//! group files), set the way the router expects them.

use std::time::Duration;

/// The static settings of a Traefik canary can drive.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StaticConfig {
    /// Where the Swarm provider reads Docker: a read-only API proxy such as
    /// `tcp://canary-docker-proxy:2375` (Traefik gets no Docker socket of its own).
    pub swarm_endpoint: String,
    /// The overlay network through which Traefik reaches the tasks.
    pub network: String,
    /// The file provider's directory inside the container.
    pub file_dir: String,
    /// The container port of the `web` entry point.
    pub web_port: u16,
    /// The container port of the `traefik` entry point (API, `/ping`, `/metrics`).
    pub api_port: u16,
    /// `providers.providersThrottleDuration`: how often Traefik applies provider changes.
    pub throttle: Duration,
    /// The Swarm provider's `refreshSeconds`.
    pub refresh: Duration,
}

impl StaticConfig {
    /// The local stack's settings (`scripts/stack/up.sh`), reading Docker through `swarm_endpoint`
    /// and reaching tasks on `network`.
    pub fn new(swarm_endpoint: impl Into<String>, network: impl Into<String>) -> Self {
        StaticConfig {
            swarm_endpoint: swarm_endpoint.into(),
            network: network.into(),
            file_dir: "/etc/traefik/dynamic".into(),
            web_port: 8080,
            api_port: 8082,
            throttle: Duration::from_millis(500),
            refresh: Duration::from_secs(1),
        }
    }

    /// The command-line arguments.
    pub fn args(&self) -> Vec<String> {
        let ms = |d: Duration| format!("{}ms", d.as_millis());
        vec![
            format!("--entrypoints.web.address=:{}", self.web_port),
            format!("--entrypoints.traefik.address=:{}", self.api_port),
            "--api.insecure=true".into(),
            "--api.dashboard=true".into(),
            "--ping.entrypoint=traefik".into(),
            "--metrics.prometheus.entrypoint=traefik".into(),
            "--metrics.prometheus.addEntryPointsLabels=true".into(),
            "--metrics.prometheus.addRoutersLabels=true".into(),
            "--metrics.prometheus.addServicesLabels=true".into(),
            format!(
                "--providers.providersThrottleDuration={}",
                ms(self.throttle)
            ),
            format!("--providers.swarm.endpoint={}", self.swarm_endpoint),
            "--providers.swarm.exposedByDefault=false".into(),
            format!("--providers.swarm.network={}", self.network),
            format!("--providers.swarm.refreshSeconds={}", ms(self.refresh)),
            "--providers.swarm.allowEmptyServices=true".into(),
            format!("--providers.file.directory={}", self.file_dir),
            "--providers.file.watch=true".into(),
            "--global.checkNewVersion=false".into(),
            "--global.sendAnonymousUsage=false".into(),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_name_the_proxy_and_never_a_socket() {
        let args = StaticConfig::new("tcp://proxy:2375", "canary-net").args();
        assert!(args.contains(&"--providers.swarm.endpoint=tcp://proxy:2375".to_string()));
        assert!(args.contains(&"--providers.swarm.network=canary-net".to_string()));
        assert!(args.contains(&"--providers.providersThrottleDuration=500ms".to_string()));
        assert!(!args.iter().any(|a| a.contains("docker.sock")));
    }
}
