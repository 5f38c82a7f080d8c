//! Names: the group file's name and the name of every object it holds for an app, all under
//! `canary-<group>--<app>`, and the name under which Traefik counts the canary's requests.

use canary_core::{AppRoute, Error, Result, ServiceName};

use crate::backend::{check_object_name, AppBackends, ProviderVersion};

/// The names of one app's objects in the group file.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AppObjects {
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

/// `canary-<group>`: the prefix of every object name of the group, and (with `.yml`) the file.
pub fn object_prefix(group: &ServiceName) -> Result<String> {
    if group.as_str().contains("--") {
        return Err(Error::invalid(
            "group",
            format!("{group:?} has \"--\", which separates group and app in Traefik object names"),
        ));
    }
    Ok(format!("canary-{group}"))
}

/// The file name of a group: `canary-<group>.yml`.
pub fn file_name(group: &ServiceName) -> Result<String> {
    Ok(format!("{}.yml", object_prefix(group)?))
}

/// `canary-<group>--<app>`: the base of every object name of one app.
pub(crate) fn app_base(group: &ServiceName, app: &ServiceName) -> Result<String> {
    let prefix = object_prefix(group)?;
    if app.as_str().contains("--") {
        return Err(Error::invalid(
            "app.name",
            format!("{app:?} has \"--\", which separates group and app in Traefik object names"),
        ));
    }
    let base = format!("{prefix}--{app}");
    check_object_name(&base, "group")?;
    Ok(base)
}

/// The name of the load balancer over the canary's tasks, in the file: `canary-<group>--<app>--tasks`.
pub(crate) fn tasks_service(group: &ServiceName, app: &ServiceName) -> Result<String> {
    Ok(format!("{}--tasks", app_base(group, app)?))
}

/// The Traefik service that counts the canary's requests (the `service` label of
/// `traefik_service_*` metrics): `canary-<group>--<app>--tasks@file`, the same for Traefik v2 and
/// v3 and in both traffic modes.
pub fn canary_backend(group: &ServiceName, app: &ServiceName) -> Result<String> {
    Ok(format!("{}@file", tasks_service(group, app)?))
}

/// The objects of one app.
pub fn app_objects(
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
