//! What a check measures: [`MetricKind`], written `successRate`, `{latency: 0.99}`,
//! `{query: "..."}` or `{web: {url, jsonPath, ...}}` (or, in YAML, the tag forms `!latency 0.99`,
//! `!web {...}`); the same reading takes the name and map forms from JSON.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::web::WebMetric;

/// A metric of one track of an app: `successRate`, or `{latency: 0.99}`, or `{query: "..."}`,
/// or `{web: {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum MetricKind {
    /// Requests in the window.
    RequestCount,
    /// Requests per second.
    RequestRate,
    /// Responses with a 5xx status in the window.
    ErrorCount,
    /// Share of non-5xx responses, 0–1.
    SuccessRate,
    /// Share of 5xx responses, 0–1.
    ErrorRate,
    /// Latency quantile in seconds, e.g. `{latency: 0.99}`.
    Latency(f64),
    /// A custom query (PromQL for Prometheus) with placeholders `{{service}}`, `{{app}}`,
    /// `{{track}}`, `{{window}}`; substituted values are escaped.
    Query(String),
    /// A number read by JSONPath from an HTTP endpoint's JSON answer, e.g.
    /// `{web: {url: "https://metrics.example/errors?app={{app}}", jsonPath: "$.rate"}}`.
    Web(WebMetric),
}

// Read as an enum, so YAML's three forms and JSON's two all arrive through `visit_enum`; by hand
// so that `metric: latency` (no value) says what is missing instead of failing on the next line.
impl<'de> Deserialize<'de> for MetricKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        const ALL: &[&str] = &[
            "requestCount",
            "requestRate",
            "errorCount",
            "successRate",
            "errorRate",
            "latency",
            "query",
            "web",
        ];
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = MetricKind;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(
                    "a metric name such as successRate, or {latency: 0.99}, or {query: \"...\"}, or {web: {url: ..., jsonPath: ...}}",
                )
            }
            fn visit_enum<A: serde::de::EnumAccess<'de>>(
                self,
                data: A,
            ) -> Result<MetricKind, A::Error> {
                use serde::de::{Error as _, VariantAccess as _};
                let (key, variant) = data.variant::<String>()?;
                let needs = |what: &str, e: A::Error| {
                    A::Error::custom(format!("{key} needs {what}, e.g. {{{key}: ...}} ({e})"))
                };
                Ok(match key.as_str() {
                    "requestCount" => variant.unit_variant().map(|_| MetricKind::RequestCount)?,
                    "requestRate" => variant.unit_variant().map(|_| MetricKind::RequestRate)?,
                    "errorCount" => variant.unit_variant().map(|_| MetricKind::ErrorCount)?,
                    "successRate" => variant.unit_variant().map(|_| MetricKind::SuccessRate)?,
                    "errorRate" => variant.unit_variant().map(|_| MetricKind::ErrorRate)?,
                    "latency" => MetricKind::Latency(
                        variant
                            .newtype_variant()
                            .map_err(|e| needs("a quantile between 0 and 1", e))?,
                    ),
                    "query" => MetricKind::Query(
                        variant
                            .newtype_variant()
                            .map_err(|e| needs("a query text", e))?,
                    ),
                    // Its own errors name the field at fault (`jsonPath`, `unknown field`).
                    "web" => MetricKind::Web(variant.newtype_variant()?),
                    other => return Err(A::Error::unknown_variant(other, ALL)),
                })
            }
        }
        d.deserialize_enum("MetricKind", ALL, V)
    }
}

impl MetricKind {
    /// Whether a larger value is worse (errors, latency) or better (success rate).
    pub fn higher_is_worse(&self) -> bool {
        !matches!(
            self,
            MetricKind::SuccessRate | MetricKind::RequestCount | MetricKind::RequestRate
        )
    }

    /// A short label for reports: `successRate`, `latency(p99)`, `query`.
    pub fn label(&self) -> String {
        match self {
            MetricKind::RequestCount => "requestCount".into(),
            MetricKind::RequestRate => "requestRate".into(),
            MetricKind::ErrorCount => "errorCount".into(),
            MetricKind::SuccessRate => "successRate".into(),
            MetricKind::ErrorRate => "errorRate".into(),
            MetricKind::Latency(q) => format!("latency(p{})", q * 100.0),
            MetricKind::Query(_) => "query".into(),
            MetricKind::Web(_) => "web".into(),
        }
    }
}
