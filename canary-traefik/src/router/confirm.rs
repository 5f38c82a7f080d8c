//! Confirmation: whether each Traefik's API shows every object of a written group config exactly
//! as written (and none of an app's objects the config no longer has), and whether a Traefik
//! refused one. Names are compared in the provider the router writes to (`file` or `etcd`).

use std::time::Instant;

use canary_core::{Error, Result};

use super::TraefikRouter;
use crate::api::{is_refused, same_name, MiddlewareInfo, RouterInfo, ServiceInfo, TraefikApi};
use crate::dynamic::{
    AppExpectation, HttpConfig, MiddlewareConfig, Rendered, RouterConfig, ServiceConfig,
};

/// Why Traefik's `shown` service is not yet the `written` one (of provider `p`), if it is not.
pub(super) fn service_differs(
    written: &ServiceConfig,
    shown: &ServiceInfo,
    p: &str,
) -> Option<String> {
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
                .all(|((a, wa), (b, wb))| wa == wb && same_name(b, a, p));
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
            same_name(&w.service, &m.service, p)
                && m.mirrors.len() == w.mirrors.len()
                && m.mirrors
                    .iter()
                    .zip(&w.mirrors)
                    .all(|(s, w)| same_name(&w.name, &s.name, p) && s.percent == w.percent)
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
            same_name(&w.service, &f.service, p) && same_name(&w.fallback, &f.fallback, p)
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
            (Some(w), Some(s)) => same_name(w, s, p),
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

/// Why Traefik's `shown` router is not yet the `written` one (of provider `p`), if it is not.
pub(super) fn router_differs(
    written: &RouterConfig,
    shown: &RouterInfo,
    p: &str,
) -> Option<String> {
    let middlewares_ok = shown.middlewares.len() == written.middlewares.len()
        && shown
            .middlewares
            .iter()
            .zip(&written.middlewares)
            .all(|(s, w)| same_name(w, s, p));
    if !same_name(&written.service, &shown.service, p)
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
    _p: &str,
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
    let message = if errors.is_empty() {
        format!("{what} {name} is {status}")
    } else {
        format!("{what} {name}: {}", errors.join("; "))
    };
    Error::rejected("traefik", message)
}

/// Compares one object: `Ok(None)` when Traefik shows it as written (or, not written, does not
/// show it), `Ok(Some(why))` while it does not yet, `Err` when it shows it as written but refused.
/// `name` is qualified (`x@file`); `p` is the provider.
fn compare<W, S>(
    what: &str,
    name: &str,
    p: &str,
    written: Option<&W>,
    shown: Option<S>,
    differs: impl Fn(&W, &S, &str) -> Option<String>,
    state: impl Fn(&S) -> (&str, &[String]),
) -> Result<Option<String>> {
    match (written, shown) {
        (None, None) => Ok(None),
        (None, Some(_)) => Ok(Some(format!("{what} {name} is still loaded"))),
        (Some(_), None) => Ok(Some(format!("{what} {name} is not loaded yet"))),
        (Some(w), Some(s)) => {
            if let Some(why) = differs(w, &s, p) {
                return Ok(Some(format!("{what} {name} {why}")));
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
    /// One look at whether the Traefik at `api` has loaded `want`'s objects of `file`: `Ok(None)`
    /// when it has, `Ok(Some(why))` while it has not yet, `Err` when it loaded them and refused
    /// one.
    pub(super) async fn check_loaded(
        &self,
        api: &TraefikApi,
        want: &AppExpectation,
        file: &HttpConfig,
    ) -> Result<Option<String>> {
        let o = &want.objects;
        let p = self.provider().name();
        // The weighted service first: a pending weight change is what a timeout should name.
        for name in [&o.weighted, &o.canary_slot, &o.tasks, &o.mirror] {
            let q = format!("{name}@{p}");
            let shown = api.service(&q).await?;
            let why = compare(
                "service",
                &q,
                p,
                file.services.get(name.as_str()),
                shown,
                service_differs,
                |s| (&s.status, &s.error),
            )?;
            if why.is_some() {
                return Ok(why);
            }
        }
        let q = format!("{}@{p}", o.retry);
        let shown = api.middleware(&q).await?;
        let why = compare(
            "middleware",
            &q,
            p,
            file.middlewares.get(o.retry.as_str()),
            shown,
            middleware_differs,
            |m| (&m.status, &m.error),
        )?;
        if why.is_some() {
            return Ok(why);
        }
        for name in [&o.router, &o.header_router] {
            let q = format!("{name}@{p}");
            let shown = api.router(&q).await?;
            let why = compare(
                "router",
                &q,
                p,
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

    /// Polls every Traefik until each shows every app of `rendered` as written, or one refused
    /// one, or the confirm timeout (shared by all of them) passes. `at` names where the config was
    /// written, for messages.
    pub(super) async fn confirm(&self, rendered: &Rendered, at: &str) -> Result<()> {
        let start = Instant::now();
        for api in &self.apis {
            self.confirm_on(api, rendered, at, start).await?;
        }
        Ok(())
    }

    async fn confirm_on(
        &self,
        api: &TraefikApi,
        rendered: &Rendered,
        at: &str,
        start: Instant,
    ) -> Result<()> {
        loop {
            let mut pending = None;
            for app in &rendered.apps {
                match self.check_loaded(api, app, &rendered.config.http).await {
                    Ok(None) => {}
                    Ok(Some(why)) => {
                        pending = Some(why);
                        break;
                    }
                    Err(e) if e.is_retryable() => {
                        pending = Some(e.to_string());
                        break;
                    }
                    Err(Error::Rejected {
                        by,
                        message,
                        source,
                    }) if self.apis.len() > 1 => {
                        return Err(Error::rejected(
                            by,
                            format!("{message} (Traefik at {})", api.url()),
                        )
                        .with_cause(source))
                    }
                    Err(e) => return Err(e),
                }
            }
            let Some(why) = pending else {
                return Ok(());
            };
            if start.elapsed() >= self.confirm_timeout {
                return Err(Error::Timeout {
                    what: format!("Traefik at {} to load {at} ({why})", api.url()),
                    after: self.confirm_timeout,
                });
            }
            tokio::time::sleep(self.poll_interval).await;
        }
    }
}
