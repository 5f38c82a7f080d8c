//! # canary-swarm
//!
//! The Docker Swarm side of **canary**: [`SwarmOrchestrator`] implements
//! [`canary_core::Orchestrator`] and [`SwarmStateStore`] implements [`canary_core::StateStore`],
//! both through the Docker Engine API (bollard). Nothing here shells out to `docker`.
//!
//! ## What this crate owns
//!
//! - **The canary service**: created from the stable service's spec (networks, env, mounts,
//!   placement, resources, health check, endpoint mode; not its published ports, not its
//!   `traefik.*` / `io.canary.*` labels, not its network aliases), with the canary's image,
//!   replicas, extra env and labels, `init` on by default, and `io.canary.managed=true`.
//! - **A few fields of the stable service**: its image (promotion), its replicas (replicas
//!   mode), the labels the router asks for, and the `io.canary.state*` labels of the state store.
//!   Every other field stays as the user, their stack file or another tool left it.
//! - **Pushing** ([`canary_core::Orchestrator::push_image`]): to the image's registry, with the
//!   credentials of the Docker CLI's `config.json` (`auths`; credential helpers are not run),
//!   never logged; the result is pinned by the registry digest every node resolves.
//! - **Waiting**: "converged" means every desired task of the current spec runs (and is healthy,
//!   with a health check); a failed task ends the wait at once with the task's own message.
//!
//! ## Safe with other writers
//!
//! Every update sends the spec version it read. When another writer got there first, Swarm
//! answers "update out of sequence"; the call reads again, applies only its own change to the
//! fresh spec and retries with backoff ([`RetryPolicy`]), so a concurrent
//! `docker service update --env-add` survives. After the bound it gives up with
//! [`canary_core::Error::Conflict`].
//!
//! Specs are read and written as the daemon's own JSON, never through bollard's typed model: a
//! typed round trip drops fields the model lacks or spells differently (Docker 20.10 sends the
//! health check as `Healthcheck`, the model expects `HealthCheck`), and the update would then
//! erase them from the service.
//!
//! ## Connecting
//!
//! ```no_run
//! # async fn run() -> canary_core::Result<()> {
//! use canary_core::{Orchestrator, ServiceName};
//! use canary_swarm::SwarmOrchestrator;
//!
//! // DOCKER_HOST / DOCKER_TLS_VERIFY / DOCKER_CERT_PATH as for the Docker CLI,
//! // else unix:///var/run/docker.sock; the API version is negotiated (Docker 20.10 = API 1.41).
//! let swarm = SwarmOrchestrator::connect().await?;
//! let api = swarm.inspect(&ServiceName::parse("shop_api")?).await?;
//! println!("{} runs {} ({}/{} tasks)", api.name, api.image, api.running, api.desired);
//! let store = swarm.state_store();
//! # let _ = store;
//! # Ok(())
//! # }
//! ```
//!
//! Stacks: [`SwarmOrchestrator::stack_services`] lists the services `docker stack deploy` made
//! (label `com.docker.stack.namespace`, names `<stack>_<service>`); adopting them only reads.
//!
//! ## Limits
//!
//! - `docker stack deploy` rewrites a stack service's labels, so redeploying the stack during a
//!   rollout erases the rollout state [`SwarmStateStore`] keeps there.
//! - Service logs name no task ([`canary_core::LogLine::task`] is `None`).
//! - Builds send the whole context directory; `.dockerignore` is not read.
//! - Docker contexts (`docker context use`) and `ssh://` hosts are not read; set `DOCKER_HOST`.
//!
//! ## Features
//!
//! - `tls` (default): `tcp://` hosts with `DOCKER_TLS_VERIFY`, through rustls and ring. Without
//!   it, builds are smaller and a TLS `DOCKER_HOST` is refused with a clear error.

mod build;
mod connect;
mod create;
mod endpoints;
mod error;
mod logs;
mod network;
mod orchestrator;
mod progress;
mod push;
mod raw;
mod retry;
mod spec;
mod store;

pub use connect::{ConnectOptions, DEFAULT_DOCKER_HOST};
pub use network::CREATED_BY_LABEL;
#[doc(hidden)]
pub use orchestrator::UpdateHook;
pub use orchestrator::{RollingUpdate, SwarmOrchestrator};
pub use push::{auth_for, docker_config_auth, RegistryAuth};
pub use retry::RetryPolicy;
pub use spec::{MANAGED_LABEL, STACK_NAMESPACE_LABEL};
pub use store::{SwarmStateStore, STATE_GROUP_LABEL, STATE_LABEL};
