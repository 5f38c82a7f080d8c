//! The [`TraefikAccessLog`] metrics source; its documentation says what it reads, and why.

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use canary_core::spec::MetricKind;
use canary_core::{AppRoute, Error, MetricQuery, MetricsSource, Observation, Result, ServiceName};
use serde::Deserialize;

use crate::backend::BackendNames;
use crate::provider::ProviderVersion;

/// The longest line read; longer ones are skipped.
pub(crate) const MAX_LINE: usize = 64 * 1024;
/// The most bytes read at once (the rest waits for the next query).
const MAX_READ: u64 = 64 * 1024 * 1024;
/// How far back from the end a first read starts.
const FIRST_READ: u64 = 16 * 1024 * 1024;
/// The most distinct service names kept.
const MAX_SERVICES: usize = 10_000;

/// One request as the access log has it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Request {
    /// When it ended, in Unix nanoseconds.
    pub end_ns: i128,
    /// How long it took, in nanoseconds.
    pub duration_ns: u64,
    /// The status sent to the client.
    pub status: u16,
}

impl Request {
    fn server_error(&self) -> bool {
        (500..600).contains(&self.status)
    }
}

#[derive(Debug, Deserialize)]
struct Line {
    #[serde(rename = "ServiceName", default)]
    service: Option<String>,
    #[serde(rename = "Duration", default)]
    duration: Option<u64>,
    #[serde(rename = "DownstreamStatus", default)]
    status: Option<u16>,
    #[serde(rename = "StartUTC", default)]
    start: Option<String>,
}

/// Reads one access-log line: the service and the request, or `None` for anything else (a line
/// of another format, a request without a service, such as a 404 no router matched).
pub(crate) fn parse_line(line: &str) -> Option<(String, Request)> {
    if line.len() > MAX_LINE {
        return None;
    }
    let l: Line = serde_json::from_str(line).ok()?;
    let service = l.service.filter(|s| !s.is_empty() && s.len() <= 512)?;
    let duration_ns = l.duration?;
    let start = parse_rfc3339_ns(l.start.as_deref()?)?;
    Some((
        service,
        Request {
            end_ns: start.checked_add(duration_ns as i128)?,
            duration_ns,
            status: l.status.unwrap_or(0),
        },
    ))
}

/// `2026-11-30T20:53:02.31271628Z` (UTC, `Z`, 0 to 9 fraction digits) in Unix nanoseconds.
pub fn parse_rfc3339_ns(s: &str) -> Option<i128> {
    let b = s.as_bytes();
    if b.len() < 20 || b.len() > 30 || *b.last()? != b'Z' {
        return None;
    }
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = s.get(from..from + len)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (hour, min, sec) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || min > 59 || sec > 60 {
        return None;
    }
    let rest = &s[19..s.len() - 1];
    let nanos: i64 = match rest.strip_prefix('.') {
        None if rest.is_empty() => 0,
        Some(f) if !f.is_empty() && f.len() <= 9 && f.bytes().all(|c| c.is_ascii_digit()) => {
            f.parse::<i64>().ok()? * 10i64.pow(9 - f.len() as u32)
        }
        _ => return None,
    };
    // Days from 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hour * 3600 + min * 60 + sec;
    Some(secs as i128 * 1_000_000_000 + nanos as i128)
}

/// The `q` quantile of `sorted` values, interpolating linearly between order statistics.
pub(crate) fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() || !(0.0..=1.0).contains(&q) {
        return None;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    let frac = pos - lo as f64;
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * frac)
}

/// Where reading the file stopped.
#[derive(Debug, Default)]
struct Cursor {
    offset: u64,
    /// The file's identity (device, inode) when it was opened, to see a rotation.
    identity: Option<(u64, u64)>,
    /// Bytes of a line not finished yet.
    partial: Vec<u8>,
    /// Whether the partial line is being skipped (it grew past [`MAX_LINE`]).
    skipping: bool,
}

#[derive(Debug, Default)]
struct Store {
    /// Requests in the order read, each with its service's index.
    requests: VecDeque<(u32, Request)>,
    services: HashMap<String, u32>,
    cursor: Cursor,
    skipped: u64,
}

impl Store {
    fn add(&mut self, service: String, r: Request, capacity: usize) {
        let next = self.services.len() as u32;
        let id = match self.services.get(&service) {
            Some(id) => *id,
            None if self.services.len() < MAX_SERVICES => {
                self.services.insert(service, next);
                next
            }
            None => {
                self.skipped += 1;
                return;
            }
        };
        self.requests.push_back((id, r));
        while self.requests.len() > capacity {
            self.requests.pop_front();
        }
    }

