//! # canary-traefik
//!
//! The Traefik side of **canary**: where requests go, and how each version is doing.
//!
//! | item | implements | owns |
//! |---|---|---|
//! | [`TraefikRouter`] | [`canary_core::Router`] | one file-provider file per group (`canary-<group>.yml`) or the group's keys in etcd (`kv`), the Swarm labels stable needs, confirmation through every Traefik replica's API |
//! | [`PrometheusMetrics`] | [`canary_core::MetricsSource`] | PromQL on Traefik's service metrics over the Prometheus HTTP API |
//! | [`TraefikScrapeMetrics`] | [`canary_core::MetricsSource`] | the same metrics read straight from Traefik's `/metrics`, rates from counter deltas |
//! | [`TraefikAccessLog`] | [`canary_core::MetricsSource`] | Traefik's JSON access log: every request's duration and status, the raw samples the statistical judge compares (`access_log` says why not the histograms) |
//! | [`WebhookRunner`] | [`canary_core::HookRunner`] | HTTP webhooks |
//! | [`WebMetrics`] | [`canary_core::MetricsSource`] | `web` metrics (a number by JSONPath from an HTTP endpoint's JSON) over any other source |
//! | [`Notifier`] | | the spec's notifications: a rollout's events posted to Slack, Microsoft Teams, Discord or plain JSON webhooks in the background (`notify`, `notify::payload`) |
//!
//! The items above (with their builders, [`AppBackends`]/[`BackendNames`] for Traefik's names of
//! Swarm services, [`plan_replicas`], [`StaticConfig`] and [`parse_rfc3339_ns`]) are the whole
//! public API; every module is internal, so its pieces can change without breaking callers. Where
//! a change belongs: `provider` (Traefik version and provider suffixes) and `names` (object
//! names) are the leaves; `backend` (Traefik names of Swarm services, their labels), `rule` (every
//! reading and wrapping of a rule, priorities) build on them; `dynamic` (the file model and its
//! pure rendering) and `kv` (the same config as etcd keys, one transaction per write) build on
//! those; `router` writes and confirms through `api`; the metrics sources share `promql`,
//! `exposition` (the text format parser), `histogram` and `access_log`.
//!
//! ## How traffic is split
//!
//! **Weighted mode** (default). Per app, the group file holds the app's router (at a high explicit
//! priority, so it wins over stable's own label router) and a weighted service over two children:
//! stable's backend (`api@swarm`, the Traefik service the swarm provider makes of stable) and the
//! canary's *slot* `canary-<group>--<app>--canary`. The slot is a `failover` from
//! `canary-<group>--<app>--tasks` (a load balancer over the canary's running tasks, at their
//! addresses on Traefik's network, with a 250ms active health check and a 250ms dial timeout) to
//! stable. A `retry` middleware (4 attempts, network errors only) sits on the app router. The
//! header router (``X-Canary: true``) and the mirror (a percent of stable's traffic) go to the tasks
//! load balancer, and an optional sticky cookie keeps each client on one child. `dynamic` has the
//! exact shape.
//!
//! **Why.** A Traefik service of the swarm provider exists only while its Swarm service has a
//! running task, and Traefik disables every service naming a missing one, with its router: when a
//! canary named as `api-canary@swarm` lost its only task (crash, OOM kill, node loss), the whole
//! app answered 404, stable's share included (8–16 % of all requests lost per run of two kills on
//! the local stack, `docs/routing-design.md`). The file-provider objects above never vanish: the
//! engine hands the router the canary's task addresses ([`canary_core::AppRoute::canary_endpoints`])
//! and re-applies the route when they change. When a canary task dies:
//!
//! - a request picked for it fails to dial within 250ms and the retry sends it to the weighted
//!   service's next pick (stable, mostly);
//! - within `interval + timeout` (0.5s) the health check marks it `DOWN` and the failover sends the
//!   slot's whole share to stable;
//! - with no running task left the router writes the slot as stable alone (and the tasks service
//!   as a stand-in that answers 503 to the header route and the mirror).
//!
//! Measured (1,000 requests at 50 req/s, weight 20, the canary's only task killed twice): stable's
//! share lost 0 requests, and so did the canary's except a request already written to the dying
//! task (502, about one per kill with a slow canary). The canary's Swarm service carries
//! `traefik.enable=false`: nothing names it, and its restarts make the swarm provider reload
//! nothing (every reload resets Traefik's health checks). Taking the canary out of the weights
//! before scaling it down is still the order of a rollback, but no longer what keeps stable up.
//!
//! **Replicas mode** (the seed's way): the canary's labels make it join stable's Traefik service,
//! so requests follow task counts (`replicas` plans them); the file holds only the app router
//! and, while the canary runs, the header router to the tasks load balancer. Traefik's metrics are
//! per service, not per server, so in this mode stable's backend counts both versions' requests
//! and the canary's backend only the header route's: per-track analysis needs weighted mode, or
//! the apps' own metrics scraped per task ([`PrometheusMetricsBuilder::task_metrics`], the
//! spec's `analysis.taskMetrics`, which the core requires in this mode). The router is built for one mode
//! ([`TraefikRouterBuilder::mode`]), because [`canary_core::Router::service_labels`] does not see
//! the config.
//!
//! ## Backend names
//!
//! Stable's backend is the service its labels already declare (exactly one
//! `traefik.http.services.<X>.…` label set: `X@swarm`), otherwise its Swarm service name as Traefik
//! normalizes it (`shop_api` → `shop-api@swarm`), which the router then declares with labels of its
//! own ([`canary_core::Router::service_labels`]). The canary's backend is the tasks load balancer,
//! `canary-<group>--<app>--tasks@file`, in both modes. The metrics sources select
//! `service="<backend>"` exactly; give them the routes ([`PrometheusMetricsBuilder::route`]) or
//! explicit names.
//!
//! What the canary's series count: the requests the slot sent to the canary (and, in replicas mode
//! or with a header, the header route's), mirror copies, and every attempt that failed to reach a
//! canary task. A request whose dial to a dead canary timed out and that the retry then sent to
//! stable shows as a **504** in the canary's series (a refused connection as a 502), although the
//! client got stable's answer: a true signal that the canary was unreachable, which an error-rate
//! check sees. The failover's and the retries' answers from stable are counted under stable. The
//! canary's series disappear while it has no running task (the tasks service is then a stand-in
//! without metrics) and come back from zero with the next task.
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
//! stable service becomes a backend; [`TraefikRouter`] waits for that before it writes a file that
//! names it, so its confirm timeout (default 30s) must exceed `refreshSeconds` plus the throttle.
//! The canary's tasks need no such wait: the router writes their addresses itself.
//!
//! `bench/rollback/run.sh` measures rollback and promote under load this way and the seed's way
//! (scale the canary to 0 while it is still in the weights). `bench/blast-radius/run.sh` measures
//! what a dying canary costs in each routing shape.
//!
//! ## Features
//!
//! - `rustls`: `https://` URLs (Traefik API, Prometheus, `/metrics`, webhooks, notifications, web metrics) through rustls with
//!   the ring provider. Off by default.

mod access_log;
mod api;
mod backend;
mod dynamic;
mod egress;
mod exposition;
mod histogram;
mod http;
mod kv;
mod names;
mod notify;
mod probe;
mod prometheus;
mod promql;
mod provider;
mod replicas;
mod router;
mod rule;
mod scrape;
mod static_config;
#[cfg(test)]
mod testutil;
mod web;
mod webhook;

pub use access_log::{parse_rfc3339_ns, TraefikAccessLog, TraefikAccessLogBuilder};
pub use backend::{AppBackends, BackendNames};
pub use http::Auth;
pub use notify::{Notifier, NotifierTask};
pub use prometheus::{PrometheusMetrics, PrometheusMetricsBuilder};
pub use provider::{ProviderVersion, RouteProvider};
pub use replicas::plan_replicas;
pub use router::{TraefikRouter, TraefikRouterBuilder, MAX_APIS};
pub use scrape::{ScrapeTask, TraefikScrapeMetrics, TraefikScrapeMetricsBuilder};
pub use static_config::StaticConfig;
pub use web::{WebMetrics, MAX_ANSWER};
pub use webhook::{HookBody, WebhookRunner};
