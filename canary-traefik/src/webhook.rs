//! [`WebhookRunner`]: the [`HookRunner`] that POSTs a JSON body to each hook's URL.
//!
//! The body is `{ "name", "point", "group", "apps", "step", "weight", "phase", "metadata" }`. A 2xx
//! answer says go; any other status says no, with the status and the first 200 bytes of the body
//! as the message. A hook that cannot be reached is [`Error::Unavailable`], one that does not
//! answer within its timeout is [`Error::Timeout`] (the engine treats both like a no).

use std::collections::BTreeMap;

use async_trait::async_trait;
use canary_core::spec::HookSpec;
use canary_core::{Error, HookContext, HookOutcome, HookPoint, HookRunner, Result};
use serde::Serialize;

use crate::{egress, http};

/// The JSON body of a hook call.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct HookBody<'a> {
    /// The hook's name.
    pub name: &'a str,
    /// Where it is called: `preRollout`, `step`, `confirmPromotion`, `postRollout`, `rollback`.
    pub point: HookPoint,
    /// The group.
    pub group: &'a str,
    /// The apps' names.
    pub apps: &'a [String],
    /// The step index, if at a step.
    pub step: Option<usize>,
    /// The canary weight in force.
    pub weight: u8,
    /// The rollout's phase.
    pub phase: &'a str,
    /// The hook's metadata.
    pub metadata: &'a BTreeMap<String, String>,
}

impl<'a> HookBody<'a> {
    /// The body for `hook` at `context`.
    pub fn new(hook: &'a HookSpec, context: &'a HookContext) -> Self {
        HookBody {
            name: &hook.name,
            point: context.point,
            group: &context.group,
            apps: &context.apps,
            step: context.step,
            weight: context.weight,
            phase: &context.phase,
            metadata: &context.metadata,
        }
    }
}

/// Calls HTTP webhooks: a POST of [`HookBody`] as JSON, within the hook's timeout. A 2xx answer
/// says go; any other status says no, with the status and the first 200 bytes of the body as the
/// message. A hook that cannot be reached is [`Error::Unavailable`], one that does not answer in
/// time [`Error::Timeout`] (the engine treats both like a no).
#[derive(Debug, Clone)]
pub struct WebhookRunner {
    _private: (),
}

/// The most bytes of a hook's answer that are read.
const MAX_BODY: usize = 64 * 1024;

impl WebhookRunner {
    /// A runner. Hooks follow no redirect, have at most 64 KiB of their answer read, and may not
    /// reach link-local or metadata addresses unless the hook allows it (`allowLinkLocal`).
    pub fn new() -> Result<Self> {
        // Built once here so a missing TLS provider is found at start, not at the first hook.
        let _ = Self::base().build().map_err(|e| {
            Error::internal(format!("cannot build an HTTP client: {e}")).with_source(e)
        })?;
        Ok(WebhookRunner { _private: () })
    }

    fn base() -> reqwest::ClientBuilder {
        reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
    }

    fn builder(&self) -> reqwest::ClientBuilder {
        Self::base()
    }
}

