//! `canary replay`: [`canary_sdk::replay()`], printed: every decision with its figures, how it
//! ended, and how that compares with the recorded run.

use std::time::Duration;

use canary_sdk::replay::{PrometheusRange, ReplayOptions, ReplayOutcome, ReplayReport};
use serde_json::json;

use crate::args::{Global, ReplayArgs};
use crate::error::{CliResult, EXIT_OK, EXIT_ROLLED_BACK};
use crate::output::{human_event, secs, tagged, Printer};
use crate::{session, specfile};

pub(crate) async fn replay(g: &Global, args: &ReplayArgs, p: &Printer) -> CliResult<u8> {
    let own_spec = args.recording.is_some() && !args.use_spec_file;
    let (spec, overrides) = if own_spec {
        (None, specfile::override_list(&g.overrides)?)
    } else {
        (Some(session::spec(g)?.spec), Vec::new())
    };
    let prometheus = match (&args.from, &args.to) {
        (Some(from), Some(to)) => Some(
            PrometheusRange::new(g.connect.prometheus_url.clone(), from, to)
                .scrape_interval(g.connect.scrape_interval),
        ),
        _ => None,
    };
    let mut options = ReplayOptions::default().overrides(overrides);
    options.recording = args.recording.clone();
    options.prometheus = prometheus;
    let report = canary_sdk::replay(spec, options).await?;
    print(&report, p);
    Ok(match report.outcome {
        ReplayOutcome::RolledBack { .. } => EXIT_ROLLED_BACK,
        _ => EXIT_OK,
    })
}

fn at(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "+" };
    format!("t{sign}{}", secs(Duration::from_millis(ms.unsigned_abs())))
}

/// How a rollout ended, in words.
fn ended(o: &ReplayOutcome) -> String {
    match o {
        ReplayOutcome::Promoted { at_ms } => format!("promoted at {}", at(*at_ms)),
        ReplayOutcome::RolledBack { at_ms, cause } => {
            format!("rolled back at {}: {cause}", at(*at_ms))
        }
        ReplayOutcome::Undecided {
            at_ms,
            phase,
            step,
            weight,
            why,
        } => format!(
            "no decision by {}: {phase} at step {} (weight {weight}%) when {why}",
            at(*at_ms),
            step + 1
        ),
        other => format!("{other:?}"),
    }
}

fn print(r: &ReplayReport, p: &Printer) {
    let what_if = if r.overrides.is_empty() {
        String::new()
    } else {
        let list: Vec<String> = r
            .overrides
            .iter()
            .map(|o| format!("{}={}", o.path, o.value))
            .collect();
        format!(", what-if: {}", list.join(" "))
    };
    p.note(format!(
        "replay of group {} from {}{what_if}; times from the canary's first traffic (t+0)",
        r.group, r.source
    ));
    for d in &r.decisions {
        p.emit(tagged("decision", d), || {
            human_event(&d.event, Duration::from_millis(d.at_ms.max(0) as u64))
                .replacen('+', "t+", 1)
        });
    }
    let same = r.recorded.as_ref().map(|_| r.differences.is_empty());
    p.emit(
        json!({"type": "replay", "group": r.group, "source": r.source, "outcome": r.outcome,
               "recorded": r.recorded.as_ref().map(|rec| &rec.outcome),
               "sameAsRecorded": same, "differences": r.differences}),
        || {
            let mut s = format!("REPLAY: {}", ended(&r.outcome));
            if let Some(rec) = &r.recorded {
                s.push_str(&format!("\nRECORDED: {}", ended(&rec.outcome)));
                if r.differences.is_empty() {
                    s.push_str(&format!(
                        "\nthe replay made the recorded run's {} decisions, figures included",
                        r.decisions.len()
                    ));
                } else {
                    s.push_str("\nthe replay's decisions differ from the recorded ones:");
                    for d in &r.differences {
                        s.push_str(&format!("\n  - {d}"));
                    }
                }
            }
            s
        },
    );
}
