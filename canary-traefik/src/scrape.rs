//! The [`TraefikScrapeMetrics`] metrics source; its documentation says what it reads, and why.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use canary_core::spec::MetricKind;
use canary_core::{AppRoute, Error, MetricQuery, MetricsSource, Observation, Result, ServiceName};

use crate::backend::BackendNames;
use crate::exposition::{self, Exposition};
use crate::histogram::histogram_quantile;
use crate::http::{self, Auth, BaseUrl};
use crate::promql::{DURATION_BUCKETS, REQUESTS};
use crate::provider::{ProviderVersion, RouteProvider};

/// One series of a service: its labels other than `service` (and `le`), joined.
type SeriesKey = String;

/// What one scrape kept of one Traefik service.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServiceCounters {
    /// `traefik_service_requests_total` by series (labels other than `service`).
    pub requests: HashMap<SeriesKey, Counter>,
    /// `traefik_service_request_duration_seconds_bucket` by series and bucket bound.
    pub buckets: HashMap<(SeriesKey, u64), f64>,
}

/// A request counter of one series, with whether its code is a 5xx.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Counter {
    /// The value.
    pub value: f64,
    /// `code` is 5xx.
    pub server_error: bool,
}

/// One scrape.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// When it was taken.
    pub at: Instant,
    /// By Traefik service (`service` label).
    pub services: HashMap<String, ServiceCounters>,
}

impl Snapshot {
    /// Keeps the service metrics of a parsed scrape.
    pub fn from_exposition(e: &Exposition, at: Instant) -> Self {
        let mut services: HashMap<String, ServiceCounters> = HashMap::new();
        for s in &e.samples {
            let is_req = s.name == REQUESTS;
            let is_bucket = s.name == DURATION_BUCKETS;
            if !is_req && !is_bucket {
                continue;
            }
            let Some(service) = s.label("service") else {
                continue;
            };
            let key: SeriesKey = s
                .labels
                .iter()
                .filter(|(k, _)| k != "service" && k != "le")
                .map(|(k, v)| format!("{k}={v:?}"))
                .collect::<Vec<_>>()
                .join(",");
            let entry = services.entry(service.to_string()).or_default();
            if is_req {
                let server_error = s
                    .label("code")
                    .is_some_and(|c| c.len() == 3 && c.starts_with('5'));
                entry.requests.insert(
                    key,
                    Counter {
                        value: s.value,
                        server_error,
                    },
                );
            } else if let Some(le) = s.label("le").and_then(exposition::parse_float) {
                entry.buckets.insert((key, le.to_bits()), s.value);
            }
        }
        Snapshot { at, services }
    }
}

/// Increase of a counter between two readings: a decrease is a reset, and the new value is what
/// was counted since.
pub(crate) fn counter_delta(before: Option<f64>, after: f64) -> f64 {
    match before {
        Some(b) if after >= b => after - b,
        _ => after,
    }
}

/// What happened to one service between snapshots.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Increase {
    /// Requests.
    pub requests: f64,
    /// 5xx responses.
    pub errors: f64,
    /// Bucket bound to observations (not cumulative over series but cumulative over bounds, as
    /// exposed).
    pub buckets: BTreeMap<u64, f64>,
    /// Seconds covered.
    pub seconds: f64,
}

impl Increase {
    fn add(&mut self, before: Option<&ServiceCounters>, after: &ServiceCounters) {
        for (k, c) in &after.requests {
            let d = counter_delta(
                before.and_then(|b| b.requests.get(k)).map(|c| c.value),
                c.value,
            );
            self.requests += d;
            if c.server_error {
                self.errors += d;
            }
        }
        for (k, v) in &after.buckets {
            let d = counter_delta(before.and_then(|b| b.buckets.get(k)).copied(), *v);
            *self.buckets.entry(k.1).or_default() += d;
        }
    }

