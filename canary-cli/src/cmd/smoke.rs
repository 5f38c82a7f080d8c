//! `canary test`: a smoke test like the seed's `test-canary.sh`. Each app gets requests on
//! Traefik's web entry point with its `Host` and path, with and without the header route, and the
//! answers are counted by status code and by the version that answered (`X-Version`, else the
//! body's `version`). Any answer other than 2xx, or no answer, fails the test.

use std::collections::BTreeMap;
use std::time::Duration;

use canary_core::{Rollout, RolloutOptions};
use serde::Serialize;
use serde_json::json;

use crate::args::{Global, TestArgs};
use crate::error::{CliError, CliResult};
use crate::output::{tagged, Printer};
use crate::{specfile, wire};

/// The first argument of `matcher(`…`)` in a Traefik rule.
pub(crate) fn rule_arg<'a>(rule: &'a str, matcher: &str) -> Option<&'a str> {
    let mut rest = rule;
    while let Some(i) = rest.find(matcher) {
        let before = rest[..i].chars().last();
        let after = &rest[i + matcher.len()..];
        // `Host(` must not match inside `HostRegexp(` or `XHost(`.
        if before.is_none_or(|c| !c.is_ascii_alphanumeric()) {
            if let Some(arg) = after.trim_start().strip_prefix('(').map(str::trim_start) {
                let quote = arg.chars().next()?;
                if matches!(quote, '`' | '"' | '\'') {
                    let body = &arg[1..];
                    return body.find(quote).map(|end| &body[..end]);
                }
            }
        }
        rest = after;
    }
    None
}

