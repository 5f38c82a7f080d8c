//! The [`WebMetrics`] metrics source; its documentation says what it reads, and why.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use canary_core::spec::{MetricKind, WebHeader, WebMethod, WebMetric, WebVars};
use canary_core::{Error, MetricQuery, MetricsSource, Observation, Result};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT, CONTENT_TYPE};
use serde_json::Value;
use serde_json_path::JsonPath;

use crate::{egress, http};

/// The most bytes of an answer that are read.
pub const MAX_ANSWER: usize = 1024 * 1024;

/// Reads an environment variable: the process environment by default.
type EnvLookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// The [`MetricsSource`] for `web` metrics over an inner source for the rest.
///
/// [`WebMetrics`]: the [`MetricsSource`] that answers `web` metrics
/// ([`MetricKind::Web`]) by calling their URL and reading their JSONPath, and hands every other
/// metric to an inner source (Prometheus, Traefik's `/metrics`, a binding's own).
///
/// One call: the placeholders filled ([`canary_core::spec::WebMetric`] says how), header values
/// `{env: VAR}` read from the environment at that moment, the host resolved and checked like a
/// webhook's (link-local and metadata addresses refused, the connection pinned to the addresses
/// checked), no redirect followed, at most 1 MiB of the answer read, all within the metric's
/// timeout (default: the builder's).
///
/// The answer:
///
/// | answer | `value` | `samples` |
/// |---|---|---|
/// | 2xx, JSON, the path finds one number | that number | `[number]` |
/// | 2xx, JSON, the path finds several nodes | [`Error::InvalidInput`] (`metric.web.jsonPath`): a check needs one | every number among them |
/// | 2xx, JSON, the path finds nothing, or no number | no data | `[]` (no data) |
/// | 2xx, not JSON (HTML, garbage) | [`Error::Rejected`] with the content type and the first 200 bytes | same |
/// | more than 1 MiB | [`Error::Rejected`] | same |
/// | 3xx | [`Error::Rejected`]: redirects are not followed | same |
/// | 408, 429, 5xx | [`Error::Unavailable`] with the status and the first 200 bytes | same |
/// | other 4xx | [`Error::Rejected`] with the status and the first 200 bytes | same |
/// | no answer in time | [`Error::Timeout`] | same |
/// | unreachable | [`Error::Unavailable`] | same |
///
/// A number is a JSON number, or a string holding one as Prometheus-style APIs write them
/// (`"0.25"`); NaN and infinities are no data. The analysis turns every error into an
/// inconclusive check with the error as its reason: a web metric is never a pass by accident.
///
/// Messages name the method, scheme, host, port and path of the call, never its query (it may
/// carry a token) nor a header value; a variable that is not set is named, its value never is.
///
/// JSONPath is RFC 9535 through `serde_json_path`: it implements the RFC whole (filters,
/// functions, normalized paths) and is tested against the standard's compliance suite, where the
/// older Rust JSONPath crates each speak a dialect of Goessner's 2007 article.
#[derive(Clone)]
pub struct WebMetrics {
    inner: Arc<dyn MetricsSource>,
    timeout: Duration,
    env: EnvLookup,
}

