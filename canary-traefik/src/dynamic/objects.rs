//! The names of every object the group file holds for an app, all under `canary-<group>--<app>`
//! ([`crate::names`] makes the bases).

use canary_core::{AppRoute, Result, ServiceName};

use crate::backend::AppBackends;
use crate::names::app_base;
use crate::provider::ProviderVersion;

/// The names of one app's objects in the group file.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) struct AppObjects {
    /// The app.
    pub app: ServiceName,
    /// Stable's backend (`X@swarm`).
    pub stable_backend: String,
    /// The canary's backend as Traefik names it in its metrics: `<tasks>@file`.
    pub canary_backend: String,
    /// The app router (`canary-<group>--<app>`).
    pub router: String,
    /// The header router (`…--header`).
    pub header_router: String,
    /// The retry middleware of the app router (`…--retry`).
    pub retry: String,
    /// The weighted service (weighted mode; the same name as the app router).
    pub weighted: String,
    /// The mirroring service (weighted mode with mirroring, `…--mirror`).
    pub mirror: String,
    /// The canary's slot in the weights (`…--canary`): a failover from the canary's tasks to
    /// stable, or stable alone.
    pub canary_slot: String,
    /// The load balancer over the canary's task addresses (`…--tasks`).
    pub tasks: String,
    /// The servers transport of `tasks` (the same name: transports have a namespace of their own).
    pub transport: String,
}

/// The objects of one app.
pub(crate) fn app_objects(
    group: &ServiceName,
    route: &AppRoute,
    version: ProviderVersion,
) -> Result<AppObjects> {
    let base = app_base(group, &route.app.name)?;
    let b = AppBackends::of(route)?;
    let tasks = format!("{base}--tasks");
    Ok(AppObjects {
        app: route.app.name.clone(),
        stable_backend: version.qualify(&b.stable),
        canary_backend: format!("{tasks}@file"),
        router: base.clone(),
        header_router: format!("{base}--header"),
        retry: format!("{base}--retry"),
        weighted: base.clone(),
        mirror: format!("{base}--mirror"),
        canary_slot: format!("{base}--canary"),
        transport: tasks.clone(),
        tasks,
    })
}
