//! The bodies posted for an event, one builder per [`NotificationKind`]: Slack incoming webhooks
//! (`text` and Block Kit `blocks`), Microsoft Teams (an Adaptive Card in a `message`), Discord
//! webhooks (`content` and one embed) and plain JSON (the event as serde writes it).
//!
//! Every builder shows the same things: the group and what happened, the phase, step and canary
//! weight, the engine's message, and each analysis check as `name app: canary value vs limit
//! (verdict)`. Events other than analyses carry no report of their own; a [`Note`] then carries
//! the last analysis seen on the stream, so "rolled back" says which figures led there.
//!
//! Each service refuses a message past its limits, so every text is cut to them (counted in
//! UTF-16 units, which is never fewer than the characters the services count) and lists are
//! capped with an "… and N more" line.

use std::collections::BTreeMap;

use canary_core::analysis::judge::bad_direction;
use canary_core::analysis::{AnalysisReport, CheckResult, Classification, JudgeReport, Verdict};
use canary_core::spec::{AnalysisSpec, Direction, NotificationKind};
use canary_core::{Event, EventKind};
use serde_json::{json, Value};

/// An event to post, with the last analysis when the event has none of its own.
#[derive(Debug, Clone, PartialEq)]
pub struct Note {
    /// The event.
    pub event: Event,
    /// The last analysis seen before it, and the weight it was taken at (only for events
    /// without an analysis of their own).
    pub last_analysis: Option<(AnalysisReport, u8)>,
    /// A test sent by `canary notify-test`: said so in the title and the JSON.
    pub test: bool,
}

impl Note {
    /// A note of `event` alone.
    pub fn new(event: Event) -> Self {
        Note {
            event,
            last_analysis: None,
            test: false,
        }
    }
}

/// What each analysis check of a spec is held to, in words, for the messages (the reports carry
/// the values and verdicts, not the limits).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Limits {
    checks: BTreeMap<String, Bounds>,
    min_requests: u64,
}

#[derive(Debug, Clone, PartialEq)]
struct Bounds {
    min: Option<f64>,
    max: Option<f64>,
    /// The bad direction and the tolerance of a relative check.
    relative: Option<(Direction, f64)>,
}

impl Limits {
    /// The limits of `analysis`'s checks (the engine's default checks when it has neither
    /// checks nor a judge, as the engine runs them).
    pub(crate) fn new(analysis: &AnalysisSpec) -> Self {
        let defaults;
        let checks = if analysis.checks.is_empty() && analysis.judge.is_none() {
            defaults = canary_core::analysis::default_checks();
            &defaults
        } else {
            &analysis.checks
        };
        let checks = checks
            .iter()
            .map(|c| {
                let relative = c
                    .relative
                    .as_ref()
                    .map(|r| (bad_direction(r.direction, &c.metric), r.tolerance));
                let b = Bounds {
                    min: c.min,
                    max: c.max,
                    relative,
                };
                (c.name.clone(), b)
            })
            .collect();
        Limits {
            checks,
            min_requests: analysis.min_requests,
        }
    }

    /// `name app: canary value vs limit (verdict)`.
    pub(crate) fn check_line(&self, c: &CheckResult) -> String {
        let gate = c.name == canary_core::analysis::MIN_REQUESTS_CHECK;
        let value = match c.canary {
            // A request count is a whole number.
            Some(v) if gate => format!("{v:.0}"),
            Some(v) => num(v),
            None => "no data".into(),
        };
        let mut limits = Vec::new();
        if gate {
            limits.push(format!("min {}", self.min_requests));
        } else if let Some(b) = self.checks.get(&c.name) {
            if let Some(m) = b.min {
                limits.push(format!("min {}", num(m)));
            }
            if let Some(m) = b.max {
                limits.push(format!("max {}", num(m)));
            }
            if let (Some((dir, tol)), Some(s)) = (b.relative, c.stable) {
                let tol = |sign: &str| {
                    if tol == 0.0 {
                        String::new()
                    } else {
                        format!(" {sign} {}", num(tol))
                    }
                };
                limits.push(match dir {
                    Direction::Increase => format!("stable {}{}", num(s), tol("+")),
                    Direction::Decrease => format!("stable {}{}", num(s), tol("-")),
                    Direction::Either => format!("stable {}{}", num(s), tol("±")),
                });
            }
        } else if let Some(s) = c.stable {
            limits.push(format!("stable {}", num(s)));
        }
        let vs = if limits.is_empty() {
            String::new()
        } else {
            format!(" vs {}", limits.join(", "))
        };
        let critical = if c.critical { ", critical" } else { "" };
        format!(
            "{} {}: canary {value}{vs} ({}{critical})",
            c.name,
            c.app,
            verdict_word(c.verdict)
        )
    }

