//! The Docker Swarm side: `SwarmOrchestrator` and `SwarmStateStore` over `canary-swarm`, and the
//! core's `MemoryStateStore`. Each class holds the Rust implementation the engine uses; its own
//! methods are the few a Node tool needs around a rollout (inspect, create and remove services,
//! read or clear a saved state).

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use canary_core::model::{EndpointMode, HostPort, NewService};
use canary_core::{ImageRef, Orchestrator, ServiceName, StateStore};
use canary_swarm::{ConnectOptions, RollingUpdate};
use napi::bindgen_prelude::{PromiseRaw, ToNapiValue, Unknown};
use napi::Env;
use napi_derive::napi;
use serde::Deserialize;

use crate::convert::{arg, class_arg, ms, opt_arg, Js};
use crate::error::Settled;
use crate::spec::Spec;

/// Runs `fut` on napi's Tokio runtime; the Promise resolves with its value or rejects with the
/// core's error (and `code`).
pub fn promise<'e, T, F>(env: &'e Env, fut: F) -> napi::Result<PromiseRaw<'e, Settled<T>>>
where
    T: ToNapiValue + Send + 'static,
    F: Future<Output = canary_core::Result<T>> + Send + 'static,
{
    env.spawn_future(async move { Ok(Settled(fut.await)) })
}

