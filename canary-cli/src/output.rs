//! Printing: lines for people, or one JSON object per line (`--output json`).
//!
//! In JSON mode every line on stdout is an object with a `type`: `event` (a serialized
//! [`canary_core::Event`] with `type` added), `result`, `error`, or the command's own type
//! (`status`, `deploy`, `test`, `build`, `log`, `command`). Errors also go to stderr as one line.
//! In human mode, on a terminal, a live line on stderr says what the rollout is waiting for.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use canary_core::analysis::{AnalysisReport, Verdict};
use canary_core::ops::{Drift, WriteBack, WrittenAs};
use canary_core::{Event, EventKind, Phase};
use serde::Serialize;
use serde_json::{json, Value};

use crate::args::OutputFormat;
use crate::error::CliError;

/// Prints for one command.
#[derive(Debug)]
pub(crate) struct Printer {
    format: OutputFormat,
    start: Instant,
    live: Mutex<Live>,
}

#[derive(Debug, Default)]
struct Live {
    /// Draw the live line (human output on a terminal).
    enabled: bool,
    /// A live line is on screen.
    shown: bool,
    /// The step interval, to count down to the next analysis.
    interval: Duration,
    /// What is being waited for, and since when.
    waiting: Option<(String, Instant, Option<Duration>)>,
}

impl Printer {
    /// A printer in `format`.
    pub(crate) fn new(format: OutputFormat) -> Self {
        Printer {
            format,
            start: Instant::now(),
            live: Mutex::new(Live::default()),
        }
    }

    /// Turns on the live line (human output on a terminal only) for a rollout with steps of
    /// `interval`.
    pub(crate) fn live_line(&self, interval: Duration) {
        let mut l = self.live.lock().expect("live lock");
        l.enabled = self.format == OutputFormat::Human && std::io::stderr().is_terminal();
        l.interval = interval;
    }

    /// Time since this printer was made.
    pub(crate) fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// Prints `human()` as lines for people, or `json` as one JSON line.
    pub(crate) fn emit(&self, json: Value, human: impl FnOnce() -> String) {
        self.clear_live();
        let mut out = std::io::stdout().lock();
        let _ = match self.format {
            OutputFormat::Json => writeln!(out, "{json}"),
            OutputFormat::Human => writeln!(out, "{}", human()),
        };
        let _ = out.flush();
    }

    /// Prints a line for people only (nothing in JSON mode).
    pub(crate) fn note(&self, text: impl AsRef<str>) {
        if self.format == OutputFormat::Human {
            self.clear_live();
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{}", text.as_ref());
            let _ = out.flush();
        }
    }

    /// Prints an error: one line on stderr, and an `error` object in JSON mode.
    pub(crate) fn error(&self, e: &CliError) {
        self.clear_live();
        if self.format == OutputFormat::Json {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(
                out,
                "{}",
                json!({"type": "error", "code": e.code, "message": e.message, "exitCode": e.exit})
            );
            let _ = out.flush();
        }
        eprintln!("canary: error: {}", e.message);
    }

    /// Prints a rollout event (and, for analyses, the figures behind the decision).
    pub(crate) fn event(&self, ev: &Event) {
        self.update_live(ev);
        self.emit(tagged("event", ev), || {
            human_event(ev, self.start.elapsed())
        });
        self.draw_live();
    }

    /// Redraws the live line (called every second while a rollout runs).
    pub(crate) fn tick(&self) {
        self.draw_live();
    }

    fn update_live(&self, ev: &Event) {
        let mut l = self.live.lock().expect("live lock");
        if !l.enabled {
            return;
        }
        let step = format!("step {}/{} at {}%", ev.step + 1, ev.steps, ev.weight);
        l.waiting = match (ev.kind, ev.phase) {
            (EventKind::WeightSet, Phase::Progressing) => Some((
                format!("{step}: analysis"),
                Instant::now(),
                Some(l.interval),
            )),
            (_, Phase::Paused) => Some((
                format!("paused at {step}: `canary resume` continues"),
                Instant::now(),
                None,
            )),
            (_, Phase::Promoting) => Some((
                "promoting: stable takes the canary's version".into(),
                Instant::now(),
                None,
            )),
            (_, Phase::RollingBack) => Some(("rolling back".into(), Instant::now(), None)),
            (_, Phase::Pending) => Some(("starting the canary".into(), Instant::now(), None)),
            (EventKind::Analysis, Phase::Progressing) => {
                Some((format!("{step}: next step"), Instant::now(), None))
            }
            (_, p) if p.is_terminal() => None,
            (_, _) => l.waiting.take(),
        };
    }

