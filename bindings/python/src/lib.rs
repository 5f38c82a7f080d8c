//! # canary-python
//!
//! The native module `canary_sdk._native` of the Python package `canary-sdk`: the canary engine
//! (canary-core) with the Swarm (canary-swarm) and Traefik (canary-traefik) implementations, for
//! Python scripts and asyncio code.
//!
//! This crate only converts: Python arguments into core values, core results and errors into
//! Python objects and exceptions, Python objects into implementations of the core's traits. Every
//! canary decision is the core's.
//!
//! | module | owns |
//! |---|---|
//! | `runtime` | blocking (GIL released, Ctrl-C) and asyncio flavours of every call |
//! | `error` | core errors → `CanaryError` subclasses, Python exceptions → core errors |
//! | `convert` | durations, JSON-shaped data |
//! | `types` | the core's plain data as read-only Python objects |
//! | `spec` | `Spec` |
//! | `swarm` | `SwarmOrchestrator`, `SwarmStateStore`, `MemoryStateStore` |
//! | `traefik` | `TraefikRouter`, `PrometheusMetrics`, `TraefikScrapeMetrics`, `WebhookRunner` |
//! | `foreign` | Python metrics sources and hooks behind the core's traits |
//! | `rollout` | `Rollout` and its events |
//! | `testing` | TEST-ONLY in-memory orchestrator and router |

use pyo3::prelude::*;

mod convert;
mod error;
mod foreign;
mod rollout;
mod runtime;
mod spec;
mod swarm;
mod testing;
mod traefik;
mod types;

/// The native module; the package `canary_sdk` re-exports what users need.
#[pymodule]
#[pyo3(name = "_native")]
fn native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<spec::PySpec>()?;
    m.add_class::<types::PyAppRef>()?;
    m.add_class::<types::PyMetricQuery>()?;
    m.add_class::<types::PyHook>()?;
    m.add_class::<types::PyHookContext>()?;
    m.add_class::<types::PyHookOutcome>()?;
    m.add_class::<types::PyServiceState>()?;
    m.add_class::<types::PyAppSplit>()?;
    m.add_class::<types::PyStatus>()?;
    m.add_class::<types::PyEvent>()?;
    m.add_class::<types::PyOutcome>()?;
    m.add_class::<types::PyCommandOutcome>()?;
    m.add_class::<swarm::PySwarmOrchestrator>()?;
    m.add_class::<swarm::PySwarmStateStore>()?;
    m.add_class::<swarm::PyMemoryStateStore>()?;
    m.add_class::<traefik::PyTraefikRouter>()?;
    m.add_class::<traefik::PyPrometheusMetrics>()?;
    m.add_class::<traefik::PyTraefikScrapeMetrics>()?;
    m.add_class::<traefik::PyScrapeTask>()?;
    m.add_class::<traefik::PyWebhookRunner>()?;
    m.add_class::<rollout::PyRollout>()?;
    m.add_class::<rollout::PyEventStream>()?;
    m.add_class::<testing::FakeOrchestrator>()?;
    m.add_class::<testing::FakeRouter>()?;
    m.add_function(wrap_pyfunction!(testing::raise_core_error, m)?)?;
    m.add_function(wrap_pyfunction!(testing::bench_status_rust, m)?)?;
    Ok(())
}
