//! The [`PrometheusMetrics`] metrics source; its documentation says what it reads, and why.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use canary_core::spec::{MetricKind, TaskMetricsSpec};
use canary_core::{AppRoute, Error, MetricQuery, MetricsSource, Observation, Result, ServiceName};
use serde::Deserialize;

use crate::backend::BackendNames;
use crate::exposition::parse_float;
use crate::http::{self, Auth, BaseUrl};
use crate::promql::{self, Series, TemplateVars};
use crate::provider::{ProviderVersion, RouteProvider};

/// The `data` of a successful answer.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "resultType", content = "result", rename_all = "lowercase")]
pub enum QueryData {
    /// One value per series at one time.
    Vector(Vec<VectorSample>),
    /// Values over time per series.
    Matrix(Vec<MatrixSeries>),
    /// One value.
    Scalar(SamplePair),
    /// One string.
    String(StringPair),
}

/// `[time, "value"]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SamplePair(pub f64, pub String);

impl SamplePair {
    /// The value (NaN when unreadable; Prometheus writes `NaN`, `+Inf`, `-Inf` as such).
    pub fn value(&self) -> f64 {
        parse_float(&self.1).unwrap_or(f64::NAN)
    }
}

/// `[time, "text"]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct StringPair(pub f64, pub String);

/// A series of a vector.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct VectorSample {
    /// Labels.
    #[serde(default)]
    pub metric: BTreeMap<String, String>,
    /// The value (absent for native histograms, which these queries never produce).
    #[serde(default)]
    pub value: Option<SamplePair>,
}

/// A series of a matrix.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct MatrixSeries {
    /// Labels.
    #[serde(default)]
    pub metric: BTreeMap<String, String>,
    /// The values.
    #[serde(default)]
    pub values: Vec<SamplePair>,
}

/// Prometheus' answer envelope.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Envelope {
    /// `success` or `error`.
    pub status: String,
    /// The data, on success.
    #[serde(default)]
    pub data: Option<QueryData>,
    /// The error's type, on error.
    #[serde(default)]
    pub error_type: Option<String>,
    /// The error's text, on error.
    #[serde(default)]
    pub error: Option<String>,
    /// Warnings (also on success).
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Info annotations (Prometheus 2.50+).
    #[serde(default)]
    pub infos: Vec<String>,
}

/// Reads an HTTP answer of the query API: the data, or the typed error. `timeout` is the request's
/// deadline, reported when Prometheus itself timed out.
pub(crate) fn decode(status: u16, body: &[u8], timeout: Duration) -> Result<QueryData> {
    let env: Envelope = match serde_json::from_slice(body) {
        Ok(e) => e,
        Err(_) => {
            let text = http::snippet(body, 200);
            let message = format!("HTTP {status}: {text}");
            return Err(
                if status >= 500 || status == 429 || (200..300).contains(&status) {
                    Error::unavailable(format!("prometheus: {message}"))
                } else {
                    Error::rejected("prometheus", message)
                },
            );
        }
    };
    for w in &env.warnings {
        tracing::warn!(warning = %w, "prometheus warned");
    }
    for i in &env.infos {
        tracing::debug!(info = %i, "prometheus info");
    }
    if env.status == "success" {
        if let Some(data) = env.data {
            return Ok(data);
        }
        return Err(Error::internal("prometheus answered success without data"));
    }
    let kind = env.error_type.unwrap_or_else(|| "unknown".into());
    let text = env.error.unwrap_or_default();
    let message = format!("{kind}: {text}");
    Err(match kind.as_str() {
        "timeout" => Error::Timeout {
            what: format!("prometheus query ({message})"),
            after: timeout,
        },
        "canceled" | "unavailable" | "internal" => {
            Error::unavailable(format!("prometheus: {message}"))
        }
        _ if status >= 500 => Error::unavailable(format!("prometheus: {message}")),
        _ => Error::rejected("prometheus", message),
    })
}

