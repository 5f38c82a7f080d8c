//! [`Notifier`]: posts a rollout's events to the spec's notifications (Slack, Microsoft Teams and
//! Discord incoming webhooks, plain JSON) in the background.
//!
//! A notification never changes the rollout: the engine's events go out on a broadcast channel
//! that never waits for its readers, the notifier reads it on a task of its own, and a failed or
//! slow post is logged and forgotten. Each notification has its own sender task and a bounded
//! queue ([`QUEUE`] events), so one slow endpoint delays only its own messages, in order, and
//! drops new ones (with a warning) once its queue is full.
//!
//! Each post resolves the host and refuses link-local and metadata addresses unless the
//! notification allows them (as hooks do), follows no redirect, reads at most 16 KiB of the
//! answer and ends at the notification's timeout, DNS included. A URL read from `urlFrom.env` is
//! read at each post. The URL is a secret: logs and errors show `scheme://host[:port]` only.
//!
//! [`payload`] builds the bodies.

pub(crate) mod payload;

use std::sync::Arc;
use std::time::Duration;

use canary_core::spec::{NotificationKind, NotificationSpec};
use canary_core::{Error, Event, EventKind, Phase, Result, Spec};
use serde_json::Value;
use tokio::sync::{broadcast, mpsc};

use self::payload::{Limits, Note};
use crate::{egress, http};

/// Events queued per notification before new ones are dropped.
pub(crate) const QUEUE: usize = 64;

/// The most bytes of an answer that are read.
const MAX_ANSWER: usize = 16 * 1024;

/// Posts events to a spec's notifications. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Notifier {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    group: String,
    steps: usize,
    notifications: Vec<NotificationSpec>,
    limits: Limits,
}

/// What a post got back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// The HTTP status (2xx).
    pub status: u16,
}

impl Notifier {
    /// A notifier of `spec`'s notifications (there may be none: see [`Notifier::is_empty`]).
    /// Fails only when no HTTP client can be built.
    pub fn new(spec: &Spec) -> Result<Self> {
        if !spec.notifications.is_empty() {
            // Built once here so a missing TLS provider is found at start, not at the first post.
            http::client()?;
        }
        Ok(Notifier {
            inner: Arc::new(Inner {
                group: spec.group.to_string(),
                steps: spec.steps().len(),
                notifications: spec.notifications.clone(),
                limits: Limits::new(&spec.analysis),
            }),
        })
    }

    /// True when the spec has no notification: nothing to start.
    pub fn is_empty(&self) -> bool {
        self.inner.notifications.is_empty()
    }

    /// The notifications.
    pub fn notifications(&self) -> &[NotificationSpec] {
        &self.inner.notifications
    }

    /// Starts posting the events of `events` on the current Tokio runtime, until the channel
    /// closes (the rollout is dropped) and every queued post is done. Panics outside a runtime,
    /// like `tokio::spawn`; see [`Notifier::start_on`].
    pub fn start(&self, events: broadcast::Receiver<Event>) -> NotifierTask {
        self.start_on(&tokio::runtime::Handle::current(), events)
    }

    /// [`Notifier::start`] on the runtime `rt`.
    pub fn start_on(
        &self,
        rt: &tokio::runtime::Handle,
        events: broadcast::Receiver<Event>,
    ) -> NotifierTask {
        // Said now rather than at the first event; the variable is read again at each post.
        for n in &self.inner.notifications {
            if let Err(e) = n.resolve_url() {
                tracing::warn!(notification = %n.name, "notification has no usable URL yet: {e}");
            }
        }
        let me = self.clone();
        let handle = rt.spawn(async move { me.read(events).await });
        NotifierTask {
            handle: Some(handle),
        }
    }

    /// Reads the stream, hands each wanted event to each notification's queue, then waits for
    /// the queues to drain once the stream ends.
    async fn read(self, mut events: broadcast::Receiver<Event>) {
        let mut queues = Vec::new();
        let mut senders = Vec::new();
        for (i, _) in self.inner.notifications.iter().enumerate() {
            let (tx, rx) = mpsc::channel::<Arc<Note>>(QUEUE);
            queues.push(tx);
            let me = self.clone();
            senders.push(tokio::spawn(async move { me.drain(i, rx).await }));
        }
        let mut last: Option<(canary_core::analysis::AnalysisReport, u8)> = None;
        loop {
            let event = match events.recv().await {
                Ok(e) => e,
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(group = %self.inner.group, "notifications missed {n} events: they were read too slowly");
                    continue;
                }
                Err(broadcast::error::RecvError::Closed) => break,
            };
            if matches!(event.kind, EventKind::Started | EventKind::Resumed) {
                last = None;
            }
            let last_analysis = if event.analysis.is_some() {
                None
            } else {
                last.clone()
            };
            if let Some(a) = &event.analysis {
                last = Some((a.clone(), event.weight));
            }
            let kind = event.kind;
            let note = Arc::new(Note {
                event,
                last_analysis,
                test: false,
            });
            for (n, tx) in self.inner.notifications.iter().zip(&queues) {
                if !n.wants(kind) {
                    continue;
                }
                if let Err(mpsc::error::TrySendError::Full(_)) = tx.try_send(note.clone()) {
                    tracing::warn!(notification = %n.name, event = ?kind, "notification dropped: {QUEUE} are already waiting for a slow endpoint");
                }
            }
        }
        drop(queues);
        for s in senders {
            let _ = s.await;
        }
    }

    /// Posts notification `i`'s queue in order.
    async fn drain(self, i: usize, mut queue: mpsc::Receiver<Arc<Note>>) {
        let n = &self.inner.notifications[i];
        while let Some(note) = queue.recv().await {
            let kind = note.event.kind;
            match self.send(i, &note).await {
                Ok(d) => {
                    tracing::debug!(notification = %n.name, event = ?kind, status = d.status, "notification sent")
                }
                Err(e) => {
                    tracing::warn!(notification = %n.name, event = ?kind, "notification not sent: {e}")
                }
            }
        }
    }

    /// Posts `note` to notification `i` now (whatever its event filter).
    pub async fn send(&self, i: usize, note: &Note) -> Result<Delivery> {
        let n = self.inner.notifications.get(i).ok_or_else(|| {
            Error::invalid("notification", format!("there is no notification {i}"))
        })?;
        let body = payload::build(n.kind, &n.name, note, &self.inner.limits);
        post(n, &body).await
    }

    /// A note that says it is a test, for `canary notify-test`.
    pub fn test_note(&self) -> Note {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        Note {
            event: Event {
                at_ms: now,
                group: self.inner.group.clone(),
                kind: EventKind::Started,
                phase: Phase::Pending,
                step: 0,
                steps: self.inner.steps,
                weight: 0,
                message: "a test notification from canary: nothing is rolling out".into(),
                analysis: None,
            },
            last_analysis: None,
            test: true,
        }
    }
}

