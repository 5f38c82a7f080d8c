//! PromQL for the built-in metrics, and the custom-query templates.
//!
//! The built-in metrics are read from one of two sets of series ([`Series`]): Traefik's service
//! metrics (`traefik_service_requests_total{service="<backend>"}`), or the apps' own request
//! metrics scraped per task (`analysis.taskMetrics`: `<requests>{<serviceLabel>="<Swarm
//! service>"}`), which in replicas mode are the only ones that tell the canary from stable. The
//! queries have the same shape on both.
//!
//! Built-in queries select the track exactly (never a regex: `api@swarm` must not also match
//! `api-canary@swarm`). They are written so that "no series" stays "no data" and "series but no
//! 5xx" is a real 0: the 5xx part falls back to `sum(all) * 0`, which exists exactly when the
//! track has series. Summing over every series of a track adds up its tasks, the ones gone
//! since included (`rate` and `increase` take each series over the part of the window it lived).

use std::time::Duration;

use canary_core::spec::{MetricKind, TaskMetricsSpec};
use canary_core::{Error, Result};

/// Traefik's request counter.
pub(crate) const REQUESTS: &str = "traefik_service_requests_total";
/// Traefik's request duration histogram buckets.
pub(crate) const DURATION_BUCKETS: &str = "traefik_service_request_duration_seconds_bucket";

/// Escapes a value for a double-quoted PromQL string literal.
pub(crate) fn escape_string(s: &str) -> String {
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
pub(crate) fn format_range(d: Duration) -> String {
    let ms = d.as_millis().max(1);
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// The series one track's requests are counted in: a request counter with a status-code label,
/// perhaps a duration histogram, and the label and value that select the track.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Series<'a> {
    /// The request counter.
    pub requests: &'a str,
    /// The duration histogram's `_bucket` series, if there is one.
    pub buckets: Option<String>,
    /// The label of the status code.
    pub code_label: &'a str,
    /// The label that names the track's service.
    pub track_label: &'a str,
    /// Its value for this track.
    pub track_value: &'a str,
}

impl<'a> Series<'a> {
    /// Traefik's service metrics of the Traefik service `service` (`api@swarm`).
    pub(crate) fn traefik(service: &'a str) -> Self {
        Series {
            requests: REQUESTS,
            buckets: Some(DURATION_BUCKETS.to_string()),
            code_label: "code",
            track_label: "service",
            track_value: service,
        }
    }

    /// The apps' own metrics of `tasks`, scraped from each task of the Swarm service
    /// `swarm_service`.
    pub(crate) fn tasks(tasks: &'a TaskMetricsSpec, swarm_service: &'a str) -> Self {
        Series {
            requests: &tasks.requests,
            buckets: tasks.duration.as_ref().map(|d| format!("{d}_bucket")),
            code_label: &tasks.code_label,
            track_label: &tasks.service_label,
            track_value: swarm_service,
        }
    }
}

/// The built-in query of `kind` for the Traefik service `service` over `range`; `None` for a
/// custom query or a web metric.
pub(crate) fn builtin(kind: &MetricKind, service: &str, range: Duration) -> Option<String> {
    builtin_on(kind, &Series::traefik(service), range)
}

/// The built-in query of `kind` on `series` over `range`; `None` for a custom query, and for a
/// latency on series without a histogram.
pub(crate) fn builtin_on(
    kind: &MetricKind,
    series: &Series<'_>,
    range: Duration,
) -> Option<String> {
    let requests = series.requests;
    let track = format!(
        "{}=\"{}\"",
        series.track_label,
        escape_string(series.track_value)
    );
    let code = series.code_label;
    let sel = format!("{{{track}}}");
    let sel_5xx = format!("{{{track},{code}=~\"5..\"}}");
    let sel_ok = format!("{{{track},{code}!~\"5..\"}}");
    let r = format_range(range);
    let all_rate = format!("sum(rate({requests}{sel}[{r}]))");
    let share =
        |part: &str| format!("(sum(rate({requests}{part}[{r}])) or {all_rate} * 0) / {all_rate}");
    Some(match kind {
        MetricKind::RequestCount => format!("sum(increase({requests}{sel}[{r}]))"),
        MetricKind::RequestRate => all_rate.clone(),
        MetricKind::ErrorCount => format!(
            "sum(increase({requests}{sel_5xx}[{r}])) or sum(increase({requests}{sel}[{r}])) * 0"
        ),
        MetricKind::ErrorRate => share(&sel_5xx),
        MetricKind::SuccessRate => share(&sel_ok),
        MetricKind::Latency(q) => {
            let buckets = series.buckets.as_ref()?;
            format!("histogram_quantile({q}, sum by (le) (rate({buckets}{sel}[{r}])))")
        }
        // Custom queries, web metrics and kinds newer than this crate have no built-in query.
        _ => return None,
    })
}

/// Values substituted into a custom query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TemplateVars<'a> {
    /// `{{service}}`: the Traefik service (`api@swarm`).
    pub service: &'a str,
    /// `{{app}}`: the app's name.
    pub app: &'a str,
    /// `{{track}}`: `stable` or `canary`.
    pub track: &'a str,
    /// `{{swarmService}}`: the track's Swarm service (`neotix_api-canary`), the value of the
    /// service label of metrics scraped per task.
    pub swarm_service: &'a str,
    /// `{{window}}` (also `{{interval}}`): the range, e.g. `30s`.
    pub window: Duration,
}