/// A Swarm service name, checked the way the core checks it.
pub(crate) fn service_name(name: String) -> canary_core::Result<ServiceName> {
    ServiceName::parse(&name)
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ConnectArgs {
    host: Option<String>,
    tls: Option<bool>,
    cert_path: Option<String>,
    timeout_ms: Option<u64>,
    poll_interval_ms: Option<u64>,
    settle_ms: Option<u64>,
    rolling_update: Option<RollingArg>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
enum RollingArg {
    StartFirst,
    Keep,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NewServiceArgs {
    name: String,
    image: String,
    #[serde(default = "one")]
    replicas: u64,
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    networks: Vec<String>,
    #[serde(default = "yes")]
    init: bool,
    #[serde(default)]
    ports: Vec<PortArg>,
    endpoint_mode: Option<EndpointArg>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PortArg {
    published: u16,
    target: u16,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
enum EndpointArg {
    Vip,
    Dnsrr,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct BuildArgs {
    context: String,
    dockerfile: Option<String>,
    tag: String,
    #[serde(default)]
    args: BTreeMap<String, String>,
}

/// A finished build.
#[derive(Debug, Default, serde::Serialize)]
pub struct BuiltImage {
    id: Option<String>,
    output: Vec<String>,
}

fn one() -> u64 {
    1
}
fn yes() -> bool {
    true
}

/// The orchestrator on a Docker Swarm manager, through the Engine API (`canary-swarm`).
#[napi]
pub struct SwarmOrchestrator {
    pub(crate) inner: canary_swarm::SwarmOrchestrator,
}

#[napi]
impl SwarmOrchestrator {
    /// Connects like the Docker CLI (`DOCKER_HOST`, `DOCKER_TLS_VERIFY`, `DOCKER_CERT_PATH`;
    /// else the local socket) unless `options.host` says otherwise, and negotiates the API version.
    #[napi(
        ts_args_type = "options?: SwarmConnectOptions",
        ts_return_type = "Promise<SwarmOrchestrator>"
    )]
    pub fn connect<'e>(
        env: &'e Env,
        options: Option<Unknown<'_>>,
    ) -> napi::Result<PromiseRaw<'e, Settled<SwarmOrchestrator>>> {
        let o: ConnectArgs = opt_arg(env, options, "options")?;
        let mut connect = ConnectOptions::from_env();
        if let Some(host) = o.host {
            connect = ConnectOptions {
                host,
                tls: false,
                cert_path: None,
                ..connect
            };
        }
        if let Some(tls) = o.tls {
            connect.tls = tls;
        }
        if let Some(p) = o.cert_path {
            connect.cert_path = Some(p.into());
        }
        if let Some(t) = o.timeout_ms {
            connect.timeout = ms(t);
        }
        promise(env, async move {
            let mut s = canary_swarm::SwarmOrchestrator::connect_with(&connect).await?;
            if let Some(p) = o.poll_interval_ms {
                s = s.with_poll_interval(ms(p));
            }
            if let Some(p) = o.settle_ms {
                s = s.with_settle(ms(p));
            }
            if let Some(r) = o.rolling_update {
                s = s.with_rolling_update(match r {
                    RollingArg::StartFirst => RollingUpdate::StartFirst,
                    RollingArg::Keep => RollingUpdate::Keep,
                });
            }
            Ok(SwarmOrchestrator { inner: s })
        })
    }

    /// The Docker API version in use, e.g. `1.41`.
    #[napi(getter)]
    pub fn api_version(&self) -> String {
        self.inner.api_version()
    }

    /// A state store on the same connection.
    #[napi]
    pub fn state_store(&self) -> SwarmStateStore {
        SwarmStateStore {
            inner: Arc::new(self.inner.state_store()),
        }
    }

    /// A service's state; rejects with `CANARY_NOT_FOUND` when it does not exist.
    #[napi(
        ts_args_type = "name: string",
        ts_return_type = "Promise<ServiceState>"
    )]
    pub fn inspect<'e>(
        &self,
        env: &'e Env,
        name: Unknown<'_>,
    ) -> napi::Result<PromiseRaw<'e, Settled<Js<canary_core::ServiceState>>>> {
        let name: String = arg(env, name, "name")?;
        let s = self.inner.clone();
        promise(env, async move {
            Ok(Js(s.inspect(&service_name(name)?).await?))
        })
    }

    /// Sets a service's desired replicas.
    #[napi(
        ts_args_type = "name: string, replicas: number",
        ts_return_type = "Promise<void>"
    )]
    pub fn scale<'e>(
        &self,
        env: &'e Env,
        name: Unknown<'_>,
        replicas: Unknown<'_>,
    ) -> napi::Result<PromiseRaw<'e, Settled<()>>> {
        let name: String = arg(env, name, "name")?;
        let replicas: u64 = arg(env, replicas, "replicas")?;
        let s = self.inner.clone();
        promise(
            env,
            async move { s.scale(&service_name(name)?, replicas).await },
        )
    }

    /// Waits until every desired task of a service runs its current spec; a failing task
    /// rejects with `CANARY_DEPLOYMENT_FAILED` and the task's own words.
    #[napi(
        ts_args_type = "name: string, timeoutMs: number",
        ts_return_type = "Promise<ServiceState>"
    )]
    pub fn wait_converged<'e>(
        &self,
        env: &'e Env,
        name: Unknown<'_>,
        timeout_ms: Unknown<'_>,
    ) -> napi::Result<PromiseRaw<'e, Settled<Js<canary_core::ServiceState>>>> {
        let name: String = arg(env, name, "name")?;
        let timeout: u64 = arg(env, timeout_ms, "timeoutMs")?;
        let s = self.inner.clone();
        promise(env, async move {
            Ok(Js(s
                .wait_converged(&service_name(name)?, ms(timeout))
                .await?))
        })
    }

    /// Creates a service from scratch (a stable service to canary, in tests and demos);
    /// `CANARY_CONFLICT` when the name is taken.
    #[napi(
        ts_args_type = "service: NewService",
        ts_return_type = "Promise<ServiceState>"
    )]
    pub fn create_service<'e>(
        &self,
        env: &'e Env,
        service: Unknown<'_>,
    ) -> napi::Result<PromiseRaw<'e, Settled<Js<canary_core::ServiceState>>>> {
        let a: NewServiceArgs = arg(env, service, "service")?;
        let s = self.inner.clone();
        promise(env, async move {
            let mut n = NewService::new(
                service_name(a.name)?,
                ImageRef::parse(&a.image)?,
                a.replicas,
            );
            n.env = a.env;
            n.labels = a.labels;
            n.networks = a.networks;
            n.init = a.init;
            n.ports = a
                .ports
                .into_iter()
                .map(|p| HostPort {
                    published: p.published,
                    target: p.target,
                })
                .collect();
            n.endpoint_mode = a.endpoint_mode.map(|m| match m {
                EndpointArg::Vip => EndpointMode::Vip,
                EndpointArg::Dnsrr => EndpointMode::Dnsrr,
            });
            Ok(Js(s.create_service(&n).await?))
        })
    }

    /// Builds an image from a context directory on this machine (the context is sent whole;
    /// `.dockerignore` is not read); resolves the image ID and the build output. A failed build
    /// rejects with the daemon's words.
    #[napi(
        ts_args_type = "build: ImageBuild",
        ts_return_type = "Promise<BuiltImage>"
    )]
    pub fn build_image<'e>(
        &self,
        env: &'e Env,
        build: Unknown<'_>,
    ) -> napi::Result<PromiseRaw<'e, Settled<Js<BuiltImage>>>> {
        use canary_core::traits::{BuildEvent, BuildRequest};
        use futures::StreamExt;
        let b: BuildArgs = arg(env, build, "build")?;
        let s = self.inner.clone();
        promise(env, async move {
            let request = BuildRequest {
                context: b.context.into(),
                dockerfile: b.dockerfile.unwrap_or_else(|| "Dockerfile".into()),
                tag: ImageRef::parse(&b.tag)?,
                args: b.args,
            };
            let mut stream = s.build_image(&request).await?;
            let mut built = BuiltImage::default();
            while let Some(ev) = stream.next().await {
                match ev? {
                    BuildEvent::Output(line) => built.output.push(line),
                    BuildEvent::Built(id) => built.id = Some(id),
                }
            }
            Ok(Js(built))
        })
    }

    /// Gives an existing image another tag.
    #[napi(
        ts_args_type = "source: string, target: string",
        ts_return_type = "Promise<void>"
    )]
    pub fn tag_image<'e>(
        &self,
        env: &'e Env,
        source: Unknown<'_>,
        target: Unknown<'_>,
    ) -> napi::Result<PromiseRaw<'e, Settled<()>>> {
        let source: String = arg(env, source, "source")?;
        let target: String = arg(env, target, "target")?;
        let s = self.inner.clone();
        promise(env, async move {
            s.tag_image(&ImageRef::parse(&source)?, &ImageRef::parse(&target)?)
                .await
        })
    }

    /// Removes a service; resolves `false` when there was none.
    #[napi(ts_args_type = "name: string", ts_return_type = "Promise<boolean>")]
    pub fn remove_service<'e>(
        &self,
        env: &'e Env,
        name: Unknown<'_>,
    ) -> napi::Result<PromiseRaw<'e, Settled<bool>>> {
        let name: String = arg(env, name, "name")?;
        let s = self.inner.clone();
        promise(
            env,
            async move { s.remove_service(&service_name(name)?).await },
        )
    }

    /// Services carrying the label `key=value`, by name.
    #[napi(
        ts_args_type = "key: string, value: string",
        ts_return_type = "Promise<ServiceState[]>"
    )]
    pub fn services_with_label<'e>(
        &self,
        env: &'e Env,
        key: Unknown<'_>,
        value: Unknown<'_>,
    ) -> napi::Result<PromiseRaw<'e, Settled<Js<Vec<canary_core::ServiceState>>>>> {
        let key: String = arg(env, key, "key")?;
        let value: String = arg(env, value, "value")?;
        let s = self.inner.clone();
        promise(env, async move {
            Ok(Js(s.services_with_label(&key, &value).await?))
        })
    }

    /// The services `docker stack deploy` made for `stack`.
    #[napi(
        ts_args_type = "stack: string",
        ts_return_type = "Promise<ServiceState[]>"
    )]
    pub fn stack_services<'e>(
        &self,
        env: &'e Env,
        stack: Unknown<'_>,
    ) -> napi::Result<PromiseRaw<'e, Settled<Js<Vec<canary_core::ServiceState>>>>> {
        let stack: String = arg(env, stack, "stack")?;
        let s = self.inner.clone();
        promise(env, async move {
            Ok(Js(s.stack_services(&service_name(stack)?).await?))
        })
    }
}

