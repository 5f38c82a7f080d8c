//! Traefik itself, deployed as a Swarm service the way canary needs it (`canary deploy
//! --traefik-image`): a read-only Docker API proxy on an overlay network of its own, and Traefik
//! reading Docker only through it, so Traefik never holds the Docker socket.

use canary_core::model::{BindMount, EndpointMode, HostPort, NewService};
use canary_core::ops::DeployStep;
use canary_core::{Error, ImageRef, Result, ServiceName};
use canary_traefik::StaticConfig;

use crate::session::Canary;

/// What to deploy.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TraefikDeploy {
    /// Traefik's image (FROM scratch with the static binary, e.g. `canary-traefik:3.7.9`).
    pub image: ImageRef,
    /// The Docker API proxy's image (`canary-socket-proxy:<version>`, from `tools/socket-proxy`).
    pub proxy_image: ImageRef,
    /// Traefik's service name.
    pub service: ServiceName,
    /// The host ports of the `web` and `traefik` entry points (host mode: published on every
    /// address of the node).
    pub web_port: u16,
    /// See `web_port`.
    pub api_port: u16,
}

impl TraefikDeploy {
    /// Traefik from `image` behind a proxy from `proxy_image`, as `canary-traefik`, on the given
    /// host ports.
    pub fn new(image: ImageRef, proxy_image: ImageRef, web_port: u16, api_port: u16) -> Self {
        TraefikDeploy {
            image,
            proxy_image,
            service: ServiceName::parse("canary-traefik").expect("a valid name"),
            web_port,
            api_port,
        }
    }
}

impl Canary {
    /// Deploys the proxy and Traefik (see the module docs) when Traefik's service does not exist
    /// yet; the file-provider directory of the settings is bind-mounted read-only.
    pub async fn deploy_traefik(&self, t: &TraefikDeploy) -> Result<Vec<DeployStep>> {
        let swarm = self.orchestrator();
        let mut steps = Vec::new();
        if swarm.inspect(&t.service).await.is_ok() {
            steps.push(step(
                "traefik",
                t.service.as_str(),
                "present",
                String::new(),
            ));
            return Ok(steps);
        }
        let dir = std::fs::canonicalize(&self.settings().traefik_dynamic_dir).map_err(|e| {
            Error::invalid(
                "traefikDynamicDir",
                format!("{}: {e}", self.settings().traefik_dynamic_dir.display()),
            )
            .with_source(e)
        })?;
        let api_net = format!("{}-docker-api", t.service);
        swarm.ensure_network(&api_net).await?;
        let proxy_name = t.service.with_suffix("-docker-proxy")?;
        if swarm.inspect(&proxy_name).await.is_err() {
            let mut proxy = NewService::new(proxy_name.clone(), t.proxy_image.clone(), 1);
            proxy.args = vec![
                "--listen".into(),
                "0.0.0.0:2375".into(),
                "--socket".into(),
                "/var/run/docker.sock".into(),
            ];
            proxy.mounts = vec![
                BindMount::new("/var/run/docker.sock", "/var/run/docker.sock").read_only(true),
            ];
            proxy.constraints = vec!["node.role==manager".into()];
            proxy.networks = vec![api_net.clone()];
            proxy.endpoint_mode = Some(EndpointMode::Dnsrr);
            proxy.init = false;
            swarm.create_service(&proxy).await?;
            steps.push(step(
                "proxy",
                proxy_name.as_str(),
                "created",
                format!("{}, read-only Docker API on {api_net}", t.proxy_image),
            ));
        }
        let config =
            StaticConfig::new(format!("tcp://{proxy_name}:2375"), &self.settings().network);
        let mut traefik = NewService::new(t.service.clone(), t.image.clone(), 1);
        traefik.args = config.args();
        traefik.mounts = vec![
            BindMount::new(dir.display().to_string(), config.file_dir.clone()).read_only(true),
        ];
        traefik.constraints = vec!["node.role==manager".into()];
        traefik.networks = vec![self.settings().network.clone(), api_net];
        traefik.endpoint_mode = Some(EndpointMode::Dnsrr);
        traefik.ports = vec![
            HostPort::new(t.web_port, config.web_port),
            HostPort::new(t.api_port, config.api_port),
        ];
        traefik.init = false;
        swarm.create_service(&traefik).await?;
        steps.push(step(
            "traefik",
            t.service.as_str(),
            "created",
            format!(
                "{}, ports {} and {} in host mode (published on every interface of the node)",
                t.image, t.web_port, t.api_port
            ),
        ));
        Ok(steps)
    }
}

fn step(what: &str, name: &str, action: &str, detail: String) -> DeployStep {
    DeployStep {
        what: what.into(),
        name: name.into(),
        action: action.into(),
        detail,
    }
}