    fn trim(&mut self, now_ns: i128, retention: Duration) {
        let oldest = now_ns - retention.as_nanos() as i128;
        while self
            .requests
            .front()
            .is_some_and(|(_, r)| r.end_ns < oldest)
        {
            self.requests.pop_front();
        }
    }

    /// Takes the complete lines of `bytes` (with the partial line before them).
    fn take(&mut self, bytes: &[u8], capacity: usize) {
        for chunk in bytes.split_inclusive(|b| *b == b'\n') {
            let complete = chunk.last() == Some(&b'\n');
            let body = if complete {
                &chunk[..chunk.len() - 1]
            } else {
                chunk
            };
            if !self.cursor.skipping {
                if self.cursor.partial.len() + body.len() > MAX_LINE {
                    self.cursor.skipping = true;
                    self.cursor.partial.clear();
                } else {
                    self.cursor.partial.extend_from_slice(body);
                }
            }
            if complete {
                if !self.cursor.skipping {
                    let line = std::mem::take(&mut self.cursor.partial);
                    match std::str::from_utf8(&line).ok().and_then(parse_line) {
                        Some((service, r)) => self.add(service, r, capacity),
                        None if line.iter().all(u8::is_ascii_whitespace) => {}
                        None => self.skipped += 1,
                    }
                } else {
                    self.skipped += 1;
                }
                self.cursor.skipping = false;
                self.cursor.partial.clear();
            }
        }
    }
}

#[cfg(unix)]
fn identity(m: &std::fs::Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    Some((m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn identity(_: &std::fs::Metadata) -> Option<(u64, u64)> {
    None
}

/// Reads what was appended to `path` since the last read into `store`.
fn read_new(path: &Path, store: &mut Store, capacity: usize) -> Result<()> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        // Traefik creates the file at its first request.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(Error::unavailable(format!(
                "access log {}: {e}",
                path.display()
            )))
        }
    };
    let meta = file.metadata().map_err(|e| {
        Error::unavailable(format!("access log {}: {e}", path.display())).with_source(e)
    })?;
    let len = meta.len();
    let id = identity(&meta);
    let c = &mut store.cursor;
    let first = c.identity.is_none() && c.offset == 0;
    if (c.identity.is_some() && id != c.identity) || len < c.offset {
        // Rotated or truncated: the new file from its start.
        *c = Cursor::default();
    }
    c.identity = id;
    if first && len > FIRST_READ {
        // Start at a line boundary near the end; the cut line is skipped.
        c.offset = len - FIRST_READ;
        c.skipping = true;
    }
    if len == c.offset {
        return Ok(());
    }
    file.seek(SeekFrom::Start(c.offset)).map_err(|e| {
        Error::unavailable(format!("access log {}: {e}", path.display())).with_source(e)
    })?;
    let want = (len - c.offset).min(MAX_READ);
    let mut buf = Vec::with_capacity(want as usize);
    file.take(want).read_to_end(&mut buf).map_err(|e| {
        Error::unavailable(format!("access log {}: {e}", path.display())).with_source(e)
    })?;
    store.cursor.offset += buf.len() as u64;
    store.take(&buf, capacity);
    Ok(())
}

fn now_ns() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0)
}

/// Builds a [`TraefikAccessLog`].
#[derive(Debug, Clone)]
#[must_use]
pub struct TraefikAccessLogBuilder {
    path: PathBuf,
    version: ProviderVersion,
    overrides: Vec<(ServiceName, String)>,
    routes: Vec<AppRoute>,
    retention: Duration,
    capacity: usize,
    max_samples: usize,
}

impl TraefikAccessLogBuilder {
    /// Traefik v3 (`<name>@swarm`, default) or v2 (`<name>@docker`) backend names.
    pub fn version(mut self, version: ProviderVersion) -> Self {
        self.version = version;
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

    /// How long requests are kept (default 15 minutes): the longest window answered in full.
    pub fn retention(mut self, retention: Duration) -> Self {
        self.retention = retention;
        self
    }

    /// At most this many requests are kept (default 200,000).
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }

    /// At most this many samples in a `samples` answer (default 2,000).
    pub fn max_samples(mut self, n: usize) -> Self {
        self.max_samples = n;
        self
    }

    /// Checks the options and builds the source (the file need not exist yet).
    pub fn build(self) -> Result<TraefikAccessLog> {
        if !(1..=10_000_000).contains(&self.capacity) || !(2..=100_000).contains(&self.max_samples)
        {
            return Err(Error::invalid(
                "capacity",
                "keep 1 to 10,000,000 requests and answer 2 to 100,000 samples",
            ));
        }
        if self.retention.is_zero() || self.retention > Duration::from_secs(24 * 3600) {
            return Err(Error::invalid("retention", "above 0 and at most 24h"));
        }
        let mut names = BackendNames::new(self.version);
        for r in &self.routes {
            names.learn(r)?;
        }
        for (s, n) in &self.overrides {
            names.set(s, n.clone());
        }
        Ok(TraefikAccessLog {
            inner: Arc::new(Inner {
                path: self.path,
                names,
                retention: self.retention,
                capacity: self.capacity,
                max_samples: self.max_samples,
                store: Mutex::new(Store::default()),
            }),
        })
    }
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    names: BackendNames,
    retention: Duration,
    capacity: usize,
    max_samples: usize,
    store: Mutex<Store>,
}

