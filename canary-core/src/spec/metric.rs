//! What a check measures: [`MetricKind`], written `successRate`, `{latency: 0.99}` or
//! `{query: "..."}` (and YAML's tag form `!latency 0.99`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A metric of one track of an app: `successRate`, or `{latency: 0.99}`, or `{query: "..."}`.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
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
}

// serde_yaml reads externally tagged enums only from YAML tags (`!latency 0.99`), so the map
// form people write (and JSON) is read by hand, the same way for every format.
impl<'de> Deserialize<'de> for MetricKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        const UNIT: &[&str] = &[
            "requestCount",
            "requestRate",
            "errorCount",
            "successRate",
            "errorRate",
        ];
        const ALL: &[&str] = &[
            "requestCount",
            "requestRate",
            "errorCount",
            "successRate",
            "errorRate",
            "latency",
            "query",
        ];
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = MetricKind;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(
                    "a metric name such as successRate, or {latency: 0.99}, or {query: \"...\"}",
                )
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<MetricKind, E> {
                Ok(match v {
                    "requestCount" => MetricKind::RequestCount,
                    "requestRate" => MetricKind::RequestRate,
                    "errorCount" => MetricKind::ErrorCount,
                    "successRate" => MetricKind::SuccessRate,
                    "errorRate" => MetricKind::ErrorRate,
                    "latency" | "query" => {
                        return Err(E::custom(format!("{v} needs a value, e.g. {{{v}: ...}}")))
                    }
                    other => return Err(E::unknown_variant(other, UNIT)),
                })
            }
            // YAML's tag form, `!latency 0.99`, which serde_yaml hands over as an enum.
            fn visit_enum<A: serde::de::EnumAccess<'de>>(
                self,
                data: A,
            ) -> Result<MetricKind, A::Error> {
                use serde::de::{Error as _, VariantAccess as _};
                let (key, variant) = data.variant::<String>()?;
                match key.as_str() {
                    "latency" => Ok(MetricKind::Latency(variant.newtype_variant()?)),
                    "query" => Ok(MetricKind::Query(variant.newtype_variant()?)),
                    other if UNIT.contains(&other) => {
                        variant.unit_variant()?;
                        self.visit_str(other)
                    }
                    other => Err(A::Error::unknown_variant(other, ALL)),
                }
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<MetricKind, A::Error> {
                use serde::de::Error as _;
                let Some(key) = map.next_key::<String>()? else {
                    return Err(A::Error::custom("an empty map is not a metric"));
                };
                let kind = match key.as_str() {
                    "latency" => MetricKind::Latency(map.next_value()?),
                    "query" => MetricKind::Query(map.next_value()?),
                    other if UNIT.contains(&other) => {
                        map.next_value::<serde::de::IgnoredAny>()?;
                        self.visit_str(other)?
                    }
                    other => return Err(A::Error::unknown_variant(other, ALL)),
                };
                if map.next_key::<String>()?.is_some() {
                    return Err(A::Error::custom("a metric map has exactly one key"));
                }
                Ok(kind)
            }
        }
        d.deserialize_any(V)
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
        }
    }
}
