//! The `web` metric: a number read by JSONPath from the JSON answer of an HTTP endpoint, for
//! shops that run no Prometheus (Argo Rollouts' `web` metric). This module owns its shape, the
//! rules a spec must follow for it, and its placeholders; the HTTP call itself is an
//! implementation crate's (`canary_traefik::WebMetrics`).
//!
//! Placeholders, in the URL's path and query and in the body:
//!
//! | placeholder | value |
//! |---|---|
//! | `{{app}}` | the app's name |
//! | `{{track}}` | `stable` or `canary` |
//! | `{{service}}` | the track's Swarm service (`shop_api-canary`) |
//! | `{{window}}` | the analysis window as a duration: `300s` (`1500ms` when not whole seconds) |
//! | `{{windowSeconds}}` | the window in seconds: `300` (`1.5`) |
//!
//! In the URL a value is percent-encoded (every byte but `A-Z a-z 0-9 - . _ ~`), so it can
//! neither end a query parameter nor add one; in the body it is escaped for a JSON string
//! (write `"{{app}}"` inside quotes, `{{windowSeconds}}` bare). A placeholder may not stand in
//! the scheme, host or port: a spec cannot make the call go elsewhere per app. Header values
//! are sent as written, never templated.
//!
//! Secrets go in headers as `{env: VAR}`: the value is read from the controller's environment
//! at each call and is never part of the spec, the saved state, an event or an error (which name
//! the variable only). `Authorization`, `Proxy-Authorization` and `Cookie` accept nothing else.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::model::HumanDuration;

/// The shortest and longest `timeout` of a web metric.
pub const WEB_TIMEOUT_RANGE: (Duration, Duration) =
    (Duration::from_millis(100), Duration::from_secs(60));

/// Headers whose value must come from the environment: they carry credentials.
const SECRET_HEADERS: [&str; 3] = ["authorization", "proxy-authorization", "cookie"];

/// Headers the HTTP client sets itself; a spec setting them would contradict the request.
const RESERVED_HEADERS: [&str; 6] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "upgrade",
    "te",
];

/// The placeholders a web metric may use.
const PLACEHOLDERS: [&str; 5] = ["app", "track", "service", "window", "windowSeconds"];

/// A metric read from an HTTP endpoint's JSON answer:
/// `{web: {url, method, body, headers, jsonPath, timeout}}`. Placeholders `{{app}}`,
/// `{{track}}`, `{{service}}`, `{{window}}` (`300s`) and `{{windowSeconds}}` (`300`) are filled
/// in the URL's path and query and in the body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebMetric {
    /// `http://` or `https://` URL, with placeholders in its path and query (percent-encoded
    /// when filled), e.g. `https://metrics.example/api/errors?app={{app}}&track={{track}}`.
    pub url: String,
    /// `GET` (default) or `POST`.
    #[serde(default)]
    pub method: WebMethod,
    /// The body of a `POST`, with placeholders (escaped for a JSON string when filled). Sent as
    /// `Content-Type: application/json` unless a header says otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Request headers: a value as written, or `{env: VAR}` to read it from the controller's
    /// environment at each call (required for `Authorization`, `Proxy-Authorization`, `Cookie`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, WebHeader>,
    /// Where the number is in the answer, as an RFC 9535 JSONPath, e.g. `$.data.errorRate`. A
    /// check needs exactly one value; the judge's samples are every number it finds.
    pub json_path: String,
    /// Deadline of one call, 100ms to 1m and at most `timeouts.call`. Default: `timeouts.call`,
    /// at most 30s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<HumanDuration>,
}

/// The HTTP method of a web metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub enum WebMethod {
    /// `GET`.
    #[default]
    #[serde(rename = "GET", alias = "get")]
    Get,
    /// `POST`, with the `body`.
    #[serde(rename = "POST", alias = "post")]
    Post,
}

impl fmt::Display for WebMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WebMethod::Get => "GET",
            WebMethod::Post => "POST",
        })
    }
}

/// A header's value: as written, or read from an environment variable at each call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(untagged)]
#[non_exhaustive]
pub enum WebHeader {
    /// Sent as written.
    Value(String),
    /// `{env: VAR}`: the value of `VAR` in the controller's environment at call time.
    #[schemars(extend("additionalProperties" = false))]
    Env {
        /// The variable's name.
        env: String,
    },
}

