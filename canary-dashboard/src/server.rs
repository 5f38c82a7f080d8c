//! The HTTP side: accepting connections within bounds, routing, and the handlers.
//!
//! | method and path | answers |
//! |---|---|
//! | `GET /` | the page |
//! | `GET /assets/{app.js,charts.js,app.css}` | its script, charts and styles (embedded in the binary) |
//! | `GET /api/config` | `{version, allowActions, tokenRequired, loopback}` |
//! | `GET /api/groups` | `[{group, controllable}]` |
//! | `GET /api/groups/{group}` | the group's view: status, spec limits, events, analyses |
//! | `GET /api/groups/{group}/report` | a self-contained HTML report of the group |
//! | `GET /api/events` | server-sent events: `groups` (the list) and `group` (a view that changed) |
//! | `POST /api/groups/{group}/actions/{pause,resume,promote,promote-full,rollback}` | the command, through [`Rollout::command_by`] |
//!
//! Bounds: [`MAX_CONNECTIONS`] connections (more are closed at once), request heads of at most
//! [`MAX_HEAD`] bytes read within [`HEAD_TIMEOUT`], bodies of at most [`MAX_BODY`] bytes, every
//! answer but the event stream within [`HANDLER_TIMEOUT`], and the number of event streams set by
//! the builder (503 beyond).

use std::collections::{BTreeMap, HashSet};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use canary_core::{Command, CommandOutcome, Error, Rollout};
use http_body_util::{combinators::BoxBody, BodyExt, Full, Limited};
use hyper::body::{Body as _, Frame, Incoming};
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch, Semaphore};

use crate::guard::{Access, Refusal};
use crate::hub::Hub;
use crate::report;

/// Connections served at once.
pub const MAX_CONNECTIONS: usize = 64;
/// The largest request head (request line and headers) read.
pub const MAX_HEAD: usize = 16 * 1024;
/// How long a client has to send a request head.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest request body read.
pub const MAX_BODY: usize = 1024;
/// The deadline of every answer but the event stream.
pub const HANDLER_TIMEOUT: Duration = Duration::from_secs(30);
/// How long an action's answer waits for the command; it goes on after that, and the page shows
/// its outcome.
const ACTION_WAIT: Duration = Duration::from_secs(10);

const INDEX_HTML: &str = include_str!("../assets/index.html");
use crate::assets::{APP_CSS, APP_JS, CHARTS_JS};

/// The page's policy: its own scripts, styles and stream only.
const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                        connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
/// The report's policy: everything is inline, nothing is fetched.
pub(crate) const REPORT_CSP: &str = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
                                     img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

pub(crate) type Body = BoxBody<Bytes, Infallible>;

/// The server-sent event stream as a response body.
struct Stream(mpsc::Receiver<Bytes>);

impl hyper::body::Body for Stream {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx).map(|b| b.map(|b| Ok(Frame::data(b))))
    }
}

/// Everything the handlers share.
#[derive(Debug)]
pub(crate) struct App {
    pub(crate) hub: Arc<Hub>,
    pub(crate) access: Access,
    pub(crate) rollouts: BTreeMap<String, Arc<Rollout>>,
    pub(crate) streams: Arc<Semaphore>,
    pub(crate) shutdown: watch::Receiver<bool>,
    /// Groups with an action under way: one at a time per group.
    pub(crate) busy: Mutex<HashSet<String>>,
}

