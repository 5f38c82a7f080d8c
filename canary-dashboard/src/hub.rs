//! The live side: the groups the dashboard shows, the latest view of each, and the stream of
//! changes every browser subscribes to.
//!
//! A group given with a drift check gets its drift added to each status read (the compose file
//! is read again each time, so an edit shows within a poll).
//!
//! Two feeds keep the views fresh. A rollout running in this process sends its events as they
//! happen ([`Rollout::subscribe`]): each one updates the group's view at once and asks for a
//! fresh status. Everything else (a `canary run` in another terminal, a person's `canary pause`)
//! reaches the dashboard through the state store, which a poller reads every `poll` while a
//! browser is connected; it also lists the store's groups every few polls. A view is sent to the
//! browsers only when it changed.
//!
//! Bounds: each status read has a deadline; each browser gets at most [`CLIENT_QUEUE`] frames
//! queued and is dropped when it does not take one within [`SEND_TIMEOUT`]; the number of
//! browsers is bounded by the server's semaphore.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use canary_core::error::with_timeout;
use canary_core::ops::DriftCheck;
use canary_core::state::now_ms;
use canary_core::{GroupRef, Result, Rollout, StateStore, Status};
use serde::Serialize;
use tokio::sync::{broadcast, mpsc, watch, Notify, OwnedSemaphorePermit};

use crate::view::{self, GroupView, Timeline};

/// Frames queued per browser before it counts as slow. A view of a long rollout can weigh a few
/// hundred kilobytes, so queues stay short: a browser that falls behind gets everything again.
pub(crate) const CLIENT_QUEUE: usize = 8;
/// Changes kept for browsers that read slowly (beyond, they get everything again).
const BROADCAST: usize = 16;
/// The most groups shown; a store holding more shows the first ones by name.
pub(crate) const MAX_GROUPS: usize = 200;
/// How long a browser may take to accept one frame before it is dropped.
pub(crate) const SEND_TIMEOUT: Duration = Duration::from_secs(5);
/// A comment line sent this often keeps proxies and the browser from closing an idle stream.
const HEARTBEAT: Duration = Duration::from_secs(15);
/// The store's group list is read every this many polls.
const DISCOVER_EVERY: u64 = 5;
/// The lease a stored group's controller is assumed to have when its state does not say.
const DEFAULT_LEASE_MS: u64 = 15_000;

/// Where a group's status comes from.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    /// A rollout the dashboard was given (its spec, so its limits and its actions).
    Rollout(Arc<Rollout>),
    /// A group found in the state store: its saved state only.
    Stored(GroupRef),
}

/// A view and its JSON, as sent.
#[derive(Debug)]
pub(crate) struct Cached {
    pub(crate) view: GroupView,
    pub(crate) json: String,
}

#[derive(Debug)]
struct Entry {
    source: Source,
    timeline: Timeline,
    status: Option<Status>,
    error: Option<String>,
    cached: Option<Arc<Cached>>,
    /// When the status was last read.
    read_at: Option<Instant>,
}

impl Entry {
    fn new(source: Source) -> Self {
        Entry {
            source,
            timeline: Timeline::default(),
            status: None,
            error: None,
            cached: None,
            read_at: None,
        }
    }
}

/// A group in the list the page shows.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GroupItem {
    group: String,
    controllable: bool,
}

/// The groups, their views, and the browsers' stream.
#[derive(Debug)]
pub(crate) struct Hub {
    entries: Mutex<BTreeMap<String, Entry>>,
    /// Each group's drift check, by group.
    drift: BTreeMap<String, Arc<DriftCheck>>,
    store: Option<Arc<dyn StateStore>>,
    frames: broadcast::Sender<Bytes>,
    wake: Notify,
    poll: Duration,
    call_timeout: Duration,
}

/// One server-sent event.
fn frame(event: &str, data: &str) -> Bytes {
    Bytes::from(format!("event: {event}\ndata: {data}\n\n"))
}

