//! Requests sent where clients enter (Traefik's entry point), as a client of the app would send
//! them: the host and path read from the app's rule, the header route's header when asked.

use std::time::Duration;

use canary_core::spec::HeaderRoute;
use canary_core::traits::ProbeAnswer;
use canary_core::{AppRoute, Result};

use crate::http::{self, BaseUrl};
use crate::rule::{probe_path, rule_arg};

/// The largest answer body read to find the version (the demo app's is a few hundred bytes).
const MAX_BODY: usize = 64 * 1024;

/// Sends probes to one entry point.
#[derive(Debug, Clone)]
pub(crate) struct Prober {
    base: BaseUrl,
    client: reqwest::Client,
    timeout: Duration,
}

impl Prober {
    pub(crate) fn new(web_url: &str, timeout: Duration) -> Result<Self> {
        Ok(Prober {
            base: BaseUrl::parse(web_url, "webUrl")?,
            client: http::client()?,
            timeout,
        })
    }

    /// One GET of `route`'s health path.
    pub(crate) async fn probe(
        &self,
        route: &AppRoute,
        header: Option<&HeaderRoute>,
    ) -> ProbeAnswer {
        let host = rule_arg(&route.rule, "Host").map(String::from);
        let url = self.base.join(&probe_path(&route.rule, &route.health_path));
        let mut req = self.client.get(&url).timeout(self.timeout);
        if let Some(h) = &host {
            req = req.header("Host", h.as_str());
        }
        if let Some((name, value)) = header.and_then(HeaderRoute::request_header) {
            req = req.header(name, value);
        }
        let mut answer = ProbeAnswer {
            url,
            host,
            status: None,
            version: None,
            error: None,
        };
        match req.send().await {
            Ok(mut resp) => {
                answer.status = Some(resp.status().as_u16());
                answer.version = resp
                    .headers()
                    .get("x-version")
                    .and_then(|v| v.to_str().ok())
                    .map(String::from);
                if answer.version.is_none() {
                    let mut body = Vec::new();
                    while let Ok(Some(chunk)) = resp.chunk().await {
                        body.extend_from_slice(&chunk);
                        if body.len() > MAX_BODY {
                            break;
                        }
                    }
                    answer.version = serde_json::from_slice::<serde_json::Value>(&body)
                        .ok()
                        .and_then(|b| b.get("version")?.as_str().map(String::from));
                }
            }
            Err(e) => {
                answer.error = Some(
                    if e.is_timeout() {
                        "timeout"
                    } else if e.is_connect() {
                        "connect"
                    } else {
                        "other"
                    }
                    .into(),
                );
            }
        }
        answer
    }
}
