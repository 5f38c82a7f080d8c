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
//!
//! | module | owns |
//! |---|---|
//! | `options` | [`RolloutOptions`]: who this controller is, how it waits and retries |
//! | `events` | [`Event`], [`Outcome`], [`Status`], [`CommandOutcome`] and emitting events |
//! | `lease` | who drives a rollout: acquiring, taking over and handing back the lease |
//! | `persist` | the saved state: loading, compare-and-set saves, commands from other processes |
//! | `drive` | the state machine: start, steps, analysis verdicts, pauses and commands |
//! | `gates` | gate steps (`pause`), confirm hooks and the canary's capacity following its weight |
//! | `finish` | promotion and rollback |
//! | `routing` | the route configs and weights put in force |
//! | `calls` | external calls with deadlines and retries, waits, hooks |
//! | `watch` | the canary's tasks and image tag, watched while a step waits |

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::{broadcast, Mutex, Notify};

use crate::error::{with_timeout, Error, Result};
use crate::model::{AppRef, Weight};
use crate::spec::{Spec, StepSpec};
use crate::state::{Command, Phase};
use crate::traits::{HookRunner, MetricsSource, Orchestrator, Router, StateStore, Versioned};

mod calls;
mod drive;
mod events;
mod finish;
mod gates;
mod handover;
mod lease;
mod options;
mod persist;
mod routing;
mod watch;

use drive::validate_command;
use events::command_word;

pub use crate::model::{Event, EventKind};
pub use events::{CommandOutcome, Outcome, Status};
pub use options::{default_owner, RolloutOptions};

/// The implementations the engine drives: [`Deps::new`] with one of each; a field may be
/// replaced afterwards (`deps.store = ...`).
///
/// ```
/// use std::sync::Arc;
///
/// use canary_core::memory::{MemoryOrchestrator, MemoryRouter};
/// use canary_core::{Deps, MemoryStateStore, MockHookRunner, MockMetricsSource};
///
/// let store = Arc::new(MemoryStateStore::new());
/// let mut deps = Deps::new(
///     Arc::new(MemoryOrchestrator::new()),
///     Arc::new(MemoryRouter::new()),
///     Arc::new(MockMetricsSource::new()),
///     store.clone(),
///     Arc::new(MockHookRunner::new()),
/// );
/// deps.store = Arc::new(MemoryStateStore::new());
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
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

impl Deps {
    /// The engine's dependencies.
    pub fn new(
        orchestrator: Arc<dyn Orchestrator>,
        router: Arc<dyn Router>,
        metrics: Arc<dyn MetricsSource>,
        store: Arc<dyn StateStore>,
        hooks: Arc<dyn HookRunner>,
    ) -> Self {
        Deps {
            orchestrator,
            router,
            metrics,
            store,
            hooks,
        }
    }
}

/// A canary rollout of one group.
#[derive(Debug)]
pub struct Rollout {
    spec: Arc<Spec>,
    deps: Deps,
    opts: RolloutOptions,
    apps: Vec<AppRef>,
    steps: Vec<Weight>,
    /// The steps with their gates.
    plan: Vec<StepSpec>,
    events: broadcast::Sender<Event>,
    cur: Mutex<Option<Versioned>>,
    /// Events emitted since the last save, added to the state's history by the next one.
    unsaved: std::sync::Mutex<Vec<Event>>,
    wake: Notify,
    driving: AtomicBool,
    /// The random epoch of this controller's current hold of the lease.
    epoch: AtomicU64,
    /// Set once this controller knows it no longer holds the lease: no more side effects.
    lost: AtomicBool,
    /// When a save last proved the lease was still this controller's.
    beat_ok: std::sync::Mutex<Option<tokio::time::Instant>>,
    /// The canary tasks in force per app (the router sends the canary's share to them).
    endpoints:
        std::sync::Mutex<BTreeMap<crate::model::ServiceName, Vec<crate::traits::TaskEndpoint>>>,
    /// When the canary's image tag was last resolved again, and which moves were reported.
    last_tag_check: std::sync::Mutex<Option<tokio::time::Instant>>,
    tags_reported: std::sync::Mutex<std::collections::BTreeSet<String>>,
    /// Since when the canary has had a share of the traffic (for continuous analysis windows).
    traffic_since: std::sync::Mutex<Option<tokio::time::Instant>>,
}