/// Fills a custom query's placeholders: `{{service}}`, `{{swarmService}}`, `{{app}}` and
/// `{{track}}` are escaped for a PromQL string literal (write them inside `"…"`),
/// `{{window}}`/`{{interval}}` becomes a duration (write it inside `[…]`). An unknown placeholder
/// is an error, not left in place.
pub(crate) fn fill_template(template: &str, vars: &TemplateVars<'_>) -> Result<String> {
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
            "swarmService" => out.push_str(&escape_string(vars.swarm_service)),
            "window" | "interval" => out.push_str(&format_range(vars.window)),
            other => {
                return Err(Error::invalid(
                    "metric.query",
                    format!(
                        "unknown placeholder {{{{{other}}}}}; use service, swarmService, app, track or window"
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
    fn builtins_on_the_apps_own_metrics_select_the_swarm_service() {
        let tasks = TaskMetricsSpec {
            requests: "demo_http_requests_total".into(),
            duration: Some("demo_http_request_duration_seconds".into()),
            code_label: "status".into(),
            service_label: "swarm_service".into(),
        };
        let s = Series::tasks(&tasks, "shop_api-canary");
        let r = Duration::from_secs(20);
        assert_eq!(
            builtin_on(&MetricKind::ErrorRate, &s, r).unwrap(),
            "(sum(rate(demo_http_requests_total{swarm_service=\"shop_api-canary\",status=~\"5..\"}[20s])) or \
             sum(rate(demo_http_requests_total{swarm_service=\"shop_api-canary\"}[20s])) * 0) / \
             sum(rate(demo_http_requests_total{swarm_service=\"shop_api-canary\"}[20s]))"
        );
        assert_eq!(
            builtin_on(&MetricKind::Latency(0.5), &s, r).unwrap(),
            "histogram_quantile(0.5, sum by (le) (rate(demo_http_request_duration_seconds_bucket{swarm_service=\"shop_api-canary\"}[20s])))"
        );
        assert_eq!(
            builtin_on(&MetricKind::RequestCount, &s, r).unwrap(),
            "sum(increase(demo_http_requests_total{swarm_service=\"shop_api-canary\"}[20s]))"
        );
        // The Swarm name is a value, escaped; a latency needs the histogram.
        let evil = Series::tasks(&tasks, "a\"}) or vector(1) #");
        let q = builtin_on(&MetricKind::SuccessRate, &evil, r).unwrap();
        assert!(
            q.contains("swarm_service=\"a\\\"}) or vector(1) #\""),
            "{q}"
        );
        let no_histogram = TaskMetricsSpec {
            duration: None,
            ..tasks.clone()
        };
        assert!(builtin_on(
            &MetricKind::Latency(0.5),
            &Series::tasks(&no_histogram, "x"),
            r
        )
        .is_none());
        // Traefik's series are the same queries on other names.
        assert_eq!(
            builtin_on(&MetricKind::ErrorRate, &Series::traefik("api@swarm"), r),
            builtin(&MetricKind::ErrorRate, "api@swarm", r)
        );
    }

    #[test]
    fn templates_escape_values() {
        let vars = TemplateVars {
            service: "evil\"} or vector(1) #",
            app: "api",
            track: "canary",
            swarm_service: "shop_api-canary",
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
        assert_eq!(
            fill_template("x{s=\"{{swarmService}}\"}", &vars).unwrap(),
            "x{s=\"shop_api-canary\"}"
        );
        assert!(fill_template("x{{nope}}", &vars).is_err());
        assert!(fill_template("x{{service", &vars).is_err());
        assert_eq!(escape_string("a\\b\n'"), "a\\\\b\\n\\'");
    }
}