impl Hub {
    /// A hub for `rollouts` (each group once) and the groups of `store`.
    pub(crate) fn new(
        rollouts: &[Arc<Rollout>],
        drift: &[Arc<DriftCheck>],
        store: Option<Arc<dyn StateStore>>,
        poll: Duration,
        call_timeout: Duration,
    ) -> Self {
        let entries = rollouts
            .iter()
            .map(|r| {
                (
                    r.spec().group.to_string(),
                    Entry::new(Source::Rollout(r.clone())),
                )
            })
            .collect();
        let (frames, _) = broadcast::channel(BROADCAST);
        Hub {
            entries: Mutex::new(entries),
            drift: drift
                .iter()
                .map(|d| (d.group().to_string(), d.clone()))
                .collect(),
            store,
            frames,
            wake: Notify::new(),
            poll,
            call_timeout,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Entry>> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The groups, by name.
    pub(crate) fn groups(&self) -> Vec<GroupItem> {
        self.lock()
            .iter()
            .map(|(name, e)| GroupItem {
                group: name.clone(),
                controllable: matches!(e.source, Source::Rollout(_)),
            })
            .collect()
    }

    /// Whether the dashboard shows `group`.
    pub(crate) fn knows(&self, group: &str) -> bool {
        self.lock().contains_key(group)
    }

    /// Asks the poller for fresh statuses now.
    pub(crate) fn poke(&self) {
        self.wake.notify_one();
    }

    /// The view of `group`: the last one when it was read within a poll interval (the poller
    /// reads only while a browser watches), else read now.
    pub(crate) async fn view(&self, group: &str) -> Option<Arc<Cached>> {
        let (cached, read_at) = {
            let entries = self.lock();
            let e = entries.get(group)?;
            (e.cached.clone(), e.read_at)
        };
        match cached {
            Some(c) if read_at.is_some_and(|t| t.elapsed() < self.poll) => Some(c),
            _ => self.refresh(group).await,
        }
    }

    /// Reads `group`'s status now and updates its view (sent to the browsers if it changed).
    pub(crate) async fn refresh(&self, group: &str) -> Option<Arc<Cached>> {
        let source = self.lock().get(group)?.source.clone();
        let status = match &source {
            Source::Rollout(r) => {
                with_timeout("read the status", self.call_timeout, r.status()).await
            }
            Source::Stored(g) => self.stored_status(g).await,
        };
        let status = match (status, self.drift.get(group)) {
            (Ok(mut st), Some(check)) => {
                match with_timeout("check drift", self.call_timeout, check.check(&st)).await {
                    Ok(d) => st.drift = d,
                    // The rest of the status still shows; the log says why drift does not.
                    Err(e) => tracing::warn!(group, "cannot check drift: {e}"),
                }
                Ok(st)
            }
            (other, _) => other,
        };
        let mut entries = self.lock();
        let entry = entries.get_mut(group)?;
        entry.read_at = Some(Instant::now());
        match status {
            Ok(st) => {
                if let Some(state) = &st.state {
                    entry.timeline.merge_saved(state.started_ms, &state.history);
                }
                entry.status = Some(st);
                entry.error = None;
            }
            Err(e) => entry.error = Some(e.to_string()),
        }
        Some(self.rebuild(group, entry))
    }

    /// Rebuilds `entry`'s view; sends it when it changed.
    fn rebuild(&self, group: &str, entry: &mut Entry) -> Arc<Cached> {
        let spec = match &entry.source {
            Source::Rollout(r) => Some(r.spec()),
            Source::Stored(_) => None,
        };
        let view = view::build(
            group,
            spec,
            entry.status.as_ref(),
            &entry.timeline,
            entry.error.clone(),
        );
        let json = serde_json::to_string(&view).unwrap_or_else(|e| {
            format!(r#"{{"group":{group:?},"error":"cannot encode the view: {e}"}}"#)
        });
        match &entry.cached {
            Some(c) if c.json == json => c.clone(),
            _ => {
                let _ = self.frames.send(frame("group", &json));
                let c = Arc::new(Cached { view, json });
                entry.cached = Some(c.clone());
                c
            }
        }
    }

    async fn stored_status(&self, g: &GroupRef) -> Result<Status> {
        let Some(store) = &self.store else {
            return Err(canary_core::Error::internal(
                "a stored group without a store",
            ));
        };
        let loaded = with_timeout(
            "load the saved state",
            self.call_timeout,
            store.load(&g.group, &g.apps),
        )
        .await?;
        let state = loaded.map(|v| v.state);
        let driven = state
            .as_ref()
            .and_then(|s| s.lease.as_ref())
            .is_some_and(|l| {
                now_ms().saturating_sub(l.heartbeat_ms) < l.ttl_ms.unwrap_or(DEFAULT_LEASE_MS)
            });
        Ok(Status {
            group: g.group.to_string(),
            state,
            steps: Vec::new(),
            splits: Vec::new(),
            splits_error: Some(
                "the dashboard was given no spec for this group: shown from its saved state only"
                    .into(),
            ),
            services: Vec::new(),
            driven,
            drift: Vec::new(),
            replica_plan: None,
        })
    }

    /// Takes in an event of a rollout running in this process.
    pub(crate) fn on_event(&self, event: canary_core::Event) {
        let group = event.group.clone();
        {
            let mut entries = self.lock();
            let Some(entry) = entries.get_mut(&group) else {
                return;
            };
            if entry.timeline.add(event) {
                self.rebuild(&group, entry);
            }
        }
        self.poke();
    }

    /// Adds the store's new groups and drops those it no longer holds; tells the browsers when
    /// the list changed.
    pub(crate) async fn discover(&self) {
        let Some(store) = &self.store else { return };
        let listed = match with_timeout("list the groups", self.call_timeout, store.groups()).await
        {
            Ok(l) => l,
            Err(e) => {
                tracing::debug!("cannot list the state store's groups: {e}");
                return;
            }
        };
        let changed = {
            let mut entries = self.lock();
            let before = entries.len();
            let names: std::collections::BTreeSet<String> =
                listed.iter().map(|g| g.group.to_string()).collect();
            entries
                .retain(|name, e| matches!(e.source, Source::Rollout(_)) || names.contains(name));
            let mut changed = entries.len() != before;
            for g in listed {
                if entries.len() >= MAX_GROUPS {
                    break;
                }
                if let std::collections::btree_map::Entry::Vacant(slot) =
                    entries.entry(g.group.to_string())
                {
                    slot.insert(Entry::new(Source::Stored(g)));
                    changed = true;
                }
            }
            changed
        };
        if changed {
            let list = serde_json::to_string(&self.groups()).unwrap_or_else(|_| "[]".into());
            let _ = self.frames.send(frame("groups", &list));
        }
    }

    /// Keeps the views fresh until `shutdown`: see the module docs.
    pub(crate) async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let mut tick: u64 = 0;
        loop {
            if tick.is_multiple_of(DISCOVER_EVERY) {
                self.discover().await;
            }
            // Without a browser nobody looks: read only on demand (and the first time).
            if tick == 0 || self.frames.receiver_count() > 0 {
                let names: Vec<String> = self.lock().keys().cloned().collect();
                for name in names {
                    self.refresh(&name).await;
                }
            }
            tick += 1;
            // Events can come in bursts: at most four status rounds a second.
            tokio::select! {
                _ = tokio::time::sleep(self.poll) => {}
                _ = async {
                    self.wake.notified().await;
                    tokio::time::sleep(Duration::from_millis(250)).await;
                } => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    /// Forwards the events of a rollout running in this process until `shutdown`.
    pub(crate) async fn forward(
        self: Arc<Self>,
        rollout: Arc<Rollout>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut events = rollout.subscribe();
        loop {
            tokio::select! {
                ev = events.recv() => match ev {
                    Ok(ev) => self.on_event(ev),
                    // The saved history fills the gap at the next status read.
                    Err(broadcast::error::RecvError::Lagged(_)) => self.poke(),
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                _ = shutdown.changed() => return,
            }
        }
    }

    /// What a browser is sent first: the group list and every view known so far.
    fn snapshot(&self) -> Vec<Bytes> {
        let list = serde_json::to_string(&self.groups()).unwrap_or_else(|_| "[]".into());
        let mut out = vec![
            Bytes::from_static(b"retry: 2000\n\n"),
            frame("groups", &list),
        ];
        out.extend(
            self.lock()
                .values()
                .filter_map(|e| e.cached.as_ref())
                .map(|c| frame("group", &c.json)),
        );
        out
    }

    /// A new browser's stream: the snapshot, then every change, until it goes away, falls
    /// behind, or the dashboard stops. `permit` counts it among the browsers.
    pub(crate) fn subscribe(
        self: &Arc<Self>,
        permit: OwnedSemaphorePermit,
        mut shutdown: watch::Receiver<bool>,
    ) -> mpsc::Receiver<Bytes> {
        let (tx, rx) = mpsc::channel::<Bytes>(CLIENT_QUEUE);
        // Subscribed before the snapshot is taken, so no change falls between the two.
        let mut frames = self.frames.subscribe();
        let hub = self.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let send = |b: Bytes| {
                let tx = tx.clone();
                async move {
                    matches!(
                        tokio::time::timeout(SEND_TIMEOUT, tx.send(b)).await,
                        Ok(Ok(()))
                    )
                }
            };
            for f in hub.snapshot() {
                if !send(f).await {
                    return;
                }
            }
            hub.poke();
            let mut beat = tokio::time::interval(HEARTBEAT);
            beat.tick().await;
            loop {
                let next = tokio::select! {
                    f = frames.recv() => match f {
                        Ok(f) => vec![f],
                        // Too far behind for the changes: everything again.
                        Err(broadcast::error::RecvError::Lagged(_)) => hub.snapshot(),
                        Err(broadcast::error::RecvError::Closed) => return,
                    },
                    _ = beat.tick() => vec![Bytes::from_static(b": keep-alive\n\n")],
                    _ = tx.closed() => return,
                    _ = shutdown.changed() => return,
                };
                for f in next {
                    if !send(f).await {
                        return;
                    }
                }
            }
        });
        rx
    }
}
