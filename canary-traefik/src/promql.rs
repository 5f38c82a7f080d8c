//! PromQL for the built-in metrics on Traefik's service metrics, and the custom-query templates.
//!
//! Built-in queries select `service="<backend>"` exactly (never a regex: `api@swarm` must not also
//! match `api-canary@swarm`). They are written so that "no series" stays "no data" and "series but
//! no 5xx" is a real 0: the 5xx part falls back to `sum(all) * 0`, which exists exactly when the
//! service has series.

use std::time::Duration;

use canary_core::spec::MetricKind;
use canary_core::{Error, Result};

/// Traefik's request counter.
pub const REQUESTS: &str = "traefik_service_requests_total";
/// Traefik's request duration histogram buckets.
pub const DURATION_BUCKETS: &str = "traefik_service_request_duration_seconds_bucket";

/// Escapes a value for a double-quoted PromQL string literal.
pub fn escape_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// A PromQL duration: `30s`, `1500ms`, at least 1ms.
pub fn format_range(d: Duration) -> String {
    let ms = d.as_millis().max(1);
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// The built-in query of `kind` for the Traefik service `service` over `range`; `None` for a
/// custom query or a web metric.
pub fn builtin(kind: &MetricKind, service: &str, range: Duration) -> Option<String> {
    let sel = format!("{{service=\"{}\"}}", escape_string(service));
    let sel_5xx = format!("{{service=\"{}\",code=~\"5..\"}}", escape_string(service));
    let sel_ok = format!("{{service=\"{}\",code!~\"5..\"}}", escape_string(service));
    let r = format_range(range);
    let all_rate = format!("sum(rate({REQUESTS}{sel}[{r}]))");
    let share =
        |part: &str| format!("(sum(rate({REQUESTS}{part}[{r}])) or {all_rate} * 0) / {all_rate}");
    Some(match kind {
        MetricKind::RequestCount => format!("sum(increase({REQUESTS}{sel}[{r}]))"),
        MetricKind::RequestRate => all_rate.clone(),
        MetricKind::ErrorCount => format!(
            "sum(increase({REQUESTS}{sel_5xx}[{r}])) or sum(increase({REQUESTS}{sel}[{r}])) * 0"
        ),
        MetricKind::ErrorRate => share(&sel_5xx),
        MetricKind::SuccessRate => share(&sel_ok),
        MetricKind::Latency(q) => {
            format!("histogram_quantile({q}, sum by (le) (rate({DURATION_BUCKETS}{sel}[{r}])))")
        }
        MetricKind::Query(_) | MetricKind::Web(_) => return None,
    })
}

/// Values substituted into a custom query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateVars<'a> {
    /// `{{service}}`: the Traefik service (`api@swarm`).
    pub service: &'a str,
    /// `{{app}}`: the app's name.
    pub app: &'a str,
    /// `{{track}}`: `stable` or `canary`.
    pub track: &'a str,
    /// `{{window}}` (also `{{interval}}`): the range, e.g. `30s`.
    pub window: Duration,
}

/// Fills a custom query's placeholders: `{{service}}`, `{{app}}` and `{{track}}` are escaped for a
/// PromQL string literal (write them inside `"…"`), `{{window}}`/`{{interval}}` becomes a duration
/// (write it inside `[…]`). An unknown placeholder is an error, not left in place.
pub fn fill_template(template: &str, vars: &TemplateVars<'_>) -> Result<String> {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let close = after.find("}}").ok_or_else(|| {
            Error::invalid("metric.query", format!("unclosed '{{{{' in {template:?}"))
        })?;
        let key = after[..close].trim();
        match key {
            "service" => out.push_str(&escape_string(vars.service)),
            "app" => out.push_str(&escape_string(vars.app)),
            "track" => out.push_str(&escape_string(vars.track)),
            "window" | "interval" => out.push_str(&format_range(vars.window)),
            other => {
                return Err(Error::invalid(
                    "metric.query",
                    format!(
                        "unknown placeholder {{{{{other}}}}}; use service, app, track or window"
                    ),
                ))
            }
        }
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_match_the_service_exactly() {
        let q = builtin(&MetricKind::ErrorRate, "api@swarm", Duration::from_secs(30)).unwrap();
        assert_eq!(
            q,
            "(sum(rate(traefik_service_requests_total{service=\"api@swarm\",code=~\"5..\"}[30s])) or \
             sum(rate(traefik_service_requests_total{service=\"api@swarm\"}[30s])) * 0) / \
             sum(rate(traefik_service_requests_total{service=\"api@swarm\"}[30s]))"
        );
        let q = builtin(
            &MetricKind::Latency(0.99),
            "api@swarm",
            Duration::from_millis(1500),
        )
        .unwrap();
        assert_eq!(
            q,
            "histogram_quantile(0.99, sum by (le) (rate(traefik_service_request_duration_seconds_bucket{service=\"api@swarm\"}[1500ms])))"
        );
        assert!(builtin(&MetricKind::Query("up".into()), "x", Duration::from_secs(1)).is_none());
        for k in [
            MetricKind::RequestCount,
            MetricKind::RequestRate,
            MetricKind::ErrorCount,
            MetricKind::SuccessRate,
        ] {
            let q = builtin(&k, "a\"b", Duration::from_secs(60)).unwrap();
            assert!(
                q.contains("service=\"a\\\"b\"") && !q.contains("=~\"a"),
                "{q}"
            );
        }
    }

    #[test]
    fn templates_escape_values() {
        let vars = TemplateVars {
            service: "evil\"} or vector(1) #",
            app: "api",
            track: "canary",
            window: Duration::from_secs(120),
        };
        let q = fill_template(
            "sum(rate(http_requests_total{service=\"{{service}}\",app=\"{{ app }}\",track=\"{{track}}\"}[{{window}}])) / {{interval}}",
            &vars,
        )
        .unwrap();
        assert_eq!(
            q,
            "sum(rate(http_requests_total{service=\"evil\\\"} or vector(1) #\",app=\"api\",track=\"canary\"}[120s])) / 120s"
        );
        assert!(fill_template("x{{nope}}", &vars).is_err());
        assert!(fill_template("x{{service", &vars).is_err());
        assert_eq!(escape_string("a\\b\n'"), "a\\\\b\\n\\'");
    }
}