/// One value out of an instant query's data: one series or a scalar; empty or NaN is no data.
pub(crate) fn single_value(data: &QueryData, query: &str) -> Result<Observation> {
    match data {
        QueryData::Scalar(p) => Ok(Observation::from_f64(p.value())),
        QueryData::Vector(v) if v.is_empty() => Ok(Observation::NoData),
        QueryData::Vector(v) if v.len() == 1 => Ok(v[0]
            .value
            .as_ref()
            .map(|p| Observation::from_f64(p.value()))
            .unwrap_or(Observation::NoData)),
        QueryData::Vector(v) => Err(Error::invalid(
            "metric.query",
            format!(
                "{query:?} returned {} series; aggregate it to one (e.g. sum(...))",
                v.len()
            ),
        )),
        QueryData::Matrix(_) => Err(Error::invalid(
            "metric.query",
            format!("{query:?} returned a range vector; apply a function such as rate() to it"),
        )),
        QueryData::String(_) => Err(Error::invalid(
            "metric.query",
            format!("{query:?} returned a string"),
        )),
    }
}

/// The finite values of a range query's one series (NaN and infinite points dropped).
pub(crate) fn series_values(data: &QueryData, query: &str) -> Result<Vec<f64>> {
    match data {
        QueryData::Matrix(m) if m.is_empty() => Ok(Vec::new()),
        QueryData::Matrix(m) if m.len() == 1 => Ok(m[0]
            .values
            .iter()
            .map(SamplePair::value)
            .filter(|v| v.is_finite())
            .collect()),
        QueryData::Matrix(m) => Err(Error::invalid(
            "metric.query",
            format!(
                "{query:?} returned {} series; aggregate it to one (e.g. sum(...))",
                m.len()
            ),
        )),
        other => Err(Error::internal(format!("a range query answered {other:?}"))),
    }
}

/// A `web` metric reached a source that does not call URLs: it is [`crate::WebMetrics`]'s.
pub(crate) fn web_elsewhere() -> Error {
    Error::invalid(
        "metric",
        "a web metric is answered by WebMetrics (canary-sdk wires it for every spec that has one)",
    )
}

/// Builds a [`PrometheusMetrics`].
#[derive(Debug, Clone)]
#[must_use]
pub struct PrometheusMetricsBuilder {
    url: String,
    auth: Auth,
    version: ProviderVersion,
    provider: RouteProvider,
    overrides: Vec<(ServiceName, String)>,
    routes: Vec<AppRoute>,
    timeout: Duration,
    samples: u32,
    scrape_interval: Duration,
    tasks: Option<TaskMetricsSpec>,
}

impl PrometheusMetricsBuilder {
    /// HTTP basic authentication. Never logged.
    pub fn basic_auth(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.auth = Auth::Basic {
            user: user.into(),
            password: password.into(),
        };
        self
    }

    /// A bearer token. Never logged.
    pub fn bearer_token(mut self, token: impl Into<String>) -> Self {
        self.auth = Auth::Bearer(token.into());
        self
    }

    /// Traefik v3 (`<name>@swarm`, default) or v2 (`<name>@docker`) backend names.
    pub fn version(mut self, version: ProviderVersion) -> Self {
        self.version = version;
        self
    }

    /// The Traefik provider the router writes the canary's objects to (default the file
    /// provider: `…--tasks@file`; the KV router's are `…--tasks@etcd`).
    pub fn provider(mut self, provider: RouteProvider) -> Self {
        self.provider = provider;
        self
    }

    /// The exact Traefik service (the `service` label, e.g. `web@swarm`) of a Swarm service whose
    /// name Traefik does not derive from the Swarm service name.
    pub fn backend(mut self, service: ServiceName, traefik_service: impl Into<String>) -> Self {
        self.overrides.push((service, traefik_service.into()));
        self
    }

    /// Learns the backends of a route the way the router names them (a stable service whose
    /// labels declare `traefik.http.services.<X>` is `X@swarm`).
    pub fn route(mut self, route: &AppRoute) -> Self {
        self.routes.push(route.clone());
        self
    }

    /// Deadline of one query (default 10s), also sent to Prometheus as its `timeout`.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Points of a `samples` answer (default 10, at least 2).
    pub fn samples(mut self, n: u32) -> Self {
        self.samples = n;
        self
    }

    /// Prometheus' scrape interval of Traefik (default 15s): a `rate` needs two scrapes, so ranges
    /// are never shorter than twice this.
    pub fn scrape_interval(mut self, interval: Duration) -> Self {
        self.scrape_interval = interval;
        self
    }

