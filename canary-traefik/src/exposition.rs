//! A parser of the Prometheus text exposition format (version 0.0.4, what Traefik's `/metrics`
//! serves), also accepting OpenMetrics' `# EOF` and quoted (UTF-8) metric and label names.
//!
//! It handles what real scrapes carry and naive line splitting gets wrong: `\\`, `\"` and `\n`
//! escapes in label values (so a `,` `}` or `"` inside a value is data), `+Inf`/`-Inf`/`NaN`
//! values, optional millisecond timestamps, `# HELP`/`# TYPE` lines (HELP text escapes too),
//! other comments, blank lines and trailing commas in label sets.

use std::collections::BTreeMap;

use canary_core::{Error, Result};

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Metric name, with its `_bucket`/`_sum`/`_count`/`_total` suffix as exposed.
    pub name: String,
    /// Labels in the order exposed.
    pub labels: Vec<(String, String)>,
    /// The value (may be NaN or infinite).
    pub value: f64,
    /// The timestamp in milliseconds, when the line has one.
    pub timestamp_ms: Option<i64>,
}

impl Sample {
    /// A label's value.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A parsed scrape.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Exposition {
    /// Samples in order.
    pub samples: Vec<Sample>,
    /// `# TYPE` by metric family.
    pub types: BTreeMap<String, String>,
    /// `# HELP` by metric family (unescaped).
    pub help: BTreeMap<String, String>,
}

impl Exposition {
    /// The samples of one metric name.
    pub fn series<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples.iter().filter(move |s| s.name == name)
    }
}

/// Parses a whole scrape.
pub(crate) fn parse(text: &str) -> Result<Exposition> {
    let mut out = Exposition::default();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_matches(|c| c == ' ' || c == '\t' || c == '\r');
        let fail =
            |msg: String| Error::internal(format!("metrics text, line {}: {msg}: {raw:?}", i + 1));
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            let comment = comment.trim_start();
            if comment == "EOF" {
                break;
            }
            let mut parts = comment.splitn(3, [' ', '\t']);
            match parts.next() {
                Some("HELP") => {
                    let name = parts
                        .next()
                        .ok_or_else(|| fail("HELP without a metric name".into()))?;
                    let help = parts.next().unwrap_or("");
                    out.help.insert(name.to_string(), unescape_help(help));
                }
                Some("TYPE") => {
                    let name = parts
                        .next()
                        .ok_or_else(|| fail("TYPE without a metric name".into()))?;
                    let kind = parts.next().map(str::trim).unwrap_or("");
                    if !matches!(
                        kind,
                        "counter"
                            | "gauge"
                            | "histogram"
                            | "gaugehistogram"
                            | "summary"
                            | "untyped"
                            | "unknown"
                            | "info"
                            | "stateset"
                    ) {
                        return Err(fail(format!("unknown metric type {kind:?}")));
                    }
                    out.types.insert(name.to_string(), kind.to_string());
                }
                _ => {}
            }
            continue;
        }
        out.samples.push(parse_sample(line).map_err(fail)?);
    }
    Ok(out)
}

struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<char> {
        self.s[self.pos..].chars().next()
    }
    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }
    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.pos += 1;
        }
    }
    fn take_while(&mut self, f: impl Fn(char) -> bool) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(&f) {
            self.bump();
        }
        &self.s[start..self.pos]
    }
    fn rest(&self) -> &'a str {
        &self.s[self.pos..]
    }
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == ':'
}
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

/// A `"..."` string with `\\`, `\"`, `\n` escapes; the cursor is on the opening quote.
fn quoted(c: &mut Cursor<'_>) -> std::result::Result<String, String> {
    if c.bump() != Some('"') {
        return Err("expected '\"'".into());
    }
    let mut out = String::new();
    loop {
        match c.bump() {
            None => return Err("unterminated quoted string".into()),
            Some('"') => return Ok(out),
            Some('\\') => match c.bump() {
                Some('\\') => out.push('\\'),
                Some('"') => out.push('"'),
                Some('n') => out.push('\n'),
                // Prometheus' own parser keeps other escapes as written.
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => return Err("unterminated escape".into()),
            },
            Some(ch) => out.push(ch),
        }
    }
}