    /// The metric over this increase.
    pub(crate) fn metric(&self, kind: &MetricKind) -> Result<Observation> {
        let v = match kind {
            MetricKind::RequestCount => return Ok(Observation::Value(self.requests)),
            MetricKind::RequestRate => self.requests / self.seconds,
            MetricKind::ErrorCount => return Ok(Observation::Value(self.errors)),
            MetricKind::ErrorRate => self.errors / self.requests,
            MetricKind::SuccessRate => (self.requests - self.errors) / self.requests,
            MetricKind::Latency(q) => {
                let b: Vec<(f64, f64)> = self.buckets.iter().map(|(le, n)| (f64::from_bits(*le), *n)).collect();
                histogram_quantile(*q, &b)
            }
            MetricKind::Query(_) => {
                return Err(Error::invalid(
                    "metric",
                    "custom PromQL needs Prometheus (PrometheusMetrics); Traefik's /metrics has built-in metrics only",
                ))
            }
            MetricKind::Web(_) => return Err(crate::prometheus::web_elsewhere()),
            other => {
                return Err(Error::invalid(
                    "metric",
                    format!("{} is not read from Traefik's /metrics", other.label()),
                ))
            }
        };
        Ok(Observation::from_f64(v))
    }
}

/// The increase of `service` from `snaps[from]` to `snaps[to]`, pair by pair (so resets between
/// scrapes are seen).
pub(crate) fn increase(snaps: &[&Snapshot], service: &str) -> Increase {
    let mut inc = Increase::default();
    for pair in snaps.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        if let Some(after) = b.services.get(service) {
            inc.add(a.services.get(service), after);
        }
    }
    if let (Some(first), Some(last)) = (snaps.first(), snaps.last()) {
        inc.seconds = last.at.duration_since(first.at).as_secs_f64();
    }
    inc
}

#[derive(Debug)]
struct Ring {
    snaps: VecDeque<Arc<Snapshot>>,
    last_error: Option<String>,
}

#[derive(Debug)]
struct Inner {
    url: String,
    auth: Auth,
    client: reqwest::Client,
    names: BackendNames,
    timeout: Duration,
    retention: Duration,
    capacity: usize,
    fresh: Duration,
    samples: usize,
    ring: Mutex<Ring>,
    scrape_lock: tokio::sync::Mutex<()>,
}

/// Builds a [`TraefikScrapeMetrics`].
#[derive(Debug, Clone)]
#[must_use]
pub struct TraefikScrapeMetricsBuilder {
    url: String,
    auth: Auth,
    version: ProviderVersion,
    provider: RouteProvider,
    overrides: Vec<(ServiceName, String)>,
    routes: Vec<AppRoute>,
    timeout: Duration,
    retention: Duration,
    capacity: usize,
    fresh: Duration,
    samples: usize,
}

impl TraefikScrapeMetricsBuilder {
    /// HTTP basic authentication for `/metrics`. Never logged.
    pub fn basic_auth(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.auth = Auth::Basic {
            user: user.into(),
            password: password.into(),
        };
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

    /// The exact Traefik service of a Swarm service (see
    /// [`PrometheusMetricsBuilder::backend`](crate::PrometheusMetricsBuilder::backend)).
    pub fn backend(mut self, service: ServiceName, traefik_service: impl Into<String>) -> Self {
        self.overrides.push((service, traefik_service.into()));
        self
    }

    /// Learns the backends of a route the way the router names them.
    pub fn route(mut self, route: &AppRoute) -> Self {
        self.routes.push(route.clone());
        self
    }

    /// Deadline of one scrape (default 5s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long snapshots are kept (default 15 minutes): the longest window answered in full.
    pub fn retention(mut self, retention: Duration) -> Self {
        self.retention = retention;
        self
    }

    /// At most this many snapshots are kept (default 2048).
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }

    /// A query scrapes first when the newest snapshot is older than this (default 1s).
    pub fn freshness(mut self, fresh: Duration) -> Self {
        self.fresh = fresh;
        self
    }

    /// At most this many samples in a `samples` answer (default 10).
    pub fn samples(mut self, n: usize) -> Self {
        self.samples = n;
        self
    }

