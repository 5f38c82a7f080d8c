//! `canary promote [--full] | rollback | pause | resume`: `Rollout::command`, delivered to the
//! `canary run` driving the rollout (through the saved state) or carried out here; a promotion
//! carried out here is written into the compose file the spec came from, as `canary run` does.

use canary_core::{Command, CommandOutcome, Phase};
use serde_json::json;

use super::compose::{report_drift, write_back};
use super::{with_events, Driven};
use crate::args::Global;
use crate::error::CliResult;
use crate::output::Printer;
use crate::session;

fn word(cmd: Command) -> String {
    match cmd {
        Command::PromoteFull => "promote --full".into(),
        // The others are the CLI's own words already.
        other => other.to_string(),
    }
}

pub(crate) async fn control(
    g: &Global,
    cmd: Command,
    no_write: bool,
    p: &Printer,
) -> CliResult<u8> {
    let (_, canary) = session::connect(g).await?;
    let group = canary.spec().group.to_string();
    let rollout = canary.rollout(canary.controller())?;
    let by = session::who(&canary);
    let mut events = rollout.subscribe();
    let mut last = None;
    let what = word(cmd);
    let driven = with_events(
        rollout.command_by(cmd, &by),
        &mut events,
        p,
        None,
        &mut last,
    )
    .await?;
    // A command carried out here (a rollback) emits events the notifications are posting.
    drop(rollout);
    if !canary.flush_notifications(super::NOTIFY_FLUSH).await {
        p.note("some notifications were still being sent when canary exited");
    }
    let outcome = match driven {
        Driven::Done(r) => {
            r.map_err(|e| crate::error::CliError::from(e).context(format!("{what} {group}")))?
        }
        Driven::Interrupted { signal, code } => {
            p.note(format!(
                "interrupted by {signal}; the rollout's state is saved"
            ));
            return Ok(code);
        }
    };
    match outcome {
        CommandOutcome::Delivered { owner } => p.emit(
            json!({"type": "command", "group": group, "command": what, "result": "delivered", "owner": owner}),
            || format!("{what}: delivered to the controller driving {group} ({owner})"),
        ),
        CommandOutcome::Applied { phase } => {
            if phase == Phase::Promoted {
                let written = write_back(&canary, no_write, p).await;
                report_drift(&canary, p, None).await;
                written?;
            }
            p.emit(
                json!({"type": "command", "group": group, "command": what, "result": "applied", "phase": phase}),
                || format!("{what}: applied here (no controller was driving {group}); the rollout is now {phase}"),
            )
        }
        // An outcome newer than this CLI: printed as the core serialises it.
        other => p.emit(
            json!({"type": "command", "group": group, "command": what, "outcome": other}),
            || format!("{what}: {other:?}"),
        ),
    }
    Ok(0)
}
