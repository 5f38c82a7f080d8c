//! [`Recording`]: a recording read back (bounded: see the [format](super)), its entries in time
//! order, and its steps indexed so an answer can be found by where the rollout is.
//!
//! **Where an answer is looked up.** A replayed rollout does not keep the recorded run's wall
//! clock: starting the canary, confirming routes and rolling back take no time in a replay. What
//! it keeps is each step's own clock: the analysis asks at the same offsets from the moment a
//! step's weight was set (its `weightSet` event). So a step of the recording spans from its
//! `weightSet` to the next one (or to the end of the recording), and a query of the replay at
//! step `i`, `d` ms after that step's weight was set, gets the recorded answer to the same query
//! (same call, app, track and metric) in step `i` nearest to `d`, within 1 s and for a window
//! within 10 % (or 250 ms) of the one asked. Otherwise the answer is "not recorded" (the check is
//! inconclusive, never a pass), and past the end of the recorded step the recording is over
//! ([`Lookup::Beyond`]). A step weight set again for the same step (after a pause) is matched
//! occurrence by occurrence.

use std::path::Path;
use std::time::Duration;

use super::{
    Answer, Entry, Header, Op, FORMAT, MAX_BYTES, MAX_ENTRIES, MAX_LINE, MAX_SAMPLES, MAX_T,
    VERSION,
};
use crate::error::{Error, Result};
use crate::model::{Event, EventKind};
use crate::spec::overrides::{self, Override};
use crate::spec::Spec;
use crate::traits::MetricQuery;

/// How far in time a recorded answer may be from the moment it is asked for, in ms.
pub const TIME_TOLERANCE_MS: u64 = 1000;

/// One step as recorded: from its `weightSet` event to the next one or the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepSpan {
    /// The step's index.
    pub step: usize,
    /// Which time this step's weight was set (0 the first; a resume sets it again).
    pub occurrence: usize,
    /// The weight set.
    pub weight: u8,
    /// When the weight was set (ms since the recording started).
    pub from: u64,
    /// When the next step's weight was set, or the recording ended.
    pub to: u64,
}

/// What a recording has for a query.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Lookup<'a> {
    /// The recorded answer.
    Answer(&'a Answer),
    /// Nothing recorded for it there: why.
    NotRecorded(String),
    /// The rollout is past what was recorded: why.
    Beyond(String),
}

/// A recording read back.
#[derive(Debug, Clone, PartialEq)]
pub struct Recording {
    /// The header.
    pub header: Header,
    /// The entries in time order.
    pub entries: Vec<Entry>,
    /// Whether the recording was closed (an `end` line), not cut.
    pub ended: bool,
    steps: Vec<StepSpan>,
}

fn bad(line: usize, why: impl std::fmt::Display) -> Error {
    Error::invalid("recording", format!("line {line}: {why}"))
}

impl Recording {
    /// Reads the recording at `path` (at most [`MAX_BYTES`]).
    pub fn load(path: impl AsRef<Path>) -> Result<Recording> {
        let path = path.as_ref();
        let unreadable = |e: std::io::Error| {
            Error::invalid("recording", format!("cannot read {}: {e}", path.display()))
                .with_source(e)
        };
        let meta = std::fs::metadata(path).map_err(unreadable)?;
        if meta.len() > MAX_BYTES as u64 {
            return Err(Error::invalid(
                "recording",
                format!(
                    "{} is {} bytes; the limit is {MAX_BYTES}",
                    path.display(),
                    meta.len()
                ),
            ));
        }
        let bytes = std::fs::read(path).map_err(unreadable)?;
        Recording::parse(&bytes)
    }

    /// Reads a recording from its bytes (see the [format](super) and its bounds).
    pub fn parse(bytes: &[u8]) -> Result<Recording> {
        if bytes.len() > MAX_BYTES {
            return Err(Error::invalid(
                "recording",
                format!("{} bytes; the limit is {MAX_BYTES}", bytes.len()),
            ));
        }
        let text = std::str::from_utf8(bytes).map_err(|e| {
            Error::invalid(
                "recording",
                format!("not UTF-8 (at byte {})", e.valid_up_to()),
            )
        })?;
        let mut header = None;
        let mut entries = Vec::new();
        let mut ended = false;
        for (i, line) in text.lines().enumerate() {
            let n = i + 1;
            if line.len() > MAX_LINE {
                return Err(bad(n, format!("longer than {MAX_LINE} bytes")));
            }
            if line.trim().is_empty() {
                continue;
            }
            if header.is_none() {
                header = Some(read_header(line).map_err(|why| bad(n, why))?);
                continue;
            }
            if entries.len() >= MAX_ENTRIES {
                return Err(bad(n, format!("more than {MAX_ENTRIES} entries")));
            }
            let entry: Entry = serde_json::from_str(line).map_err(|e| bad(n, &e).with_source(e))?;
            check(&entry).map_err(|why| bad(n, why))?;
            ended |= matches!(entry, Entry::End { .. });
            entries.push(entry);
        }
        let header = header.ok_or_else(|| Error::invalid("recording", "empty: no header"))?;
        // Stable: lines written at the same ms keep their order.
        entries.sort_by_key(Entry::t);
        let steps = spans(&entries);
        Ok(Recording {
            header,
            entries,
            ended,
            steps,
        })
    }