impl fmt::Debug for WebMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebMetrics")
            .field("inner", &self.inner)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl WebMetrics {
    /// `web` metrics by HTTP, everything else from `inner`; calls without a timeout of their
    /// own get 10s.
    pub fn new(inner: Arc<dyn MetricsSource>) -> Self {
        WebMetrics {
            inner,
            timeout: Duration::from_secs(10),
            env: Arc::new(|name| std::env::var(name).ok()),
        }
    }

    /// The deadline of a call whose metric sets none (default 10s).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Where `{env: VAR}` header values are read, at each call (default: the process
    /// environment). For hosts that keep secrets elsewhere, and for tests.
    #[must_use]
    pub fn env(mut self, lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        self.env = Arc::new(lookup);
        self
    }

    /// The inner source.
    pub fn inner(&self) -> &Arc<dyn MetricsSource> {
        &self.inner
    }

    /// Whether this build can call `metric` at all: an `https://` URL needs this crate's
    /// `rustls` feature. For a check when a spec is loaded rather than at every analysis.
    pub fn can_call(metric: &WebMetric) -> Result<()> {
        let https = metric
            .url
            .get(..8)
            .is_some_and(|s| s.eq_ignore_ascii_case("https://"));
        if https && !cfg!(feature = "rustls") {
            return Err(Error::invalid(
                "metric.web.url",
                format!(
                    "{:?} is https, but canary-traefik was built without its `rustls` feature",
                    metric.shown_url()
                ),
            ));
        }
        Ok(())
    }

    /// Calls `metric`'s URL for `query` and returns the JSON nodes its path finds, as numbers
    /// (`None` for a node that is not one).
    pub async fn fetch(&self, metric: &WebMetric, query: &MetricQuery) -> Result<Vec<Option<f64>>> {
        let path = JsonPath::parse(&metric.json_path).map_err(|e| {
            Error::invalid(
                "metric.web.jsonPath",
                format!("{:?} is not a JSONPath: {e}", metric.json_path),
            )
            .with_source(e)
        })?;
        let answer = self.call(metric, query).await?;
        Ok(path.query(&answer).iter().map(|v| number(v)).collect())
    }

    async fn call(&self, metric: &WebMetric, query: &MetricQuery) -> Result<Value> {
        let track = query.track.to_string();
        let vars = WebVars {
            app: query.app.name.as_str(),
            track: &track,
            service: query.app.service(query.track).as_str(),
            window: query.window,
        };
        let url = metric
            .request_url(&vars)
            .map_err(|r| Error::invalid("metric.web.url", r))?;
        let url = reqwest::Url::parse(&url).map_err(|e| {
            Error::invalid(
                "metric.web.url",
                format!("{:?} is not a URL: {e}", metric.shown_url()),
            )
            .with_source(e)
        })?;
        let what = format!("web metric {} {}", metric.method, http::shown_url(&url));
        Self::can_call(metric)?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Error::invalid(
                "metric.web.url",
                format!("scheme {:?} is not http(s)", url.scheme()),
            ));
        }
        let body = metric
            .request_body(&vars)
            .map_err(|r| Error::invalid("metric.web.body", r))?;
        let headers = self.headers(metric, body.is_some())?;
        let timeout = metric.timeout.map(|t| t.get()).unwrap_or(self.timeout);

        // Resolved and checked here, and the connection pinned to what was checked.
        let (host, addrs) = egress::resolve_checked(&url, false, "metric.web.url", "").await?;
        let client = http::client_builder()
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .redirect(reqwest::redirect::Policy::none())
            .resolve_to_addrs(&host, &addrs)
            .build()
            .map_err(|e| {
                Error::internal(format!("cannot build an HTTP client: {e}")).with_source(e)
            })?;
        let method = match metric.method {
            WebMethod::Get => reqwest::Method::GET,
            WebMethod::Post => reqwest::Method::POST,
            other => {
                return Err(Error::invalid(
                    "metric.web.method",
                    format!("{other} is not supported by this web metric source"),
                ))
            }
        };
        let mut request = client
            .request(method, url)
            .headers(headers)
            .timeout(timeout);
        if let Some(b) = body {
            request = request.body(b);
        }
        tracing::debug!(call = %what, "web metric");
        let mut resp = request
            .send()
            .await
            .map_err(|e| http::send_error(e, &what, timeout))?;
        let status = resp.status();
        let content_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("no content type")
            .to_string();
        if status.is_redirection() {
            return Err(Error::rejected(
                what,
                format!("HTTP {}: redirects are not followed", status.as_u16()),
            ));
        }
        let too_large = |n: String| {
            Error::rejected(
                what.clone(),
                format!("the answer ({n}) is above the {MAX_ANSWER}-byte limit"),
            )
        };
        if let Some(n) = resp.content_length().filter(|n| *n > MAX_ANSWER as u64) {
            return Err(too_large(format!("{n} bytes")));
        }
        // At most MAX_ANSWER bytes are read: an endpoint cannot make the controller hold more.
        let mut bytes = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| http::send_error(e, &what, timeout))?
        {
            if bytes.len() + chunk.len() > MAX_ANSWER {
                if status.is_success() {
                    return Err(too_large("more".into()));
                }
                break;
            }
            bytes.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            let code = status.as_u16();
            let text = shown_text(&bytes);
            let message = if text.is_empty() {
                format!("HTTP {code}")
            } else {
                format!("HTTP {code}: {text}")
            };
            return Err(if code >= 500 || code == 429 || code == 408 {
                Error::unavailable(format!("{what}: {message}"))
            } else {
                Error::rejected(what, message)
            });
        }
        serde_json::from_slice(&bytes).map_err(|e| {
            Error::rejected(
                what,
                format!(
                    "the answer ({content_type}) is not JSON ({e}): {:?}",
                    shown_text(&bytes)
                ),
            )
            .with_source(e)
        })
    }

    /// The request's headers: the spec's, `{env: VAR}` read now, plus `Accept` and (with a body)
    /// `Content-Type` JSON unless the spec sets them.
    fn headers(&self, metric: &WebMetric, with_body: bool) -> Result<HeaderMap> {
        let mut out = HeaderMap::new();
        for (name, value) in &metric.headers {
            let field = format!("metric.web.headers.{name}");
            let header = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| Error::invalid(&field, format!("{name:?} is not a header name")))?;
            let value = match value {
                WebHeader::Value(v) => HeaderValue::from_str(v)
                    .map_err(|_| Error::invalid(&field, "not a valid header value"))?,
                WebHeader::Env { env } => {
                    let secret = (self.env)(env).ok_or_else(|| {
                        Error::invalid(&field, format!("environment variable {env} is not set"))
                    })?;
                    let mut v = HeaderValue::from_str(&secret).map_err(|_| {
                        Error::invalid(
                            &field,
                            format!(
                                "environment variable {env} does not hold a valid header value"
                            ),
                        )
                    })?;
                    // Kept out of the HTTP stack's own debug output.
                    v.set_sensitive(true);
                    v
                }
                _ => {
                    return Err(Error::invalid(
                        &field,
                        "this kind of header value is not supported by this web metric source",
                    ))
                }
            };
            out.append(header, value);
        }
        if !out.contains_key(ACCEPT) {
            out.insert(ACCEPT, HeaderValue::from_static("application/json"));
        }
        if with_body && !out.contains_key(CONTENT_TYPE) {
            out.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        Ok(out)
    }
}