    /// The lines of a report: each check, then each judged metric.
    pub(crate) fn report_lines(&self, r: &AnalysisReport) -> Vec<String> {
        let mut out: Vec<String> = r.checks.iter().map(|c| self.check_line(c)).collect();
        for j in &r.judges {
            out.extend(judge_lines(j));
        }
        out
    }
}

fn judge_lines(j: &JudgeReport) -> Vec<String> {
    j.metrics
        .iter()
        .map(|m| {
            let v = |x: Option<f64>| x.map(num).unwrap_or_else(|| "no data".into());
            let class = match m.classification {
                Classification::Pass => "same",
                Classification::High => "higher",
                Classification::Low => "lower",
                Classification::NoData => "no data",
                _ => "unclassified",
            };
            format!(
                "{} {}: canary median {} vs stable median {} ({class}, {})",
                m.name,
                j.app,
                v(m.canary_median),
                v(m.stable_median),
                if m.passed { "pass" } else { "fail" }
            )
        })
        .collect()
}

/// A number as the engine's reasons show it: `0.703`, `1520.0`, `4.000e-4`.
fn num(v: f64) -> String {
    let a = v.abs();
    if a >= 1000.0 {
        format!("{v:.1}")
    } else if a >= 0.001 || a == 0.0 {
        format!("{v:.3}")
    } else {
        format!("{v:.3e}")
    }
}

fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Fail => "fail",
        Verdict::Inconclusive => "inconclusive",
        _ => "unknown",
    }
}

/// How an event reads: good news, bad news, a warning, or plain information.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tone {
    Good,
    Bad,
    Warn,
    Info,
}

fn tone(n: &Note) -> Tone {
    let e = &n.event;
    match e.kind {
        EventKind::Promoted => Tone::Good,
        EventKind::RollingBack
        | EventKind::RolledBack
        | EventKind::Failed
        | EventKind::CanaryLost => Tone::Bad,
        EventKind::Paused | EventKind::Retry | EventKind::TagMoved => Tone::Warn,
        EventKind::Analysis => match e.analysis.as_ref().map(|a| a.verdict) {
            Some(Verdict::Pass) => Tone::Good,
            Some(Verdict::Fail) => Tone::Bad,
            _ => Tone::Warn,
        },
        _ => Tone::Info,
    }
}

