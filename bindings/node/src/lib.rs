//! # canary-node
//!
//! The Node.js face of **canary** (npm package `canary-sdk`), built with napi-rs. Like every
//! binding of this workspace it is thin: it converts arguments, calls `canary-core`,
//! `canary-swarm` and `canary-traefik`, and maps their errors. No rollout decision is made here.
//!
//! | module | what it owns |
//! |---|---|
//! | [`error`] | core errors → JavaScript `Error`s with the core's stable `code` |
//! | [`convert`] | JavaScript values ↔ Rust values (serde), bad input → `CANARY_INVALID_INPUT` |
//! | [`spec`] | `Spec` |
//! | [`swarm`] | `SwarmOrchestrator`, `SwarmStateStore`, `MemoryStateStore` |
//! | [`traefik`] | `TraefikRouter`, `PrometheusMetrics`, `TraefikScrapeMetrics`, `WebhookRunner` |
//! | [`js`] | a JavaScript object as the metrics source, a JavaScript function as the hook runner (thread-safe functions) |
//! | [`rollout`] | `Rollout`, its event listener and async iterator |
//! | [`testing`] | in-memory orchestrator and router for tests (`testing.*`), never for production |
//!
//! Every call that waits on the world returns a Promise and runs on napi's Tokio runtime, so a
//! rollout never blocks Node's event loop.

pub mod convert;
pub mod error;
pub mod js;
pub mod rollout;
pub mod spec;
pub mod swarm;
pub mod testing;
pub mod traefik;
