//! The rollout engine: a state machine that moves a group's traffic to the canary step by step,
//! analyses each step, and promotes or rolls back.
//!
//! ```text
//! pending ─► progressing(step i) ⇄ paused
//!                 │                  │
//!                 ▼                  ▼
//!             promoting ─► promoted
//! any ─► rolling back ─► rolled back        (errors that need a person: failed)
//! ```
//!
//! The state is saved after every transition through the [`StateStore`], so a controller killed
//! at any moment resumes where it was; other processes send [`Command`]s through the same store.
//! Every external call has a deadline. Missing data and errors are never a pass. Rollback takes the
//! canary out of the routing *before* scaling it down, because a Traefik weighted service whose
//! child disappears fails every request.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, Mutex, Notify};

use crate::analysis::{self, AnalysisReport, Verdict};
use crate::error::{with_timeout, Error, Result};
use crate::model::AppRef;
use crate::model::{ImageRef, ReplicaPlan, ServiceName, Track, Weight};
use crate::spec::{HookSpec, InconclusiveAction, PromoteStrategy, Spec, TrafficMode};
use crate::state::{now_ms, Command, Lease, Phase, RolloutState};
use crate::traits::{
    AppRoute, AppSplit, CanaryService, HookContext, HookPoint, HookRunner, MetricsSource,
    Orchestrator, RouteConfig, Router, ServiceState, StateStore, Versioned,
};

/// The implementations the engine drives.
#[derive(Debug, Clone)]
pub struct Deps {
    /// Runs the services.
    pub orchestrator: Arc<dyn Orchestrator>,
    /// Routes the traffic.
    pub router: Arc<dyn Router>,
    /// Reads the metrics.
    pub metrics: Arc<dyn MetricsSource>,
    /// Keeps the state.
    pub store: Arc<dyn StateStore>,
    /// Calls the hooks.
    pub hooks: Arc<dyn HookRunner>,
}

/// How this controller behaves towards others and towards failures.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RolloutOptions {
    /// This controller's id, `host/instance`. Two controllers with the same host part may take
    /// over each other's expired lease without being told to (a restarted `canary run`).
    pub owner: String,
    /// How long a driver's lease lasts without a heartbeat.
    pub lease: Duration,
    /// How often a waiting driver looks for commands from other processes.
    pub poll: Duration,
    /// Take over a rollout whose lease expired even when its owner ran on another host.
    pub takeover: bool,
    /// Start a new rollout even when one for the same images already ended.
    pub restart: bool,
    /// Retries of a retryable failure (unavailable, timeout) before it counts as an error.
    pub retries: u32,
}

impl Default for RolloutOptions {
    fn default() -> Self {
        RolloutOptions {
            owner: default_owner(),
            lease: Duration::from_secs(15),
            poll: Duration::from_secs(1),
            takeover: false,
            restart: false,
            retries: 3,
        }
    }
}

impl RolloutOptions {
    /// Sets the owner id.
    #[must_use]
    pub fn owner(mut self, owner: impl Into<String>) -> Self {
        self.owner = owner.into();
        self
    }
    /// Sets the lease.
    #[must_use]
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }
    /// Sets the command poll interval.
    #[must_use]
    pub fn poll(mut self, poll: Duration) -> Self {
        self.poll = poll;
        self
    }
    /// Allows taking over an expired lease of another host.
    #[must_use]
    pub fn takeover(mut self, takeover: bool) -> Self {
        self.takeover = takeover;
        self
    }
    /// Starts over even if a rollout of the same images ended.
    #[must_use]
    pub fn restart(mut self, restart: bool) -> Self {
        self.restart = restart;
        self
    }
    /// Sets the retries of retryable failures.
    #[must_use]
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }
}

/// `host/pid`: the default owner id.
pub fn default_owner() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "localhost".into());
    format!("{host}/{}", std::process::id())
}

fn host_of(owner: &str) -> &str {
    owner.split('/').next().unwrap_or(owner)
}

/// How a rollout ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "result")]
pub enum Outcome {
    /// Stable runs the canary's version with all traffic.
    Promoted,
    /// The canary was taken out; stable untouched.
    RolledBack {
        /// Why.
        cause: String,
    },
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum EventKind {
    /// A new rollout began.
    Started,
    /// A saved rollout was picked up.
    Resumed,
    /// A hook answered.
    Hook,
    /// The canary services run.
    CanaryReady,
    /// A weight is in force.
    WeightSet,
    /// A step's analysis.
    Analysis,
    /// Waiting (interval, confirmation, pause).
    Waiting,
    /// A manual control was received.
    Command,
    /// Paused.
    Paused,
    /// Promotion began.
    Promoting,
    /// Promoted.
    Promoted,
    /// Rollback began.
    RollingBack,
    /// Rolled back.
    RolledBack,
    /// Stopped on an error.
    Failed,
    /// A retryable failure is being retried.
    Retry,
}

/// One event of a rollout; each carries the figures and the reason behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// Unix time in ms.
    pub at_ms: u64,
    /// The group.
    pub group: String,
    /// What happened.
    pub kind: EventKind,
    /// The phase after it.
    pub phase: Phase,
    /// The step index.
    pub step: usize,
    /// The number of steps.
    pub steps: usize,
    /// The canary weight in force.
    pub weight: u8,
    /// Why, in words.
    pub message: String,
    /// The analysis, for analysis events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<AnalysisReport>,
}

/// A rollout's state with what is really in force.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// The group.
    pub group: String,
    /// The saved state, if a rollout was ever started.
    pub state: Option<RolloutState>,
    /// The steps' weights.
    pub steps: Vec<u8>,
    /// The split the router really has in force, per app (empty if it could not be read).
    pub splits: Vec<AppSplit>,
    /// Why the split could not be read, if so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub splits_error: Option<String>,
    /// Stable and canary services per app (a missing canary is left out).
    pub services: Vec<ServiceState>,
    /// Whether a live controller holds the lease.
    pub driven: bool,
}