/// The [`MetricsSource`] on Traefik's JSON access log. Cheap to clone (clones share what was
/// read).
///
/// [`TraefikAccessLog`]: the [`MetricsSource`] on Traefik's JSON access log, the one place on the
/// stack where every request's own duration and status can be read. It is what the statistical
/// judge needs: raw samples, one per request.
///
/// **Why the access log, not the histograms.** Traefik's `traefik_service_request_duration_seconds`
/// keeps counts per bucket, with bounds 0.1, 0.3, 1.2 and 5 seconds by default. A sample made from
/// buckets can only say "somewhere between 0 and 100 ms": a canary 50 ms slower than a stable that
/// answers in 2 ms lands in the same bucket, and every honest expansion of the buckets (each
/// observation spread uniformly inside its bucket) gives both tracks the same distribution. The
/// judge would see nothing, by construction. Finer buckets need Traefik's static configuration
/// changed and still bound the precision to the bucket width. The access log has each request's
/// `Duration` in nanoseconds and its status, per Traefik service, as the request ends.
///
/// **What is read.** One JSON object per line (`accessLog.format: json`), with at least
/// `ServiceName`, `Duration` (ns), `DownstreamStatus` and `StartUTC`; other fields are ignored, so
/// Traefik may drop everything else (`fields.defaultMode: drop`, as `scripts/stack/up.sh` does).
/// The service names are the leaf load balancers the metrics carry too: stable's `X@swarm`, the
/// canary's `canary-<group>--<app>--tasks@file` ([`crate::AppBackends`]). A request's time is its end
/// (`StartUTC` + `Duration`), in wall-clock time: windows end now.
///
/// **Bounds.** The file is read from where the last read stopped (at first, from at most the last
/// 16 MiB), at most 64 MiB per read; a line over 64 KiB or one that is not such an object is
/// skipped and counted; a file that shrank (truncated) or was replaced (rotated) is read from its
/// start. At most `capacity` requests (default 200,000) and `retention` (default 15 minutes) are
/// kept, and at most 10,000 service names.
///
/// **Answers** over a window ending now, per service:
/// - `value`: request and 5xx counts, rates, shares, and latency quantiles computed exactly from
///   the durations (linear interpolation between order statistics); a service never seen is no
///   data, one seen but idle in the window has 0 requests and no rate or latency;
/// - `samples`: for latency, each request's duration in seconds (whatever the quantile: the judge
///   compares distributions), at most `max_samples` (default 2,000) evenly picked in time order;
///   for error and success rates, one 0 or 1 per request; for counts and rates, one count per
///   second of the window. Custom PromQL is refused.
#[derive(Debug, Clone)]
pub struct TraefikAccessLog {
    inner: Arc<Inner>,
}

impl TraefikAccessLog {
    /// A builder for the access log at `path` (on this machine).
    pub fn builder(path: impl Into<PathBuf>) -> TraefikAccessLogBuilder {
        TraefikAccessLogBuilder {
            path: path.into(),
            version: ProviderVersion::V3,
            overrides: Vec::new(),
            routes: Vec::new(),
            retention: Duration::from_secs(15 * 60),
            capacity: 200_000,
            max_samples: 2_000,
        }
    }

    /// The backend names in use.
    pub fn names(&self) -> &BackendNames {
        &self.inner.names
    }

    /// Lines skipped so far (not requests of a service, cut, or too long).
    pub fn skipped(&self) -> u64 {
        self.inner.store.lock().map(|s| s.skipped).unwrap_or(0)
    }