fn parse_sample(line: &str) -> std::result::Result<Sample, String> {
    let mut c = Cursor { s: line, pos: 0 };
    let mut name = String::new();
    if c.peek().is_some_and(is_name_start) {
        name = c.take_while(is_name_char).to_string();
    } else if c.peek() != Some('{') {
        return Err("expected a metric name".into());
    }
    let mut labels = Vec::new();
    let after_name = c.pos;
    c.skip_ws();
    let mut spaced = c.pos > after_name;
    let labels_seen = c.peek() == Some('{');
    if labels_seen {
        c.bump();
        loop {
            c.skip_ws();
            match c.peek() {
                Some('}') => {
                    c.bump();
                    break;
                }
                None => return Err("unterminated label set".into()),
                _ => {}
            }
            let key_quoted = c.peek() == Some('"');
            let key = if key_quoted {
                quoted(&mut c)?
            } else if c
                .peek()
                .is_some_and(|ch| ch.is_ascii_alphabetic() || ch == '_')
            {
                c.take_while(|ch| ch.is_ascii_alphanumeric() || ch == '_')
                    .to_string()
            } else {
                return Err(format!("bad label name at column {}", c.pos + 1));
            };
            c.skip_ws();
            if c.peek() != Some('=') {
                // A quoted name alone inside the braces is the metric name (UTF-8 names).
                if name.is_empty() && key_quoted && labels.is_empty() {
                    name = key;
                } else {
                    return Err(format!("label {key:?} has no '='"));
                }
            } else {
                c.bump();
                c.skip_ws();
                let value = quoted(&mut c)?;
                labels.push((key, value));
            }
            c.skip_ws();
            match c.peek() {
                Some(',') => {
                    c.bump();
                }
                Some('}') => {}
                _ => return Err(format!("expected ',' or '}}' at column {}", c.pos + 1)),
            }
        }
    }
    if name.is_empty() {
        return Err("the sample has no metric name".into());
    }
    if labels_seen {
        let before = c.pos;
        c.skip_ws();
        spaced = c.pos > before;
    }
    if !spaced {
        return Err("expected a space before the value".into());
    }
    let mut fields = c.rest().split_whitespace();
    let value = fields.next().ok_or("the sample has no value")?;
    let value = parse_float(value).ok_or_else(|| format!("{value:?} is not a number"))?;
    let timestamp_ms = match fields.next() {
        None => None,
        Some(t) => Some(
            t.parse::<i64>()
                .map_err(|_| format!("{t:?} is not a timestamp"))?,
        ),
    };
    if let Some(extra) = fields.next() {
        return Err(format!("unexpected {extra:?} after the timestamp"));
    }
    Ok(Sample {
        name,
        labels,
        value,
        timestamp_ms,
    })
}

/// A float as Go's `strconv.ParseFloat` reads one in this format: decimal or exponent notation,
/// `NaN`, `+Inf`, `-Inf`, `Inf` (any case).
pub(crate) fn parse_float(s: &str) -> Option<f64> {
    match s.to_ascii_lowercase().as_str() {
        "nan" => Some(f64::NAN),
        "+inf" | "inf" | "+infinity" | "infinity" => Some(f64::INFINITY),
        "-inf" | "-infinity" => Some(f64::NEG_INFINITY),
        _ => {
            if s.is_empty()
                || !s
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b"+-.eE_xXpPabcdefABCDEF".contains(&b))
            {
                return None;
            }
            s.parse::<f64>().ok()
        }
    }
}