/// What a [`Rollout::command`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "result")]
pub enum CommandOutcome {
    /// Handed to the live controller driving the rollout.
    Delivered {
        /// Its id.
        owner: String,
    },
    /// Carried out here; the phase it left the rollout in.
    Applied {
        /// The phase now.
        phase: Phase,
    },
}

/// A canary rollout of one group.
#[derive(Debug)]
pub struct Rollout {
    spec: Arc<Spec>,
    deps: Deps,
    opts: RolloutOptions,
    apps: Vec<AppRef>,
    steps: Vec<Weight>,
    events: broadcast::Sender<Event>,
    cur: Mutex<Option<Versioned>>,
    wake: Notify,
    driving: AtomicBool,
}

enum Waited {
    Elapsed,
    Command(Command),
}

impl Rollout {
    /// A rollout of `spec` through `deps`.
    pub fn new(spec: Spec, deps: Deps, opts: RolloutOptions) -> Self {
        let apps = spec.app_refs();
        let steps = spec.steps();
        let (events, _) = broadcast::channel(1024);
        Rollout {
            spec: Arc::new(spec),
            deps,
            opts,
            apps,
            steps,
            events,
            cur: Mutex::new(None),
            wake: Notify::new(),
            driving: AtomicBool::new(false),
        }
    }

    /// The spec.
    pub fn spec(&self) -> &Spec {
        &self.spec
    }

    /// Events from now on. A slow receiver that falls more than 1024 events behind loses the
    /// oldest ones (and is told so by the channel).
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// Runs the rollout to its end: promoted, or rolled back. A saved rollout of the same images is
    /// resumed where it was; one that already ended returns its outcome at once (unless
    /// `restart`). Errors that need a person leave the rollout `failed` and come back as `Err`.
    pub async fn run(&self) -> Result<Outcome> {
        self.acquire().await?;
        self.driving.store(true, Ordering::SeqCst);
        let result = self.drive().await;
        self.driving.store(false, Ordering::SeqCst);
        // Hand the lease back so the next controller need not wait for it to expire.
        let _ = self.release().await;
        result
    }

    /// Advances one transition (for callers that drive the rollout themselves); returns the
    /// phase it left the rollout in.
    pub async fn step(&self) -> Result<Phase> {
        if self.cur.lock().await.is_none() {
            self.acquire().await?;
        }
        let phase = self.phase().await;
        if phase.is_terminal() {
            return Ok(phase);
        }
        self.driving.store(true, Ordering::SeqCst);
        let r = self.advance().await;
        self.driving.store(false, Ordering::SeqCst);
        r?;
        Ok(self.phase().await)
    }

    /// A manual control. Handed to the live controller driving this rollout, through the state
    /// store, when there is one (in this process or another); carried out here otherwise: pause
    /// and resume change the saved phase, promote moves one step, promote-full and abort drive
    /// the rollout to its end.
    pub async fn command(&self, cmd: Command) -> Result<CommandOutcome> {
        let loaded = self
            .load_state()
            .await?
            .ok_or_else(|| Error::not_found("rollout", self.spec.group.to_string()))?;
        if loaded.state.phase.is_terminal() {
            return Err(Error::Conflict(format!(
                "the rollout of {} already ended ({}); nothing to {}",
                self.spec.group,
                loaded.state.phase,
                command_word(cmd)
            )));
        }
        validate_command(cmd, loaded.state.phase)?;
        let live_other = loaded.state.lease.as_ref().filter(|l| {
            self.lease_is_live(l)
                && (l.owner != self.opts.owner || self.driving.load(Ordering::SeqCst))
        });
        if let Some(lease) = live_other {
            let owner = lease.owner.clone();
            self.deliver(cmd, loaded).await?;
            self.wake.notify_waiters();
            return Ok(CommandOutcome::Delivered { owner });
        }
        // Nobody drives it: take it and do it here.
        self.take(loaded, false).await?;
        let result = self.apply_standalone(cmd).await;
        let _ = self.release().await;
        result?;
        Ok(CommandOutcome::Applied {
            phase: self.phase().await,
        })
    }