// By hand: an untagged enum's error says only "did not match any variant"; this one says what a
// header value may be, and takes YAML's bare numbers and booleans as text.
impl<'de> Deserialize<'de> for WebHeader {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = WebHeader;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a header value, or {env: VARIABLE} to read it from the environment")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<WebHeader, E> {
                Ok(WebHeader::Value(v.to_string()))
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<WebHeader, E> {
                Ok(WebHeader::Value(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<WebHeader, E> {
                Ok(WebHeader::Value(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<WebHeader, E> {
                Ok(WebHeader::Value(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<WebHeader, E> {
                Ok(WebHeader::Value(v.to_string()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<WebHeader, A::Error> {
                use serde::de::Error as _;
                let mut env = None;
                while let Some(key) = map.next_key::<String>()? {
                    if key != "env" {
                        return Err(A::Error::unknown_field(&key, &["env"]));
                    }
                    if env.is_some() {
                        return Err(A::Error::duplicate_field("env"));
                    }
                    env = Some(map.next_value::<String>()?);
                }
                env.map(|env| WebHeader::Env { env })
                    .ok_or_else(|| A::Error::missing_field("env"))
            }
        }
        d.deserialize_any(V)
    }
}

/// The values a web metric's placeholders stand for in one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebVars<'a> {
    /// `{{app}}`.
    pub app: &'a str,
    /// `{{track}}`.
    pub track: &'a str,
    /// `{{service}}`.
    pub service: &'a str,
    /// `{{window}}` and `{{windowSeconds}}`.
    pub window: Duration,
}

impl WebMetric {
    /// The URL to call: placeholders filled and percent-encoded. Fails only on a template the
    /// spec's validation would have refused.
    pub fn request_url(&self, vars: &WebVars<'_>) -> Result<String, String> {
        check_url_template(&self.url)?;
        fill(&self.url, vars, percent_encode)
    }

    /// The body to send, placeholders filled and JSON-string-escaped (none for a `GET`).
    pub fn request_body(&self, vars: &WebVars<'_>) -> Result<Option<String>, String> {
        match (&self.body, self.method) {
            (Some(b), WebMethod::Post) => fill(b, vars, json_escape).map(Some),
            _ => Ok(None),
        }
    }

    /// The URL for messages: scheme, host, port and path, never the query (it may hold a token).
    pub fn shown_url(&self) -> String {
        shown_url(&self.url)
    }

    /// The rules [`Spec::validate`](super::Spec::validate) applies: `Err((field, reason))` with
    /// `field` below `metric.web` (`url`, `headers.Authorization`, …).
    pub(super) fn check(&self) -> Result<(), (String, String)> {
        fn at(f: &'static str) -> impl Fn(String) -> (String, String) {
            move |r| (f.to_string(), r)
        }
        check_url_template(&self.url).map_err(at("url"))?;
        placeholders(&self.url).map_err(at("url"))?;
        let probe = WebVars {
            app: "app",
            track: "canary",
            service: "service",
            window: Duration::from_secs(60),
        };
        let filled = fill(&self.url, &probe, percent_encode).map_err(at("url"))?;
        let parsed = url::Url::parse(&filled)
            .map_err(|e| format!("{:?} is not a URL: {e}", self.shown_url()))
            .map_err(at("url"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(at("url")(format!(
                "{:?} is not an http(s) URL",
                self.shown_url()
            )));
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(at("url")("the URL has no host".into()));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(at("url")(
                "put credentials in a header from the environment ({env: VAR}), not in the URL"
                    .into(),
            ));
        }
        if parsed.fragment().is_some() {
            return Err(at("url")("a URL sent to a server has no #fragment".into()));
        }
        match (self.method, &self.body) {
            (WebMethod::Get, Some(_)) => {
                return Err(at("body")("a body needs method: POST".into()));
            }
            (_, Some(b)) => {
                placeholders(b).map_err(at("body"))?;
            }
            _ => {}
        }
        for (name, value) in &self.headers {
            let f = format!("headers.{name}");
            if name.is_empty() || !name.bytes().all(is_token_byte) {
                return Err((f, format!("{name:?} is not a header name")));
            }
            let lower = name.to_ascii_lowercase();
            if RESERVED_HEADERS.contains(&lower.as_str()) {
                return Err((f, format!("{name} is set by the HTTP client, not the spec")));
            }
            match value {
                WebHeader::Value(_) if SECRET_HEADERS.contains(&lower.as_str()) => {
                    return Err((
                        f,
                        format!(
                            "{name} carries credentials: read it from the environment with {{env: VARIABLE}}"
                        ),
                    ));
                }
                WebHeader::Value(v) => {
                    if v.chars().any(|c| c.is_control() && c != '\t') {
                        return Err((f, "a header value cannot hold control characters".into()));
                    }
                }
                WebHeader::Env { env } => {
                    if !is_env_name(env) {
                        return Err((f, format!("{env:?} is not an environment variable name")));
                    }
                }
            }
        }
        if self.json_path.trim().is_empty() {
            return Err(at("jsonPath")("cannot be empty".into()));
        }
        serde_json_path::JsonPath::parse(&self.json_path)
            .map_err(|e| format!("{:?} is not a JSONPath (RFC 9535): {e}", self.json_path))
            .map_err(at("jsonPath"))?;
        if let Some(t) = self.timeout {
            let (lo, hi) = WEB_TIMEOUT_RANGE;
            if t.get() < lo || t.get() > hi {
                return Err(at("timeout")(format!("{t} is not between 100ms and 1m")));
            }
        }
        Ok(())
    }
}

/// The URL without user info or query, for messages.
fn shown_url(url: &str) -> String {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    let head = &url[..end];
    match head.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            format!("{scheme}://{host}{path}")
        }
        None => head.to_string(),
    }
}

/// Placeholders may stand in the path and query only: the scheme, host and port are the spec's.
fn check_url_template(url: &str) -> Result<(), String> {
    let authority_start = url.find("://").map(|i| i + 3).unwrap_or(0);
    let path_start = url[authority_start..]
        .find(['/', '?', '#'])
        .map(|i| authority_start + i)
        .unwrap_or(url.len());
    if url[..path_start].contains("{{") {
        return Err("placeholders may stand in the URL's path and query, not its host".into());
    }
    Ok(())
}

/// Every placeholder of `template`, or why one is not allowed.
fn placeholders(template: &str) -> Result<Vec<&str>, String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        let after = &rest[open + 2..];
        let close = after
            .find("}}")
            .ok_or_else(|| "an unclosed '{{'".to_string())?;
        let key = after[..close].trim();
        if !PLACEHOLDERS.contains(&key) {
            return Err(format!(
                "unknown placeholder {{{{{key}}}}}; use {}",
                PLACEHOLDERS.join(", ")
            ));
        }
        out.push(key);
        rest = &after[close + 2..];
    }
    Ok(out)
}

/// `template` with each placeholder replaced by its value passed through `escape`.
fn fill(template: &str, vars: &WebVars<'_>, escape: fn(&str) -> String) -> Result<String, String> {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let close = after
            .find("}}")
            .ok_or_else(|| "an unclosed '{{'".to_string())?;
        let value = match after[..close].trim() {
            "app" => vars.app.to_string(),
            "track" => vars.track.to_string(),
            "service" => vars.service.to_string(),
            "window" => window_duration(vars.window),
            "windowSeconds" => window_seconds(vars.window),
            other => {
                return Err(format!(
                    "unknown placeholder {{{{{other}}}}}; use {}",
                    PLACEHOLDERS.join(", ")
                ))
            }
        };
        out.push_str(&escape(&value));
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// `300s`, or `1500ms` when not whole seconds.
fn window_duration(d: Duration) -> String {
    let ms = d.as_millis().max(1);
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// `300`, or `1.5` when not whole seconds.
fn window_seconds(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{}", ms / 1000)
    } else {
        let s = format!("{}.{:03}", ms / 1000, ms % 1000);
        s.trim_end_matches('0').to_string()
    }
}

/// Every byte but the unreserved ones (RFC 3986) as `%XX`.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Escaped for the inside of a JSON string.
fn json_escape(s: &str) -> String {
    let quoted = serde_json::Value::String(s.to_string()).to_string();
    quoted[1..quoted.len() - 1].to_string()
}

/// RFC 9110 `tchar`.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_env_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> WebVars<'static> {
        WebVars {
            app: "api",
            track: "canary",
            service: "shop_api-canary",
            window: Duration::from_secs(300),
        }
    }

    fn metric(url: &str) -> WebMetric {
        WebMetric {
            url: url.into(),
            method: WebMethod::Get,
            body: None,
            headers: BTreeMap::new(),
            json_path: "$.value".into(),
            timeout: None,
        }
    }

    #[test]
    fn urls_are_filled_percent_encoded() {
        let m = metric(
            "http://127.0.0.1:9/v1/{{app}}/errors?track={{ track }}&svc={{service}}&w={{window}}&s={{windowSeconds}}",
        );
        assert_eq!(
            m.request_url(&vars()).unwrap(),
            "http://127.0.0.1:9/v1/api/errors?track=canary&svc=shop_api-canary&w=300s&s=300"
        );
        let evil = WebVars {
            app: "a&admin=1/../x y#z",
            ..vars()
        };
        assert_eq!(
            metric("http://h/x?app={{app}}").request_url(&evil).unwrap(),
            "http://h/x?app=a%26admin%3D1%2F..%2Fx%20y%23z"
        );
        let half = WebVars {
            window: Duration::from_millis(1500),
            ..vars()
        };
        assert_eq!(
            metric("http://h/?w={{window}}&s={{windowSeconds}}")
                .request_url(&half)
                .unwrap(),
            "http://h/?w=1500ms&s=1.5"
        );
        assert!(metric("http://{{app}}.example/x")
            .request_url(&vars())
            .is_err());
    }

    #[test]
    fn bodies_are_filled_json_escaped() {
        let mut m = metric("http://h/q");
        m.method = WebMethod::Post;
        m.body = Some(r#"{"app": "{{app}}", "window": {{windowSeconds}}}"#.into());
        let evil = WebVars {
            app: "x\", \"admin\": true, \"y\": \"\n",
            ..vars()
        };
        let body = m.request_body(&evil).unwrap().unwrap();
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["app"], evil.app);
        assert_eq!(v["window"], 300);
        assert!(v.get("admin").is_none(), "{body}");
        m.method = WebMethod::Get;
        assert_eq!(m.request_body(&vars()).unwrap(), None);
    }

    #[test]
    fn shown_urls_drop_the_query_and_credentials() {
        assert_eq!(
            shown_url("https://u:p@h:8443/a/b?token=s3cret#f"),
            "https://h:8443/a/b"
        );
        assert_eq!(shown_url("http://h"), "http://h");
        assert_eq!(shown_url("http://h/users/a@b?x"), "http://h/users/a@b");
    }

    #[test]
    fn every_rule_names_its_field() {
        let bad = |f: &dyn Fn(&mut WebMetric)| {
            let mut m = metric("http://127.0.0.1:9/x?app={{app}}");
            f(&mut m);
            m.check().unwrap_err()
        };
        assert!(metric("http://127.0.0.1:9/x?app={{app}}").check().is_ok());
        for (field, f) in [
            (
                "url",
                &(|m: &mut WebMetric| m.url = "ftp://h/x".into()) as &dyn Fn(&mut WebMetric),
            ),
            ("url", &|m| m.url = "not a url".into()),
            ("url", &|m| m.url = "http://{{app}}/x".into()),
            ("url", &|m| m.url = "http://h/x?a={{nope}}".into()),
            ("url", &|m| m.url = "http://h/x?a={{app".into()),
            ("url", &|m| m.url = "http://u:p@h/x".into()),
            ("url", &|m| m.url = "http://h/x#frag".into()),
            ("body", &|m| m.body = Some("{}".into())),
            ("body", &|m| {
                m.method = WebMethod::Post;
                m.body = Some("{{bad}}".into());
            }),
            ("headers.Authorization", &|m| {
                m.headers
                    .insert("Authorization".into(), WebHeader::Value("Bearer x".into()));
            }),
            ("headers.cookie", &|m| {
                m.headers
                    .insert("cookie".into(), WebHeader::Value("a=b".into()));
            }),
            ("headers.Host", &|m| {
                m.headers
                    .insert("Host".into(), WebHeader::Value("h".into()));
            }),
            ("headers.Bad Name", &|m| {
                m.headers
                    .insert("Bad Name".into(), WebHeader::Value("v".into()));
            }),
            ("headers.X-A", &|m| {
                m.headers
                    .insert("X-A".into(), WebHeader::Value("a\r\nX-B: b".into()));
            }),
            ("headers.X-Token", &|m| {
                m.headers.insert(
                    "X-Token".into(),
                    WebHeader::Env {
                        env: "1BAD-NAME".into(),
                    },
                );
            }),
            ("jsonPath", &|m| m.json_path = "".into()),
            ("jsonPath", &|m| m.json_path = "$.a[".into()),
            ("jsonPath", &|m| m.json_path = "data.value".into()),
            ("timeout", &|m| {
                m.timeout = Some(HumanDuration(Duration::from_millis(50)))
            }),
            ("timeout", &|m| {
                m.timeout = Some(HumanDuration(Duration::from_secs(61)))
            }),
        ] {
            let (got, reason) = bad(f);
            assert_eq!(got, field, "{reason}");
        }
        let mut ok = metric("https://h/x");
        ok.method = WebMethod::Post;
        ok.body = Some(r#"{"app":"{{app}}"}"#.into());
        ok.headers.insert(
            "Authorization".into(),
            WebHeader::Env {
                env: "METRICS_TOKEN".into(),
            },
        );
        ok.headers
            .insert("Accept".into(), WebHeader::Value("application/json".into()));
        ok.timeout = Some(HumanDuration(Duration::from_secs(60)));
        assert_eq!(ok.check(), Ok(()));
    }
}
