//! `canary dashboard`: `canary_dashboard::Dashboard` over the specs given and the Swarm state
//! store, served until SIGINT or SIGTERM; with `--report FILE`, the spec's group's HTML report.

use std::path::PathBuf;
use std::sync::Arc;

use canary_dashboard::Dashboard;
use serde_json::json;

use crate::args::{DashboardArgs, Global};
use crate::error::{CliError, CliResult};
use crate::output::Printer;
use crate::{session, specfile};

/// `-f` when the file is there (or was named on purpose), then the other specs.
fn spec_paths(g: &Global, a: &DashboardArgs) -> Vec<PathBuf> {
    let mut out = Vec::new();
    // `-f` defaults to canary.yaml: a missing default means "no spec", a missing named file is
    // an error the loader reports.
    if g.spec.exists() || g.spec.as_os_str() != "canary.yaml" {
        out.push(g.spec.clone());
    }
    out.extend(a.specs.iter().cloned());
    out
}

pub(crate) async fn dashboard(g: &Global, a: &DashboardArgs, p: &Printer) -> CliResult<u8> {
    let paths = spec_paths(g, a);
    let mut rollouts = Vec::new();
    let mut store = None;
    let settings = session::settings(g)?;
    let mut drift = Vec::new();
    for path in &paths {
        let file = specfile::load(path, &g.overrides)?;
        let canary = canary_sdk::Canary::connect(file.spec.clone(), settings.clone())
            .await?
            .with_source(&file);
        store.get_or_insert_with(|| canary.deps().store.clone());
        rollouts.push(Arc::new(canary.rollout(canary.controller())?));
        drift.push(Arc::new(canary.drift_check()));
    }
    let store = match store {
        Some(s) => s,
        None => canary_sdk::state_store(&settings).await?,
    };
    let mut b = Dashboard::builder()
        .rollouts(rollouts.iter().cloned())
        .store(store)
        .addr(a.addr)
        .allow_actions(a.allow_actions);
    for d in drift {
        b = b.drift(d);
    }
    if let Some(t) = &a.token {
        b = b.token(t.clone());
    }
    let dashboard = b.build()?;

    if let Some(file) = &a.report {
        let [rollout] = rollouts.as_slice() else {
            return Err(CliError::usage(
                "--report writes the report of one group: give exactly one spec (-f SPEC)",
            ));
        };
        let group = rollout.spec().group.to_string();
        let html = dashboard.report(&group).await?;
        std::fs::write(file, html).map_err(|e| {
            CliError::new(
                "CANARY_UNAVAILABLE",
                format!("cannot write the report to {}: {e}", file.display()),
            )
        })?;
        p.emit(
            json!({"type": "report", "group": group, "file": file.display().to_string()}),
            || format!("wrote the report of {group} to {}", file.display()),
        );
        return Ok(0);
    }

    let running = dashboard.serve().await?;
    let groups: Vec<String> = rollouts
        .iter()
        .map(|r| r.spec().group.to_string())
        .collect();
    p.emit(
        json!({"type": "dashboard", "url": running.url(), "addr": running.addr().to_string(),
               "allowActions": a.allow_actions, "groups": groups}),
        || {
            format!(
                "dashboard on {} ({}; groups {}, and every group the state store holds, read-only). \
                 Ctrl-C stops it.",
                running.url(),
                if a.allow_actions {
                    "actions allowed"
                } else {
                    "read-only"
                },
                if groups.is_empty() {
                    "none given".to_string()
                } else {
                    groups.join(", ")
                }
            )
        },
    );
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())
        .map_err(|e| CliError::new("CANARY_INTERNAL", format!("cannot watch SIGTERM: {e}")))?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    running.shutdown().await;
    Ok(0)
}