    /// Checks the options and builds the source.
    pub fn build(self) -> Result<TraefikScrapeMetrics> {
        if self.capacity < 2 || self.samples < 1 {
            return Err(Error::invalid(
                "capacity",
                "keep at least 2 snapshots and ask for at least 1 sample",
            ));
        }
        let mut names = BackendNames::new(self.version).with_provider(self.provider);
        for r in &self.routes {
            names.learn(r)?;
        }
        for (s, n) in &self.overrides {
            names.set(s, n.clone());
        }
        let base = BaseUrl::parse(&self.url, "traefikMetricsUrl")?;
        Ok(TraefikScrapeMetrics {
            inner: Arc::new(Inner {
                url: base.join(if base.as_str().ends_with("/metrics") {
                    ""
                } else {
                    "/metrics"
                }),
                auth: self.auth,
                client: http::client()?,
                names,
                timeout: self.timeout,
                retention: self.retention,
                capacity: self.capacity,
                fresh: self.fresh,
                samples: self.samples,
                ring: Mutex::new(Ring {
                    snaps: VecDeque::new(),
                    last_error: None,
                }),
                scrape_lock: tokio::sync::Mutex::new(()),
            }),
        })
    }
}

/// The [`MetricsSource`] on Traefik's `/metrics`. Cheap to clone (clones share the snapshots).
///
/// [`TraefikScrapeMetrics`]: the [`MetricsSource`] read straight from Traefik's `/metrics`, for
/// users without Prometheus and for seconds-level detection.
///
/// Each scrape keeps, per Traefik service, its request counters and duration buckets as a
/// snapshot in a ring. A metric over a window is computed from the counter deltas between the
/// snapshots in the window (from the newest snapshot at or before the window's start, or the
/// oldest kept, to the newest):
///
/// - a counter that went down was reset (Traefik restarted): the new value is the increase since;
/// - a series absent from the earlier snapshot counts from 0 (Traefik creates a series at its first
///   request, so that request counts; Prometheus' `increase` would miss it);
/// - rates divide by the time really covered between the two snapshots, with no extrapolation;
/// - latency quantiles interpolate the bucket deltas exactly as PromQL's `histogram_quantile`.
///
/// Snapshots come from [`TraefikScrapeMetrics::start`] (a background task scraping every interval,
/// stopped when its handle is dropped) or on demand: each `value`/`samples` call scrapes first when
/// the newest snapshot is older than the freshness limit. Two snapshots in the window are needed
/// for any value; fewer is no data.
#[derive(Debug, Clone)]
pub struct TraefikScrapeMetrics {
    inner: Arc<Inner>,
}

/// The background scraper; dropping it stops the scraping.
#[derive(Debug)]
pub struct ScrapeTask {
    handle: tokio::task::JoinHandle<()>,
}

impl Drop for ScrapeTask {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

impl TraefikScrapeMetrics {
    /// A builder for Traefik's metrics at `url`: the entry point serving `/metrics` (e.g.
    /// `http://127.0.0.1:38082`), or the full `/metrics` URL.
    pub fn builder(url: impl Into<String>) -> TraefikScrapeMetricsBuilder {
        TraefikScrapeMetricsBuilder {
            url: url.into(),
            auth: Auth::None,
            version: ProviderVersion::V3,
            provider: RouteProvider::File,
            overrides: Vec::new(),
            routes: Vec::new(),
            timeout: Duration::from_secs(5),
            retention: Duration::from_secs(15 * 60),
            capacity: 2048,
            fresh: Duration::from_secs(1),
            samples: 10,
        }
    }

    /// The backend names in use.
    pub fn names(&self) -> &BackendNames {
        &self.inner.names
    }