    /// Reads the built-in metrics from the apps' own metrics, scraped from every task with the
    /// Swarm service's name in a label (the spec's `analysis.taskMetrics`), instead of Traefik's
    /// per-service ones; `None` keeps Traefik's.
    pub fn task_metrics(mut self, tasks: Option<TaskMetricsSpec>) -> Self {
        self.tasks = tasks;
        self
    }

    /// Checks the options and builds the source.
    pub fn build(self) -> Result<PrometheusMetrics> {
        if self.samples < 2 {
            return Err(Error::invalid("samples", "at least 2"));
        }
        if self.timeout.is_zero() || self.scrape_interval.is_zero() {
            return Err(Error::invalid(
                "timeout",
                "timeouts and intervals must be above 0",
            ));
        }
        let mut names = BackendNames::new(self.version).with_provider(self.provider);
        for r in &self.routes {
            names.learn(r)?;
        }
        for (s, n) in &self.overrides {
            names.set(s, n.clone());
        }
        Ok(PrometheusMetrics {
            base: BaseUrl::parse(&self.url, "prometheusUrl")?,
            auth: self.auth,
            client: http::client()?,
            names,
            timeout: self.timeout,
            samples: self.samples,
            scrape_interval: self.scrape_interval,
            tasks: self.tasks,
        })
    }
}

/// The [`MetricsSource`] on Prometheus.
///
/// [`PrometheusMetrics`]: the [`MetricsSource`] on the Prometheus HTTP API.
///
/// `value` is an instant query (`POST /api/v1/query`) over the window ending now; `samples` is a
/// range query (`POST /api/v1/query_range`) over the window with `samples` points, each point the
/// metric over one step. Built-in metrics are PromQL on Traefik's service metrics, or, with
/// [`PrometheusMetricsBuilder::task_metrics`] (the spec's `analysis.taskMetrics`), on the apps'
/// own metrics scraped per task, selected by the track's Swarm service (see the `promql` module);
/// custom ones are templates.
///
/// Answers: an empty result or NaN is [`Observation::NoData`]; `status: error` is
/// [`Error::Rejected`] (`bad_data`, `execution`, …) or [`Error::Unavailable`]/[`Error::Timeout`]
/// (`unavailable`, `internal`, `timeout`, `canceled`) with Prometheus' `errorType` and `error`
/// words; warnings are logged.
#[derive(Debug, Clone)]
pub struct PrometheusMetrics {
    base: BaseUrl,
    auth: Auth,
    client: reqwest::Client,
    names: BackendNames,
    timeout: Duration,
    samples: u32,
    scrape_interval: Duration,
    tasks: Option<TaskMetricsSpec>,
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn secs(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64())
}

impl PrometheusMetrics {
    /// A builder for the Prometheus at `url` (e.g. `http://127.0.0.1:39090`).
    pub fn builder(url: impl Into<String>) -> PrometheusMetricsBuilder {
        PrometheusMetricsBuilder {
            url: url.into(),
            auth: Auth::None,
            version: ProviderVersion::V3,
            provider: RouteProvider::File,
            overrides: Vec::new(),
            routes: Vec::new(),
            timeout: Duration::from_secs(10),
            samples: 10,
            scrape_interval: Duration::from_secs(15),
            tasks: None,
        }
    }

    /// The backend names in use.
    pub fn names(&self) -> &BackendNames {
        &self.names
    }