/// The path to request: `healthPath` when it is under the rule's path prefix, else the prefix
/// followed by it (`PathPrefix(/api)` + `/health` = `/api/health`).
pub(crate) fn smoke_path(rule: &str, health_path: &str) -> String {
    let prefix = rule_arg(rule, "PathPrefix").or_else(|| rule_arg(rule, "Path"));
    match prefix {
        Some(p) if !health_path.starts_with(p) => {
            format!("{}{health_path}", p.trim_end_matches('/'))
        }
        _ => health_path.to_string(),
    }
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
struct Tally {
    app: String,
    variant: String,
    url: String,
    host: Option<String>,
    header: Option<String>,
    requests: u32,
    statuses: BTreeMap<String, u32>,
    versions: BTreeMap<String, u32>,
    errors: BTreeMap<String, u32>,
    ok: bool,
}

async fn one(client: &reqwest::Client, t: &mut Tally, header: Option<(&str, &str)>) {
    let mut req = client.get(&t.url);
    if let Some(h) = &t.host {
        req = req.header("Host", h.as_str());
    }
    if let Some((k, v)) = header {
        req = req.header(k, v);
    }
    match req.send().await {
        Ok(resp) => {
            let code = resp.status();
            *t.statuses.entry(code.as_u16().to_string()).or_default() += 1;
            let from_header = resp
                .headers()
                .get("x-version")
                .and_then(|v| v.to_str().ok())
                .map(String::from);
            let version = match from_header {
                Some(v) => v,
                None => resp
                    .json::<serde_json::Value>()
                    .await
                    .ok()
                    .and_then(|b| b.get("version").and_then(|v| v.as_str()).map(String::from))
                    .unwrap_or_else(|| "-".into()),
            };
            *t.versions.entry(version).or_default() += 1;
            if !code.is_success() {
                t.ok = false;
            }
        }
        Err(e) => {
            let kind = if e.is_timeout() {
                "timeout"
            } else if e.is_connect() {
                "connect"
            } else {
                "other"
            };
            *t.errors.entry(kind.into()).or_default() += 1;
            t.ok = false;
        }
    }
}

fn counts(m: &BTreeMap<String, u32>) -> String {
    m.iter()
        .map(|(k, n)| format!("{n}x {k}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) async fn test(g: &Global, a: &TestArgs, p: &Printer) -> CliResult<u8> {
    let spec = specfile::load(&g.spec, &g.overrides)?.spec;
    if !spec
        .apps
        .iter()
        .any(|app| a.app.as_deref().is_none_or(|n| n == app.name.as_str()))
    {
        return Err(CliError::usage(format!(
            "no app named {:?} in the spec",
            a.app.as_deref().unwrap_or("")
        )));
    }
    // Whether the header route is in force (best effort: the test itself needs only Traefik).
    let header_in_force: Option<BTreeMap<String, bool>> = async {
        let wired = wire::all(&g.connect, &spec).await.ok()?;
        let r = Rollout::new(spec.clone(), wired.deps.clone(), RolloutOptions::default());
        let s = tokio::time::timeout(Duration::from_secs(10), r.status())
            .await
            .ok()?
            .ok()?;
        s.splits_error.is_none().then(|| {
            s.splits
                .iter()
                .map(|x| (x.app.to_string(), x.header_route))
                .collect()
        })
    }
    .await;
    let client = reqwest::Client::builder()
        .timeout(a.timeout.get())
        .build()
        .map_err(|e| {
            CliError::new(
                "CANARY_INTERNAL",
                format!("cannot make an HTTP client: {e}"),
            )
        })?;
    let base = g.connect.web_url.trim_end_matches('/');
    let header_words = spec
        .traffic
        .header_route
        .as_ref()
        .map(|h| h.name.as_str().len() + h.value.as_str().len() + 8);
    let width = spec
        .apps
        .iter()
        .map(|a| a.name.as_str().len())
        .max()
        .unwrap_or(0)
        + 1
        + header_words.unwrap_or(0).max("without header".len());
    let mut all_ok = true;
    for app in spec
        .apps
        .iter()
        .filter(|app| a.app.as_deref().is_none_or(|n| n == app.name.as_str()))
    {
        let host = rule_arg(&app.rule, "Host").map(String::from);
        let path = a
            .path
            .clone()
            .unwrap_or_else(|| smoke_path(&app.rule, &app.health_path));
        let url = format!("{base}{path}");
        let in_force = header_in_force
            .as_ref()
            .and_then(|m| m.get(app.name.as_str()).copied());
        let mut variants: Vec<(String, Option<(String, String)>)> =
            vec![("without header".into(), None)];
        if let Some(h) = &spec.traffic.header_route {
            let (k, v) = (h.name.to_string(), h.value.to_string());
            variants.push((format!("with {k}: {v}"), Some((k, v))));
        }
        for (variant, header) in variants {
            let mut t = Tally {
                app: app.name.to_string(),
                variant: if header.is_some() {
                    "header".into()
                } else {
                    "plain".into()
                },
                url: url.clone(),
                host: host.clone(),
                header: header.as_ref().map(|(k, v)| format!("{k}: {v}")),
                requests: a.requests,
                ok: true,
                ..Tally::default()
            };
            for _ in 0..a.requests {
                one(
                    &client,
                    &mut t,
                    header.as_ref().map(|(k, v)| (k.as_str(), v.as_str())),
                )
                .await;
            }
            all_ok &= t.ok;
            let note = match (header.is_some(), in_force) {
                (true, Some(true)) => "  (header route in force: these went to the canary)",
                (true, Some(false)) => {
                    "  (header route not in force, no rollout running: these went to stable)"
                }
                _ => "",
            };
            p.emit(tagged("test", &t), || {
                let mut s = format!(
                    "{} {:<width$} GET {url} Host: {}  -> {}  versions: {}{note}",
                    if t.ok { "ok  " } else { "FAIL" },
                    format!("{} {variant}", t.app),
                    t.host.as_deref().unwrap_or("-"),
                    counts(&t.statuses),
                    counts(&t.versions),
                );
                if !t.errors.is_empty() {
                    s.push_str(&format!("  errors: {}", counts(&t.errors)));
                }
                s
            });
        }
    }
    p.emit(
        json!({"type": "result", "result": if all_ok { "passed" } else { "failed" }}),
        || {
            if all_ok {
                "smoke test passed".into()
            } else {
                "smoke test FAILED".into()
            }
        },
    );
    Ok(if all_ok { 0 } else { 1 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_give_host_and_path() {
        let r = "Host(`api.localhost`) && PathPrefix(`/gcp`)";
        assert_eq!(rule_arg(r, "Host"), Some("api.localhost"));
        assert_eq!(rule_arg(r, "PathPrefix"), Some("/gcp"));
        assert_eq!(smoke_path(r, "/gcp/api/health"), "/gcp/api/health");
        assert_eq!(smoke_path(r, "/health"), "/gcp/health");
        assert_eq!(smoke_path("Host(`a`)", "/health"), "/health");
        assert_eq!(
            rule_arg("HostRegexp(`x`) || Host(\"b\")", "Host"),
            Some("b")
        );
        assert_eq!(rule_arg("PathPrefix(`/api/`)", "Path"), None);
        assert_eq!(smoke_path("PathPrefix(`/api/`)", "/health"), "/api/health");
    }
}
