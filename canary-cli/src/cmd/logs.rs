//! `canary logs`: the Swarm services' log lines (the seed's `docker service logs`).

use canary_core::{LogOptions, Orchestrator, Track};
use futures::stream::{self, StreamExt};

use super::{with_events, Driven};
use crate::args::{Global, LogsArgs};
use crate::error::{CliError, CliResult};
use crate::output::{tagged, Printer};
use crate::{specfile, wire};

pub(crate) async fn logs(g: &Global, a: &LogsArgs, p: &Printer) -> CliResult<u8> {
    let spec = specfile::load(&g.spec, &g.overrides)?.spec;
    let swarm = wire::swarm(&g.connect).await?;
    let apps: Vec<_> = spec
        .app_refs()
        .into_iter()
        .filter(|r| a.app.as_deref().is_none_or(|n| n == r.name.as_str()))
        .collect();
    if apps.is_empty() {
        return Err(CliError::usage(format!(
            "no app named {:?} in the spec",
            a.app.as_deref().unwrap_or("")
        )));
    }
    let options = LogOptions {
        follow: a.follow,
        tail: a.tail,
        since_secs: a.since.map(|d| d.get().as_secs().max(1)),
    };
    let mut streams = Vec::new();
    for app in &apps {
        let service = match a.track {
            Track::Stable => &app.stable,
            Track::Canary => &app.canary,
        };
        streams.push(
            swarm
                .logs(service, &options)
                .await
                .map_err(|e| CliError::from(e).context(format!("logs of {service}")))?,
        );
    }
    let mut lines = stream::select_all(streams);
    // No rollout events here; the channel only lets `with_events` watch the signals.
    let (_tx, mut none) = tokio::sync::broadcast::channel(1);
    let mut last = None;
    let print_all = async {
        while let Some(line) = lines.next().await {
            match line {
                Ok(l) => p.emit(tagged("log", &l), || {
                    format!(
                        "{} {} {}",
                        l.service,
                        l.timestamp.as_deref().unwrap_or("-"),
                        l.line
                    )
                }),
                Err(e) => return Err(CliError::from(e)),
            }
        }
        Ok(())
    };
    match with_events(print_all, &mut none, p, None, &mut last).await? {
        Driven::Done(r) => r.map(|()| 0),
        Driven::Interrupted { .. } => Ok(0),
    }
}