    async fn post(&self, path: &str, form: &[(&str, String)]) -> Result<QueryData> {
        let url = self.base.join(path);
        let what = format!("prometheus POST {url}");
        let resp = self
            .auth
            .apply(self.client.post(&url))
            .form(form)
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| http::send_error(e, &what, self.timeout))?;
        let status = resp.status().as_u16();
        let body = resp
            .bytes()
            .await
            .map_err(|e| http::send_error(e, &what, self.timeout))?;
        decode(status, &body, self.timeout)
    }

    /// An instant query at now.
    pub async fn query(&self, promql: &str) -> Result<QueryData> {
        self.query_at(promql, None).await
    }

    /// An instant query at `time` (Unix seconds), or at now.
    pub async fn query_at(&self, promql: &str, time: Option<f64>) -> Result<QueryData> {
        tracing::debug!(query = %promql, ?time, "prometheus query");
        let mut form = vec![
            ("query", promql.to_string()),
            ("timeout", secs(self.timeout)),
        ];
        if let Some(t) = time {
            form.push(("time", format!("{t:.3}")));
        }
        self.post("/api/v1/query", &form).await
    }

    /// A range query from `start` to `end` (Unix seconds) every `step`.
    pub async fn query_range(
        &self,
        promql: &str,
        start: f64,
        end: f64,
        step: Duration,
    ) -> Result<QueryData> {
        tracing::debug!(query = %promql, start, end, step = ?step, "prometheus range query");
        self.post(
            "/api/v1/query_range",
            &[
                ("query", promql.to_string()),
                ("start", format!("{start:.3}")),
                ("end", format!("{end:.3}")),
                ("step", secs(step)),
                ("timeout", secs(self.timeout)),
            ],
        )
        .await
    }

    /// The PromQL for `query` with ranges of `range`.
    pub fn promql(&self, query: &MetricQuery, range: Duration) -> Result<String> {
        let swarm_service = query.app.service(query.track);
        let service = self.names.name(swarm_service);
        match &query.metric {
            MetricKind::Query(template) => promql::fill_template(
                template,
                &TemplateVars {
                    service: &service,
                    swarm_service: swarm_service.as_str(),
                    app: query.app.name.as_str(),
                    track: &query.track.to_string(),
                    window: range,
                },
            ),
            MetricKind::Web(_) => Err(web_elsewhere()),
            kind => match &self.tasks {
                Some(tasks) => {
                    promql::builtin_on(kind, &Series::tasks(tasks, swarm_service.as_str()), range)
                        .ok_or_else(|| {
                            Error::invalid(
                                "analysis.taskMetrics.duration",
                                format!("{} needs the apps' duration histogram", kind.label()),
                            )
                        })
                }
                None => promql::builtin(kind, &service, range)
                    .ok_or_else(|| Error::internal(format!("no PromQL for {}", kind.label()))),
            },
        }
    }

    /// The range a rate needs at least: two scrapes.
    fn min_range(&self) -> Duration {
        self.scrape_interval * 2
    }

    /// Step and per-point range of `samples` for `window`.
    pub fn sample_plan(&self, window: Duration) -> (Duration, Duration) {
        let step = (window / self.samples).max(Duration::from_secs(1));
        (step, step.max(self.min_range()))
    }

    /// [`MetricsSource::value`] as Prometheus answers it for a window ending at `time` (Unix
    /// seconds): a replay of a past time span.
    pub async fn value_at(&self, query: &MetricQuery, time: Option<f64>) -> Result<Observation> {
        let range = query.window.max(self.min_range());
        let q = self.promql(query, range)?;
        let data = self.query_at(&q, time).await?;
        single_value(&data, &q)
    }

    /// [`MetricsSource::samples`] for a window ending at `end` (Unix seconds).
    pub async fn samples_at(&self, query: &MetricQuery, end: f64) -> Result<Vec<f64>> {
        let (step, range) = self.sample_plan(query.window);
        let q = self.promql(query, range)?;
        // `samples` points, the first one a step after the window starts.
        let start = end - step.as_secs_f64() * (self.samples.saturating_sub(1)) as f64;
        let data = self.query_range(&q, start, end, step).await?;
        series_values(&data, &q)
    }
}

#[async_trait]
impl MetricsSource for PrometheusMetrics {
    async fn value(&self, query: &MetricQuery) -> Result<Observation> {
        self.value_at(query, None).await
    }