    fn draw_live(&self) {
        let mut l = self.live.lock().expect("live lock");
        if !l.enabled {
            return;
        }
        let Some((what, since, due)) = &l.waiting else {
            return;
        };
        let waited = since.elapsed();
        let text = match due {
            Some(d) => format!("  … {what} in {}s", d.saturating_sub(waited).as_secs()),
            None => format!("  … {what} ({}s)", waited.as_secs()),
        };
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K{text}");
        let _ = err.flush();
        l.shown = true;
    }

    fn clear_live(&self) {
        let mut l = self.live.lock().expect("live lock");
        if l.shown {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
            l.shown = false;
        }
    }
}

/// `value` as a JSON object with `"type": kind` first.
pub(crate) fn tagged<T: Serialize>(kind: &str, value: &T) -> Value {
    let mut out = serde_json::Map::new();
    out.insert("type".into(), Value::String(kind.into()));
    match serde_json::to_value(value) {
        Ok(Value::Object(m)) => out.extend(m),
        Ok(other) => {
            out.insert("value".into(), other);
        }
        Err(e) => {
            out.insert("serializeError".into(), Value::String(e.to_string()));
        }
    }
    Value::Object(out)
}

/// `+12.3s`.
pub(crate) fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

fn where_in_rollout(ev: &Event) -> String {
    match ev.phase {
        Phase::Progressing | Phase::Paused => format!("step {}/{}", ev.step + 1, ev.steps),
        p => p.to_string(),
    }
}

/// One event for people, with the checks of an analysis below it.
pub(crate) fn human_event(ev: &Event, elapsed: Duration) -> String {
    // An analysis event's message repeats every figure in one line; the lines below show them
    // one check at a time, so the head keeps only the verdict and the counters.
    let message = match &ev.analysis {
        Some(report) => {
            let counters = ev
                .message
                .rfind(" (failures ")
                .map(|i| &ev.message[i..])
                .unwrap_or("");
            format!(
                "analysis at weight {}%: {}{counters}",
                ev.weight,
                verdict_word(report.verdict)
            )
        }
        None => ev.message.clone(),
    };
    let mut s = format!(
        "{:>7}  {:<12} weight {:>3}%  {message}",
        format!("+{}", secs(elapsed)),
        where_in_rollout(ev),
        ev.weight,
    );
    if let Some(report) = &ev.analysis {
        s.push_str(&human_report(report, "           "));
    }
    s
}

fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Fail => "FAIL",
        Verdict::Inconclusive => "inconclusive",
        _ => "unknown",
    }
}

/// The figures of an analysis, one line per check (and per judged metric), each line indented.
pub(crate) fn human_report(report: &AnalysisReport, indent: &str) -> String {
    let app_w = report.checks.iter().map(|c| c.app.len()).max().unwrap_or(0);
    let name_w = report
        .checks
        .iter()
        .map(|c| c.name.len())
        .max()
        .unwrap_or(0);
    let mut s = String::new();
    for c in &report.checks {
        s.push_str(&format!(
            "\n{indent}{:<app_w$}  {:<name_w$}  {:<12} {}{}{}",
            c.app,
            c.name,
            verdict_word(c.verdict),
            c.reason,
            if c.critical { " (critical)" } else { "" },
            if c.dry_run { " (dry run)" } else { "" },
        ));
    }
    for j in &report.judges {
        s.push_str(&format!(
            "\n{indent}{:<app_w$}  judge score {:.0}: {} {}{}",
            j.app,
            j.score,
            verdict_word(j.verdict),
            j.reason,
            if j.dry_run { " (dry run)" } else { "" },
        ));
        for m in &j.metrics {
            s.push_str(&format!(
                "\n{indent}{:<app_w$}    {} {:?}: {}{}",
                "",
                m.name,
                m.classification,
                m.reason,
                if m.dry_run { " (dry run)" } else { "" },
            ));
        }
    }
    s
}