/// A JSON number, or a string holding one; `None` for anything else and for NaN or infinities.
fn number(v: &Value) -> Option<f64> {
    let n = match v {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    n.is_finite().then_some(n)
}

/// The first 200 bytes of an answer for a message, control characters (terminal escapes, line
/// breaks) shown as spaces.
fn shown_text(body: &[u8]) -> String {
    http::snippet(body, 200)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[async_trait]
impl MetricsSource for WebMetrics {
    async fn value(&self, query: &MetricQuery) -> Result<Observation> {
        let MetricKind::Web(metric) = &query.metric else {
            return self.inner.value(query).await;
        };
        let found = self.fetch(metric, query).await?;
        match found.as_slice() {
            [] => Ok(Observation::NoData),
            [one] => Ok(one.map(Observation::Value).unwrap_or(Observation::NoData)),
            many => Err(Error::invalid(
                "metric.web.jsonPath",
                format!(
                    "{:?} found {} values; a check needs exactly one (pick one, e.g. [0])",
                    metric.json_path,
                    many.len()
                ),
            )),
        }
    }

    async fn samples(&self, query: &MetricQuery) -> Result<Vec<f64>> {
        let MetricKind::Web(metric) = &query.metric else {
            return self.inner.samples(query).await;
        };
        Ok(self
            .fetch(metric, query)
            .await?
            .into_iter()
            .flatten()
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_numbers_or_numeric_strings() {
        let v: Value = serde_json::json!([
            1,
            2.5,
            "0.25",
            " 3 ",
            "NaN",
            "+Inf",
            "x",
            true,
            null,
            {},
            [1]
        ]);
        let got: Vec<Option<f64>> = v.as_array().unwrap().iter().map(number).collect();
        assert_eq!(
            got,
            [
                Some(1.0),
                Some(2.5),
                Some(0.25),
                Some(3.0),
                None,
                None,
                None,
                None,
                None,
                None,
                None
            ]
        );
    }

    #[test]
    fn shown_text_has_no_control_characters() {
        assert_eq!(shown_text(b"a\x1b[31mred\nb"), "a [31mred b");
    }
}