/// The event kind in words: `rollingBack` → `rolling back` (from serde's name, so a kind added
/// later still reads).
fn kind_words(kind: EventKind) -> String {
    let name = serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            out.push(' ');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// What every format shows, in plain text.
struct View {
    title: String,
    message: String,
    facts: Vec<(&'static str, String)>,
    /// The heading of the analysis part, and its lines.
    analysis: Option<(String, Vec<String>)>,
    tone: Tone,
}

fn view(n: &Note, limits: &Limits) -> View {
    let e = &n.event;
    let title = if n.test {
        format!("canary {}: test notification", e.group)
    } else {
        format!("canary {}: {}", e.group, kind_words(e.kind))
    };
    let step = if e.steps == 0 {
        "-".to_string()
    } else {
        format!("{}/{}", (e.step + 1).min(e.steps), e.steps)
    };
    let facts = vec![
        ("Group", e.group.clone()),
        ("Phase", e.phase.to_string()),
        ("Step", step),
        ("Weight", format!("{}%", e.weight)),
    ];
    let analysis = match (&e.analysis, &n.last_analysis) {
        (Some(a), _) => Some((
            format!("Analysis: {} ({})", verdict_word(a.verdict), a.summary),
            limits.report_lines(a),
        )),
        (None, Some((a, w))) => Some((
            format!(
                "Last analysis, at weight {w}%: {} ({})",
                verdict_word(a.verdict),
                a.summary
            ),
            limits.report_lines(a),
        )),
        (None, None) => None,
    };
    View {
        title,
        message: e.message.clone(),
        facts,
        analysis,
        tone: tone(n),
    }
}

/// The body to post for `note` in the format of `kind`; `name` is the notification's.
pub(crate) fn build(kind: NotificationKind, name: &str, note: &Note, limits: &Limits) -> Value {
    match kind {
        NotificationKind::Slack => slack(note, limits),
        NotificationKind::Teams => teams(note, limits),
        NotificationKind::Discord => discord(note, limits),
        NotificationKind::Json => json_body(name, note),
        // A format newer than this crate: the plain JSON body any endpoint can read.
        _ => json_body(name, note),
    }
}

/// `s` cut to at most `max` UTF-16 units, ending in `…` when cut.
pub(crate) fn cut(s: &str, max: usize) -> String {
    if s.encode_utf16().count() <= max {
        return s.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        if used + c.len_utf16() > max.saturating_sub(1) {
            break;
        }
        used += c.len_utf16();
        out.push(c);
    }
    if max > 0 {
        out.push('…');
    }
    out
}

fn units(s: &str) -> usize {
    s.encode_utf16().count()
}

/// Lines joined under `max` units: as many as fit, then `… and N more`.
fn capped_lines(lines: &[String], max: usize, line_max: usize) -> String {
    let mut out = String::new();
    for (i, l) in lines.iter().enumerate() {
        let line = cut(l, line_max);
        let more = format!("… and {} more", lines.len() - i);
        // Room is kept for the "more" line whenever lines are left after this one.
        let reserve = if i + 1 < lines.len() {
            units(&more) + 1
        } else {
            0
        };
        if units(&out) + units(&line) + 1 + reserve > max {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(&more);
            return out;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&line);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Slack

/// Slack's limits: a section's text 3,000 characters, its fields 10 of 2,000 each; a header's
/// plain text 150; at most 50 blocks.
pub(crate) const SLACK_TEXT_MAX: usize = 3000;
/// Slack's limit for a header block's text.
pub(crate) const SLACK_HEADER_MAX: usize = 150;

/// `s` with `&`, `<` and `>` escaped, as Slack's mrkdwn requires, cut to `max` UTF-16 units
/// between two escapes (never inside one), never empty.
fn slack_text(s: &str, max: usize) -> String {
    let mut out = String::new();
    let mut used = 0;
    let total: usize = s
        .chars()
        .map(|c| match c {
            '&' => 5,
            '<' | '>' => 4,
            c => c.len_utf16(),
        })
        .sum();
    let limit = if total <= max { max } else { max - 1 };
    for c in s.chars() {
        let piece = match c {
            '&' => "&amp;".to_string(),
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            c => c.to_string(),
        };
        if used + units(&piece) > limit {
            out.push('…');
            break;
        }
        used += units(&piece);
        out.push_str(&piece);
    }
    non_empty(out)
}

/// `-` for an empty text: every service refuses empty texts.
fn non_empty(s: String) -> String {
    if s.trim().is_empty() {
        "-".into()
    } else {
        s
    }
}

/// A Slack incoming webhook's body: `text` (the notification's one line) and `blocks`: a header,
/// the message, the facts as fields, and the analysis lines.
pub(crate) fn slack(note: &Note, limits: &Limits) -> Value {
    let v = view(note, limits);
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": non_empty(cut(&v.title, SLACK_HEADER_MAX))}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": slack_text(&v.message, SLACK_TEXT_MAX)}}),
        json!({"type": "section", "fields": v.facts.iter().map(|(k, val)| {
            json!({"type": "mrkdwn", "text": format!("*{k}*\n{}", slack_text(val, 1900))})
        }).collect::<Vec<_>>()}),
    ];
    if let Some((head, lines)) = &v.analysis {
        let head = format!("*{}*", slack_text(head, 500));
        let lines: Vec<String> = lines
            .iter()
            .map(|l| format!("• {}", slack_text(l, 500)))
            .collect();
        let body = capped_lines(&lines, SLACK_TEXT_MAX - units(&head) - 1, 510);
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": format!("{head}\n{body}")}}));
    }
    // The line a phone shows: the engine's message says what happened in its own words.
    let text = slack_text(
        &format!("canary {}: {}", note.event.group, v.message),
        SLACK_TEXT_MAX,
    );
    json!({"text": text, "blocks": blocks})
}

