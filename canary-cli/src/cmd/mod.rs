//! One module per subcommand. Each loads the spec, wires the crates, calls them, prints.

use std::future::Future;
use std::time::Duration;

use canary_core::Event;
use tokio::sync::broadcast;

use crate::args::{Cli, Command};
use crate::error::{CliError, CliResult};
use crate::exporter::Exporter;
use crate::output::Printer;

mod build;
mod compose;
mod control;
mod dashboard;
mod deploy;
mod logs;
mod notify;
mod replay;
mod run;
mod smoke;
mod status;

/// Runs the parsed command; the exit code on success.
pub(crate) async fn dispatch(cli: &Cli, p: &Printer) -> CliResult<u8> {
    let g = &cli.global;
    match &cli.command {
        Command::Build(a) => build::build(g, a, p).await,
        Command::Deploy(a) => deploy::deploy(g, a, p).await,
        Command::Test(a) => smoke::test(g, a, p).await,
        Command::Run(a) => run::run(g, a, p).await,
        Command::Status => status::status(g, p).await,
        Command::Promote(a) => {
            let cmd = if a.full {
                canary_core::Command::PromoteFull
            } else {
                canary_core::Command::Promote
            };
            control::control(g, cmd, a.no_write, p).await
        }
        Command::Rollback => control::control(g, canary_core::Command::Abort, false, p).await,
        Command::Pause => control::control(g, canary_core::Command::Pause, false, p).await,
        Command::Resume => control::control(g, canary_core::Command::Resume, false, p).await,
        Command::Logs(a) => logs::logs(g, a, p).await,
        Command::Dashboard(a) => dashboard::dashboard(g, a, p).await,
        Command::Replay(a) => replay::replay(g, a, p).await,
        Command::NotifyTest => notify::notify_test(g, p).await,
    }
}

/// How long a command that drove a rollout waits, before it exits, for the notifications of
/// its last events (each post has its own timeout, 5s by default).
pub(crate) const NOTIFY_FLUSH: Duration = Duration::from_secs(10);

/// How waiting for a rollout future ended.
pub(crate) enum Driven<T> {
    /// It finished.
    Done(T),
    /// A signal stopped it; the exit code to use.
    Interrupted {
        /// `SIGINT` or `SIGTERM`.
        signal: &'static str,
        /// 130 or 143.
        code: u8,
    },
}

/// Awaits `fut` while printing the rollout's events (and feeding the exporter), redrawing the live
/// line every second, and stopping at SIGINT or SIGTERM. `last` keeps the last event seen.
pub(crate) async fn with_events<T>(
    fut: impl Future<Output = T>,
    events: &mut broadcast::Receiver<Event>,
    p: &Printer,
    exporter: Option<&Exporter>,
    last: &mut Option<Event>,
) -> CliResult<Driven<T>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())
        .map_err(|e| CliError::new("CANARY_INTERNAL", format!("cannot watch SIGTERM: {e}")))?;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let show = |ev: Event, last: &mut Option<Event>| {
        if let Some(x) = exporter {
            x.update(&ev);
        }
        p.event(&ev);
        *last = Some(ev);
    };
    tokio::pin!(fut);
    loop {
        tokio::select! {
            biased;
            ev = events.recv() => match ev {
                Ok(ev) => show(ev, last),
                Err(broadcast::error::RecvError::Lagged(n)) => p.note(format!("(missed {n} events: the printer fell behind)")),
                Err(broadcast::error::RecvError::Closed) => {}
            },
            out = &mut fut => {
                while let Ok(ev) = events.try_recv() {
                    show(ev, last);
                }
                return Ok(Driven::Done(out));
            }
            _ = tokio::signal::ctrl_c() => return Ok(Driven::Interrupted { signal: "SIGINT", code: 130 }),
            _ = term.recv() => return Ok(Driven::Interrupted { signal: "SIGTERM", code: 143 }),
            _ = tick.tick() => p.tick(),
        }
    }
}
