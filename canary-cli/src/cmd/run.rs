//! `canary run`: the engine's `Rollout::run`, printed.

use canary_core::recording::Recorder;
use canary_core::{EventKind, Outcome, RolloutOptions, Track};
use serde_json::json;

use super::compose::{report_drift, write_back};
use super::{with_events, Driven};
use crate::args::{Global, RunArgs};
use crate::error::{CliResult, EXIT_ERROR, EXIT_OK, EXIT_ROLLED_BACK};
use crate::exporter::Exporter;
use crate::output::{secs, Printer};
use crate::session;

pub(crate) async fn run(g: &Global, args: &RunArgs, p: &Printer) -> CliResult<u8> {
    // Every option is checked before anything is read or touched.
    let checked = RolloutOptions::default()
        .lease(g.lease.get())
        .poll(args.poll.get());
    checked.validate()?;
    let (_, canary) = session::connect(g).await?;
    canary.require_stable().await?;
    let recorder = match &args.record {
        Some(path) => Some(Recorder::create(path, canary.spec())?),
        None => None,
    };
    let canary = match &recorder {
        Some(r) => canary.wrap_metrics(|m| r.metrics(m)),
        None => canary,
    };
    let spec = canary.spec().clone();
    p.live_line(spec.traffic.interval.get());
    let group = spec.group.to_string();
    let exporter = Exporter::new(
        &group,
        spec.apps.iter().map(|a| a.name.to_string()).collect(),
        spec.steps().len(),
    );
    exporter.set_backends(
        canary
            .backends()?
            .into_iter()
            .map(|b| (b.app, track_word(b.track), b.service))
            .collect(),
    );
    let server = match args.metrics_addr {
        Some(addr) => {
            let task = exporter.serve(addr).await?;
            p.note(format!(
                "serving the rollout's decisions on http://{addr}/metrics"
            ));
            Some(task)
        }
        None => None,
    };
    // Said before anything changes: a stable that no longer runs what it should.
    report_drift(&canary, p, Some(&exporter)).await;
    let opts = canary
        .controller()
        .poll(args.poll.get())
        .takeover(args.takeover)
        .restart(args.restart);
    let owner = opts.owner.clone();
    p.note(format!(
        "canary run: group {group}, steps {:?} every {}, metrics from {:?}, controller {owner}",
        spec.steps().iter().map(|w| w.get()).collect::<Vec<_>>(),
        spec.traffic.interval,
        g.connect.metrics,
    ));
    let rollout = canary.rollout(opts)?;
    let mut events = rollout.subscribe();
    let following = recorder.as_ref().map(|r| r.follow(rollout.subscribe()));
    let mut last = None;
    let driven = with_events(rollout.run(), &mut events, p, Some(&exporter), &mut last).await?;
    if let Some(s) = server {
        s.abort();
    }
    if let (Some(f), Some(r), Some(path)) = (following, &recorder, &args.record) {
        f.stop().await;
        match r.finish() {
            Ok(()) => p.note(format!(
                "recorded the rollout's metrics and events to {} (`canary replay {0}`)",
                path.display()
            )),
            Err(e) => p.note(format!("{}: {e}", path.display())),
        }
    }
    // Hand the lease back so the next `canary run` resumes at once; if that fails the lease
    // simply expires.
    let released = match driven {
        Driven::Interrupted { .. } => rollout.release().await.is_ok(),
        Driven::Done(_) => true,
    };
    // The rollout's last events (promoted, rolled back) may still be on their way to the
    // notifications: let them go before the process does.
    drop(rollout);
    if !canary.flush_notifications(super::NOTIFY_FLUSH).await {
        p.note("some notifications were still being sent when canary exited");
    }
    let elapsed = p.elapsed();
    let spec_path = g.spec.display();
    // The saved rollout of these images had already ended: nothing was run.
    if last
        .as_ref()
        .is_some_and(|e| e.kind == EventKind::Resumed && e.phase.is_terminal())
    {
        p.note(format!(
            "(a rollout of these images already ended; `canary run -f {spec_path} --restart` runs it again)"
        ));
    }
    match driven {
        Driven::Interrupted { signal, code } => {
            let at = last
                .as_ref()
                .map(|e| {
                    format!(
                        "{} at step {}/{} (weight {}%)",
                        e.phase,
                        e.step + 1,
                        e.steps,
                        e.weight
                    )
                })
                .unwrap_or_else(|| "where it was".into());
            p.emit(
                json!({"type": "result", "group": group, "result": "interrupted", "signal": signal,
                       "exitCode": code, "durationMs": elapsed.as_millis() as u64}),
                || {
                    format!(
                        "interrupted by {signal} after {}: stopped driving; the rollout stays {at}. \
                         `canary run -f {spec_path}` resumes it{}.",
                        secs(elapsed),
                        if released {
                            String::new()
                        } else {
                            format!(" once this controller's lease ({}) expires", g.lease)
                        }
                    )
                },
            );
            Ok(code)
        }
        Driven::Done(Ok(Outcome::Promoted)) => {
            // The file first: the result line is the last one, and a file left behind is an
            // error the exit code must show.
            let written = write_back(&canary, args.no_write, p).await;
            report_drift(&canary, p, Some(&exporter)).await;
            written?;
            p.emit(
                json!({"type": "result", "group": group, "result": "promoted", "exitCode": EXIT_OK,
                       "durationMs": elapsed.as_millis() as u64}),
                || {
                    format!(
                        "PROMOTED: group {group} in {} from `canary run` start",
                        secs(elapsed)
                    )
                },
            );
            Ok(EXIT_OK)
        }
        Driven::Done(Ok(Outcome::RolledBack { cause })) => {
            p.emit(
                json!({"type": "result", "group": group, "result": "rolledBack", "cause": cause,
                       "exitCode": EXIT_ROLLED_BACK, "durationMs": elapsed.as_millis() as u64}),
                || {
                    format!(
                        "ROLLED BACK: group {group} after {}: {cause}",
                        secs(elapsed)
                    )
                },
            );
            Ok(EXIT_ROLLED_BACK)
        }
        // An ending newer than this CLI: not a promotion, so not a success.
        Driven::Done(Ok(other)) => {
            p.emit(
                json!({"type": "result", "group": group, "result": "other", "outcome": other,
                       "exitCode": EXIT_ERROR, "durationMs": elapsed.as_millis() as u64}),
                || format!("ENDED: group {group} after {}: {other:?}", secs(elapsed)),
            );
            Ok(EXIT_ERROR)
        }
        Driven::Done(Err(e)) => Err(e.into()),
    }
}

fn track_word(t: Track) -> &'static str {
    match t {
        Track::Stable => "stable",
        Track::Canary => "canary",
    }
}
