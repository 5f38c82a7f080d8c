//! # canary-traefik
//!
//! The Traefik side of **canary**: where requests go, and how each version is doing.
//!
//! | item | implements | owns |
//! |---|---|---|
//! | [`TraefikRouter`] | [`canary_core::Router`] | one file-provider file per group (`canary-<group>.yml`), the Swarm labels the backends need, confirmation through Traefik's API |
//! | [`PrometheusMetrics`] | [`canary_core::MetricsSource`] | PromQL on Traefik's service metrics over the Prometheus HTTP API |
//! | [`TraefikScrapeMetrics`] | [`canary_core::MetricsSource`] | the same metrics read straight from Traefik's `/metrics`, rates from counter deltas |
//! | [`WebhookRunner`] | [`canary_core::HookRunner`] | HTTP webhooks |
//! | [`Notifier`] | | the spec's notifications: a rollout's events posted to Slack, Microsoft Teams, Discord or plain JSON webhooks in the background ([`notify`], [`notify::payload`]) |
//!
//! Supporting modules are public for callers who need the pieces: [`dynamic`] (the file model and
//! its pure rendering), [`backend`] (Traefik names of Swarm services), [`api`] (Traefik API
//! answers), [`promql`], [`exposition`] (the text format parser), [`histogram`]
//! (`histogram_quantile`), [`replicas`] (replicas-mode planning).
//!
//! ## How traffic is split
//!
//! **Weighted mode** (default): Traefik's swarm provider gives each Swarm service a Traefik service
//! (`api@swarm`, `api-canary@swarm`); labels cannot declare weighted services, so the group file
//! declares, per app, a weighted service over the two, the app's router at a high explicit priority
//! (so it wins over stable's own label router), a header router (``X-Canary: true``) straight to the
//! canary, and optionally a sticky cookie and a mirror of stable's traffic. A weighted service whose
//! child disappears is disabled as a whole (every request 404s), so the canary always leaves the
//! weights (`canary_routed: false`) before its Swarm service scales to 0, and the router never
//! writes a file naming a backend Traefik does not know yet.
//!
//! **Replicas mode** (the seed's way): the canary's labels make it join stable's Traefik service,
//! so requests follow task counts ([`replicas`] plans them); the file holds only the app router and
//! the header router (to the canary's own second service). Traefik's metrics are per service, not
//! per server, so in this mode stable's backend counts both versions' requests and the canary's own
//! backend only the header route's: per-track analysis needs weighted mode or custom PromQL on the
//! app's own metrics. The router is built for one mode ([`TraefikRouterBuilder::mode`]), because
//! [`canary_core::Router::service_labels`] does not see the config.
//!
//! ## Backend names
//!
//! Stable's backend is the service its labels already declare (exactly one
//! `traefik.http.services.<X>.…` label set: `X@swarm`), otherwise its Swarm service name as Traefik
//! normalizes it (`shop_api` → `shop-api@swarm`), which the router then declares with labels of its
//! own ([`canary_core::Router::service_labels`]). The canary's backend is always its own name. The
//! metrics sources select `service="<backend>"` exactly; give them the routes
//! ([`PrometheusMetricsBuilder::route`]) or explicit names when stable's backend is not its Swarm
//! name.
//!
//! ## Confirmation and `providersThrottleDuration`
//!
//! Every write is confirmed through Traefik's API: the router polls until Traefik shows exactly
//! the written weights, rules and targets, `enabled` (a config Traefik refused comes back as
//! [`canary_core::Error::Rejected`] with Traefik's words). How fast that happens is bounded by
//! Traefik's static `providersThrottleDuration` (default 2s): Traefik applies at most one new
//! configuration per provider per that duration. Lower (the local stack uses 500ms) means faster
//! weight changes and rollbacks (the canary leaves the weights sooner, so it can be scaled down
//! sooner); higher protects a Traefik that sees many provider events (large swarms, busy file
//! directories) from rebuilding its routing table too often, at the cost of every step and every
//! rollback waiting up to that long. On the local stack (500ms) a write is confirmed in about
//! 0.6s. The swarm provider's own polling (`refreshSeconds`, default 15s) bounds how soon a new
//! canary's tasks become a backend; [`TraefikRouter`] waits for that before it writes a file that
//! names them, so its confirm timeout (default 30s) must exceed `refreshSeconds` plus the throttle.
//!
//! `bench/rollback/run.sh` measures rollback and promote under load this way and the seed's way
//! (scale the canary to 0 while it is still in the weights): 0 failed requests and the last canary
//! response 0.75s after the decision, against 72% of requests failing (404) the seed's way.
//!
//! ## Features
//!
//! - `rustls`: `https://` URLs (Traefik API, Prometheus, `/metrics`, webhooks, notifications) through rustls with
//!   the ring provider. Off by default.

pub mod api;
pub mod backend;
pub mod dynamic;
mod egress;
pub mod exposition;
pub mod histogram;
mod http;
pub mod notify;
mod probe;
pub mod prometheus;
pub mod promql;
pub mod replicas;
mod router;
pub mod rule;
pub mod scrape;
mod static_config;
#[cfg(test)]
mod testutil;
mod webhook;

pub use backend::{AppBackends, BackendNames, ProviderVersion};
pub use http::Auth;
pub use notify::{Notifier, NotifierTask};
pub use prometheus::{PrometheusMetrics, PrometheusMetricsBuilder};
pub use replicas::plan_replicas;
pub use router::{TraefikRouter, TraefikRouterBuilder};
pub use scrape::{ScrapeTask, TraefikScrapeMetrics, TraefikScrapeMetricsBuilder};
pub use static_config::StaticConfig;
pub use webhook::{HookBody, WebhookRunner};