/// One POST of `body` to `n`, within its timeout (resolving included).
async fn post(n: &NotificationSpec, body: &Value) -> Result<Delivery> {
    let url = n.resolve_url()?;
    let what = format!("notification {} ({})", n.name, url.redacted());
    let timeout = n.timeout.get();
    match tokio::time::timeout(timeout, post_to(n, &url, &what, body)).await {
        Ok(r) => r,
        Err(_) => Err(Error::Timeout {
            what,
            after: timeout,
        }),
    }
}

async fn post_to(
    n: &NotificationSpec,
    url: &canary_core::spec::NotifyUrl,
    what: &str,
    body: &Value,
) -> Result<Delivery> {
    // url's own parse errors never quote the input.
    let parsed = reqwest::Url::parse(url.expose()).map_err(|e| {
        Error::invalid(format!("{what}: url"), format!("not a URL: {e}")).with_source(e)
    })?;
    let timeout = n.timeout.get();
    // Resolved and checked here, and the connection pinned to what was checked.
    let (host, addrs) = egress::resolve_checked(
        &parsed,
        n.allow_link_local,
        &format!("{what}: url"),
        "; set allowLinkLocal on the notification to call it",
    )
    .await?;
    let client = reqwest::Client::builder()
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .resolve_to_addrs(&host, &addrs)
        .build()
        .map_err(|e| Error::internal(format!("cannot build an HTTP client: {e}")).with_source(e))?;
    let mut resp = client
        .post(parsed)
        .json(body)
        .timeout(timeout)
        .send()
        .await
        .map_err(|e| http::send_error(e, what, timeout))?;
    let status = resp.status();
    let mut answer = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| http::send_error(e, what, timeout))?
    {
        answer.extend_from_slice(&chunk);
        if answer.len() >= MAX_ANSWER {
            answer.truncate(MAX_ANSWER);
            break;
        }
    }
    // An answer could echo the URL; it never reaches a log.
    let mut text = http::snippet(&answer, 200);
    if let Some(path) = parsed_path(url.expose()) {
        text = text.replace(path, "/<redacted>");
    }
    let rejected = |message: String| Error::rejected(what.to_string(), message);
    let code = status.as_u16();
    if status.is_redirection() {
        return Err(rejected(format!("HTTP {code}: redirects are not followed")));
    }
    if !status.is_success() {
        return Err(rejected(if text.is_empty() {
            format!("HTTP {code}")
        } else {
            format!("HTTP {code}: {text}")
        }));
    }
    // Teams' connectors answer 200 with the error in the body ("Microsoft Teams endpoint
    // returned HTTP error 429").
    if n.kind == NotificationKind::Teams && text.contains("returned HTTP error") {
        return Err(rejected(format!("HTTP {code}: {text}")));
    }
    Ok(Delivery { status: code })
}

/// The part of a URL after its host (path, query), when long enough to be worth hiding.
fn parsed_path(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let at = rest.find(['/', '?', '#'])?;
    let path = &rest[at..];
    (path.len() > 1).then_some(path)
}

/// A running notifier. Dropping it leaves the task running; it ends by itself once the rollout
/// is dropped and its queued posts are done.
#[derive(Debug)]
pub struct NotifierTask {
    handle: Option<tokio::task::JoinHandle<()>>,
}

impl NotifierTask {
    /// True once the stream has closed and every queued post is done.
    pub fn is_finished(&self) -> bool {
        self.handle.as_ref().is_none_or(|h| h.is_finished())
    }

    /// Waits until [`NotifierTask::is_finished`], at most `within`; returns whether it is. Drop
    /// the rollout first: the stream stays open while it lives.
    pub async fn finish(&mut self, within: Duration) -> bool {
        let Some(h) = self.handle.as_mut() else {
            return true;
        };
        if tokio::time::timeout(within, h).await.is_ok() {
            self.handle = None;
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests;