fn unescape_help(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.next() {
                Some('n') => out.push('\n'),
                Some('\\') => out.push('\\'),
                Some(o) => {
                    out.push('\\');
                    out.push(o);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::fixture;

    #[test]
    fn the_real_traefik_scrape() {
        let e = parse(&fixture(
            "traefik/live-v3.7.9/metrics/traefik-v3.7.9-metrics.prom",
        ))
        .unwrap();
        let get = |name: &str, labels: &[(&str, &str)]| -> f64 {
            let matching: Vec<&Sample> = e
                .series(name)
                .filter(|s| labels.iter().all(|(k, v)| s.label(k) == Some(v)))
                .collect();
            assert_eq!(matching.len(), 1, "{name} {labels:?}");
            matching[0].value
        };
        let req = "traefik_service_requests_total";
        assert_eq!(
            get(
                req,
                &[
                    ("service", "app-stable@file"),
                    ("code", "200"),
                    ("method", "GET")
                ]
            ),
            663.0
        );
        assert_eq!(
            get(req, &[("service", "app-canary@file"), ("code", "500")]),
            25.0
        );
        assert_eq!(get("traefik_config_reloads_total", &[]), 2.0);
        assert_eq!(
            get("traefik_config_last_reload_success", &[]),
            1.795774515e9
        );
        assert_eq!(
            get("go_gc_duration_seconds", &[("quantile", "0.25")]),
            0.000127539
        );
        let h = "traefik_service_request_duration_seconds";
        assert_eq!(e.types.get(h).map(String::as_str), Some("histogram"));
        assert_eq!(e.types.get(req).map(String::as_str), Some("counter"));
        let canary_get = [
            ("service", "app-canary@file"),
            ("code", "200"),
            ("method", "GET"),
        ];
        let buckets: Vec<(String, f64)> = e
            .series(&format!("{h}_bucket"))
            .filter(|s| canary_get.iter().all(|(k, v)| s.label(k) == Some(v)))
            .map(|s| (s.label("le").unwrap().to_string(), s.value))
            .collect();
        let les: Vec<&str> = buckets.iter().map(|(l, _)| l.as_str()).collect();
        assert_eq!(les, ["0.1", "0.3", "1.2", "5", "+Inf"]);
        assert!(buckets.iter().all(|(_, v)| *v == 124.0));
        assert_eq!(get(&format!("{h}_count"), &canary_get), 124.0);
        assert!((get(&format!("{h}_sum"), &canary_get) - 0.3440541959999998).abs() < 1e-15);
        assert!(e
            .help
            .get("traefik_config_reloads_total")
            .is_some_and(|h| h == "Config reloads"));
    }

    #[test]
    fn escapes_and_special_values() {
        let text = r#"# HELP m A help\nwith a newline and a \\ backslash
# TYPE m counter
# just a comment
m{a="x\"y",b="c,d}e",c="line\nnext",d="back\\slash",} 1.5e3 1700000000000
m{a="",} +Inf
m NaN
m -Inf -5
  m_total   42
{"my.metric", "la.bel"="v"} 7
# EOF
this is not parsed
"#;
        let e = parse(text).unwrap();
        assert_eq!(e.help["m"], "A help\nwith a newline and a \\ backslash");
        let s = &e.samples[0];
        assert_eq!(s.label("a"), Some("x\"y"));
        assert_eq!(s.label("b"), Some("c,d}e"));
        assert_eq!(s.label("c"), Some("line\nnext"));
        assert_eq!(s.label("d"), Some("back\\slash"));
        assert_eq!((s.value, s.timestamp_ms), (1500.0, Some(1_700_000_000_000)));
        assert_eq!(e.samples[1].value, f64::INFINITY);
        assert!(e.samples[2].value.is_nan() && e.samples[2].labels.is_empty());
        assert_eq!(
            (e.samples[3].value, e.samples[3].timestamp_ms),
            (f64::NEG_INFINITY, Some(-5))
        );
        assert_eq!(e.samples[4].value, 42.0);
        assert_eq!(e.samples[5].name, "my.metric");
        assert_eq!(e.samples[5].label("la.bel"), Some("v"));
        assert_eq!(e.samples.len(), 6);
    }

    #[test]
    fn malformed_lines_name_the_line() {
        for bad in [
            "m{a=\"x} 1",
            "m{a=x} 1",
            "m 1 2 3",
            "m abc",
            "m{a=\"b\" c=\"d\"} 1",
            "1m 2",
            "m",
            "# TYPE m bogus",
            "m{} 1 1.5",
        ] {
            let e = parse(&format!("ok 1\n{bad}\n")).unwrap_err();
            assert!(e.to_string().contains("line 2"), "{bad}: {e}");
        }
    }
}
