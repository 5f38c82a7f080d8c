//! [`TaskMetricsSpec`]: the apps' own request metrics, scraped from every task by Prometheus'
//! Docker Swarm discovery, as the source of the built-in metrics.
//!
//! Traefik counts requests per Traefik service. In weighted mode each track has its own, so
//! Traefik's figures are each track's. In replicas mode stable's and the canary's tasks sit
//! behind one Traefik service and Traefik cannot say which of them answered: its figures mix
//! the two tracks. The apps' own counters, scraped per task with the Swarm service's name as a
//! label, belong to one track each, in every mode. With `analysis.taskMetrics` set, every
//! built-in metric (`successRate`, `errorRate`, `latency`, the request gate, …) is read from
//! them:
//!
//! ```yaml
//! analysis:
//!   taskMetrics:
//!     requests: demo_http_requests_total           # counter with a status-code label
//!     duration: demo_http_request_duration_seconds # histogram, for latency checks
//!     codeLabel: code                              # default
//!     serviceLabel: swarm_service                  # default: where relabeling puts the service name
//! ```

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Longest metric or label name accepted.
const MAX_NAME: usize = 200;

/// The apps' own request metrics, scraped from every task with the Swarm service's name in a
/// label: the source of the built-in metrics when set (`analysis.taskMetrics`). Traefik counts per
/// Traefik service, which in replicas mode holds both tracks' tasks; these series belong to one
/// track each, in every mode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TaskMetricsSpec {
    /// The apps' request counter (e.g. `http_requests_total`), with the status code in
    /// `codeLabel`.
    pub requests: String,
    /// The apps' request-duration histogram, without `_bucket` (e.g.
    /// `http_request_duration_seconds`). Needed by latency checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    /// The label of `requests` holding the HTTP status code. Default `code`.
    #[serde(default = "default_code_label")]
    pub code_label: String,
    /// The label holding the Swarm service's name, which Prometheus' relabeling copies from
    /// `__meta_dockerswarm_service_name`. Default `swarm_service`.
    #[serde(default = "default_service_label")]
    pub service_label: String,
}

fn default_code_label() -> String {
    "code".into()
}

fn default_service_label() -> String {
    "swarm_service".into()
}

impl TaskMetricsSpec {
    /// Checks every name; the error is `(field under taskMetrics, reason)`.
    pub(super) fn check(&self) -> Result<(), (&'static str, String)> {
        metric_name(&self.requests).map_err(|r| ("requests", r))?;
        if let Some(d) = &self.duration {
            metric_name(d).map_err(|r| ("duration", r))?;
        }
        label_name(&self.code_label).map_err(|r| ("codeLabel", r))?;
        label_name(&self.service_label).map_err(|r| ("serviceLabel", r))?;
        if self.code_label == self.service_label {
            return Err((
                "serviceLabel",
                "must differ from codeLabel: one label cannot hold both".into(),
            ));
        }
        Ok(())
    }
}

/// A Prometheus metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
fn metric_name(s: &str) -> Result<(), String> {
    name(s, |c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
        .map_err(|()| format!("{s:?} is not a Prometheus metric name"))
}

/// A Prometheus label name: `[a-zA-Z_][a-zA-Z0-9_]*`, not one of the reserved `__` names.
fn label_name(s: &str) -> Result<(), String> {
    if s.starts_with("__") {
        return Err(format!(
            "{s:?} is reserved (names starting with __ are dropped after relabeling)"
        ));
    }
    name(s, |c| c.is_ascii_alphanumeric() || c == '_')
        .map_err(|()| format!("{s:?} is not a Prometheus label name"))
}

fn name(s: &str, ok: impl Fn(char) -> bool) -> Result<(), ()> {
    let first_ok = s
        .chars()
        .next()
        .is_some_and(|c| !c.is_ascii_digit() && ok(c));
    if s.len() > MAX_NAME || !first_ok || !s.chars().all(ok) {
        return Err(());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(requests: &str) -> TaskMetricsSpec {
        TaskMetricsSpec {
            requests: requests.into(),
            duration: None,
            code_label: default_code_label(),
            service_label: default_service_label(),
        }
    }

    #[test]
    fn names_are_prometheus_names() {
        assert!(spec("http_requests_total").check().is_ok());
        assert!(spec("ns:http_requests_total").check().is_ok());
        for bad in ["", "9x", "a-b", "a{b}", "a\"b", "ä"] {
            let e = spec(bad).check().unwrap_err();
            assert_eq!(e.0, "requests", "{bad:?}");
        }
        assert!(spec(&"a".repeat(201)).check().is_err());
        let mut s = spec("x");
        s.duration = Some("d u".into());
        assert_eq!(s.check().unwrap_err().0, "duration");
        let mut s = spec("x");
        s.service_label = "__meta_dockerswarm_service_name".into();
        let e = s.check().unwrap_err();
        assert!(e.0 == "serviceLabel" && e.1.contains("reserved"), "{e:?}");
        let mut s = spec("x");
        s.code_label = "a:b".into();
        assert_eq!(s.check().unwrap_err().0, "codeLabel");
        let mut s = spec("x");
        s.service_label = "code".into();
        assert_eq!(s.check().unwrap_err().0, "serviceLabel");
    }
}