/// A promotion written back into the compose file (or, with `--no-write`, the patch).
pub(crate) fn human_write_back(w: &WriteBack) -> String {
    let mut s = String::new();
    for i in w.images.iter() {
        let how = match i.written_as {
            WrittenAs::Digest => "the promoted registry digest".to_string(),
            WrittenAs::Tag => format!("the canary's tag, which still names the promoted {}", i.promoted),
            WrittenAs::Id => format!(
                "the promoted image ID: no tag of the spec names {} any more, and an ID is only on nodes that have the image",
                i.promoted
            ),
            other => format!("{other:?} of the promoted {}", i.promoted),
        };
        let verb = match (i.changed, w.written) {
            (false, _) => "already names",
            (true, true) => "now names",
            (true, false) => "would name",
        };
        s.push_str(&format!(
            "{} line {}: services.{}.image {verb} {} ({how}){}\n",
            w.file,
            i.line,
            i.service,
            i.image,
            if i.changed {
                format!(", was {}", i.previous)
            } else {
                String::new()
            },
        ));
    }
    if !w.written && !w.patch.is_empty() {
        s.push_str(&format!(
            "not written (--no-write); apply with `git apply` or `patch -p1`:\n{}",
            w.patch
        ));
    }
    s.trim_end().to_string()
}

/// Drift of stable from the last promotion or the compose file, one line per app.
pub(crate) fn human_drift(drift: &[Drift]) -> String {
    drift
        .iter()
        .map(|d| format!("DRIFT {}", d.message))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_tagged_and_keep_their_fields() {
        let ev = Event {
            at_ms: 1,
            group: "g".into(),
            kind: EventKind::WeightSet,
            phase: Phase::Progressing,
            step: 1,
            steps: 3,
            weight: 50,
            message: "step 2 of 3: canary weight 50%".into(),
            analysis: None,
        };
        let v = tagged("event", &ev);
        assert_eq!(v["type"], "event");
        assert_eq!(v["kind"], "weightSet");
        assert_eq!(v["weight"], 50);
        let back: Event = serde_json::from_value(v).unwrap();
        assert_eq!(back, ev);
        let line = human_event(&ev, Duration::from_millis(12_345));
        assert!(
            line.contains("+12.3s") && line.contains("step 2/3") && line.contains(" 50%"),
            "{line}"
        );
    }

    #[test]
    fn dry_run_checks_are_marked() {
        use canary_core::analysis::CheckResult;
        let check = |name: &str, verdict, dry_run| CheckResult {
            name: name.into(),
            app: "api".into(),
            metric: "web".into(),
            canary: Some(2.5),
            stable: None,
            verdict,
            critical: true,
            dry_run,
            reason: format!("{name} figures"),
        };
        let ev = Event {
            at_ms: 1,
            group: "g".into(),
            kind: EventKind::Analysis,
            phase: Phase::Progressing,
            step: 0,
            steps: 1,
            weight: 50,
            message: "analysis passed at weight 50: ... (failures 0/0, inconclusive 0/2)".into(),
            analysis: Some(AnalysisReport {
                verdict: Verdict::Pass,
                critical_failure: false,
                checks: vec![
                    check("errors", Verdict::Pass, false),
                    check("p99-budget", Verdict::Fail, true),
                ],
                judges: Vec::new(),
                summary: String::new(),
            }),
        };
        let text = human_event(&ev, Duration::ZERO);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].contains("analysis at weight 50%: pass"), "{text}");
        assert!(
            lines[1].contains("errors") && lines[1].ends_with("errors figures (critical)"),
            "{text}"
        );
        assert!(
            lines[2].contains("FAIL")
                && lines[2].ends_with("p99-budget figures (critical) (dry run)"),
            "{text}"
        );
    }
}