/// Loads the saved state of `spec`'s group from `store`.
fn load_state<'e>(
    env: &'e Env,
    store: Arc<dyn StateStore>,
    spec: &Spec,
) -> napi::Result<PromiseRaw<'e, Settled<Js<Option<canary_core::Versioned>>>>> {
    let spec = spec.core();
    promise(env, async move {
        Ok(Js(store.load(&spec.group, &spec.app_refs()).await?))
    })
}

/// Forgets the saved state of `spec`'s group in `store`.
fn clear_state<'e>(
    env: &'e Env,
    store: Arc<dyn StateStore>,
    spec: &Spec,
) -> napi::Result<PromiseRaw<'e, Settled<()>>> {
    let spec = spec.core();
    promise(env, async move {
        store.clear(&spec.group, &spec.app_refs()).await
    })
}

/// Rollout states kept in labels of the group's first stable service, where any controller
/// (this process, another one, the CLI) finds them.
#[napi]
pub struct SwarmStateStore {
    pub(crate) inner: Arc<canary_swarm::SwarmStateStore>,
}

#[napi]
impl SwarmStateStore {
    /// A store writing through `orchestrator`'s connection.
    #[napi(constructor, ts_args_type = "orchestrator: SwarmOrchestrator")]
    pub fn new(env: Env, orchestrator: Unknown<'_>) -> napi::Result<Self> {
        let o = class_arg::<SwarmOrchestrator>(
            &env,
            orchestrator,
            "orchestrator",
            "SwarmOrchestrator",
        )?;
        Ok(SwarmStateStore {
            inner: Arc::new(canary_swarm::SwarmStateStore::new(o.inner.clone())),
        })
    }

