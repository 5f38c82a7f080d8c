//! The file-provider configuration of one canary group: its model (the subset of Traefik's dynamic
//! configuration the router writes, [`model`]), the names of its objects ([`objects`]) and the pure
//! function that renders a [`canary_core::RouteConfig`] into it ([`render()`]).
//!
//! Per app `<base>` = `canary-<group>--<app>`, in weighted mode while the canary is routed
//! (`docs/routing-design.md` has the measurements behind every choice):
//!
//! - router `<base>`: the app's rule and entry points at an explicit priority above any label
//!   router (whose default priority is its rule's length), through middleware `<base>--retry`, to
//!   the weighted service `<base>`.
//! - middleware `<base>--retry`: `retry` with [`RETRY_ATTEMPTS`] attempts and no `status`, so only
//!   a request of which no byte was written is sent again, to the weighted service's next pick.
//! - service `<base>`: `weighted` over stable's child (stable's backend `<X>@swarm`, or with
//!   mirroring `<base>--mirror`) and the canary's slot `<base>--canary`, with an optional sticky
//!   cookie named `<base>`.
//! - service `<base>--canary`, the slot, whose name never changes (sticky cookies stay valid):
//!   with running canary tasks a `failover` from `<base>--tasks` to stable's backend; without, a
//!   `weighted` service over stable's backend alone.
//! - service `<base>--tasks`: with running canary tasks a `loadBalancer` over their addresses
//!   (`http://<ip on the router's network>:<port>`) with an active health check on the app's health
//!   path every [`HEALTH_CHECK_INTERVAL`] and the servers transport `<base>--tasks`; without, a
//!   `weighted` service whose only child is stable's backend at weight 0 (it answers 503 "no
//!   available server" and validates against the file-provider schema, which `servers: []` does
//!   not).
//! - servers transport `<base>--tasks`: a [`DIAL_TIMEOUT`] dial timeout, for the canary's
//!   connections only.
//! - router `<base>--header`: ``(<rule>) && Header(`X-Canary`, `true`)`` one priority higher, to
//!   `<base>--tasks`.
//! - service `<base>--mirror` (with mirroring): `mirroring` of stable's backend with a percent
//!   copied to `<base>--tasks` (never to the slot, whose fallback would copy to stable).
//!
//! Nothing names the canary's Swarm service (`<canary>@swarm`): a Traefik service of the Swarm
//! provider vanishes with its last running task, and every service naming it would be disabled
//! with its router (404 for stable's share too). While the canary is not routed the weighted
//! service has stable alone, and there is no retry, slot, tasks, transport, header router or mirror.
//!
//! In replicas mode there is no weighted service: the app router names stable's backend (shared
//! with the canary's tasks through labels) and, while the canary runs (weight above 0), the header
//! router names `<base>--tasks` as above.
//!
//! `--` separates the group from the app (and the app from `header`/`mirror`/...). Names of all
//! groups share Traefik's one file-provider namespace, so group and app names containing `--` are
//! refused: Swarm names start and end with a letter or digit, so the first `--` is then always the
//! separator and two groups can never write the same object name.

pub(crate) mod model;
pub(crate) mod objects;
mod render;
#[cfg(test)]
mod tests;

pub(crate) use model::*;
pub(crate) use render::{render, stable_servers, AppExpectation, Rendered};

/// Attempts of the retry middleware on the app router. A sticky client goes back to the canary's
/// slot on every attempt until the health check marks a dead canary `DOWN`, so
/// `(attempts − 1) × dial timeout` (750ms) must cover `interval + timeout` of the health check
/// (500ms).
pub(crate) const RETRY_ATTEMPTS: u64 = 4;

/// Interval of the active health check of the canary's tasks: a dead task is `DOWN` at most
/// `interval + timeout` after its death or after any reload of Traefik's configuration (which
/// resets every server to `UP`). A live task never failed a check at 25ms on the local stack.
pub(crate) const HEALTH_CHECK_INTERVAL: &str = "250ms";

/// Timeout of one health check request.
pub(crate) const HEALTH_CHECK_TIMEOUT: &str = "250ms";

/// Dial timeout of the canary's connections (Traefik's default is 30s): what a request picked for
/// a dead canary costs before the retry sends it to stable.
pub(crate) const DIAL_TIMEOUT: &str = "250ms";