    /// Scrapes every `interval` in the background until the returned handle is dropped. Needs a
    /// Tokio runtime.
    pub fn start(&self, interval: Duration) -> ScrapeTask {
        let me = self.clone();
        let handle = tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval.max(Duration::from_millis(100)));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = me.scrape().await {
                    tracing::warn!(error = %e, "scraping Traefik's /metrics failed");
                }
            }
        });
        ScrapeTask { handle }
    }

    /// Scrapes once now and keeps the snapshot.
    pub async fn scrape(&self) -> Result<Arc<Snapshot>> {
        let i = &self.inner;
        let _one_at_a_time = i.scrape_lock.lock().await;
        let what = format!("GET {}", i.url);
        let result = async {
            let resp = i
                .auth
                .apply(i.client.get(&i.url))
                .timeout(i.timeout)
                .send()
                .await
                .map_err(|e| http::send_error(e, &what, i.timeout))?;
            let status = resp.status();
            let body = resp
                .text()
                .await
                .map_err(|e| http::send_error(e, &what, i.timeout))?;
            if !status.is_success() {
                let msg = format!(
                    "{what}: HTTP {}: {}",
                    status.as_u16(),
                    http::snippet(body.as_bytes(), 200)
                );
                return Err(if status.is_server_error() {
                    Error::unavailable(msg)
                } else {
                    Error::rejected("traefik", msg)
                });
            }
            let e = exposition::parse(&body)?;
            Ok(Arc::new(Snapshot::from_exposition(&e, Instant::now())))
        }
        .await;
        let mut ring = i.ring.lock().expect("ring lock");
        match result {
            Ok(snap) => {
                ring.last_error = None;
                ring.snaps.push_back(snap.clone());
                Self::trim(&mut ring, i.retention, i.capacity);
                Ok(snap)
            }
            Err(e) => {
                ring.last_error = Some(e.to_string());
                Err(e)
            }
        }
    }

    /// Adds a snapshot taken elsewhere (tests, replays).
    pub fn push(&self, snapshot: Snapshot) {
        let mut ring = self.inner.ring.lock().expect("ring lock");
        ring.snaps.push_back(Arc::new(snapshot));
        Self::trim(&mut ring, self.inner.retention, self.inner.capacity);
    }

    fn trim(ring: &mut Ring, retention: Duration, capacity: usize) {
        while ring.snaps.len() > capacity {
            ring.snaps.pop_front();
        }
        if let Some(newest) = ring.snaps.back().map(|s| s.at) {
            while ring.snaps.len() > 2
                && ring
                    .snaps
                    .front()
                    .is_some_and(|s| newest.duration_since(s.at) > retention)
            {
                ring.snaps.pop_front();
            }
        }
    }

    /// The snapshots covering `window` ending at the newest: from the newest one at or before the
    /// window's start (or the oldest kept) to the newest.
    fn window(&self, window: Duration) -> Vec<Arc<Snapshot>> {
        let ring = self.inner.ring.lock().expect("ring lock");
        let Some(newest) = ring.snaps.back().map(|s| s.at) else {
            return Vec::new();
        };
        let start = newest.checked_sub(window);
        let first = match start {
            Some(start) => ring.snaps.iter().rposition(|s| s.at <= start).unwrap_or(0),
            None => 0,
        };
        ring.snaps.iter().skip(first).cloned().collect()
    }

    async fn fresh_window(&self, window: Duration) -> Result<Vec<Arc<Snapshot>>> {
        let stale = {
            let ring = self.inner.ring.lock().expect("ring lock");
            ring.snaps
                .back()
                .is_none_or(|s| s.at.elapsed() > self.inner.fresh)
        };
        if stale {
            self.scrape().await?;
        }
        Ok(self.window(window))
    }
}

#[async_trait]
impl MetricsSource for TraefikScrapeMetrics {
    async fn value(&self, query: &MetricQuery) -> Result<Observation> {
        if let MetricKind::Query(_) | MetricKind::Web(_) = query.metric {
            return Increase::default().metric(&query.metric);
        }
        let snaps = self.fresh_window(query.window).await?;
        if snaps.len() < 2 {
            return Ok(Observation::NoData);
        }
        let service = self.inner.names.name(query.app.service(query.track));
        let refs: Vec<&Snapshot> = snaps.iter().map(Arc::as_ref).collect();
        let inc = increase(&refs, &service);
        if !snaps.iter().any(|s| s.services.contains_key(&service)) {
            return Ok(Observation::NoData);
        }
        inc.metric(&query.metric)
    }