#[async_trait]
impl HookRunner for WebhookRunner {
    async fn call(&self, hook: &HookSpec, context: &HookContext) -> Result<HookOutcome> {
        let url = reqwest::Url::parse(&hook.url).map_err(|e| {
            Error::invalid("hook.url", format!("{:?} is not a URL: {e}", hook.url)).with_source(e)
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Error::invalid(
                "hook.url",
                format!("{:?} is not http(s)", hook.url),
            ));
        }
        let timeout = hook.timeout.get();
        let what = format!("hook {} ({})", hook.name, http::shown_url(&url));
        // Resolved and checked here, and the connection pinned to what was checked.
        let (host, addrs) = egress::resolve_checked(
            &url,
            hook.allow_link_local,
            "hook.url",
            "; set allowLinkLocal on the hook to call it",
        )
        .await?;
        let client = self
            .builder()
            .resolve_to_addrs(&host, &addrs)
            .build()
            .map_err(|e| {
                Error::internal(format!("cannot build an HTTP client: {e}")).with_source(e)
            })?;
        let mut resp = client
            .post(url.clone())
            .json(&HookBody::new(hook, context))
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| http::send_error(e, &what, timeout))?;
        let status = resp.status();
        // At most MAX_BODY bytes are read: a hook cannot make the controller hold its answer.
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| http::send_error(e, &what, timeout))?
        {
            body.extend_from_slice(&chunk);
            if body.len() >= MAX_BODY {
                body.truncate(MAX_BODY);
                break;
            }
        }
        let mut text = http::snippet(&body, 200);
        if status.is_redirection() {
            text = format!(
                "redirects are not followed{}",
                if text.is_empty() {
                    String::new()
                } else {
                    format!(": {text}")
                }
            );
        }
        let ok = status.is_success();
        let message = match (ok, text.is_empty()) {
            (true, true) => format!("HTTP {}", status.as_u16()),
            (true, false) => text,
            (false, true) => format!("HTTP {}", status.as_u16()),
            (false, false) => format!("HTTP {}: {text}", status.as_u16()),
        };
        tracing::info!(hook = %hook.name, status = status.as_u16(), ok, "hook answered");
        Ok(HookOutcome { ok, message })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use canary_core::HumanDuration;
    use canary_testkit::{Answer, Server};
    use std::time::Duration;

    /// A one-shot HTTP server on loopback answering `status` with `body` after `delay`; returns
    /// its URL and the server, which keeps the request it received.
    fn server(status: u16, body: String, delay: Duration) -> (String, Server) {
        let server = Server::builder()
            .connections(1)
            .start(move |_| Answer::status(status).body(body.clone()).delay(delay));
        (server.url("/hook?token=secret"), server)
    }

    fn hook(url: &str, timeout: Duration) -> HookSpec {
        HookSpec {
            name: "smoke".into(),
            url: url.into(),
            timeout: HumanDuration(timeout),
            metadata: BTreeMap::from([("team".to_string(), "payments".to_string())]),
            allow_link_local: false,
        }
    }

    fn context() -> HookContext {
        HookContext::new("shop", HookPoint::ConfirmPromotion)
            .apps(vec!["api".into(), "web".into()])
            .step(2)
            .weight(30)
            .phase("progressing")
            .metadata(BTreeMap::from([(
                "team".to_string(),
                "payments".to_string(),
            )]))
    }

    #[tokio::test]
    async fn posts_the_context_and_reads_2xx_as_go() {
        let (url, server) = server(200, "all good".into(), Duration::ZERO);
        let out = WebhookRunner::new()
            .unwrap()
            .call(&hook(&url, Duration::from_secs(5)), &context())
            .await
            .unwrap();
        assert_eq!(
            out,
            HookOutcome {
                ok: true,
                message: "all good".into()
            }
        );
        let req = server.arrived(1).await.remove(0);
        assert!(
            req.head.starts_with("POST /hook?token=secret HTTP/1.1"),
            "{}",
            req.head
        );
        assert_eq!(
            req.json(),
            serde_json::json!({
                "name": "smoke", "point": "confirmPromotion", "group": "shop", "apps": ["api", "web"],
                "step": 2, "weight": 30, "phase": "progressing", "metadata": {"team": "payments"}
            })
        );
    }

    #[tokio::test]
    async fn other_statuses_say_no_with_the_first_200_bytes() {
        let long = format!("{}{}", "x".repeat(199), "é and more");
        let (url, _req) = server(503, long, Duration::ZERO);
        let out = WebhookRunner::new()
            .unwrap()
            .call(&hook(&url, Duration::from_secs(5)), &context())
            .await
            .unwrap();
        assert!(!out.ok);
        assert_eq!(out.message, format!("HTTP 503: {}", "x".repeat(199)));
        let (url, _req) = server(302, String::new(), Duration::ZERO);
        let out = WebhookRunner::new()
            .unwrap()
            .call(&hook(&url, Duration::from_secs(5)), &context())
            .await
            .unwrap();
        assert_eq!(
            out,
            HookOutcome {
                ok: false,
                message: "HTTP 302: redirects are not followed".into()
            }
        );
    }

    #[tokio::test]
    async fn unreachable_and_slow_hooks_are_errors() {
        // A port just released: nothing listens there.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", l.local_addr().unwrap());
        drop(l);
        let e = WebhookRunner::new()
            .unwrap()
            .call(&hook(&url, Duration::from_secs(5)), &context())
            .await
            .unwrap_err();
        assert!(
            matches!(&e, Error::Unavailable { message: m, .. } if m.contains("hook smoke")),
            "{e}"
        );
        let (url, _req) = server(200, "late".into(), Duration::from_secs(3));
        let e = WebhookRunner::new()
            .unwrap()
            .call(&hook(&url, Duration::from_millis(300)), &context())
            .await
            .unwrap_err();
        assert!(matches!(&e, Error::Timeout { .. }), "{e}");
        assert!(!e.to_string().contains("secret"), "{e}");
    }

    #[tokio::test]
    async fn redirects_are_not_followed_and_answers_are_capped() {
        // The target of the redirect: it must never be called.
        let (target, target_server) = server(200, "reached".into(), Duration::ZERO);
        let redirect = Server::builder()
            .connections(1)
            .start(move |_| Answer::status(302).header("location", &target));
        let url = redirect.url("/hook");
        let out = WebhookRunner::new()
            .unwrap()
            .call(&hook(&url, Duration::from_secs(5)), &context())
            .await
            .unwrap();
        assert_eq!(redirect.arrived(1).await.len(), 1);
        assert!(!out.ok);
        assert!(
            out.message.contains("redirects are not followed"),
            "{}",
            out.message
        );
        assert!(
            tokio::time::timeout(Duration::from_millis(300), target_server.arrived(1))
                .await
                .is_err(),
            "the redirect target was called"
        );
        // A 4 MB answer: read up to the cap, the message a short snippet of it.
        let (url, _req) = server(200, "x".repeat(4_000_000), Duration::ZERO);
        let out = WebhookRunner::new()
            .unwrap()
            .call(&hook(&url, Duration::from_secs(5)), &context())
            .await
            .unwrap();
        assert!(out.ok);
        assert!(out.message.len() <= 200, "{}", out.message.len());
    }

    #[tokio::test]
    async fn metadata_addresses_are_refused_unless_allowed() {
        let h = hook(
            "http://169.254.169.254/latest/meta-data/iam?token=secret",
            Duration::from_millis(300),
        );
        let e = WebhookRunner::new()
            .unwrap()
            .call(&h, &context())
            .await
            .unwrap_err();
        assert!(matches!(&e, Error::Rejected { .. }), "{e}");
        assert!(e.to_string().contains("allowLinkLocal"), "{e}");
        assert!(!e.to_string().contains("secret"), "{e}");
        // (Allowing it is tested in `egress` without sending anything: no test may send a
        // request anywhere but loopback.)
    }
}
