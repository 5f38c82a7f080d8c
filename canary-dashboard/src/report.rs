//! The HTML report of a group: one self-contained file for a change ticket.
//!
//! It carries the page's own styles, chart code and script inline with the group's view as
//! JSON, so a browser draws the same charts as the live page, offline. The figures are also
//! written out as plain HTML tables (every check of every step with its value, stable's value,
//! its limits, the margin and the verdict; every event), which a reader without scripts or a
//! program reading the file sees; the script hides them once it has drawn the page.

use std::fmt::Write as _;

use canary_core::state::now_ms;

use crate::assets::{APP_CSS, APP_JS, CHARTS_JS};
use crate::view::{num, GroupView};

/// Escapes text for HTML content and attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// JSON made safe inside a `<script>` element: no `</script>`, no `<!--`, no line separators a
/// parser would stop at.
pub(crate) fn script_json(json: &str) -> String {
    json.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// A script's text made safe inside a `<script>` element.
fn inline_script(js: &str) -> String {
    js.replace("</script", "<\\/script")
}

/// Unix ms as `YYYY-MM-DD HH:MM:SS UTC`.
pub(crate) fn utc(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// A distance to a limit: `+0.01` inside, `−0.4167` outside.
fn signed(v: f64) -> String {
    if v < 0.0 {
        format!("−{}", num(-v))
    } else {
        format!("+{}", num(v))
    }
}

fn opt(v: Option<f64>) -> String {
    v.map(num).unwrap_or_else(|| "–".into())
}

fn word<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The figures as plain HTML.
fn tables(v: &GroupView) -> String {
    let mut h = String::new();
    let state = v.status.as_ref().and_then(|s| s.state.as_ref());
    let _ = write!(h, "<h2>Rollout</h2><table class=\"kv\">");
    match state {
        None => h.push_str("<tr><th>state</th><td>no rollout recorded</td></tr>"),
        Some(st) => {
            let steps = v
                .spec
                .as_ref()
                .map(|s| s.steps.clone())
                .or_else(|| v.status.as_ref().map(|s| s.steps.clone()))
                .unwrap_or_default();
            let _ = write!(
                h,
                "<tr><th>phase</th><td id=\"report-phase\">{}</td></tr>\
                 <tr><th>step</th><td>{} of {} ({})</td></tr>\
                 <tr><th>canary weight</th><td>{}%</td></tr>\
                 <tr><th>failed / inconclusive analyses</th><td>{} / {}</td></tr>\
                 <tr><th>started</th><td>{}</td></tr><tr><th>last change</th><td>{}</td></tr>",
                esc(&word(&st.phase)),
                st.step + 1,
                steps.len(),
                esc(&format!("{steps:?}")),
                st.weight,
                st.failures,
                st.inconclusive,
                utc(st.started_ms),
                utc(st.updated_ms),
            );
            if let Some(c) = &st.cause {
                let _ = write!(
                    h,
                    "<tr><th>cause</th><td id=\"report-cause\">{}</td></tr>",
                    esc(c)
                );
            }
            for (app, image) in &st.canary_images {
                let _ = write!(
                    h,
                    "<tr><th>canary of {}</th><td>{}</td></tr>",
                    esc(app),
                    esc(image)
                );
            }
        }
    }
    h.push_str("</table>");
    let drift = v.status.as_ref().map(|s| s.drift.as_slice()).unwrap_or(&[]);
    if !drift.is_empty() {
        h.push_str("<h2>Drift</h2><ul id=\"report-drift\">");
        for d in drift {
            let _ = write!(h, "<li>{}</li>", esc(&d.message));
        }
        h.push_str("</ul>");
    }

    h.push_str("<h2>Analyses</h2>");
    if v.analyses.is_empty() {
        h.push_str("<p>No analysis was recorded.</p>");
    }
    for a in &v.analyses {
        let _ = write!(
            h,
            "<h3>Step {} at {}%: {} <small>({})</small></h3><p>{}</p>\
             <table class=\"checks\"><thead><tr><th>check</th><th>app</th><th>metric</th>\
             <th>canary</th><th>stable</th><th>limit</th><th>margin</th><th>verdict</th><th>why</th>\
             </tr></thead><tbody>",
            a.step + 1,
            a.weight,
            esc(&word(&a.verdict)),
            utc(a.at_ms),
            esc(&a.summary),
        );
        for c in &a.checks {
            let r = &c.result;
            let limits: Vec<&str> = c.limits.iter().map(|l| l.text.as_str()).collect();
            let _ = write!(
                h,
                "<tr data-check=\"{}\" data-app=\"{}\" data-verdict=\"{}\">\
                 <td>{}{}</td><td>{}</td><td>{}</td><td class=\"value\">{}</td><td>{}</td>\
                 <td class=\"limit\">{}</td><td>{}</td><td class=\"verdict\">{}</td><td>{}</td></tr>",
                esc(&r.name),
                esc(&r.app),
                esc(&word(&r.verdict)),
                esc(&r.name),
                if r.critical { " (critical)" } else { "" },
                esc(&r.app),
                esc(&r.metric),
                opt(r.canary),
                opt(r.stable),
                if limits.is_empty() { "–".to_string() } else { esc(&limits.join(", ")) },
                c.distance.map(signed).unwrap_or_else(|| "–".into()),
                esc(&word(&r.verdict)),
                esc(&r.reason),
            );
        }
        h.push_str("</tbody></table>");
    }

    h.push_str(
        "<h2>Events</h2><table class=\"events\"><thead><tr><th>time</th><th>event</th>\
                <th>phase</th><th>step</th><th>weight</th><th>what</th></tr></thead><tbody>",
    );
    for e in &v.events {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}/{}</td><td>{}%</td><td>{}</td></tr>",
            utc(e.at_ms),
            esc(&word(&e.kind)),
            esc(&word(&e.phase)),
            e.step + 1,
            e.steps,
            e.weight,
            esc(&e.message),
        );
    }
    h.push_str("</tbody></table>");
    h
}

/// The report of `view`, generated now.
pub(crate) fn render(view: &GroupView) -> String {
    let data = serde_json::json!({ "generatedMs": now_ms(), "view": view });
    let data = script_json(&data.to_string());
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>canary report: {group}</title><style>{css}</style></head>\n\
         <body class=\"report\"><header class=\"top\"><h1>canary report: {group}</h1>\
         <span class=\"muted\">generated {generated}</span></header>\n\
         <main id=\"main\"></main>\n<section id=\"static\" class=\"static\">{tables}</section>\n\
         <script type=\"application/json\" id=\"report-data\">{data}</script>\n\
         <script>{charts}</script>\n<script>{app}</script>\n</body></html>\n",
        group = esc(&view.group),
        css = APP_CSS.replace("</style", "<\\/style"),
        generated = utc(now_ms()),
        tables = tables(view),
        charts = inline_script(CHARTS_JS),
        app = inline_script(APP_JS),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_utc_calendar_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(1_767_225_599_000), "2025-12-31 23:59:59 UTC");
        assert_eq!(utc(u64::MAX), utc(u64::MAX), "no overflow panic");
    }

    #[test]
    fn text_and_data_cannot_break_out_of_their_element() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        let json =
            serde_json::json!({"m": "</script><script>alert(1)</script>\u{2028}"}).to_string();
        let safe = script_json(&json);
        assert!(!safe.contains("</script") && !safe.contains('<') && !safe.contains('\u{2028}'));
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back["m"], "</script><script>alert(1)</script>\u{2028}");
    }
}
