//! Confirmation: whether Traefik's API shows every object of a written group file exactly as
//! written (and none of an app's objects the file no longer has), and whether Traefik refused one.

use std::path::Path;
use std::time::Instant;

use canary_core::{Error, Result};

use super::TraefikRouter;
use crate::api::{is_refused, same_name, MiddlewareInfo, RouterInfo, ServiceInfo};
use crate::dynamic::{
    AppExpectation, HttpConfig, MiddlewareConfig, Rendered, RouterConfig, ServiceConfig,
};

const FILE: &str = "file";

/// Why Traefik's `shown` service is not yet the `written` one, if it is not.
pub(super) fn service_differs(written: &ServiceConfig, shown: &ServiceInfo) -> Option<String> {
    if let Some(w) = &written.weighted {
        let Some(s) = &shown.weighted else {
            return Some("is not weighted yet".into());
        };
        let mut have: Vec<(String, i64)> = s
            .services
            .iter()
            .map(|c| (c.name.clone(), c.effective_weight()))
            .collect();
        let mut want: Vec<(String, i64)> = w
            .services
            .iter()
            .map(|c| (c.name.clone(), c.weight as i64))
            .collect();
        have.sort();
        want.sort();
        let same = have.len() == want.len()
            && have
                .iter()
                .zip(&want)
                .all(|((a, wa), (b, wb))| wa == wb && same_name(b, a, FILE));
        let cookie = w.sticky.as_ref().map(|s| s.cookie.name.as_str());
        if !same || s.sticky_cookie() != cookie {
            return Some(format!(
                "has weights {have:?} (sticky {:?}), not yet {want:?} (sticky {cookie:?})",
                s.sticky_cookie()
            ));
        }
    }
    if let Some(w) = &written.mirroring {
        let ok = shown.mirroring.as_ref().is_some_and(|m| {
            same_name(&w.service, &m.service, FILE)
                && m.mirrors.len() == w.mirrors.len()
                && m.mirrors
                    .iter()
                    .zip(&w.mirrors)
                    .all(|(s, w)| same_name(&w.name, &s.name, FILE) && s.percent == w.percent)
        });
        if !ok {
            return Some(format!(
                "does not mirror {} to {:?} yet",
                w.service,
                w.mirrors
                    .iter()
                    .map(|m| format!("{} {}%", m.name, m.percent))
                    .collect::<Vec<_>>()
            ));
        }
    }
    if let Some(w) = &written.failover {
        let ok = shown.failover.as_ref().is_some_and(|f| {
            same_name(&w.service, &f.service, FILE) && same_name(&w.fallback, &f.fallback, FILE)
        });
        if !ok {
            return Some(format!(
                "is not yet a failover from {} to {}",
                w.service, w.fallback
            ));
        }
    }
    if let Some(w) = &written.load_balancer {
        let Some(s) = &shown.load_balancer else {
            return Some("is not a load balancer yet".into());
        };
        let mut have: Vec<&str> = s.servers.iter().filter_map(|v| v.url.as_deref()).collect();
        let mut want: Vec<&str> = w.servers.iter().map(|v| v.url.as_str()).collect();
        have.sort_unstable();
        want.sort_unstable();
        if have != want {
            return Some(format!("has servers {have:?}, not yet {want:?}"));
        }
        let transport_ok = match (&w.servers_transport, &s.servers_transport) {
            (None, None) => true,
            (Some(w), Some(s)) => same_name(w, s, FILE),
            _ => false,
        };
        if !transport_ok {
            return Some(format!(
                "uses servers transport {:?}, not yet {:?}",
                s.servers_transport, w.servers_transport
            ));
        }
        let check_ok = match (&w.health_check, &s.health_check) {
            (None, None) => true,
            (Some(w), Some(s)) => {
                s.path == w.path
                    && s.interval.as_deref() == Some(w.interval.as_str())
                    && s.timeout.as_deref() == Some(w.timeout.as_str())
            }
            _ => false,
        };
        if !check_ok {
            return Some(format!(
                "checks health with {:?}, not yet {:?}",
                s.health_check, w.health_check
            ));
        }
    }
    None
}

/// Why Traefik's `shown` router is not yet the `written` one, if it is not.
pub(super) fn router_differs(written: &RouterConfig, shown: &RouterInfo) -> Option<String> {
    let middlewares_ok = shown.middlewares.len() == written.middlewares.len()
        && shown
            .middlewares
            .iter()
            .zip(&written.middlewares)
            .all(|(s, w)| same_name(w, s, FILE));
    if !same_name(&written.service, &shown.service, FILE)
        || shown.rule != written.rule
        || shown.priority != Some(written.priority as i64)
        || shown.entry_points != written.entry_points
        || !middlewares_ok
    {
        return Some(format!(
            "still targets {} with {:?} through {:?}",
            shown.service, shown.rule, shown.middlewares
        ));
    }
    None
}

