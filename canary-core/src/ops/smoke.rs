//! A smoke test like the seed's `test-canary.sh`: each app's health path gets requests where
//! clients enter, with and without the header route, through [`crate::Router::probe`]; the
//! answers are counted by status and by the version that answered. Any answer other than 2xx, or
//! no answer, fails the test.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::engine::Deps;
use crate::error::{with_timeout, Error, Result};
use crate::routes::app_routes;
use crate::spec::{HeaderRoute, Spec};

/// The most requests per app and variant.
pub const MAX_REQUESTS: u32 = 1_000;

/// How to smoke-test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
#[non_exhaustive]
pub struct SmokeOptions {
    /// Requests per app and variant (1 to [`MAX_REQUESTS`]). Default 5.
    pub requests: u32,
    /// Only this app, when set.
    pub app: Option<String>,
}

impl Default for SmokeOptions {
    fn default() -> Self {
        SmokeOptions {
            requests: 5,
            app: None,
        }
    }
}

impl SmokeOptions {
    /// Sets the requests per app and variant.
    #[must_use]
    pub fn requests(mut self, n: u32) -> Self {
        self.requests = n;
        self
    }
    /// Tests one app only.
    #[must_use]
    pub fn app(mut self, app: impl Into<String>) -> Self {
        self.app = Some(app.into());
        self
    }
}

/// The answers of one app to one variant (with or without the header route).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SmokeTally {
    /// The app.
    pub app: String,
    /// `plain` or `header`.
    pub variant: String,
    /// The URL requested.
    pub url: String,
    /// The `Host` sent.
    pub host: Option<String>,
    /// The header sent (`X-Canary: true`), for the `header` variant.
    pub header: Option<String>,
    /// Requests sent.
    pub requests: u32,
    /// Answers by status.
    pub statuses: BTreeMap<String, u32>,
    /// Answers by the version that answered (`-` when it did not say).
    pub versions: BTreeMap<String, u32>,
    /// Requests without an answer, by cause.
    pub errors: BTreeMap<String, u32>,
    /// True when every request got a 2xx.
    pub ok: bool,
}

/// The whole smoke test.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SmokeReport {
    /// Per app and variant.
    pub tallies: Vec<SmokeTally>,
    /// True when every tally is.
    pub ok: bool,
}

/// Smoke-tests `spec`'s group (see the module docs).
pub async fn smoke_test(spec: &Spec, deps: &Deps, options: &SmokeOptions) -> Result<SmokeReport> {
    if options.requests == 0 || options.requests > MAX_REQUESTS {
        return Err(Error::invalid(
            "requests",
            format!("{} is not between 1 and {MAX_REQUESTS}", options.requests),
        ));
    }
    if let Some(name) = &options.app {
        if !spec.apps.iter().any(|a| a.name.as_str() == name) {
            return Err(Error::invalid(
                "app",
                format!("no app named {name:?} in the spec"),
            ));
        }
    }
    let call = spec.timeouts.call.get();
    let routes = app_routes(spec, deps.orchestrator.as_ref()).await?;
    let mut report = SmokeReport {
        tallies: Vec::new(),
        ok: true,
    };
    for route in routes.iter().filter(|r| {
        options
            .app
            .as_deref()
            .is_none_or(|n| n == r.app.name.as_str())
    }) {
        let mut variants = vec![None];
        // A regex route without an `example` has no request known to match: plain only.
        if let Some(h) = spec
            .traffic
            .header_route
            .as_ref()
            .filter(|h| h.request_header().is_some())
        {
            variants.push(Some(h));
        }
        for header in variants {
            let mut t = SmokeTally {
                app: route.app.name.to_string(),
                variant: if header.is_some() { "header" } else { "plain" }.into(),
                header: header
                    .and_then(HeaderRoute::request_header)
                    .map(|(n, v)| format!("{n}: {v}")),
                requests: options.requests,
                ok: true,
                ..SmokeTally::default()
            };
            for _ in 0..options.requests {
                let probe = deps.router.probe(route, header.cloned());
                let answer = with_timeout("probe", call, probe).await?;
                t.url = answer.url;
                t.host = answer.host;
                match (answer.status, answer.error) {
                    (Some(code), _) => {
                        *t.statuses.entry(code.to_string()).or_default() += 1;
                        let v = answer.version.unwrap_or_else(|| "-".into());
                        *t.versions.entry(v).or_default() += 1;
                        t.ok &= (200..300).contains(&code);
                    }
                    (None, e) => {
                        *t.errors
                            .entry(e.unwrap_or_else(|| "no answer".into()))
                            .or_default() += 1;
                        t.ok = false;
                    }
                }
            }
            report.ok &= t.ok;
            report.tallies.push(t);
        }
    }
    Ok(report)
}
