//! `canary deploy`: the seed's `deploy-canary.sh`, idempotent: [`canary_sdk::Canary::deploy()`]
//! (network, Traefik reachable, stable services created or adopted, routes all on stable), after
//! deploying Traefik itself with `--traefik-image` when its service does not exist.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use canary_core::model::EndpointMode;
use canary_core::ops::{DeployOptions, DeployStep};
use canary_core::{ImageRef, ServiceName};
use canary_sdk::TraefikDeploy;
use serde_json::json;

use crate::args::{DeployArgs, Global};
use crate::error::{CliError, CliResult};
use crate::output::Printer;
use crate::session;

fn said(p: &Printer, s: &DeployStep) {
    p.emit(
        json!({"type": "deploy", "what": s.what, "name": s.name, "action": s.action, "detail": s.detail}),
        || format!("{:<8} {:<32} {:<9} {}", s.what, s.name, s.action, s.detail),
    );
}

fn parse_labels(list: &[String]) -> CliResult<BTreeMap<String, String>> {
    list.iter()
        .map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| CliError::usage(format!("--label {kv:?}: expected KEY=VALUE")))
        })
        .collect()
}

fn port_of(url: &str, flag: &str) -> CliResult<u16> {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let host = rest.split('/').next().unwrap_or(rest);
    match host.rsplit_once(':') {
        Some((_, p)) => p
            .parse()
            .map_err(|_| CliError::usage(format!("{flag} {url:?}: {p:?} is not a port"))),
        None if url.starts_with("https://") => Ok(443),
        None => Ok(80),
    }
}

pub(crate) async fn deploy(g: &Global, a: &DeployArgs, p: &Printer) -> CliResult<u8> {
    let labels = parse_labels(&a.labels)?;
    let endpoint_mode: EndpointMode = a.endpoint_mode.parse().map_err(CliError::from)?;
    let (file, canary) = session::connect(g).await?;
    if let Some(image) = &a.traefik_image {
        if canary.deps().router.check().await.is_err() {
            let parse = |s: &str, flag: &str| {
                ImageRef::parse(s).map_err(|e| CliError::from(e).context(flag))
            };
            let mut t = TraefikDeploy::new(
                parse(image, "--traefik-image")?,
                parse(
                    a.docker_proxy_image.as_deref().unwrap_or_default(),
                    "--docker-proxy-image",
                )?,
                port_of(&g.connect.web_url, "--web-url")?,
                port_of(&g.connect.traefik_url, "--traefik-url")?,
            );
            t.service = ServiceName::parse(&a.traefik_service)
                .map_err(|e| CliError::from(e).context("--traefik-service"))?;
            for s in canary.deploy_traefik(&t).await? {
                said(p, &s);
            }
            // Traefik answers once its task runs and the API is up.
            let start = Instant::now();
            while let Err(e) = canary.deps().router.check().await {
                if start.elapsed() > Duration::from_secs(60) {
                    return Err(CliError::from(e).context("Traefik did not answer within 60s"));
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
    let options = DeployOptions::default()
        .reset_stable(a.reset_stable)
        .labels(labels)
        .endpoint_mode(endpoint_mode);
    canary
        .deploy(&options, &mut |s| said(p, s))
        .await
        .map_err(CliError::from)?;
    p.emit(
        json!({"type": "result", "result": "deployed", "group": canary.spec().group}),
        || {
            format!(
                "deployed group {}: smoke test with `canary test -f {}`",
                canary.spec().group,
                file.path.display()
            )
        },
    );
    Ok(0)
}