// ---------------------------------------------------------------------------------------------
// Microsoft Teams

/// The most analysis lines a Teams card lists (Teams refuses messages above about 28 KB).
pub(crate) const TEAMS_MAX_FACTS: usize = 40;

/// A Microsoft Teams body: an Adaptive Card (version 1.2) in a `message` attachment.
///
/// Why not the older MessageCard (`@type`, `themeColor`, `sections[].facts`): Microsoft retired
/// Office 365 connectors, and the Workflows webhooks that replace them accept Adaptive Cards
/// only; the incoming webhooks that remain accept Adaptive Cards too. 1.2 is the version
/// Microsoft's incoming-webhook documentation shows, and has everything used here (TextBlock,
/// FactSet, colours).
pub(crate) fn teams(note: &Note, limits: &Limits) -> Value {
    let v = view(note, limits);
    let color = match v.tone {
        Tone::Good => "Good",
        Tone::Bad => "Attention",
        Tone::Warn => "Warning",
        Tone::Info => "Accent",
    };
    let mut body = vec![
        json!({"type": "TextBlock", "text": cut(&v.title, 256), "weight": "Bolder", "size": "Medium", "color": color, "wrap": true}),
        json!({"type": "TextBlock", "text": non_empty(cut(&v.message, 4000)), "wrap": true}),
        json!({"type": "FactSet", "facts": v.facts.iter().map(|(k, val)| json!({"title": k, "value": cut(val, 256)})).collect::<Vec<_>>()}),
    ];
    if let Some((head, lines)) = &v.analysis {
        body.push(
            json!({"type": "TextBlock", "text": cut(head, 1000), "weight": "Bolder", "wrap": true}),
        );
        let mut facts: Vec<Value> = lines
            .iter()
            .take(TEAMS_MAX_FACTS)
            .map(|l| {
                // `name app: the rest` → title `name app`, value the rest.
                let (t, val) = l.split_once(": ").unwrap_or((l.as_str(), ""));
                json!({"title": cut(t, 256), "value": cut(val, 500)})
            })
            .collect();
        if lines.len() > TEAMS_MAX_FACTS {
            facts.push(json!({"title": "…", "value": format!("and {} more", lines.len() - TEAMS_MAX_FACTS)}));
        }
        body.push(json!({"type": "FactSet", "facts": facts}));
    }
    json!({
        "type": "message",
        "summary": cut(&v.title, 256),
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.2",
                "msteams": {"width": "Full"},
                "body": body,
            }
        }]
    })
}

// ---------------------------------------------------------------------------------------------
// Discord

/// Discord's limits: `content` 2,000 characters; an embed's title 256, description 4,096, 25
/// fields of name 256 and value 1,024; 6,000 characters over all of an embed's texts.
pub(crate) mod discord_limits {
    /// `content`.
    pub(crate) const CONTENT: usize = 2000;
    /// An embed's title.
    pub(crate) const TITLE: usize = 256;
    /// An embed's description.
    pub(crate) const DESCRIPTION: usize = 4096;
    /// Fields per embed.
    pub(crate) const FIELDS: usize = 25;
    /// A field's name.
    pub(crate) const FIELD_NAME: usize = 256;
    /// A field's value.
    pub(crate) const FIELD_VALUE: usize = 1024;
    /// All texts of the embeds of a message.
    pub(crate) const TOTAL: usize = 6000;
}