    async fn samples(&self, query: &MetricQuery) -> Result<Vec<f64>> {
        self.samples_at(query, unix_now()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{fixture, fixture_bytes, http_body};

    const T: Duration = Duration::from_secs(10);

    fn load(name: &str) -> Result<QueryData> {
        let body = fixture_bytes(&format!("prometheus/api-v2.42.0/{name}"));
        let status = if name.starts_with("error_execution") {
            422
        } else if name.starts_with("error_") {
            400
        } else {
            200
        };
        decode(status, &body, T)
    }

    #[test]
    fn vectors_scalars_and_empties() {
        let d = load("query_vector_canary_error_ratio.json").unwrap();
        assert_eq!(
            single_value(&d, "q").unwrap(),
            Observation::Value(0.14545454545454548)
        );
        let d = load("query_post_form.json").unwrap();
        assert_eq!(single_value(&d, "q").unwrap(), Observation::Value(740.0));
        let d = load("query_scalar.json").unwrap();
        assert_eq!(
            single_value(&d, "q").unwrap(),
            Observation::Value(18.785714285714285)
        );
        for empty in ["query_vector_empty.json", "query_vector_nan.json"] {
            assert_eq!(
                single_value(&load(empty).unwrap(), "q").unwrap(),
                Observation::NoData
            );
        }
        let d = load("query_vector_rate_by_service_code.json").unwrap();
        assert!(matches!(
            single_value(&d, "q"),
            Err(Error::InvalidInput { .. })
        ));
        let d = load("query_vector_p99_by_service.json").unwrap();
        let QueryData::Vector(v) = &d else {
            panic!("{d:?}")
        };
        assert_eq!(
            v[0].metric.get("service").map(String::as_str),
            Some("app-canary@file")
        );
        assert_eq!(v[0].value.as_ref().unwrap().value(), 0.099);
        assert!(matches!(
            single_value(&load("query_string.json").unwrap(), "q"),
            Err(Error::InvalidInput { .. })
        ));
        assert!(matches!(
            single_value(&load("query_matrix_range_selector.json").unwrap(), "q"),
            Err(Error::InvalidInput { .. })
        ));
        let d = load("query_vector_raw_series.json").unwrap();
        let QueryData::Vector(v) = d else { panic!() };
        assert_eq!(v.len(), 4);
        assert_eq!(v[3].metric["code"], "500");
    }

    #[test]
    fn task_metrics_select_each_track_by_its_swarm_service() {
        let name = |s: &str| ServiceName::parse(s).unwrap();
        let app = canary_core::AppRef {
            name: name("api"),
            stable: name("shop_api"),
            canary: name("shop_api-canary"),
        };
        let q =
            |track, metric| MetricQuery::new(app.clone(), track, metric, Duration::from_secs(20));
        let tasks = TaskMetricsSpec {
            requests: "demo_http_requests_total".into(),
            duration: None,
            code_label: "code".into(),
            service_label: "swarm_service".into(),
        };
        let m = PrometheusMetrics::builder("http://127.0.0.1:9")
            .task_metrics(Some(tasks))
            .build()
            .unwrap();
        let r = Duration::from_secs(20);
        for (track, service) in [
            (canary_core::Track::Canary, "shop_api-canary"),
            (canary_core::Track::Stable, "shop_api"),
        ] {
            let promql = m.promql(&q(track, MetricKind::ErrorCount), r).unwrap();
            assert!(
                promql.starts_with(&format!(
                    "sum(increase(demo_http_requests_total{{swarm_service=\"{service}\",code=~\"5..\"}}[20s]))"
                )),
                "{promql}"
            );
        }
        let e = m
            .promql(&q(canary_core::Track::Canary, MetricKind::Latency(0.9)), r)
            .unwrap_err();
        assert!(
            matches!(&e, Error::InvalidInput { field, .. } if field == "analysis.taskMetrics.duration"),
            "{e}"
        );
        let custom = MetricKind::Query("sum(x{s=\"{{swarmService}}\",t=\"{{track}}\"})".into());
        assert_eq!(
            m.promql(&q(canary_core::Track::Canary, custom), r).unwrap(),
            "sum(x{s=\"shop_api-canary\",t=\"canary\"})"
        );
        // Without task metrics: Traefik's series of the canary's tasks service.
        let plain = PrometheusMetrics::builder("http://127.0.0.1:9")
            .build()
            .unwrap();
        let promql = plain
            .promql(&q(canary_core::Track::Stable, MetricKind::RequestCount), r)
            .unwrap();
        assert!(
            promql.contains("traefik_service_requests_total{service=\"shop-api@swarm\"}"),
            "{promql}"
        );
    }

    #[test]
    fn nan_values_are_no_data() {
        let body = br#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1795774570,"NaN"]}]}}"#;
        assert_eq!(
            single_value(&decode(200, body, T).unwrap(), "q").unwrap(),
            Observation::NoData
        );
        let body =
            br#"{"status":"success","data":{"resultType":"scalar","result":[1795774570,"+Inf"]}}"#;
        assert_eq!(
            single_value(&decode(200, body, T).unwrap(), "q").unwrap(),
            Observation::NoData
        );
    }

    #[test]
    fn matrices_drop_nan_points() {
        let d = load("query_range_canary_error_ratio.json").unwrap();
        let v = series_values(&d, "q").unwrap();
        assert_eq!(v.len(), 9, "the five NaN points are dropped");
        assert_eq!(v[0], 0.12117763107974808);
        assert!(series_values(&load("query_range_empty.json").unwrap(), "q")
            .unwrap()
            .is_empty());
        let d = load("query_range_rate_by_service.json").unwrap();
        assert!(matches!(
            series_values(&d, "q"),
            Err(Error::InvalidInput { .. })
        ));
    }

    #[test]
    fn warnings_do_not_fail_the_query() {
        let d = load("query_vector_with_warnings.json").unwrap();
        let QueryData::Vector(v) = d else { panic!() };
        assert_eq!(v.len(), 2);
        let d = load("query_range_with_warnings.json").unwrap();
        assert_eq!(series_values(&d, "q").unwrap(), [4.063425, 3.625, 3.375]);
    }

    #[test]
    fn every_error_body_is_typed_with_prometheus_words() {
        let cases = [
            ("error_bad_data_parse.json", "bad_data: invalid parameter \"query\": 1:45: parse error: unclosed left parenthesis"),
            ("error_bad_data_end_before_start.json", "bad_data: invalid parameter \"end\": end timestamp must not be before start time"),
            ("error_bad_data_missing_step.json", "bad_data: invalid parameter \"step\": cannot parse \"\" to a valid duration"),
            ("error_bad_data_range_too_many_points.json", "bad_data: exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)"),
            ("error_bad_data_time.json", "bad_data: invalid parameter \"time\": Invalid time value for 'time': cannot parse \"yesterday\" to a valid timestamp"),
            ("error_bad_data_timeout_param.json", "bad_data: invalid parameter \"timeout\": cannot parse \"1ns\" to a valid duration"),
        ];
        for (file, message) in cases {
            assert_eq!(
                load(file).unwrap_err(),
                Error::rejected("prometheus", message),
                "{file}"
            );
        }
        let e = load("error_execution_many_to_many.json").unwrap_err();
        assert!(
            matches!(&e, Error::Rejected { message, .. } if message.starts_with("execution: found duplicate series")),
            "{e}"
        );
        let (status, body) = http_body(&fixture(
            "prometheus/api-v2.42.0/error_bad_data_parse.http.txt",
        ));
        assert_eq!(status, 400);
        assert!(matches!(
            decode(status, body.as_bytes(), T),
            Err(Error::Rejected { .. })
        ));
        let (status, body) = http_body(&fixture("prometheus/api-v2.42.0/query_up.http.txt"));
        assert_eq!(
            single_value(&decode(status, body.as_bytes(), T).unwrap(), "up").unwrap(),
            Observation::Value(1.0)
        );
    }

    #[test]
    fn errors_not_captured_live() {
        // The envelope of prometheus/prometheus docs/querying/api.md for these.
        let timeout = br#"{"status":"error","errorType":"timeout","error":"query timed out in expression evaluation"}"#;
        assert!(
            matches!(decode(503, timeout, T), Err(Error::Timeout { what, .. }) if what.contains("query timed out"))
        );
        let unavailable =
            br#"{"status":"error","errorType":"unavailable","error":"TSDB not ready"}"#;
        assert!(
            matches!(decode(503, unavailable, T), Err(Error::Unavailable { message: m, .. }) if m.contains("TSDB not ready"))
        );
        assert!(
            matches!(decode(502, b"<html>Bad Gateway</html>", T), Err(Error::Unavailable { message: m, .. }) if m.contains("Bad Gateway"))
        );
        assert!(
            matches!(decode(401, b"Unauthorized", T), Err(Error::Rejected { message, .. }) if message == "HTTP 401: Unauthorized")
        );
        let infos = br#"{"status":"success","data":{"resultType":"vector","result":[]},"infos":["PromQL info: metric might not be a counter"]}"#;
        assert!(decode(200, infos, T).is_ok());
    }
}
