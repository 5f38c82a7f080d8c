//! Object names: the group's prefix and file name, the base of every object of one app
//! (`canary-<group>--<app>`), the canary's tasks service, and the check every name used in a
//! Traefik object or reference passes. `--` separates group and app, so names containing it are
//! refused: two groups can never write the same object name.

use canary_core::{Error, Result, ServiceName};

/// A name used as a Traefik object name or a reference to one: the characters of a Swarm service
/// name (letters, digits, `-`, `_`), so it can never carry a provider suffix, a path separator of
/// the label syntax, or anything a rule or YAML could misread.
pub(crate) fn check_object_name(name: &str, what: &str) -> Result<()> {
    if name.is_empty() || name.len() > 200 {
        return Err(Error::invalid(
            what,
            format!("{name:?} is not a usable Traefik name (1 to 200 characters)"),
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        return Err(Error::invalid(
            what,
            format!(
                "{name:?} has {c:?}: a Traefik name here may only use letters, digits, '-' and '_'"
            ),
        ));
    }
    Ok(())
}

/// `canary-<group>`: the prefix of every object name of the group, and (with `.yml`) the file.
pub(crate) fn object_prefix(group: &ServiceName) -> Result<String> {
    if group.as_str().contains("--") {
        return Err(Error::invalid(
            "group",
            format!("{group:?} has \"--\", which separates group and app in Traefik object names"),
        ));
    }
    Ok(format!("canary-{group}"))
}

/// The file name of a group: `canary-<group>.yml`.
pub(crate) fn file_name(group: &ServiceName) -> Result<String> {
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
