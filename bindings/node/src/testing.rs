//! `testing.*` (cargo feature `testing`, never in the released module): canary-core's in-memory
//! orchestrator, router and state store as one `MemoryWorld`, so a whole rollout runs in a Node
//! test without Docker or Traefik (the metrics source and hooks are then plain JavaScript), and
//! `testing.benchStatus`, which times the Rust call a `status()` Promise wraps for
//! `bench/status.mjs`.

use std::sync::Arc;
use std::time::Instant;

use canary_core::memory::{MemoryOrchestrator, MemoryRouter};
use canary_core::{Deps, ImageRef, MemoryStateStore, ServiceName, ServiceState};
use canary_sdk::Settings;
use napi::bindgen_prelude::{PromiseRaw, Unknown};
use napi::Env;
use napi_derive::napi;
use serde_json::Value;

use crate::canary::Canary;
use crate::convert::{arg, Js};
use crate::error::{to_js, OrThrow, Settled};
use crate::js::extras;
use crate::spec::Spec;

/// Services, routes and saved states kept in this process. Every `Canary` connected to one
/// world shares them, like controllers sharing a swarm.
#[napi(namespace = "testing")]
pub struct MemoryWorld {
    orchestrator: Arc<MemoryOrchestrator>,
    router: Arc<MemoryRouter>,
    store: Arc<MemoryStateStore>,
}

#[napi(namespace = "testing")]
impl MemoryWorld {
    /// A world with no service.
    #[napi(constructor)]
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        MemoryWorld {
            orchestrator: Arc::default(),
            router: Arc::default(),
            store: Arc::new(MemoryStateStore::new()),
        }
    }

    /// Adds (or replaces) a running service, e.g. the stable one of an app.
    #[napi(ts_args_type = "name: string, image: string, replicas: number")]
    pub fn add_service(
        &self,
        env: Env,
        name: Option<Value>,
        image: Option<Value>,
        replicas: Option<Value>,
    ) -> napi::Result<()> {
        let name: ServiceName = arg(name, "name").or_throw(&env)?;
        let image: ImageRef = arg(image, "image").or_throw(&env)?;
        let replicas: u8 = arg(replicas, "replicas").or_throw(&env)?;
        self.orchestrator.add_service(name, &image, replicas.into());
        Ok(())
    }

    /// Makes a service's tasks fail to start with `message` (a broken canary).
    #[napi(ts_args_type = "name: string, message: string")]
    pub fn fail_to_start(
        &self,
        env: Env,
        name: Option<Value>,
        message: Option<Value>,
    ) -> napi::Result<()> {
        let name: ServiceName = arg(name, "name").or_throw(&env)?;
        let message: String = arg(message, "message").or_throw(&env)?;
        self.orchestrator.fail_to_start(&name, message);
        Ok(())
    }

    /// A service's state, or `null`.
    #[napi(ts_return_type = "ServiceState | null")]
    pub fn service(&self, name: String) -> Js<Option<ServiceState>> {
        Js(self.orchestrator.service(&name))
    }

    /// Every state-changing call to the orchestrator so far, in order (`scale api-canary 0`).
    #[napi]
    pub fn operations(&self) -> Vec<String> {
        self.orchestrator.operations()
    }

    /// The canary weight of every routing put in force, in order (0 once the canary is out).
    #[napi]
    pub fn weights(&self) -> Vec<u32> {
        self.router.weights().into_iter().map(u32::from).collect()
    }

    /// Whether the canary is in the last routing put in force.
    #[napi(getter)]
    pub fn canary_routed(&self) -> bool {
        self.router.last().is_some_and(|c| c.canary_routed)
    }

    /// A `Canary` of `spec` in this world, with a JavaScript metrics source and hook function
    /// (webhooks by default).
    #[napi(
        ts_args_type = "spec: Spec, options?: ConnectOptions | null",
        ts_return_type = "Promise<Canary>"
    )]
    pub fn connect<'e>(
        &self,
        env: &'e Env,
        spec: &Spec,
        options: Option<Unknown<'_>>,
    ) -> napi::Result<PromiseRaw<'e, Settled<Canary>>> {
        let x = extras(env, options)?;
        let hooks = match x.hooks {
            Some(h) => h,
            None => Arc::new(canary_traefik::WebhookRunner::new().or_throw(env)?),
        };
        let metrics = x.metrics.ok_or_else(|| {
            let why = "the in-memory world needs a metrics source written in JavaScript";
            to_js(env, &canary_core::Error::invalid("options.metrics", why))
        })?;
        let deps = Deps::new(
            self.orchestrator.clone(),
            self.router.clone(),
            metrics,
            self.store.clone(),
            hooks,
        );
        let spec = (*spec.inner).clone();
        env.spawn_future(async move {
            let sdk = canary_sdk::Canary::from_deps(spec, Settings::default(), deps).await;
            Ok(Settled(sdk.and_then(Canary::new)))
        })
    }
}

/// Times `iterations` sequential calls of the Rust `Rollout::status` that `canary.status()`
/// wraps, on napi's runtime; resolves the mean nanoseconds per call.
#[napi(namespace = "testing", ts_return_type = "Promise<number>")]
pub async fn bench_status(canary: &Canary, iterations: u32) -> napi::Result<Settled<f64>> {
    let (rollout, _) = canary.current();
    let n = iterations.clamp(1, 10_000_000);
    let start = Instant::now();
    for _ in 0..n {
        if let Err(e) = rollout.status().await {
            return Ok(Settled(Err(e)));
        }
    }
    Ok(Settled(Ok(start.elapsed().as_nanos() as f64 / n as f64)))
}
