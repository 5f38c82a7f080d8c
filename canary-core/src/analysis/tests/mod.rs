//! Tests of [`analyse`] with a fake metrics source and tokio's paused clock.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;

use super::*;
use crate::error::Error;
use crate::model::Track;
use crate::traits::{MetricQuery, MetricsSource, Observation};

const API: &str = "neotix-api";
const GCP: &str = "gcp-deployment-api";
const WINDOW: Duration = Duration::from_secs(60);
const CALL: Duration = Duration::from_secs(5);

/// What the fake answers to one query.
#[derive(Debug, Clone)]
enum Reply {
    Value(f64),
    NoData,
    Fail(Error),
    /// Never answers (the call timeout must end it).
    Hang,
}

/// A metrics source answering from tables keyed by (app, track, metric label); anything not in
/// a table is an error, so a test notices a query it did not expect.
#[derive(Debug, Default)]
struct Fake {
    values: HashMap<(String, Track, String), Reply>,
    samples: HashMap<(String, Track, String), std::result::Result<Vec<f64>, Reply>>,
    queries: Mutex<Vec<MetricQuery>>,
}

impl Fake {
    fn new() -> Self {
        Self::default()
    }

    fn value(mut self, app: &str, track: Track, metric: MetricKind, reply: Reply) -> Self {
        self.values
            .insert((app.into(), track, metric.label()), reply);
        self
    }

    /// Both apps' canaries got `n` requests.
    fn requests(self, n: f64) -> Self {
        self.value(
            API,
            Track::Canary,
            MetricKind::RequestCount,
            Reply::Value(n),
        )
        .value(
            GCP,
            Track::Canary,
            MetricKind::RequestCount,
            Reply::Value(n),
        )
    }

    fn samples(mut self, app: &str, track: Track, metric: MetricKind, samples: Vec<f64>) -> Self {
        self.samples
            .insert((app.into(), track, metric.label()), Ok(samples));
        self
    }

    fn samples_reply(mut self, app: &str, track: Track, metric: MetricKind, reply: Reply) -> Self {
        self.samples
            .insert((app.into(), track, metric.label()), Err(reply));
        self
    }

    fn queried(&self, metric: &MetricKind) -> usize {
        self.queries
            .lock()
            .unwrap()
            .iter()
            .filter(|q| &q.metric == metric)
            .count()
    }
}

async fn answer(reply: Reply) -> crate::Result<Observation> {
    match reply {
        Reply::Value(v) => Ok(Observation::from_f64(v)),
        Reply::NoData => Ok(Observation::NoData),
        Reply::Fail(e) => Err(e),
        Reply::Hang => std::future::pending().await,
    }
}

#[async_trait]
impl MetricsSource for Fake {
    async fn value(&self, query: &MetricQuery) -> crate::Result<Observation> {
        self.queries.lock().unwrap().push(query.clone());
        let key = (
            query.app.name.to_string(),
            query.track,
            query.metric.label(),
        );
        match self.values.get(&key) {
            Some(r) => answer(r.clone()).await,
            None => Err(Error::internal(format!("fake: no value for {key:?}"))),
        }
    }

    async fn samples(&self, query: &MetricQuery) -> crate::Result<Vec<f64>> {
        self.queries.lock().unwrap().push(query.clone());
        let key = (
            query.app.name.to_string(),
            query.track,
            query.metric.label(),
        );
        match self.samples.get(&key) {
            Some(Ok(s)) => Ok(s.clone()),
            Some(Err(r)) => match answer(r.clone()).await {
                Ok(_) => Ok(Vec::new()),
                Err(e) => Err(e),
            },
            None => Err(Error::internal(format!("fake: no samples for {key:?}"))),
        }
    }
}

/// The seed's two apps with the given `analysis:` section (YAML, indented by two spaces).
fn spec(analysis: &str) -> Spec {
    let text = format!(
        "group: neotix
stack: neotix
apps:
  - name: {API}
    image: canary-demo:v2
    port: 8080
    rule: \"Host(`api.localhost`) && PathPrefix(`/api`)\"
  - name: {GCP}
    image: canary-demo:v2
    port: 8080
    rule: \"Host(`api.localhost`) && PathPrefix(`/gcp`)\"
analysis:
{analysis}"
    );
    // Through a JSON value: serde_yaml 0.9 wants `!latency 0.99` for the metric enum where JSON
    // (and the spec's docs) say `{latency: 0.99}`.
    let value: serde_json::Value = crate::yaml::from_str(&text).expect("test YAML");
    Spec::from_value(value).unwrap_or_else(|e| panic!("test spec: {e}\n{text}"))
}

async fn run(spec: &Spec, fake: &Fake) -> AnalysisReport {
    analyse(spec, &spec.app_refs(), fake, WINDOW, CALL).await
}

fn check<'a>(report: &'a AnalysisReport, app: &str, name: &str) -> &'a CheckResult {
    report
        .checks
        .iter()
        .find(|c| c.app == app && c.name == name)
        .unwrap_or_else(|| panic!("no check {name} for {app} in {:#?}", report.checks))
}

/// 20 samples around `centre` (±0.95·`spread`), no ties within one sample.
fn around(centre: f64, spread: f64) -> Vec<f64> {
    (0..20)
        .map(|i| centre + (i as f64 - 9.5) / 10.0 * spread)
        .collect()
}

mod checks;
mod dry_run;
mod judge;
