//! [`SamplesFrom`]: the checks' values from one metrics source and the statistical judge's samples
//! from another, so the judge compares each request's own duration (Traefik's access log) while
//! the thresholds read Prometheus or Traefik's `/metrics` as before.

use std::sync::Arc;

use async_trait::async_trait;
use canary_core::{MetricQuery, MetricsSource, Observation, Result};

/// Values from `values`, samples from `samples`.
#[derive(Debug)]
pub struct SamplesFrom {
    values: Arc<dyn MetricsSource>,
    samples: Arc<dyn MetricsSource>,
}

impl SamplesFrom {
    /// `values` answering [`MetricsSource::value`], `samples` [`MetricsSource::samples`].
    pub fn wrap(
        values: Arc<dyn MetricsSource>,
        samples: Arc<dyn MetricsSource>,
    ) -> Arc<dyn MetricsSource> {
        Arc::new(SamplesFrom { values, samples })
    }
}

#[async_trait]
impl MetricsSource for SamplesFrom {
    async fn value(&self, query: &MetricQuery) -> Result<Observation> {
        self.values.value(query).await
    }
    async fn samples(&self, query: &MetricQuery) -> Result<Vec<f64>> {
        self.samples.samples(query).await
    }
}