impl Rollout {
    /// A rollout of `spec` through `deps`; the options are checked first
    /// ([`RolloutOptions::validate`]).
    pub fn new(spec: Spec, deps: Deps, opts: RolloutOptions) -> Result<Self> {
        opts.validate()?;
        let apps = spec.app_refs();
        let plan = spec.plan();
        let steps = plan.iter().map(|s| s.weight).collect();
        let (events, _) = broadcast::channel(1024);
        Ok(Rollout {
            spec: Arc::new(spec),
            deps,
            opts,
            apps,
            steps,
            plan,
            events,
            cur: Mutex::new(None),
            unsaved: std::sync::Mutex::new(Vec::new()),
            wake: Notify::new(),
            driving: AtomicBool::new(false),
            epoch: AtomicU64::new(0),
            lost: AtomicBool::new(false),
            beat_ok: std::sync::Mutex::new(None),
            endpoints: std::sync::Mutex::new(BTreeMap::new()),
            last_tag_check: std::sync::Mutex::new(None),
            tags_reported: std::sync::Mutex::new(Default::default()),
            traffic_since: std::sync::Mutex::new(None),
        })
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
    /// `restart`). The lease is renewed beside the steps for as long as this runs; a lease lost
    /// to another controller stops it at once with [`Error::Conflict`], changing nothing more.
    pub async fn run(&self) -> Result<Outcome> {
        self.acquire().await?;
        self.driving.store(true, Ordering::SeqCst);
        let result = tokio::select! {
            r = self.drive() => r,
            lost = self.heartbeat() => Err(lost),
        };
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
        self.command_by(cmd, &self.opts.owner).await
    }

    /// [`Rollout::command`], saying who asked (`cli:host/pid`, `dashboard:127.0.0.1:5512`, ...):
    /// the rollout's command event names them.
    pub async fn command_by(&self, cmd: Command, by: &str) -> Result<CommandOutcome> {
        let loaded = self
            .load_state()
            .await?
            .ok_or_else(|| Error::not_found("rollout", self.spec.group.to_string()))?;
        // A rollout left failed (by an older controller) can still be rolled back.
        let re_drive = cmd == Command::Abort && loaded.state.phase == Phase::Failed;
        if loaded.state.phase.is_terminal() && !re_drive {
            return Err(Error::conflict(format!(
                "the rollout of {} already ended ({}); nothing to {}",
                self.spec.group,
                loaded.state.phase,
                command_word(cmd)
            )));
        }
        validate_command(cmd, loaded.state.phase)?;
        match loaded.state.lease.clone() {
            // This process drives it: hand it over and wake the driver.
            Some(l) if l.owner == self.opts.owner && self.driving.load(Ordering::SeqCst) => {
                self.deliver(cmd, by, loaded).await?;
                self.wake.notify_waiters();
                return Ok(CommandOutcome::Delivered { owner: l.owner });
            }
            // Another controller holds the lease: leave the command for it, then watch the
            // saved version. It moves when that controller is alive (a heartbeat, or the
            // command picked up); if it stays still for the lease's length, nobody drives the
            // rollout any more and the command is carried out here.
            Some(l) if l.owner != self.opts.owner => {
                let version = self.deliver(cmd, by, loaded).await?;
                let ttl = l
                    .ttl_ms
                    .map(std::time::Duration::from_millis)
                    .unwrap_or(self.opts.lease);
                let since = tokio::time::Instant::now();
                loop {
                    tokio::time::sleep(self.opts.poll.min(ttl / 4)).await;
                    let fresh = self
                        .load_state()
                        .await?
                        .ok_or_else(|| Error::not_found("rollout", self.spec.group.to_string()))?;
                    if fresh.version != version {
                        return Ok(CommandOutcome::Delivered { owner: l.owner });
                    }
                    if since.elapsed() >= ttl {
                        self.take(fresh, false).await?;
                        break;
                    }
                }
            }
            // Nobody drives it: take it and do it here.
            _ => self.take(loaded, false).await?,
        }
        let result = self.apply_standalone(cmd, by).await;
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
            .is_some_and(|l| self.looks_live(l));
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
            drift: Vec::new(),
            replica_plan: self.spec.replica_plan(),
        })
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
            .is_some_and(|v| self.holds(v.state.lease.as_ref()));
        if !holds || self.lost.load(Ordering::SeqCst) {
            return Ok(());
        }
        self.driving.store(false, Ordering::SeqCst);
        self.save(|s| s.lease = None).await
    }
}