    /// The saved state, the split in force and the services.
    pub async fn status(&self) -> Result<Status> {
        let loaded = self.load_state().await?;
        let state = loaded.map(|v| v.state);
        let driven = state
            .as_ref()
            .and_then(|s| s.lease.as_ref())
            .is_some_and(|l| self.lease_is_live(l));
        let mut services = Vec::new();
        let mut stable_labels = BTreeMap::new();
        for app in &self.apps {
            match self.deps.orchestrator.inspect(&app.stable).await {
                Ok(s) => {
                    stable_labels.insert(app.name.clone(), s.labels.clone());
                    services.push(s)
                }
                Err(Error::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
            match self.deps.orchestrator.inspect(&app.canary).await {
                Ok(s) => services.push(s),
                Err(Error::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        let weight = state.as_ref().map(|s| s.weight).unwrap_or(0);
        let routed = state.as_ref().is_some_and(|s| !s.phase.is_terminal());
        let config = self.route_config_with(Weight::new(weight as u64)?, routed, &stable_labels);
        let read = with_timeout(
            "read routes",
            self.spec.timeouts.call.get(),
            self.deps.router.read(&config),
        );
        let (splits, splits_error) = match read.await {
            Ok(s) => (s, None),
            Err(e) => (Vec::new(), Some(e.to_string())),
        };
        Ok(Status {
            group: self.spec.group.to_string(),
            state,
            steps: self.steps.iter().map(|w| w.get()).collect(),
            splits,
            splits_error,
            services,
            driven,
        })
    }

    // ----- ownership -----

    fn canary_images(&self) -> BTreeMap<String, String> {
        // The extra env is part of what is being tried: the same image with other settings is
        // another rollout.
        self.spec
            .apps
            .iter()
            .map(|a| {
                let mut id = a.image.to_string();
                for (k, v) in &a.canary_env {
                    id.push_str(&format!(" {k}={v}"));
                }
                (a.name.to_string(), id)
            })
            .collect()
    }

    fn lease_is_live(&self, lease: &Lease) -> bool {
        let ttl = lease.ttl_ms.unwrap_or(self.opts.lease.as_millis() as u64);
        now_ms().saturating_sub(lease.heartbeat_ms) < ttl
    }

    fn my_lease(&self) -> Lease {
        Lease {
            owner: self.opts.owner.clone(),
            heartbeat_ms: now_ms(),
            ttl_ms: Some(self.opts.lease.as_millis() as u64),
        }
    }

    /// Loads or creates the state and takes the lease.
    async fn acquire(&self) -> Result<()> {
        let mut waited_for: Option<Lease> = None;
        loop {
            let loaded = self.load_state().await?;
            let images = self.canary_images();
            let Some(v) = loaded else {
                let state = RolloutState::new(images, now_ms());
                return self.start_new(state, None).await;
            };
            let same = v.state.canary_images == images;
            let lease = v.state.lease.clone().filter(|l| l.owner != self.opts.owner);
            let live = lease.as_ref().filter(|l| self.lease_is_live(l));
            if same && v.state.phase.is_terminal() && !self.opts.restart {
                *self.cur.lock().await = Some(v.clone());
                self.emit(
                    EventKind::Resumed,
                    &v.state,
                    format!("rollout already ended: {}", v.state.phase),
                    None,
                );
                return Ok(());
            }
            if let Some(l) = live {
                // Someone holds it. If its heartbeat moves while we wait, it is alive.
                if let Some(prev) = &waited_for {
                    if prev.heartbeat_ms != l.heartbeat_ms || prev.owner != l.owner {
                        return Err(self.driven_by(l));
                    }
                }
                // A live lease of another host is never taken, not even with takeover (which
                // is for expired ones); one of this host is a restarted controller: wait it out.
                if host_of(&l.owner) != host_of(&self.opts.owner) {
                    return Err(self.driven_by(l));
                }
                waited_for = Some(l.clone());
                self.emit(
                    EventKind::Waiting,
                    &v.state,
                    format!("waiting for the lease of {} to expire", l.owner),
                    None,
                );
                tokio::time::sleep(self.opts.poll).await;
                continue;
            }
            if let Some(l) = &lease {
                if host_of(&l.owner) != host_of(&self.opts.owner)
                    && !self.opts.takeover
                    && !v.state.phase.is_terminal()
                {
                    return Err(Error::Conflict(format!(
                        "the rollout of {} was driven by {} whose lease expired; take it over explicitly",
                        self.spec.group, l.owner
                    )));
                }
            }
            if !same || v.state.phase.is_terminal() {
                if !v.state.phase.is_terminal() {
                    return Err(Error::Conflict(format!(
                        "a rollout of other images ({}) is {} for {}; finish or abort it first",
                        v.state
                            .canary_images
                            .values()
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", "),
                        v.state.phase,
                        self.spec.group
                    )));
                }
                let state = RolloutState::new(images, now_ms());
                return self.start_new(state, Some(v.version)).await;
            }
            return self.take(v, true).await;
        }
    }

    /// Loads the saved state, within the call deadline.
    async fn load_state(&self) -> Result<Option<Versioned>> {
        let timeout = self.spec.timeouts.call.get();
        with_timeout(
            "load state",
            timeout,
            self.deps.store.load(&self.spec.group, &self.apps),
        )
        .await
    }

    /// Saves with compare-and-set, within the call deadline.
    async fn save_state(&self, state: &RolloutState, expected: Option<u64>) -> Result<u64> {
        let timeout = self.spec.timeouts.call.get();
        let save = self
            .deps
            .store
            .save(&self.spec.group, &self.apps, state, expected);
        with_timeout("save state", timeout, save).await
    }

    fn driven_by(&self, l: &Lease) -> Error {
        Error::Conflict(format!(
            "the rollout of {} is driven by {} (last heartbeat {} ms ago)",
            self.spec.group,
            l.owner,
            now_ms().saturating_sub(l.heartbeat_ms)
        ))
    }

    async fn start_new(&self, mut state: RolloutState, expected: Option<u64>) -> Result<()> {
        state.lease = Some(self.my_lease());
        let version = self.save_state(&state, expected).await?;
        self.emit(
            EventKind::Started,
            &state,
            format!(
                "rollout of {} to {} in steps {:?}",
                self.spec.group,
                state
                    .canary_images
                    .values()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
                self.steps.iter().map(|w| w.get()).collect::<Vec<_>>()
            ),
            None,
        );
        *self.cur.lock().await = Some(Versioned { state, version });
        Ok(())
    }

    async fn take(&self, v: Versioned, announce: bool) -> Result<()> {
        let mut state = v.state;
        state.lease = Some(self.my_lease());
        let version = self.save_state(&state, Some(v.version)).await?;
        if announce {
            self.emit(
                EventKind::Resumed,
                &state,
                format!(
                    "resuming at {} (step {} of {}, weight {})",
                    state.phase,
                    state.step + 1,
                    self.steps.len(),
                    state.weight
                ),
                None,
            );
        }
        *self.cur.lock().await = Some(Versioned { state, version });
        Ok(())
    }

    /// Hands the lease back, so the next controller need not wait for it to expire: for a run
    /// stopped from outside (Ctrl-C drops the `run` future between two saved transitions). Does
    /// nothing when this controller holds no lease; a lease someone else took is left alone.
    pub async fn release(&self) -> Result<()> {
        let holds = self
            .cur
            .lock()
            .await
            .as_ref()
            .and_then(|v| v.state.lease.as_ref())
            .is_some_and(|l| l.owner == self.opts.owner);
        if !holds {
            return Ok(());
        }
        self.driving.store(false, Ordering::SeqCst);
        self.save(|s| s.lease = None).await
    }

    async fn deliver(&self, cmd: Command, mut v: Versioned) -> Result<()> {
        for _ in 0..10 {
            let mut state = v.state.clone();
            state.command = Some(cmd);
            match self.save_state(&state, Some(v.version)).await {
                Ok(_) => return Ok(()),
                Err(Error::Conflict(_)) => {
                    v = self
                        .load_state()
                        .await?
                        .ok_or_else(|| Error::not_found("rollout", self.spec.group.to_string()))?;
                }
                Err(e) => return Err(e),
            }
        }
        Err(Error::Conflict(format!(
            "could not deliver {} to the rollout of {}: it kept changing",
            command_word(cmd),
            self.spec.group
        )))
    }

    /// Saves a change made by `f` to the current state, with compare-and-set. If someone else
    /// wrote in between, only a command they left is kept; anything else means we lost the lease.
    async fn save(&self, f: impl Fn(&mut RolloutState)) -> Result<()> {
        let mut guard = self.cur.lock().await;
        let Some(cur) = guard.as_mut() else {
            return Err(Error::Internal("no rollout state loaded".into()));
        };
        for _ in 0..10 {
            let mut next = cur.state.clone();
            f(&mut next);
            next.updated_ms = now_ms();
            if next.lease.is_some() {
                next.lease = Some(self.my_lease());
            }
            match self.save_state(&next, Some(cur.version)).await {
                Ok(version) => {
                    *cur = Versioned {
                        state: next,
                        version,
                    };
                    return Ok(());
                }
                Err(Error::Conflict(_)) => {
                    let fresh = self.load_state().await?.ok_or_else(|| {
                        Error::Conflict(format!("the state of {} was removed", self.spec.group))
                    })?;
                    self.check_owner(&fresh.state)?;
                    cur.state.command = fresh.state.command;
                    cur.version = fresh.version;
                }
                Err(e) => return Err(e),
            }
        }
        Err(Error::Conflict(format!(
            "the state of {} keeps changing under us",
            self.spec.group
        )))
    }

    fn check_owner(&self, state: &RolloutState) -> Result<()> {
        match &state.lease {
            Some(l) if l.owner != self.opts.owner => Err(Error::Conflict(format!(
                "the rollout of {} was taken over by {}",
                self.spec.group, l.owner
            ))),
            _ => Ok(()),
        }
    }

    /// Reads the store for a command left by another process.
    async fn poll_command(&self) -> Result<Option<Command>> {
        let fresh = self.load_state().await?;
        let mut guard = self.cur.lock().await;
        let (Some(fresh), Some(cur)) = (fresh, guard.as_mut()) else {
            return Ok(None);
        };
        if fresh.version != cur.version {
            self.check_owner(&fresh.state)?;
            cur.version = fresh.version;
            cur.state.command = fresh.state.command;
        }
        Ok(cur.state.command)
    }

    async fn state(&self) -> RolloutState {
        self.cur
            .lock()
            .await
            .as_ref()
            .map(|v| v.state.clone())
            .expect("state loaded")
    }

    async fn phase(&self) -> Phase {
        self.state().await.phase
    }

    // ----- driving -----

    async fn drive(&self) -> Result<Outcome> {
        loop {
            let state = self.state().await;
            match state.phase {
                Phase::Promoted => return Ok(Outcome::Promoted),
                Phase::RolledBack => {
                    return Ok(Outcome::RolledBack {
                        cause: state.cause.unwrap_or_else(|| "rolled back".into()),
                    })
                }
                Phase::Failed => {
                    return Err(Error::Internal(format!(
                        "rollout of {} failed: {}",
                        self.spec.group,
                        state.cause.unwrap_or_default()
                    )))
                }
                _ => self.advance().await?,
            }
        }
    }

    /// One transition from the current phase.
    async fn advance(&self) -> Result<()> {
        let state = self.state().await;
        let r = match state.phase {
            Phase::Pending => self.start().await,
            Phase::Progressing => self.progress(state.step).await,
            Phase::Paused => self.paused().await,
            Phase::Promoting => self.promote().await,
            Phase::RollingBack => self.rollback().await,
            Phase::Promoted | Phase::RolledBack | Phase::Failed => Ok(()),
        };
        match r {
            Ok(()) => Ok(()),
            // Losing the lease is not the rollout's failure: stop driving, change nothing.
            Err(Error::Conflict(m)) if m.contains("taken over") || m.contains("was removed") => {
                Err(Error::Conflict(m))
            }
            Err(e) => {
                let phase = self.phase().await;
                match phase {
                    Phase::RollingBack => {
                        let cause = format!("rollback failed: {e}");
                        self.save(|s| {
                            s.phase = Phase::Failed;
                            s.cause = Some(cause.clone());
                        })
                        .await?;
                        let st = self.state().await;
                        self.emit(EventKind::Failed, &st, cause, None);
                        Err(e)
                    }
                    Phase::Pending | Phase::Progressing | Phase::Paused | Phase::Promoting => {
                        self.begin_rollback(format!("error: {e}")).await
                    }
                    _ => Err(e),
                }
            }
        }
    }

    async fn start(&self) -> Result<()> {
        let st = self.state().await;
        for hook in &self.spec.hooks.pre_rollout {
            let (ok, msg) = self.call_hook(hook, HookPoint::PreRollout, &st).await;
            if !ok {
                return self
                    .begin_rollback(format!("pre-rollout hook {} failed: {msg}", hook.name))
                    .await;
            }
        }
        let converge = self.spec.timeouts.converge.get();
        let stable_labels = self.stable_labels().await?;
        let mut canaries = Vec::new();
        for (app, spec_app) in self.apps.iter().zip(&self.spec.apps) {
            let route = self.app_route(app, spec_app, &stable_labels);
            let add = self.deps.router.service_labels(&route, Track::Stable);
            if !add.is_empty() {
                let add: BTreeMap<String, Option<String>> =
                    add.into_iter().map(|(k, v)| (k, Some(v))).collect();
                self.call("label stable", || {
                    self.deps.orchestrator.update_labels(&app.stable, &add)
                })
                .await?;
            }
            let replicas = match self.spec.traffic.mode {
                TrafficMode::Weighted => spec_app.canary_replicas,
                TrafficMode::Replicas => 0,
            };
            let canary = CanaryService {
                from: app.stable.clone(),
                name: app.canary.clone(),
                image: spec_app.image.clone(),
                replicas,
                env: spec_app.canary_env.clone(),
                labels: self.deps.router.service_labels(&route, Track::Canary),
                init: spec_app.init,
            };
            self.call("create canary", || {
                self.deps.orchestrator.ensure_canary(&canary)
            })
            .await?;
            canaries.push(app.canary.clone());
        }
        if self.spec.traffic.mode == TrafficMode::Weighted {
            if let Err(e) = self.wait_all(&canaries, converge).await {
                return self
                    .begin_rollback(format!("canary did not start: {e}"))
                    .await;
            }
        }
        let config = self.route_config_with(Weight::ZERO, true, &stable_labels);
        self.call("route", || self.deps.router.apply(&config))
            .await?;
        self.save(|s| {
            s.phase = Phase::Progressing;
            s.step = 0;
            s.weight = 0;
        })
        .await?;
        let st = self.state().await;
        self.emit(
            EventKind::CanaryReady,
            &st,
            format!(
                "canary running: {}",
                canaries
                    .iter()
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None,
        );
        Ok(())
    }

    async fn progress(&self, step: usize) -> Result<()> {
        let weight = self.steps[step.min(self.steps.len() - 1)];
        let effective = self.set_weight(weight).await?;
        self.save(|s| s.weight = effective.get()).await?;
        let st = self.state().await;
        let note = if effective != weight {
            format!(" (replicas give {effective})")
        } else {
            String::new()
        };
        self.emit(
            EventKind::WeightSet,
            &st,
            format!(
                "step {} of {}: canary weight {weight}{note}",
                step + 1,
                self.steps.len()
            ),
            None,
        );
        if let Waited::Command(cmd) = self
            .wait(self.spec.traffic.interval.get(), "interval")
            .await?
        {
            return self.handle_command(cmd).await;
        }
        // Step hooks (load and acceptance tests): a "no" counts as a failed analysis.
        let st = self.state().await;
        let mut hook_failure = None;
        for hook in &self.spec.hooks.step {
            let (ok, msg) = self.call_hook(hook, HookPoint::Step, &st).await;
            if !ok {
                hook_failure = Some(format!("step hook {} failed: {msg}", hook.name));
                break;
            }
        }
        let report = match hook_failure {
            Some(reason) => AnalysisReport {
                verdict: Verdict::Fail,
                critical_failure: false,
                checks: Vec::new(),
                judges: Vec::new(),
                summary: reason,
            },
            None => {
                analysis::analyse(
                    &self.spec,
                    &self.apps,
                    self.deps.metrics.as_ref(),
                    self.spec.window(),
                    self.spec.timeouts.call.get(),
                )
                .await
            }
        };
        self.judge(step, report).await
    }

    async fn judge(&self, step: usize, report: AnalysisReport) -> Result<()> {
        let a = &self.spec.analysis;
        let summary = report.summary.clone();
        let verdict = report.verdict;
        let critical = report.critical_failure;
        self.save(|s| {
            s.last_analysis = Some(report.clone());
            match verdict {
                Verdict::Pass => s.inconclusive = 0,
                Verdict::Fail => s.failures += 1,
                Verdict::Inconclusive => s.inconclusive += 1,
            }
        })
        .await?;
        let st = self.state().await;
        let word = match verdict {
            Verdict::Pass => "passed",
            Verdict::Fail => "failed",
            Verdict::Inconclusive => "inconclusive",
        };
        self.emit(
            EventKind::Analysis,
            &st,
            format!(
                "analysis {word} at weight {}: {summary} (failures {}/{}, inconclusive {}/{})",
                st.weight, st.failures, a.failure_limit, st.inconclusive, a.inconclusive_limit
            ),
            Some(report),
        );
        match verdict {
            Verdict::Pass => {
                if step + 1 < self.steps.len() {
                    self.save(|s| s.step = step + 1).await
                } else {
                    for hook in &self.spec.hooks.confirm_promotion {
                        let (ok, msg) =
                            self.call_hook(hook, HookPoint::ConfirmPromotion, &st).await;
                        if !ok {
                            self.emit(
                                EventKind::Waiting,
                                &st,
                                format!(
                                    "waiting for promotion to be confirmed: hook {} said {msg}",
                                    hook.name
                                ),
                                None,
                            );
                            return Ok(());
                        }
                    }
                    self.begin_promotion("analysis passed at every step").await
                }
            }
            Verdict::Fail if critical || st.failures > a.failure_limit => {
                let why = if critical {
                    "a critical check failed"
                } else {
                    "failure limit reached"
                };
                self.begin_rollback(format!("{why}: {summary}")).await
            }
            Verdict::Inconclusive if st.inconclusive > a.inconclusive_limit => {
                match a.on_inconclusive {
                    InconclusiveAction::Rollback => {
                        self.begin_rollback(format!("inconclusive limit reached: {summary}"))
                            .await
                    }
                    InconclusiveAction::Pause => {
                        let cause = format!("paused: inconclusive limit reached: {summary}");
                        self.save(|s| {
                            s.phase = Phase::Paused;
                            s.cause = Some(cause.clone());
                        })
                        .await?;
                        let st = self.state().await;
                        self.emit(EventKind::Paused, &st, cause, None);
                        Ok(())
                    }
                }
            }
            _ => Ok(()),
        }
    }

    async fn paused(&self) -> Result<()> {
        loop {
            if let Waited::Command(cmd) = self.wait(Duration::from_secs(3600), "resume").await? {
                return self.handle_command(cmd).await;
            }
        }
    }

    async fn handle_command(&self, cmd: Command) -> Result<()> {
        self.save(|s| s.command = None).await?;
        let st = self.state().await;
        self.emit(
            EventKind::Command,
            &st,
            format!("received {}", command_word(cmd)),
            None,
        );
        match (cmd, st.phase) {
            (Command::Pause, Phase::Progressing) => {
                self.save(|s| {
                    s.phase = Phase::Paused;
                    s.cause = Some("paused by a person".into());
                })
                .await?;
                let st = self.state().await;
                self.emit(EventKind::Paused, &st, "paused by a person".into(), None);
                Ok(())
            }
            (Command::Resume, Phase::Paused) => {
                self.save(|s| {
                    s.phase = Phase::Progressing;
                    s.cause = None;
                    s.inconclusive = 0;
                })
                .await
            }
            (Command::Promote, Phase::Progressing | Phase::Paused) => {
                if st.step + 1 < self.steps.len() {
                    self.save(|s| {
                        s.phase = Phase::Progressing;
                        s.cause = None;
                        s.step += 1;
                    })
                    .await
                } else {
                    self.begin_promotion("promoted by a person").await
                }
            }
            (Command::PromoteFull, Phase::Progressing | Phase::Paused) => {
                self.begin_promotion("fully promoted by a person").await
            }
            (Command::Abort, _) => self.begin_rollback("aborted by a person".into()).await,
            // Pausing a paused rollout, resuming a running one: nothing to do.
            _ => Ok(()),
        }
    }

    /// Carries out a command with nobody driving the rollout.
    async fn apply_standalone(&self, cmd: Command) -> Result<()> {
        self.handle_command(cmd).await?;
        let phase = self.phase().await;
        match phase {
            // Promotion and rollback are finished here, so the command means what it says.
            Phase::Promoting | Phase::RollingBack => {
                self.driving.store(true, Ordering::SeqCst);
                let r = self.drive().await.map(|_| ());
                self.driving.store(false, Ordering::SeqCst);
                r
            }
            Phase::Progressing if cmd == Command::Promote => {
                // Put the next step's weight in force; the analysis is left to the next `run`.
                let step = self.state().await.step;
                let w = self.set_weight(self.steps[step]).await?;
                self.save(|s| s.weight = w.get()).await?;
                let st = self.state().await;
                self.emit(
                    EventKind::WeightSet,
                    &st,
                    format!("canary weight {w} set by a person"),
                    None,
                );
                Ok(())
            }
            _ => Ok(()),
        }
    }

    async fn begin_promotion(&self, why: &str) -> Result<()> {
        self.save(|s| {
            s.phase = Phase::Promoting;
            s.cause = None;
        })
        .await?;
        let st = self.state().await;
        self.emit(EventKind::Promoting, &st, format!("promoting: {why}"), None);
        Ok(())
    }

    async fn begin_rollback(&self, cause: String) -> Result<()> {
        self.save(|s| {
            s.phase = Phase::RollingBack;
            s.cause = Some(cause.clone());
        })
        .await?;
        let st = self.state().await;
        self.emit(
            EventKind::RollingBack,
            &st,
            format!("rolling back: {cause}"),
            None,
        );
        Ok(())
    }

    async fn promote(&self) -> Result<()> {
        let converge = self.spec.timeouts.converge.get();
        let stable_labels = self.stable_labels().await?;
        let st = self.state().await;
        // Remember stable's images once, so a failed promotion can put them back.
        if st.stable_images.is_empty() {
            let mut before = BTreeMap::new();
            for app in &self.apps {
                let s = self
                    .call("inspect stable", || {
                        self.deps.orchestrator.inspect(&app.stable)
                    })
                    .await?;
                before.insert(app.name.to_string(), s.image);
            }
            self.save(|s| s.stable_images = before.clone()).await?;
        }
        let mut pinned = BTreeMap::new();
        for (app, spec_app) in self.apps.iter().zip(&self.spec.apps) {
            let p = self
                .call("pin image", || {
                    self.deps.orchestrator.pin_image(&spec_app.image)
                })
                .await?;
            pinned.insert(app.name.to_string(), p);
        }
        self.save(|s| {
            s.promoted_images = pinned
                .iter()
                .map(|(k, v)| (k.clone(), v.to_string()))
                .collect()
        })
        .await?;
        if self.spec.promote.strategy == PromoteStrategy::ShiftThenUpdate {
            self.set_weight(Weight::FULL).await?;
            self.save(|s| s.weight = 100).await?;
        }
        for app in &self.apps {
            let image = &pinned[app.name.as_str()];
            self.call("update stable", || {
                self.deps.orchestrator.set_image(&app.stable, image)
            })
            .await?;
        }
        let stables: Vec<ServiceName> = self.apps.iter().map(|a| a.stable.clone()).collect();
        if self.spec.traffic.mode == TrafficMode::Replicas {
            let total = self.total_replicas().await?;
            for app in &self.apps {
                self.call("scale stable", || {
                    self.deps.orchestrator.scale(&app.stable, total)
                })
                .await?;
            }
        }
        if let Err(e) = self.wait_all(&stables, converge).await {
            return self
                .begin_rollback(format!("stable did not take the canary's version: {e}"))
                .await;
        }
        // All traffic to stable (now the new version), canary out of the routing, then down.
        let config = self.route_config_with(Weight::ZERO, false, &stable_labels);
        self.call("route", || self.deps.router.apply(&config))
            .await?;
        self.save(|s| s.weight = 0).await?;
        for app in &self.apps {
            self.scale_down_canary(&app.canary).await?;
        }
        let st = self.state().await;
        for hook in &self.spec.hooks.post_rollout {
            self.call_hook(hook, HookPoint::PostRollout, &st).await;
        }
        self.save(|s| s.phase = Phase::Promoted).await?;
        let st = self.state().await;
        let images: Vec<String> = st
            .promoted_images
            .iter()
            .map(|(a, i)| format!("{a}={i}"))
            .collect();
        self.emit(
            EventKind::Promoted,
            &st,
            format!("promoted: stable runs {}", images.join(", ")),
            None,
        );
        Ok(())
    }

    async fn rollback(&self) -> Result<()> {
        let st = self.state().await;
        for hook in &self.spec.hooks.rollback {
            self.call_hook(hook, HookPoint::Rollback, &st).await;
        }
        let stable_labels = self.stable_labels().await?;
        // First out of the routing: a weighted child that disappears fails every request.
        let config = self.route_config_with(Weight::ZERO, false, &stable_labels);
        self.call("route", || self.deps.router.apply(&config))
            .await?;
        self.save(|s| s.weight = 0).await?;
        let converge = self.spec.timeouts.converge.get();
        if self.spec.traffic.mode == TrafficMode::Replicas {
            let total = self.total_replicas().await?;
            for app in &self.apps {
                self.call("scale stable", || {
                    self.deps.orchestrator.scale(&app.stable, total)
                })
                .await?;
            }
        }
        // A promotion that failed half-way left stable on the new image: put the old one back.
        let mut restored = Vec::new();
        for app in &self.apps {
            if let Some(before) = st.stable_images.get(app.name.as_str()) {
                let now = self
                    .call("inspect stable", || {
                        self.deps.orchestrator.inspect(&app.stable)
                    })
                    .await?;
                if &now.image != before {
                    let image = ImageRef::parse(before)?;
                    self.call("restore stable", || {
                        self.deps.orchestrator.set_image(&app.stable, &image)
                    })
                    .await?;
                    restored.push(app.stable.clone());
                }
            }
        }
        if !restored.is_empty() {
            self.wait_all(&restored, converge).await?;
        }
        for app in &self.apps {
            self.scale_down_canary(&app.canary).await?;
        }
        self.save(|s| s.phase = Phase::RolledBack).await?;
        let st = self.state().await;
        let cause = st.cause.clone().unwrap_or_default();
        self.emit(
            EventKind::RolledBack,
            &st,
            format!("rolled back: {cause}"),
            None,
        );
        Ok(())
    }

    async fn scale_down_canary(&self, canary: &ServiceName) -> Result<()> {
        match self
            .call("scale canary", || self.deps.orchestrator.scale(canary, 0))
            .await
        {
            Ok(()) | Err(Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Puts `weight` in force; returns the weight really in force (replicas mode may round).
    async fn set_weight(&self, weight: Weight) -> Result<Weight> {
        let stable_labels = self.stable_labels().await?;
        let mut effective = weight;
        if self.spec.traffic.mode == TrafficMode::Replicas {
            let total = self.total_replicas().await?;
            let plan = ReplicaPlan::for_weight(weight, total)?;
            effective = plan.effective;
            let mut touched = Vec::new();
            // Grow before shrinking, so capacity never dips.
            for app in &self.apps {
                self.call("scale canary", || {
                    self.deps.orchestrator.scale(&app.canary, plan.canary)
                })
                .await?;
                touched.push(app.canary.clone());
            }
            for app in &self.apps {
                self.call("scale stable", || {
                    self.deps.orchestrator.scale(&app.stable, plan.stable)
                })
                .await?;
                touched.push(app.stable.clone());
            }
            self.wait_all(&touched, self.spec.timeouts.converge.get())
                .await?;
        }
        let config = self.route_config_with(weight, true, &stable_labels);
        self.call("route", || self.deps.router.apply(&config))
            .await?;
        Ok(effective)
    }

    async fn total_replicas(&self) -> Result<u64> {
        if let Some(t) = self.spec.traffic.total_replicas {
            return Ok(t);
        }
        Ok(self
            .spec
            .apps
            .first()
            .map(|a| a.stable_replicas)
            .unwrap_or(2)
            .max(2))
    }

    async fn stable_labels(&self) -> Result<BTreeMap<ServiceName, BTreeMap<String, String>>> {
        let mut out = BTreeMap::new();
        for app in &self.apps {
            let s = self
                .call("inspect stable", || {
                    self.deps.orchestrator.inspect(&app.stable)
                })
                .await?;
            out.insert(app.name.clone(), s.labels);
        }
        Ok(out)
    }

    fn app_route(
        &self,
        app: &AppRef,
        spec_app: &crate::spec::AppSpec,
        stable_labels: &BTreeMap<ServiceName, BTreeMap<String, String>>,
    ) -> AppRoute {
        AppRoute {
            app: app.clone(),
            rule: spec_app.rule.clone(),
            port: spec_app.port,
            entry_points: self.spec.traffic.entry_points.clone(),
            stable_labels: stable_labels.get(&app.name).cloned().unwrap_or_default(),
        }
    }

    fn route_config_with(
        &self,
        weight: Weight,
        canary_routed: bool,
        stable_labels: &BTreeMap<ServiceName, BTreeMap<String, String>>,
    ) -> RouteConfig {
        RouteConfig {
            group: self.spec.group.clone(),
            mode: self.spec.traffic.mode,
            apps: self
                .apps
                .iter()
                .zip(&self.spec.apps)
                .map(|(a, s)| self.app_route(a, s, stable_labels))
                .collect(),
            canary_weight: if canary_routed { weight } else { Weight::ZERO },
            canary_routed,
            header_route: if canary_routed {
                self.spec.traffic.header_route.clone()
            } else {
                None
            },
            sticky: self.spec.traffic.sticky,
            mirror: if canary_routed {
                self.spec.traffic.mirror
            } else {
                Weight::ZERO
            },
        }
    }

    async fn wait_all(&self, services: &[ServiceName], timeout: Duration) -> Result<()> {
        let results = join_all(services.iter().map(|s| {
            let bound = timeout + self.spec.timeouts.call.get();
            with_timeout(
                format!("converge {s}"),
                bound,
                self.deps.orchestrator.wait_converged(s, timeout),
            )
        }))
        .await;
        for r in results {
            r?;
        }
        Ok(())
    }

    /// Waits `dur`, looking for commands every `poll` and renewing the lease.
    async fn wait(&self, dur: Duration, what: &str) -> Result<Waited> {
        let deadline = tokio::time::Instant::now() + dur;
        let mut last_beat = tokio::time::Instant::now();
        let _ = what;
        loop {
            if let Some(cmd) = self.poll_command().await? {
                return Ok(Waited::Command(cmd));
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Ok(Waited::Elapsed);
            }
            if now.duration_since(last_beat) >= self.opts.lease / 3 {
                self.save(|_| {}).await?;
                last_beat = now;
            }
            let nap = self.opts.poll.min(deadline - now);
            tokio::select! {
                _ = tokio::time::sleep(nap) => {}
                _ = self.wake.notified() => {}
            }
        }
    }

    /// An external call with the spec's deadline, retried while the failure is retryable.
    async fn call<T, F, Fut>(&self, what: &str, f: F) -> Result<T>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let timeout = self.spec.timeouts.call.get();
        let mut attempt = 0;
        loop {
            match with_timeout(what, timeout, f()).await {
                Err(e) if e.is_retryable() && attempt < self.opts.retries => {
                    attempt += 1;
                    if let Some(st) = self.cur.lock().await.as_ref().map(|v| v.state.clone()) {
                        self.emit(
                            EventKind::Retry,
                            &st,
                            format!("{what}: {e} (retry {attempt})"),
                            None,
                        );
                    }
                    tokio::time::sleep(Duration::from_millis(200) * 2u32.pow(attempt)).await;
                }
                r => return r,
            }
        }
    }

    /// Calls a hook; unreachable or failing hooks are a "no", never a pass.
    async fn call_hook(
        &self,
        hook: &HookSpec,
        point: HookPoint,
        st: &RolloutState,
    ) -> (bool, String) {
        let ctx = HookContext {
            group: self.spec.group.to_string(),
            apps: self.apps.iter().map(|a| a.name.to_string()).collect(),
            point,
            step: matches!(st.phase, Phase::Progressing | Phase::Paused).then_some(st.step),
            weight: st.weight,
            phase: st.phase.to_string(),
            metadata: hook.metadata.clone(),
        };
        let (ok, msg) = match with_timeout(
            format!("hook {}", hook.name),
            hook.timeout.get(),
            self.deps.hooks.call(hook, &ctx),
        )
        .await
        {
            Ok(o) => (o.ok, o.message),
            Err(e) => (false, e.to_string()),
        };
        self.emit(
            EventKind::Hook,
            st,
            format!(
                "{:?} hook {}: {} {msg}",
                point,
                hook.name,
                if ok { "ok" } else { "refused" }
            ),
            None,
        );
        (ok, msg)
    }

    fn emit(
        &self,
        kind: EventKind,
        st: &RolloutState,
        message: String,
        analysis: Option<AnalysisReport>,
    ) {
        tracing::info!(group = %self.spec.group, ?kind, phase = %st.phase, weight = st.weight, "{message}");
        let _ = self.events.send(Event {
            at_ms: now_ms(),
            group: self.spec.group.to_string(),
            kind,
            phase: st.phase,
            step: st.step,
            steps: self.steps.len(),
            weight: st.weight,
            message,
            analysis,
        });
    }
}

fn command_word(cmd: Command) -> &'static str {
    match cmd {
        Command::Pause => "pause",
        Command::Resume => "resume",
        Command::Promote => "promote",
        Command::PromoteFull => "promote --full",
        Command::Abort => "abort",
    }
}

fn validate_command(cmd: Command, phase: Phase) -> Result<()> {
    let ok = match cmd {
        Command::Pause => matches!(phase, Phase::Progressing | Phase::Paused),
        Command::Resume => matches!(phase, Phase::Paused | Phase::Progressing),
        Command::Promote | Command::PromoteFull => {
            matches!(phase, Phase::Progressing | Phase::Paused)
        }
        Command::Abort => !phase.is_terminal(),
    };
    if ok {
        Ok(())
    } else {
        Err(Error::Conflict(format!(
            "cannot {} a rollout that is {phase}",
            command_word(cmd)
        )))
    }
}
