//! The seams between the engine and the world: [`Orchestrator`] (Swarm), [`Router`] (Traefik),
//! [`MetricsSource`] (Prometheus or Traefik's `/metrics`), [`StateStore`] (labels on the services),
//! plus [`HookRunner`] (HTTP webhooks). Each trait lives beside the plain data it takes and gives.
//!
//! Inputs and outputs are plain data so the bindings can implement a trait with a Python or
//! JavaScript object.

mod hooks;
mod metrics;
mod orchestrator;
mod router;
mod store;

pub use crate::model::{BuildEvent, BuildRequest};
pub use hooks::{HookContext, HookOutcome, HookPoint, HookRunner};
pub use metrics::{MetricQuery, MetricsSource, Observation};
pub use orchestrator::{
    CanaryService, LogLine, LogOptions, Orchestrator, ServiceState, TaskEndpoint,
};
pub use router::{AppRoute, AppSplit, ProbeAnswer, RouteConfig, Router};
pub use store::{GroupRef, StateStore, Versioned};

#[cfg(feature = "mocks")]
pub use hooks::MockHookRunner;
#[cfg(feature = "mocks")]
pub use metrics::MockMetricsSource;
#[cfg(feature = "mocks")]
pub use orchestrator::MockOrchestrator;
#[cfg(feature = "mocks")]
pub use router::MockRouter;
#[cfg(feature = "mocks")]
pub use store::MockStateStore;

/// (De)serializes a `Duration` as milliseconds.
pub mod duration_ms {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    /// Serializes as integer milliseconds.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }
    /// Deserializes from integer milliseconds.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}