fn full(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(Full::new(body.into()).boxed());
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

fn json_response(status: StatusCode, value: &impl serde::Serialize) -> Response<Body> {
    let body = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
    full(status, "application/json", body)
}

fn problem(status: u16, code: &str, message: &str) -> Response<Body> {
    json_response(
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        &json!({"code": code, "message": message}),
    )
}

fn refused(r: Refusal) -> Response<Body> {
    problem(r.status, "CANARY_DASHBOARD_REFUSED", &r.message)
}

fn core_error(e: &Error) -> Response<Body> {
    let status = match e {
        Error::InvalidInput { .. } => 400,
        Error::NotFound { .. } => 404,
        Error::Conflict { .. } => 409,
        Error::Timeout { .. } => 504,
        _ => 502,
    };
    problem(status, e.code(), &e.to_string())
}

impl App {
    /// Answers one request; never fails (every error is an answer).
    pub(crate) async fn handle(
        self: Arc<Self>,
        req: Request<Incoming>,
        peer: SocketAddr,
    ) -> Response<Body> {
        let mut resp = if let Err(r) = self.access.host(req.headers()) {
            refused(r)
        } else if req.method() == Method::GET && req.uri().path() == "/api/events" {
            self.events()
        } else {
            match tokio::time::timeout(HANDLER_TIMEOUT, self.clone().route(req, peer)).await {
                Ok(r) => r,
                Err(_) => problem(
                    504,
                    "CANARY_TIMEOUT",
                    "the dashboard took too long to answer",
                ),
            }
        };
        let h = resp.headers_mut();
        h.insert(
            "x-content-type-options",
            HeaderValue::from_static("nosniff"),
        );
        h.insert("x-frame-options", HeaderValue::from_static("DENY"));
        h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
        h.entry(CACHE_CONTROL)
            .or_insert(HeaderValue::from_static("no-store"));
        resp
    }

    async fn route(self: Arc<Self>, req: Request<Incoming>, peer: SocketAddr) -> Response<Body> {
        let path = req.uri().path().to_string();
        let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let method = req.method().clone();
        let get = method == Method::GET;
        match parts.as_slice() {
            [] if get => {
                let mut r = full(StatusCode::OK, "text/html; charset=utf-8", INDEX_HTML);
                r.headers_mut().insert(
                    "content-security-policy",
                    HeaderValue::from_static(PAGE_CSP),
                );
                r
            }
            ["assets", name] if get => match *name {
                "app.js" => full(StatusCode::OK, "text/javascript; charset=utf-8", APP_JS),
                "charts.js" => full(StatusCode::OK, "text/javascript; charset=utf-8", CHARTS_JS),
                "app.css" => full(StatusCode::OK, "text/css; charset=utf-8", APP_CSS),
                _ => problem(404, "CANARY_NOT_FOUND", "no such asset"),
            },
            ["api", "config"] if get => json_response(
                StatusCode::OK,
                &json!({
                    "version": env!("CARGO_PKG_VERSION"),
                    "allowActions": self.access.allow_actions,
                    "tokenRequired": self.access.token_required(),
                    "loopback": self.access.loopback(),
                }),
            ),
            ["api", "groups"] if get => json_response(StatusCode::OK, &self.hub.groups()),
            ["api", "groups", group] if get => match self.hub.view(group).await {
                Some(c) => full(StatusCode::OK, "application/json", c.json.clone()),
                None => problem(404, "CANARY_NOT_FOUND", "the dashboard shows no such group"),
            },
            ["api", "groups", group, "report"] if get => {
                if !self.hub.knows(group) {
                    return problem(404, "CANARY_NOT_FOUND", "the dashboard shows no such group");
                }
                match self.hub.refresh(group).await {
                    Some(c) => {
                        let html = report::render(&c.view);
                        let mut r = full(StatusCode::OK, "text/html; charset=utf-8", html);
                        let h = r.headers_mut();
                        h.insert(
                            "content-security-policy",
                            HeaderValue::from_static(REPORT_CSP),
                        );
                        if let Ok(v) = HeaderValue::from_str(&format!(
                            "inline; filename=\"canary-report-{group}.html\""
                        )) {
                            h.insert("content-disposition", v);
                        }
                        r
                    }
                    None => problem(404, "CANARY_NOT_FOUND", "the dashboard shows no such group"),
                }
            }
            ["api", "groups", group, "actions", action] if method == Method::POST => {
                let (group, action) = (group.to_string(), action.to_string());
                self.action(req, peer, &group, &action).await
            }
            [] | ["assets", _] | ["api", "config"] | ["api", "groups", ..] => problem(
                405,
                "CANARY_METHOD_NOT_ALLOWED",
                "this path does not take this method",
            ),
            _ => problem(404, "CANARY_NOT_FOUND", "no such page"),
        }
    }

    fn events(self: Arc<Self>) -> Response<Body> {
        let Ok(permit) = self.streams.clone().try_acquire_owned() else {
            return problem(
                503,
                "CANARY_UNAVAILABLE",
                "too many browsers are watching this dashboard",
            );
        };
        let rx = self.hub.subscribe(permit, self.shutdown.clone());
        let mut r = Response::new(Stream(rx).boxed());
        let h = r.headers_mut();
        h.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
        h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        r
    }

    async fn action(
        self: Arc<Self>,
        req: Request<Incoming>,
        peer: SocketAddr,
        group: &str,
        action: &str,
    ) -> Response<Body> {
        if let Err(r) = self.access.action(req.headers()) {
            return refused(r);
        }
        // The core's words, as the CLI and the bindings take them.
        let Ok(cmd) = action.parse::<Command>() else {
            return problem(
                404,
                "CANARY_NOT_FOUND",
                "no such action: pause, resume, promote, promote-full or rollback",
            );
        };
        let Some(rollout) = self.rollouts.get(group).cloned() else {
            return if self.hub.knows(group) {
                problem(
                    409,
                    "CANARY_READ_ONLY",
                    "this group is shown from its saved state only: give the dashboard its spec to act on it",
                )
            } else {
                problem(404, "CANARY_NOT_FOUND", "the dashboard shows no such group")
            };
        };
        // No body is needed; one is read (bounded) only so the connection stays usable.
        let declared = req
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > MAX_BODY as u64)
            || req.body().size_hint().lower() > MAX_BODY as u64
        {
            return problem(413, "CANARY_TOO_LARGE", "an action takes no body");
        }
        if Limited::new(req.into_body(), MAX_BODY)
            .collect()
            .await
            .is_err()
        {
            return problem(413, "CANARY_TOO_LARGE", "an action takes no body");
        }
        let Some(busy) = Busy::take(&self, group) else {
            return problem(
                409,
                "CANARY_CONFLICT",
                "another action on this group is under way",
            );
        };
        let by = format!("dashboard:{peer}");
        tracing::info!(group, action, by, "dashboard action");
        // The command runs to its end even if this answer stops waiting (a promote-full carried
        // out here drives the promotion).
        let (tx, rx) = tokio::sync::oneshot::channel();
        let by2 = by.clone();
        tokio::spawn(async move {
            let r = rollout.command_by(cmd, &by2).await;
            drop(busy);
            let _ = tx.send(r);
        });
        match tokio::time::timeout(ACTION_WAIT, rx).await {
            Ok(Ok(Ok(outcome))) => {
                let (result, detail) = match &outcome {
                    CommandOutcome::Delivered { owner } => ("delivered", json!({"owner": owner})),
                    CommandOutcome::Applied { phase } => ("applied", json!({"phase": phase})),
                    // An outcome newer than this dashboard: passed on as the core serialises it.
                    other => ("other", serde_json::to_value(other).unwrap_or_default()),
                };
                json_response(
                    StatusCode::OK,
                    &json!({"group": group, "action": action, "by": by, "result": result, "detail": detail}),
                )
            }
            Ok(Ok(Err(e))) => core_error(&e),
            Ok(Err(_)) => problem(
                500,
                "CANARY_INTERNAL",
                "the action's task ended without an answer",
            ),
            Err(_) => json_response(
                StatusCode::ACCEPTED,
                &json!({"group": group, "action": action, "by": by, "result": "underWay"}),
            ),
        }
    }
}

