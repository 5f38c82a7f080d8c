//! The command line's settings as the SDK's [`Settings`], and a connected [`Canary`] for the spec
//! file: the only place the CLI meets the backends, all through `canary-sdk`.

use canary_core::SpecFile;
use canary_sdk::{Canary, MetricsBackend, RouterBackend, Settings};

use crate::args::{Global, MetricsArg, RouterArg};
use crate::error::{CliError, CliResult};
use crate::specfile;

/// The flags (each of which also reads its `CANARY_*` variable) as settings, checked.
pub(crate) fn settings(g: &Global) -> CliResult<Settings> {
    let c = &g.connect;
    let mut s = Settings::default();
    s.docker_host = c.docker_host.clone().filter(|h| !h.is_empty());
    s.network = c.network.clone();
    s.traefik_dynamic_dir = c.traefik_dynamic_dir.clone();
    s.traefik_url = c.traefik_url.clone();
    s.router = match c.router {
        RouterArg::File => RouterBackend::File,
        RouterArg::Kv => RouterBackend::Kv,
    };
    s.kv_url = c.kv_url.clone();
    s.kv_root_key = c.kv_root_key.clone();
    s.traefik_api = c
        .traefik_api
        .iter()
        .map(|u| u.trim().to_string())
        .filter(|u| !u.is_empty())
        .collect();
    s.web_url = c.web_url.clone();
    s.metrics = match c.metrics {
        MetricsArg::Prometheus => MetricsBackend::Prometheus,
        MetricsArg::Traefik => MetricsBackend::Traefik,
    };
    s.prometheus_url = c.prometheus_url.clone();
    s.scrape_interval = c.scrape_interval;
    s.lease = g.lease;
    s.traefik_access_log = c
        .traefik_access_log
        .clone()
        .filter(|p| !p.as_os_str().is_empty());
    s.validate().map_err(CliError::from)?;
    Ok(s)
}

/// The spec file, read with the overrides.
pub(crate) fn spec(g: &Global) -> CliResult<SpecFile> {
    specfile::load(&g.spec, &g.overrides)
}

/// The spec file and its group connected.
pub(crate) async fn connect(g: &Global) -> CliResult<(SpecFile, Canary)> {
    let file = spec(g)?;
    let settings = settings(g)?;
    let canary = Canary::connect(file.spec.clone(), settings)
        .await
        .map_err(CliError::from)?
        .with_source(&file);
    Ok((file, canary))
}

/// Who this process is, for the command events (`cli:<controller id>`).
pub(crate) fn who(canary: &Canary) -> String {
    format!("cli:{}", canary.controller().owner)
}
