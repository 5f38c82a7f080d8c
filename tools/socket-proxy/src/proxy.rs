//! One client request: judged by [`crate::policy`], refused with a short JSON error, or rebuilt
//! from its checked parts and sent to Docker, whose answer streams back (`/services` and
//! `/tasks` answers are read whole and go through [`crate::redact`] first).

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full, Limited};
use hyper::body::{Body, Incoming};
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};

use crate::policy::{self, Allowed, Endpoint, Refusal};
use crate::redact::{self, List};
use crate::upstream::{Docker, UpstreamError};

/// The body of every answer: Docker's streamed body, or a short JSON error.
pub(crate) type ProxyBody = BoxBody<Bytes, hyper::Error>;

/// Request headers passed on to Docker; every other one is dropped (`Authorization`,
/// `Upgrade`, `Connection`, `Content-*`, `Transfer-Encoding`, ...).
const FORWARDED: &[HeaderName] = &[header::USER_AGENT, header::ACCEPT];
/// Longest forwarded header value.
const MAX_FORWARDED_VALUE: usize = 256;

/// How long reading a `/services` or `/tasks` answer whole (to redact it) may take.
const REDACT_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Response headers about the connection, not the message: hyper writes its own.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
];

/// Answers one request. Never fails: every problem becomes an HTTP status. Refusals and
/// failures are logged; allowed requests too with `log_allowed`.
pub(crate) async fn handle(
    req: Request<Incoming>,
    docker: &Docker,
    log_allowed: bool,
) -> Result<Response<ProxyBody>, Infallible> {
    let raw_target = req.uri().to_string();
    let allowed = match judge(&req, &raw_target) {
        Ok(a) => a,
        Err(Refusal(why)) => {
            log(format_args!(
                "refused {} {}: {why}",
                quoted(req.method().as_str()),
                quoted(&raw_target)
            ));
            return Ok(error(StatusCode::FORBIDDEN, why));
        }
    };
    match docker.send(upstream_request(&req, &allowed)).await {
        Ok(resp) => {
            if log_allowed {
                log(format_args!(
                    "{} {} -> {}",
                    req.method(),
                    allowed.target,
                    resp.status().as_u16()
                ));
            }
            let list = match allowed.endpoint {
                Endpoint::Services => Some(List::Services),
                Endpoint::Tasks => Some(List::Tasks),
                _ => None,
            };
            match list {
                Some(list) if resp.status() == StatusCode::OK && !allowed.head => {
                    match redacted(resp, list).await {
                        Ok(r) => Ok(r),
                        Err(why) => {
                            log(format_args!("{} {}: {why}", req.method(), allowed.target));
                            Ok(error(StatusCode::BAD_GATEWAY, why))
                        }
                    }
                }
                _ => Ok(downstream_response(resp)),
            }
        }
        Err(e) => {
            log(format_args!("{} {}: {e}", req.method(), allowed.target));
            let status = match e {
                UpstreamError::Timeout => StatusCode::GATEWAY_TIMEOUT,
                UpstreamError::Connect(_) | UpstreamError::Http(_) => StatusCode::BAD_GATEWAY,
            };
            Ok(error(status, &e.to_string()))
        }
    }
}

fn judge(req: &Request<Incoming>, raw_target: &str) -> Result<Allowed, Refusal> {
    let allowed = policy::classify(req.method().as_str(), raw_target)?;
    // A GET or HEAD has no business carrying a body; Docker would ignore it, a smuggler would not.
    if !req.body().is_end_stream() {
        return Err(Refusal("request bodies are not allowed"));
    }
    Ok(allowed)
}

fn upstream_request(req: &Request<Incoming>, allowed: &Allowed) -> Request<Empty<Bytes>> {
    let mut out = Request::new(Empty::new());
    *out.method_mut() = if allowed.head {
        Method::HEAD
    } else {
        Method::GET
    };
    // The target was built by `target::canonical` from checked ASCII; it always parses.
    *out.uri_mut() = allowed.target.parse().unwrap_or_default();
    let headers = out.headers_mut();
    headers.insert(header::HOST, HeaderValue::from_static("docker"));
    for name in FORWARDED {
        if let Some(v) = req.headers().get(name) {
            if v.len() <= MAX_FORWARDED_VALUE {
                headers.insert(name.clone(), v.clone());
            }
        }
    }
    out
}

fn downstream_response(resp: Response<Incoming>) -> Response<ProxyBody> {
    let (mut parts, body) = resp.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    Response::from_parts(parts, body.boxed())
}

/// Docker's `/services` or `/tasks` answer, read whole and without containers' secrets
/// ([`crate::redact`]).
async fn redacted(
    resp: Response<Incoming>,
    list: List,
) -> Result<Response<ProxyBody>, &'static str> {
    let (mut parts, body) = resp.into_parts();
    let collect = Limited::new(body, redact::MAX_BODY).collect();
    let body = tokio::time::timeout(REDACT_READ_TIMEOUT, collect)
        .await
        .map_err(|_| "Docker's answer did not arrive whole in time")?
        .map_err(|_| "Docker's answer broke off or is too large to redact")?
        .to_bytes();
    let out = redact::redact(list, &body)?;
    strip_hop_by_hop(&mut parts.headers);
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(out.len()));
    Ok(Response::from_parts(parts, full(Bytes::from(out))))
}

fn full(bytes: Bytes) -> ProxyBody {
    Full::new(bytes)
        .map_err(|never: Infallible| match never {})
        .boxed()
}

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Headers named in `Connection` are hop-by-hop too (RFC 9110 7.6.1).
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(*name);
    }
}

/// `{"message": "..."}`, the shape of Docker's own errors, so Traefik's log shows the reason.
pub(crate) fn error(status: StatusCode, why: &str) -> Response<ProxyBody> {
    let body = serde_json::json!({ "message": format!("canary-socket-proxy: {why}") }).to_string();
    let mut resp = Response::new(full(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// At most 200 characters of `s`, quoted and escaped: a request line may hold anything.
pub(crate) fn quoted(s: &str) -> String {
    const MAX: usize = 200;
    let cut: String = s.chars().take(MAX).collect();
    let more = if s.chars().nth(MAX).is_some() {
        "..."
    } else {
        ""
    };
    format!("{cut:?}{more}")
}

/// One line on stderr (the container's log).
pub(crate) fn log(args: std::fmt::Arguments<'_>) {
    eprintln!("canary-socket-proxy: {args}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_headers_and_those_named_in_connection_are_dropped() {
        let mut h = HeaderMap::new();
        h.insert("connection", HeaderValue::from_static("close, x-private"));
        h.insert("x-private", HeaderValue::from_static("1"));
        h.insert("transfer-encoding", HeaderValue::from_static("chunked"));
        h.insert("api-version", HeaderValue::from_static("1.41"));
        h.insert("content-type", HeaderValue::from_static("application/json"));
        strip_hop_by_hop(&mut h);
        let mut names: Vec<&str> = h.keys().map(HeaderName::as_str).collect();
        names.sort_unstable();
        assert_eq!(names, ["api-version", "content-type"]);
    }

    #[test]
    fn quoted_escapes_and_truncates() {
        assert_eq!(quoted("a\r\nb"), r#""a\r\nb""#);
        let q = quoted(&"x".repeat(500));
        assert!(q.ends_with("\"..."), "{q}");
        assert_eq!(q.len(), 200 + 2 + 3);
    }
}