/// A group marked as having an action under way, unmarked (and the views refreshed) when dropped,
/// even if the action's task panics.
struct Busy {
    app: Arc<App>,
    group: String,
}

impl Busy {
    fn take(app: &Arc<App>, group: &str) -> Option<Busy> {
        let mut busy = app.busy.lock().unwrap_or_else(|p| p.into_inner());
        busy.insert(group.to_string()).then(|| Busy {
            app: app.clone(),
            group: group.to_string(),
        })
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.app
            .busy
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.group);
        self.app.hub.poke();
    }
}

/// Accepts connections on `listener` until `shutdown`, each served by `app`.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    mut shutdown: watch::Receiver<bool>,
) {
    use hyper::server::conn::http1;
    use hyper_util::rt::{TokioIo, TokioTimer};

    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut conns = tokio::task::JoinSet::new();
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!("dashboard: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        // Reap finished connections so the set stays small.
        while conns.try_join_next().is_some() {}
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            drop(stream);
            continue;
        };
        let app = app.clone();
        conns.spawn(async move {
            let _slot = slot;
            let service = hyper::service::service_fn(move |req| {
                let app = app.clone();
                async move { Ok::<_, Infallible>(app.handle(req, peer).await) }
            });
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEAD_TIMEOUT)
                .max_buf_size(MAX_HEAD)
                .serve_connection(TokioIo::new(stream), service);
            let _ = conn.await;
        });
    }
    conns.shutdown().await;
}
