//! `testing.*`: an in-memory orchestrator and router, so a rollout runs end to end in a Node test
//! without Docker or Traefik (the metrics source and hooks are then plain JavaScript). For tests
//! only: thin wrappers over `canary_core::testing`, which keeps services and routes in this
//! process and never touches the world.
//!
//! Also `testing.benchStatus`, which times the Rust `Rollout::status` call a `status()` Promise
//! wraps, for `bench/status.mjs`.

use std::sync::Arc;
use std::time::Instant;

use canary_core::testing::{MemoryOrchestrator as CoreOrchestrator, MemoryRouter as CoreRouter};
use canary_core::{ImageRef, ServiceState};
use napi::bindgen_prelude::{PromiseRaw, Unknown};
use napi::Env;
use napi_derive::napi;

use crate::convert::{arg, Js};
use crate::error::{OrThrow, Settled};
use crate::swarm::{promise, service_name};

pub use canary_core::testing::PINNED;

/// An in-memory orchestrator (tests only): services are entries in a map, every task starts at
/// once unless told to fail.
#[napi(namespace = "testing")]
pub struct MemoryOrchestrator {
    pub(crate) inner: Arc<CoreOrchestrator>,
}

#[napi(namespace = "testing")]
impl MemoryOrchestrator {
    /// An orchestrator with no service.
    #[napi(constructor)]
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        MemoryOrchestrator {
            inner: Arc::default(),
        }
    }

    /// Adds (or replaces) a running service, e.g. the stable one of an app.
    #[napi(ts_args_type = "name: string, image: string, replicas: number")]
    pub fn add_service(
        &self,
        env: Env,
        name: Unknown<'_>,
        image: Unknown<'_>,
        replicas: Unknown<'_>,
    ) -> napi::Result<()> {
        let name: String = arg(&env, name, "name")?;
        let image: String = arg(&env, image, "image")?;
        let replicas: u64 = arg(&env, replicas, "replicas")?;
        let name = service_name(name).or_throw(&env)?;
        let image = ImageRef::parse(&image).or_throw(&env)?;
        self.inner.add_service(name, &image, replicas);
        Ok(())
    }

    /// Makes a service's tasks fail to start with `message` (a broken canary).
    #[napi(ts_args_type = "name: string, message: string")]
    pub fn fail_to_start(
        &self,
        env: Env,
        name: Unknown<'_>,
        message: Unknown<'_>,
    ) -> napi::Result<()> {
        let name: String = arg(&env, name, "name")?;
        let message: String = arg(&env, message, "message")?;
        let name = service_name(name).or_throw(&env)?;
        self.inner.fail_to_start(&name, message);
        Ok(())
    }

    /// A service's state, or `null`.
    #[napi(ts_args_type = "name: string", ts_return_type = "ServiceState | null")]
    pub fn service(&self, env: Env, name: Unknown<'_>) -> napi::Result<Js<Option<ServiceState>>> {
        let name: String = arg(&env, name, "name")?;
        Ok(Js(self.inner.service(&name)))
    }

    /// Every state-changing call so far, in order (`scale api-canary 0`, ...).
    #[napi]
    pub fn operations(&self) -> Vec<String> {
        self.inner.operations()
    }
}

/// An in-memory router (tests only): it records every routing it is asked to put in force.
#[napi(namespace = "testing")]
pub struct MemoryRouter {
    pub(crate) inner: Arc<CoreRouter>,
}

#[napi(namespace = "testing")]
impl MemoryRouter {
    /// A router with no route.
    #[napi(constructor)]
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        MemoryRouter {
            inner: Arc::default(),
        }
    }

    /// The canary weight of every routing put in force, in order (0 once the canary is out).
    #[napi]
    pub fn weights(&self) -> Vec<u32> {
        self.inner.weights().into_iter().map(u32::from).collect()
    }

    /// Whether the canary is in the last routing put in force.
    #[napi(getter)]
    pub fn canary_routed(&self) -> bool {
        self.inner.last().is_some_and(|c| c.canary_routed)
    }
}

/// Times `iterations` sequential calls of the Rust `Rollout::status` that `rollout.status()`
/// wraps, on the same runtime; resolves the mean nanoseconds per call.
#[napi(
    namespace = "testing",
    ts_args_type = "rollout: Rollout, iterations: number",
    ts_return_type = "Promise<number>"
)]
pub fn bench_status<'e>(
    env: &'e Env,
    rollout: Unknown<'_>,
    iterations: Unknown<'_>,
) -> napi::Result<PromiseRaw<'e, Settled<f64>>> {
    let r =
        crate::convert::class_arg::<crate::rollout::Rollout>(env, rollout, "rollout", "Rollout")?
            .core();
    let n: u32 = arg(env, iterations, "iterations")?;
    promise(env, async move {
        let n = n.max(1);
        let start = Instant::now();
        for _ in 0..n {
            std::hint::black_box(r.status().await?);
        }
        Ok(start.elapsed().as_nanos() as f64 / n as f64)
    })
}