/// Why Traefik's `shown` middleware is not yet the `written` one, if it is not.
pub(super) fn middleware_differs(
    written: &MiddlewareConfig,
    shown: &MiddlewareInfo,
) -> Option<String> {
    match (&written.retry, &shown.retry) {
        (None, _) => None,
        (Some(w), Some(s)) if s.attempts == w.attempts => None,
        (Some(w), s) => Some(format!(
            "retries {:?} attempts, not yet {}",
            s.as_ref().map(|s| s.attempts),
            w.attempts
        )),
    }
}

fn rejected(what: &str, name: &str, errors: &[String], status: &str) -> Error {
    Error::Rejected {
        by: "traefik".into(),
        message: if errors.is_empty() {
            format!("{what} {name}@file is {status}")
        } else {
            format!("{what} {name}@file: {}", errors.join("; "))
        },
    }
}

/// Compares one object: `Ok(None)` when Traefik shows it as written (or, not written, does not
/// show it), `Ok(Some(why))` while it does not yet, `Err` when it shows it as written but refused.
fn compare<W, S>(
    what: &str,
    name: &str,
    written: Option<&W>,
    shown: Option<S>,
    differs: impl Fn(&W, &S) -> Option<String>,
    state: impl Fn(&S) -> (&str, &[String]),
) -> Result<Option<String>> {
    match (written, shown) {
        (None, None) => Ok(None),
        (None, Some(_)) => Ok(Some(format!("{what} {name}@file is still loaded"))),
        (Some(_), None) => Ok(Some(format!("{what} {name}@file is not loaded yet"))),
        (Some(w), Some(s)) => {
            if let Some(why) = differs(w, &s) {
                return Ok(Some(format!("{what} {name}@file {why}")));
            }
            let (status, errors) = state(&s);
            if is_refused(status, errors) {
                return Err(rejected(what, name, errors, status));
            }
            Ok(None)
        }
    }
}

impl TraefikRouter {
    /// One look at whether Traefik has loaded `want`'s objects of `file`: `Ok(None)` when it has,
    /// `Ok(Some(why))` while it has not yet, `Err` when it loaded them and refused one.
    pub(super) async fn check_loaded(
        &self,
        want: &AppExpectation,
        file: &HttpConfig,
    ) -> Result<Option<String>> {
        let o = &want.objects;
        // The weighted service first: a pending weight change is what a timeout should name.
        for name in [&o.weighted, &o.canary_slot, &o.tasks, &o.mirror] {
            let shown = self.api.service(&format!("{name}@{FILE}")).await?;
            let why = compare(
                "service",
                name,
                file.services.get(name.as_str()),
                shown,
                service_differs,
                |s| (&s.status, &s.error),
            )?;
            if why.is_some() {
                return Ok(why);
            }
        }
        let shown = self.api.middleware(&format!("{}@{FILE}", o.retry)).await?;
        let why = compare(
            "middleware",
            &o.retry,
            file.middlewares.get(o.retry.as_str()),
            shown,
            middleware_differs,
            |m| (&m.status, &m.error),
        )?;
        if why.is_some() {
            return Ok(why);
        }
        for name in [&o.router, &o.header_router] {
            let shown = self.api.router(&format!("{name}@{FILE}")).await?;
            let why = compare(
                "router",
                name,
                file.routers.get(name.as_str()),
                shown,
                router_differs,
                |r| (&r.status, &r.error),
            )?;
            if why.is_some() {
                return Ok(why);
            }
        }
        Ok(None)
    }

    /// Polls until Traefik shows every app of `rendered` as written, or refused one, or the
    /// confirm timeout passes.
    pub(super) async fn confirm(&self, rendered: &Rendered, file: &Path) -> Result<()> {
        let start = Instant::now();
        loop {
            let mut pending = None;
            for app in &rendered.apps {
                match self.check_loaded(app, &rendered.config.http).await {
                    Ok(None) => {}
                    Ok(Some(why)) => {
                        pending = Some(why);
                        break;
                    }
                    Err(e) if e.is_retryable() => {
                        pending = Some(e.to_string());
                        break;
                    }
                    Err(e) => return Err(e),
                }
            }
            let Some(why) = pending else {
                return Ok(());
            };
            if start.elapsed() >= self.confirm_timeout {
                return Err(Error::Timeout {
                    what: format!("Traefik to load {} ({why})", file.display()),
                    after: self.confirm_timeout,
                });
            }
            tokio::time::sleep(self.poll_interval).await;
        }
    }
}
