//! # canary-core
//!
//! The model, the traits and the rollout engine of **canary**: canary deployments on Docker Swarm
//! with Traefik as the router and Prometheus as the metrics source.
//!
//! - [`spec`]: the canary spec (YAML/JSON), validated when loaded.
//! - [`model`]: validated values: [`ServiceName`], [`Weight`], [`ImageRef`], [`Track`], ...
//! - [`traits`]: [`Orchestrator`], [`Router`], [`MetricsSource`], [`StateStore`], [`HookRunner`].
//! - [`engine`]: the [`Rollout`] state machine.
//! - [`analysis`]: threshold, relative and statistical (Mann-Whitney U) checks.
//! - [`recording`]: a rollout's metrics recorded (every query, answer and event) and answered
//!   again, for replays on a paused clock.
//! - [`state`]: the saved rollout state.
//!
//! This crate imports no Docker client and no HTTP client: `canary-swarm` and `canary-traefik`
//! implement the traits.
//!
//! ## Features
//! - `mocks`: mockall mocks of every trait (`MockOrchestrator`, `MockRouter`, ...) for tests.

pub mod analysis;
pub mod compose;
pub mod engine;
pub mod error;
pub mod memory;
pub mod model;
pub mod ops;
pub mod recording;
pub mod routes;
pub mod source;
pub mod spec;
pub mod state;
pub mod traits;
pub mod yaml;
pub mod yaml_index;

pub use engine::{
    CommandOutcome, Deps, Event, EventKind, Outcome, Rollout, RolloutOptions, Status,
};
pub use error::{Error, Result};
pub use memory::MemoryStateStore;
pub use model::{
    AppRef, CookieName, CookieValue, HeaderName, HumanDuration, ImageRef, ReplicaPlan, RuleRegex,
    RuleValue, ServiceName, StepPlan, Track, TrafficSplit, Weight,
};
pub use source::SpecFile;
pub use spec::Spec;
pub use state::{Command, Gate, Phase, RolloutState};
pub use traits::{
    AppRoute, AppSplit, CanaryService, GroupRef, HookContext, HookOutcome, HookPoint, HookRunner,
    LogLine, LogOptions, MetricQuery, MetricsSource, Observation, Orchestrator, RouteConfig,
    Router, ServiceState, StateStore, Versioned,
};
#[cfg(feature = "mocks")]
pub use traits::{MockHookRunner, MockMetricsSource, MockOrchestrator, MockRouter, MockStateStore};
