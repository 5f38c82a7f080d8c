//! [`MetricsSource`]: reads metrics (Prometheus, Traefik's `/metrics`, JSON from web endpoints).

use std::time::Duration;

use std::fmt::Debug;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

#[cfg(feature = "mocks")]
use mockall::automock;

use crate::error::Result;
use crate::model::{AppRef, Track};
use crate::spec::MetricKind;

/// One metric query: [`MetricQuery::new`] (the engine builds it from the spec's checks).
///
/// ```
/// use std::time::Duration;
///
/// use canary_core::spec::MetricKind;
/// use canary_core::{AppRef, MetricQuery, ServiceName, Track};
///
/// let name = |s: &str| ServiceName::parse(s).unwrap();
/// let app = AppRef { name: name("api"), stable: name("api"), canary: name("api-canary") };
/// let q = MetricQuery::new(app, Track::Canary, MetricKind::SuccessRate, Duration::from_secs(30));
/// assert_eq!(q.window, Duration::from_secs(30));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct MetricQuery {
    /// The app.
    pub app: AppRef,
    /// Which track.
    pub track: Track,
    /// What.
    pub metric: MetricKind,
    /// Over how long, ending now.
    #[serde(with = "super::duration_ms")]
    pub window: Duration,
}

impl MetricQuery {
    /// `metric` of `app`'s `track` over the `window` ending now.
    pub fn new(app: AppRef, track: Track, metric: MetricKind, window: Duration) -> Self {
        MetricQuery {
            app,
            track,
            metric,
            window,
        }
    }
}

/// A metric value, or the plain fact that there is none. No data is never zero.
///
/// Deliberately exhaustive: like an `Option`, a value or none; nothing lies between.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind", content = "value")]
pub enum Observation {
    /// A value.
    Value(f64),
    /// Nothing measured (no series, NaN, no traffic).
    NoData,
}

impl Observation {
    /// The value, if any.
    pub fn value(self) -> Option<f64> {
        match self {
            Observation::Value(v) if v.is_finite() => Some(v),
            _ => None,
        }
    }
    /// Maps NaN and infinities to no data.
    pub fn from_f64(v: f64) -> Self {
        if v.is_finite() {
            Observation::Value(v)
        } else {
            Observation::NoData
        }
    }
}

/// Reads metrics: Prometheus, or Traefik's `/metrics` directly.
#[cfg_attr(feature = "mocks", automock)]
#[async_trait]
pub trait MetricsSource: Send + Sync + Debug + 'static {
    /// One value over the window.
    async fn value(&self, query: &MetricQuery) -> Result<Observation>;
    /// Samples over the window (e.g. one per few seconds), for the statistical judge. Empty means
    /// no data.
    async fn samples(&self, query: &MetricQuery) -> Result<Vec<f64>>;
}