    /// The recorded spec with `overrides` on top, validated (what a replay runs).
    pub fn spec(&self, overrides: &[Override]) -> Result<Spec> {
        let mut tree = self.header.spec.clone();
        overrides::apply(&mut tree, overrides)?;
        Spec::from_value(tree).map_err(|e| match e {
            Error::InvalidInput {
                field,
                reason,
                source,
            } => Error::InvalidInput {
                field: if field.is_empty() {
                    "recording.spec".into()
                } else {
                    format!("recording.spec.{field}")
                },
                reason,
                source,
            },
            other => other,
        })
    }

    /// The recorded steps, in time order.
    pub fn steps(&self) -> &[StepSpan] {
        &self.steps
    }

    /// The recorded events, in time order, with their `t`.
    pub fn events(&self) -> impl Iterator<Item = (u64, &Event)> {
        self.entries.iter().filter_map(|e| match e {
            Entry::Event { t, event } => Some((*t, event.as_ref())),
            _ => None,
        })
    }

    /// How long the recording lasts, in ms.
    pub fn duration_ms(&self) -> u64 {
        self.entries.last().map(Entry::t).unwrap_or(0)
    }

    /// The recorded answer to `query` (by `op`) at `offset_ms` after the weight of step `step`
    /// was set for the `occurrence`-th time (see the module docs).
    pub fn lookup(
        &self,
        op: Op,
        query: &MetricQuery,
        step: usize,
        occurrence: usize,
        offset_ms: u64,
    ) -> Lookup<'_> {
        let of_step: Vec<&StepSpan> = self.steps.iter().filter(|s| s.step == step).collect();
        let Some(span) = of_step.get(occurrence).or_else(|| of_step.last()).copied() else {
            return Lookup::Beyond(format!("the recording has no step {}", step + 1));
        };
        let length = span.to - span.from;
        if offset_ms > length + TIME_TOLERANCE_MS {
            return Lookup::Beyond(format!(
                "the recording of step {} ends {} after its weight was set",
                step + 1,
                secs(length)
            ));
        }
        let what = || {
            format!(
                "{} {} of {} {}",
                match op {
                    Op::Value => "value",
                    Op::Samples => "samples",
                },
                query.metric.label(),
                query.app.name,
                query.track
            )
        };
        let first = self.entries.partition_point(|e| e.t() < span.from);
        let mut best: Option<(u64, &Answer, Duration)> = None;
        for e in &self.entries[first..] {
            if e.t() > span.to {
                break;
            }
            let Entry::Query {
                t,
                op: o,
                query: q,
                answer,
            } = e
            else {
                continue;
            };
            if *o != op
                || q.app.name != query.app.name
                || q.track != query.track
                || q.metric != query.metric
            {
                continue;
            }
            let distance = (t - span.from).abs_diff(offset_ms);
            if best.is_none_or(|(d, _, _)| distance < d) {
                best = Some((distance, answer, q.window));
            }
        }
        let Some((distance, answer, window)) = best else {
            return Lookup::NotRecorded(format!("no {} was recorded in step {}", what(), step + 1));
        };
        if distance > TIME_TOLERANCE_MS {
            return Lookup::NotRecorded(format!(
                "the nearest recorded {} is {} away",
                what(),
                secs(distance)
            ));
        }
        let asked = query.window.as_millis() as u64;
        let had = window.as_millis() as u64;
        if asked.abs_diff(had) > (asked / 10).max(250) {
            return Lookup::NotRecorded(format!(
                "{} was recorded over {}, not {}",
                what(),
                secs(had),
                secs(asked)
            ));
        }
        Lookup::Answer(answer)
    }
}

fn secs(ms: u64) -> String {
    format!("{:.1}s", ms as f64 / 1000.0)
}

fn read_header(line: &str) -> std::result::Result<Header, String> {
    let v: serde_json::Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
    if v.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
        return Err(format!(
            "not a canary recording (the first line has no \"format\": \"{FORMAT}\")"
        ));
    }
    match v.get("version").and_then(|f| f.as_u64()) {
        Some(n) if n == VERSION as u64 => {}
        Some(n) => {
            return Err(format!(
                "recording version {n}; this canary reads version {VERSION}"
            ))
        }
        None => return Err("the header has no version".into()),
    }
    serde_json::from_value(v).map_err(|e| e.to_string())
}

/// What the types cannot check: the bounds of the format.
fn check(entry: &Entry) -> std::result::Result<(), String> {
    if entry.t() > MAX_T {
        return Err(format!("t {} is beyond {MAX_T} ms", entry.t()));
    }
    if let Entry::Query { answer, .. } = entry {
        match answer {
            Answer::Value { value } if !value.is_finite() => {
                return Err("a value that is not finite".into())
            }
            Answer::Samples { values } if values.len() > MAX_SAMPLES => {
                return Err(format!("more than {MAX_SAMPLES} samples"))
            }
            Answer::Samples { values } if values.iter().any(|v| !v.is_finite()) => {
                return Err("a sample that is not finite".into())
            }
            _ => {}
        }
    }
    Ok(())
}

/// The steps of `entries` (in time order), from their `weightSet` events.
fn spans(entries: &[Entry]) -> Vec<StepSpan> {
    let end = entries.last().map(Entry::t).unwrap_or(0);
    let mut out: Vec<StepSpan> = Vec::new();
    for e in entries {
        let Entry::Event { t, event } = e else {
            continue;
        };
        if event.kind != EventKind::WeightSet {
            continue;
        }
        if let Some(last) = out.last_mut() {
            last.to = *t;
        }
        let occurrence = out.iter().filter(|s| s.step == event.step).count();
        out.push(StepSpan {
            step: event.step,
            occurrence,
            weight: event.weight,
            from: *t,
            to: end,
        });
    }
    out
}