/// A Discord webhook's body: `content` (one line), one embed (title, the message as description,
/// a colour, the facts as inline fields, then one field per analysis line), and no mentions
/// allowed, so no text in an event can ping anyone.
pub(crate) fn discord(note: &Note, limits: &Limits) -> Value {
    use discord_limits as L;
    let v = view(note, limits);
    let color = match v.tone {
        Tone::Good => 0x2EB67D,
        Tone::Bad => 0xE01E5A,
        Tone::Warn => 0xECB22E,
        Tone::Info => 0x36C5F0,
    };
    let title = cut(&v.title, L::TITLE);
    // The analysis heading goes in the description, under the message.
    let mut description = v.message.clone();
    if let Some((head, _)) = &v.analysis {
        description = format!("{description}\n\n**{head}**");
    }
    let facts: Vec<(String, String, bool)> = v
        .facts
        .iter()
        .map(|(k, val)| (k.to_string(), cut(val, L::FIELD_VALUE), true))
        .collect();
    let lines: Vec<(String, String, bool)> = v
        .analysis
        .iter()
        .flat_map(|(_, lines)| lines)
        .map(|l| {
            let (name, value) = l.split_once(": ").unwrap_or((l.as_str(), "-"));
            (cut(name, L::FIELD_NAME), cut(value, L::FIELD_VALUE), false)
        })
        .collect();
    let total = |fields: &[(String, String, bool)]| {
        units(&title)
            + fields
                .iter()
                .map(|(n, val, _)| units(n) + units(val))
                .sum::<usize>()
    };
    // As many analysis lines as fit in 25 fields and leave the description 500 of the 6,000
    // units, then one "… and N more" field.
    let room = L::FIELDS - facts.len();
    let mut shown = if lines.len() > room {
        room - 1
    } else {
        lines.len()
    };
    let fields = loop {
        let mut fields = facts.clone();
        fields.extend(lines[..shown].iter().cloned());
        if shown < lines.len() {
            fields.push((
                "…".into(),
                format!("and {} more", lines.len() - shown),
                false,
            ));
        }
        if total(&fields) + 500 <= L::TOTAL || shown == 0 {
            break fields;
        }
        shown -= 1;
    };
    let room = L::TOTAL.saturating_sub(total(&fields)).min(L::DESCRIPTION);
    let description = non_empty(cut(&description, room));
    let content = cut(&v.title, L::CONTENT);
    json!({
        "content": content,
        "embeds": [{
            "title": title,
            "description": description,
            "color": color,
            "fields": fields.iter().map(|(n, val, inline)| json!({"name": n, "value": val, "inline": inline})).collect::<Vec<_>>(),
        }],
        "allowed_mentions": {"parse": []},
    })
}

// ---------------------------------------------------------------------------------------------
// JSON

/// The plain JSON body: the event as serde writes it (`atMs`, `group`, `kind`, `phase`, `step`,
/// `steps`, `weight`, `message`, `analysis`), with `notification` (its name), `lastAnalysis`
/// when the event has no analysis of its own and one is known, and `test` for a test.
pub(crate) fn json_body(name: &str, note: &Note) -> Value {
    let mut v = serde_json::to_value(&note.event).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.insert("notification".into(), Value::String(name.to_string()));
        if let (None, Some((a, w))) = (&note.event.analysis, &note.last_analysis) {
            m.insert(
                "lastAnalysis".into(),
                json!({"weight": w, "report": serde_json::to_value(a).unwrap_or(Value::Null)}),
            );
        }
        if note.test {
            m.insert("test".into(), Value::Bool(true));
        }
    }
    v
}

#[cfg(test)]
mod tests;