    /// The saved state of the spec's group, or `null`.
    #[napi(
        ts_args_type = "spec: Spec",
        ts_return_type = "Promise<VersionedState | null>"
    )]
    pub fn load<'e>(
        &self,
        env: &'e Env,
        spec: Unknown<'_>,
    ) -> napi::Result<PromiseRaw<'e, Settled<Js<Option<canary_core::Versioned>>>>> {
        let spec = class_arg::<Spec>(env, spec, "spec", "Spec")?;
        load_state(env, self.inner.clone(), &spec)
    }

    /// Forgets the saved state of the spec's group.
    #[napi(ts_args_type = "spec: Spec", ts_return_type = "Promise<void>")]
    pub fn clear<'e>(
        &self,
        env: &'e Env,
        spec: Unknown<'_>,
    ) -> napi::Result<PromiseRaw<'e, Settled<()>>> {
        let spec = class_arg::<Spec>(env, spec, "spec", "Spec")?;
        clear_state(env, self.inner.clone(), &spec)
    }
}

/// Rollout states kept in this process only (tests, runs that need no crash recovery), with the
/// same compare-and-set rules as the Swarm store.
#[napi]
pub struct MemoryStateStore {
    pub(crate) inner: Arc<canary_core::MemoryStateStore>,
}

#[napi]
impl MemoryStateStore {
    /// An empty store.
    #[napi(constructor)]
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        MemoryStateStore {
            inner: Arc::new(canary_core::MemoryStateStore::new()),
        }
    }

    /// The saved state of the spec's group, or `null`.
    #[napi(
        ts_args_type = "spec: Spec",
        ts_return_type = "Promise<VersionedState | null>"
    )]
    pub fn load<'e>(
        &self,
        env: &'e Env,
        spec: Unknown<'_>,
    ) -> napi::Result<PromiseRaw<'e, Settled<Js<Option<canary_core::Versioned>>>>> {
        let spec = class_arg::<Spec>(env, spec, "spec", "Spec")?;
        load_state(env, self.inner.clone(), &spec)
    }

    /// Forgets the saved state of the spec's group.
    #[napi(ts_args_type = "spec: Spec", ts_return_type = "Promise<void>")]
    pub fn clear<'e>(
        &self,
        env: &'e Env,
        spec: Unknown<'_>,
    ) -> napi::Result<PromiseRaw<'e, Settled<()>>> {
        let spec = class_arg::<Spec>(env, spec, "spec", "Spec")?;
        clear_state(env, self.inner.clone(), &spec)
    }
}