    /// Reads what Traefik appended since the last read.
    pub async fn refresh(&self) -> Result<()> {
        let me = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let mut store = me
                .store
                .lock()
                .map_err(|_| Error::internal("access log store poisoned"))?;
            read_new(&me.path, &mut store, me.capacity)?;
            store.trim(now_ns(), me.retention);
            Ok(())
        })
        .await
        .map_err(|e| Error::internal(format!("access log reader: {e}")).with_source(e))?
    }

    /// The requests of Traefik service `service` that ended in the `window` before `now_ns`, in
    /// the order read, and whether the service was seen at all.
    pub fn requests(&self, service: &str, window: Duration, now_ns: i128) -> (Vec<Request>, bool) {
        let Ok(store) = self.inner.store.lock() else {
            return (Vec::new(), false);
        };
        let Some(id) = store.services.get(service).copied() else {
            return (Vec::new(), false);
        };
        let from = now_ns - window.as_nanos() as i128;
        let mut seen = false;
        let out = store
            .requests
            .iter()
            .filter(|(s, _)| *s == id)
            .inspect(|_| seen = true)
            .filter(|(_, r)| r.end_ns > from && r.end_ns <= now_ns)
            .map(|(_, r)| *r)
            .collect();
        (out, seen)
    }

    async fn window(&self, query: &MetricQuery) -> Result<(Vec<Request>, bool)> {
        if let MetricKind::Query(_) | MetricKind::Web(_) = query.metric {
            return Err(Error::invalid(
                "metric",
                "custom PromQL needs Prometheus and a web metric its URL; the access log has built-in metrics only",
            ));
        }
        self.refresh().await?;
        let service = self.inner.names.name(query.app.service(query.track));
        Ok(self.requests(&service, query.window, now_ns()))
    }
}

/// The metric of `kind` over `requests` (a window of `window`).
pub(crate) fn metric_of(kind: &MetricKind, requests: &[Request], window: Duration) -> Observation {
    let n = requests.len() as f64;
    let errors = requests.iter().filter(|r| r.server_error()).count() as f64;
    match kind {
        MetricKind::RequestCount => Observation::Value(n),
        MetricKind::ErrorCount => Observation::Value(errors),
        MetricKind::RequestRate if n > 0.0 && !window.is_zero() => {
            Observation::Value(n / window.as_secs_f64())
        }
        MetricKind::ErrorRate if n > 0.0 => Observation::Value(errors / n),
        MetricKind::SuccessRate if n > 0.0 => Observation::Value((n - errors) / n),
        MetricKind::Latency(q) => {
            let mut d: Vec<f64> = requests
                .iter()
                .map(|r| r.duration_ns as f64 / 1e9)
                .collect();
            d.sort_by(f64::total_cmp);
            quantile(&d, *q).map_or(Observation::NoData, Observation::from_f64)
        }
        _ => Observation::NoData,
    }
}

/// The samples of `kind` over `requests` ending at `now_ns` (see the module docs), at most `max`.
pub(crate) fn samples_of(
    kind: &MetricKind,
    requests: &[Request],
    window: Duration,
    now_ns: i128,
    max: usize,
) -> Vec<f64> {
    let all: Vec<f64> = match kind {
        MetricKind::Latency(_) => requests
            .iter()
            .map(|r| r.duration_ns as f64 / 1e9)
            .collect(),
        MetricKind::ErrorRate => requests
            .iter()
            .map(|r| if r.server_error() { 1.0 } else { 0.0 })
            .collect(),
        MetricKind::SuccessRate => requests
            .iter()
            .map(|r| if r.server_error() { 0.0 } else { 1.0 })
            .collect(),
        MetricKind::RequestCount | MetricKind::RequestRate | MetricKind::ErrorCount => {
            let seconds = window.as_secs().clamp(1, 3600) as usize;
            let mut counts = vec![0.0; seconds];
            let from = now_ns - seconds as i128 * 1_000_000_000;
            for r in requests {
                if *kind == MetricKind::ErrorCount && !r.server_error() {
                    continue;
                }
                // Windows are (from, now]: a request ending at `now` is in the last second.
                let i = (r.end_ns - from - 1).max(0) / 1_000_000_000;
                if let Some(c) = counts.get_mut(i as usize) {
                    *c += 1.0;
                }
            }
            counts
        }
        // Custom queries, web metrics and kinds newer than this crate have no per-request
        // samples here.
        _ => Vec::new(),
    };
    if all.len() <= max {
        return all;
    }
    // Evenly in time order, so a long window is not judged on its first minutes only.
    (0..max).map(|i| all[i * all.len() / max]).collect()
}

#[async_trait]
impl MetricsSource for TraefikAccessLog {
    async fn value(&self, query: &MetricQuery) -> Result<Observation> {
        let (requests, seen) = self.window(query).await?;
        if !seen {
            return Ok(Observation::NoData);
        }
        Ok(metric_of(&query.metric, &requests, query.window))
    }

    async fn samples(&self, query: &MetricQuery) -> Result<Vec<f64>> {
        let (requests, seen) = self.window(query).await?;
        if !seen || requests.is_empty() {
            return Ok(Vec::new());
        }
        Ok(samples_of(
            &query.metric,
            &requests,
            query.window,
            now_ns(),
            self.inner.max_samples,
        ))
    }
}

#[cfg(test)]
mod tests;
