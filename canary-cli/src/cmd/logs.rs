//! `canary logs`: the Swarm services' log lines (the seed's `docker service logs`), through
//! [`canary_sdk::Canary::logs`].

use canary_core::LogOptions;
use futures::StreamExt;

use super::{with_events, Driven};
use crate::args::{Global, LogsArgs};
use crate::error::{CliError, CliResult};
use crate::output::{tagged, Printer};
use crate::session;

pub(crate) async fn logs(g: &Global, a: &LogsArgs, p: &Printer) -> CliResult<u8> {
    let (_, canary) = session::connect(g).await?;
    let options = LogOptions::default()
        .follow(a.follow)
        .tail(a.tail)
        .since_secs(a.since.map(|d| d.get().as_secs().max(1)));
    let mut lines = canary
        .logs(a.track, a.app.as_deref(), &options)
        .await
        .map_err(CliError::from)?;
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