    async fn samples(&self, query: &MetricQuery) -> Result<Vec<f64>> {
        if let MetricKind::Query(_) | MetricKind::Web(_) = query.metric {
            return Increase::default()
                .metric(&query.metric)
                .map(|_| Vec::new());
        }
        let snaps = self.fresh_window(query.window).await?;
        if snaps.len() < 2 {
            return Ok(Vec::new());
        }
        let service = self.inner.names.name(query.app.service(query.track));
        let refs: Vec<&Snapshot> = snaps.iter().map(Arc::as_ref).collect();
        // Split the intervals between snapshots into at most `samples` consecutive groups.
        let intervals = refs.len() - 1;
        let groups = intervals.min(self.inner.samples);
        let mut out = Vec::with_capacity(groups);
        for g in 0..groups {
            let from = g * intervals / groups;
            let to = (g + 1) * intervals / groups;
            let inc = increase(&refs[from..=to], &service);
            if let Some(v) = inc.metric(&query.metric)?.value() {
                out.push(v);
            }
        }
        if !snaps.iter().any(|s| s.services.contains_key(&service)) {
            return Ok(Vec::new());
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::fixture;
    use canary_core::{AppRef, Track};

    fn snap(at: Instant, text: &str) -> Snapshot {
        Snapshot::from_exposition(&exposition::parse(text).unwrap(), at)
    }

    fn lines(ok: u64, err: u64, fast: u64, slow: u64) -> String {
        format!(
            "traefik_service_requests_total{{code=\"200\",method=\"GET\",protocol=\"http\",service=\"api@swarm\"}} {ok}\n\
             traefik_service_requests_total{{code=\"500\",method=\"GET\",protocol=\"http\",service=\"api@swarm\"}} {err}\n\
             traefik_service_request_duration_seconds_bucket{{code=\"200\",method=\"GET\",protocol=\"http\",service=\"api@swarm\",le=\"0.1\"}} {fast}\n\
             traefik_service_request_duration_seconds_bucket{{code=\"200\",method=\"GET\",protocol=\"http\",service=\"api@swarm\",le=\"0.3\"}} {t}\n\
             traefik_service_request_duration_seconds_bucket{{code=\"200\",method=\"GET\",protocol=\"http\",service=\"api@swarm\",le=\"+Inf\"}} {t}\n",
            t = fast + slow
        )
    }

    fn query(metric: MetricKind, window: Duration) -> MetricQuery {
        let sn = |s: &str| ServiceName::parse(s).unwrap();
        MetricQuery::new(
            AppRef {
                name: sn("api"),
                stable: sn("api"),
                canary: sn("api-canary"),
            },
            Track::Stable,
            metric,
            window,
        )
    }

    fn source() -> TraefikScrapeMetrics {
        // Freshness of a day: the tests feed snapshots, nothing is scraped.
        TraefikScrapeMetrics::builder("http://127.0.0.1:9")
            .freshness(Duration::from_secs(86_400))
            .build()
            .unwrap()
    }

    #[test]
    fn the_real_scrape_keeps_service_series() {
        let e = exposition::parse(&fixture(
            "traefik/live-v3.7.9/metrics/traefik-v3.7.9-metrics.prom",
        ))
        .unwrap();
        let s = Snapshot::from_exposition(&e, Instant::now());
        let canary = &s.services["app-canary@file"];
        let total: f64 = canary.requests.values().map(|c| c.value).sum();
        let errors: f64 = canary
            .requests
            .values()
            .filter(|c| c.server_error)
            .map(|c| c.value)
            .sum();
        assert_eq!((total, errors), (161.0, 25.0));
        let stable: f64 = s.services["app-stable@file"]
            .requests
            .values()
            .map(|c| c.value)
            .sum();
        assert_eq!(stable, 748.0);
        // Since the start of Traefik: p99 from all buckets, as Prometheus would from the same counts.
        let inc = increase(
            &[
                &Snapshot {
                    at: s.at,
                    services: HashMap::new(),
                },
                &s,
            ],
            "app-stable@file",
        );
        assert!(
            (inc.metric(&MetricKind::Latency(0.99))
                .unwrap()
                .value()
                .unwrap()
                - 0.099)
                .abs()
                < 1e-12
        );
    }

    #[test]
    fn counter_resets_count_from_zero() {
        assert_eq!(counter_delta(Some(10.0), 15.0), 5.0);
        assert_eq!(counter_delta(Some(10.0), 3.0), 3.0);
        assert_eq!(counter_delta(None, 4.0), 4.0);
        let t0 = Instant::now();
        let a = snap(t0, &lines(100, 10, 100, 0));
        let b = snap(t0 + Duration::from_secs(5), &lines(150, 20, 150, 0));
        // Traefik restarted: counters start again.
        let c = snap(t0 + Duration::from_secs(10), &lines(30, 10, 20, 10));
        let inc = increase(&[&a, &b, &c], "api@swarm");
        assert_eq!(
            (inc.requests, inc.errors, inc.seconds),
            (60.0 + 40.0, 10.0 + 10.0, 10.0)
        );
    }

    #[tokio::test]
    async fn values_over_a_window() {
        let m = source();
        let t0 = Instant::now() - Duration::from_secs(30);
        m.push(snap(t0, &lines(100, 0, 100, 0)));
        m.push(snap(t0 + Duration::from_secs(10), &lines(190, 10, 190, 0)));
        m.push(snap(t0 + Duration::from_secs(20), &lines(270, 30, 230, 40)));
        let w = Duration::from_secs(20);
        let v = |k: MetricKind| {
            let m = m.clone();
            async move { m.value(&query(k, w)).await.unwrap() }
        };
        assert_eq!(v(MetricKind::RequestCount).await, Observation::Value(200.0));
        assert_eq!(v(MetricKind::RequestRate).await, Observation::Value(10.0));
        assert_eq!(v(MetricKind::ErrorCount).await, Observation::Value(30.0));
        assert_eq!(v(MetricKind::ErrorRate).await, Observation::Value(0.15));
        assert_eq!(v(MetricKind::SuccessRate).await, Observation::Value(0.85));
        // 170 observations: 130 under 0.1s, 40 in (0.1, 0.3]; rank 0.9*170 = 153 → 0.1 + 0.2*23/40.
        let p90 = v(MetricKind::Latency(0.9)).await.value().unwrap();
        assert!((p90 - (0.1 + 0.2 * 23.0 / 40.0)).abs() < 1e-12, "{p90}");
        // A shorter window starts at the newest snapshot at or before its start.
        let last = m
            .value(&query(MetricKind::RequestCount, Duration::from_secs(5)))
            .await
            .unwrap();
        assert_eq!(last, Observation::Value(100.0));
        let samples = m.samples(&query(MetricKind::ErrorRate, w)).await.unwrap();
        assert_eq!(samples, [0.1, 0.2]);
        // Unknown service or custom PromQL.
        let mut q = query(MetricKind::RequestRate, w);
        q.track = Track::Canary;
        assert_eq!(m.value(&q).await.unwrap(), Observation::NoData);
        assert!(m
            .value(&query(MetricKind::Query("up".into()), w))
            .await
            .is_err());
    }

    #[tokio::test]
    async fn no_traffic_is_no_data_not_zero() {
        let m = source();
        let t0 = Instant::now() - Duration::from_secs(10);
        m.push(snap(t0, &lines(100, 0, 100, 0)));
        m.push(snap(t0 + Duration::from_secs(5), &lines(100, 0, 100, 0)));
        let w = Duration::from_secs(60);
        assert_eq!(
            m.value(&query(MetricKind::ErrorRate, w)).await.unwrap(),
            Observation::NoData
        );
        assert_eq!(
            m.value(&query(MetricKind::Latency(0.5), w)).await.unwrap(),
            Observation::NoData
        );
        assert_eq!(
            m.value(&query(MetricKind::RequestCount, w)).await.unwrap(),
            Observation::Value(0.0)
        );
        assert!(m
            .samples(&query(MetricKind::ErrorRate, w))
            .await
            .unwrap()
            .is_empty());
    }

    #[test]
    fn the_ring_is_bounded() {
        let m = TraefikScrapeMetrics::builder("http://127.0.0.1:9")
            .capacity(3)
            .retention(Duration::from_secs(100))
            .build()
            .unwrap();
        let t0 = Instant::now();
        for i in 0..5 {
            m.push(snap(t0 + Duration::from_secs(i * 60), &lines(i, 0, i, 0)));
        }
        let ring = m.inner.ring.lock().unwrap();
        // Capacity 3, then retention 100s keeps the last two (60s apart) only.
        assert_eq!(ring.snaps.len(), 2);
    }
}
