//! Notifications: where a rollout's events are posted (Slack, Microsoft Teams and Discord incoming
//! webhooks, or plain JSON), which events, and how the URL is found.
//!
//! A webhook URL is a secret (Slack's and Discord's carry their token in the path), so it is a
//! [`NotifyUrl`] whose `Debug` shows only `scheme://host[:port]`, and every error about it names
//! the field, never the value. `urlFrom.env` keeps it out of the spec file altogether: the
//! variable is read each time a notification is sent.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::defaults::{default_notify_events, default_notify_timeout};
use crate::error::{Error, Result};
use crate::model::{EventKind, HumanDuration};

/// The payload format a notification is posted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum NotificationKind {
    /// A Slack incoming webhook: `text` and Block Kit `blocks`.
    Slack,
    /// A Microsoft Teams webhook (Workflows or an incoming webhook): an Adaptive Card.
    Teams,
    /// A Discord webhook: `content` and one embed.
    Discord,
    /// Any endpoint: the event as JSON, with the notification's name.
    Json,
}

impl fmt::Display for NotificationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NotificationKind::Slack => "slack",
            NotificationKind::Teams => "teams",
            NotificationKind::Discord => "discord",
            NotificationKind::Json => "json",
        })
    }
}

/// A webhook URL: a secret. Serialized as written (so a spec round-trips); `Debug` and
/// [`NotifyUrl::redacted`] show only `scheme://host[:port]`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct NotifyUrl(String);

impl NotifyUrl {
    /// Checks the URL's shape (see [`check_url`]); the error never holds the URL.
    pub fn parse(url: impl Into<String>) -> std::result::Result<Self, String> {
        let url = url.into();
        check_url(&url)?;
        Ok(NotifyUrl(url))
    }

    /// The whole URL, secret included: for the HTTP client alone.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `scheme://host[:port]`: what logs, errors and events may show.
    pub fn redacted(&self) -> String {
        redact(&self.0)
    }
}

impl fmt::Debug for NotifyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NotifyUrl({}/<redacted>)", self.redacted())
    }
}

/// Where a URL is read from instead of the spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UrlFrom {
    /// An environment variable of the process that sends the notification, read at each send.
    pub env: String,
}

/// One notification target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NotificationSpec {
    /// The notification's name in logs.
    pub name: String,
    /// The payload format: `slack`, `teams`, `discord` or `json`.
    pub kind: NotificationKind,
    /// The `http://` or `https://` URL it is posted to. A secret: never logged or printed beyond
    /// `scheme://host`. Give this or `urlFrom`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<NotifyUrl>,
    /// Read the URL from the environment at each send instead (keeps the secret out of the file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_from: Option<UrlFrom>,
    /// The event kinds sent. Default: started, paused, promoting, promoted, rollingBack,
    /// rolledBack, canaryLost, failed.
    #[serde(default = "default_notify_events")]
    pub events: Vec<EventKind>,
    /// Deadline for one post. Default 5s; 100ms to 1m.
    #[serde(default = "default_notify_timeout")]
    pub timeout: HumanDuration,
    /// Let this notification reach link-local and cloud metadata addresses (169.254.0.0/16,
    /// 100.100.100.200, fe80::/10, fd00:ec2::254), refused by default. Default false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_link_local: bool,
}

impl NotificationSpec {
    /// Whether events of `kind` are sent.
    pub fn wants(&self, kind: EventKind) -> bool {
        self.events.contains(&kind)
    }

    /// The URL to post to now: the spec's, or the variable's current value. An error names the
    /// field or the variable, never the value.
    pub fn resolve_url(&self) -> Result<NotifyUrl> {
        self.resolve_url_with(|name| std::env::var(name))
    }

    /// [`NotificationSpec::resolve_url`] with `env` in place of the process environment.
    pub fn resolve_url_with(
        &self,
        env: impl FnOnce(&str) -> std::result::Result<String, std::env::VarError>,
    ) -> Result<NotifyUrl> {
        if let Some(u) = &self.url {
            return Ok(u.clone());
        }
        let Some(from) = &self.url_from else {
            return Err(Error::invalid(
                format!("notification {}", self.name),
                "has neither url nor urlFrom",
            ));
        };
        let field = format!("notification {}: urlFrom.env {}", self.name, from.env);
        let value = env(&from.env).map_err(|e| {
            let why = match e {
                std::env::VarError::NotPresent => "is not set",
                std::env::VarError::NotUnicode(_) => "is not UTF-8",
            };
            Error::invalid(field.clone(), why)
        })?;
        if value.len() > MAX_URL_LEN {
            return Err(Error::invalid(
                field,
                format!("holds more than {MAX_URL_LEN} bytes"),
            ));
        }
        NotifyUrl::parse(value.trim()).map_err(|why| Error::invalid(field, why))
    }

    /// Where it goes, for logs: `scheme://host[:port]`, or `$VAR` when the URL is read from the
    /// environment.
    pub fn target(&self) -> String {
        match (&self.url, &self.url_from) {
            (Some(u), _) => u.redacted(),
            (None, Some(f)) => format!("${}", f.env),
            (None, None) => "nowhere".into(),
        }
    }
}

/// The longest URL accepted, in bytes.
pub const MAX_URL_LEN: usize = 2048;

/// Checks that `url` is `http(s)://host...` with no space or control character. The reason
/// never quotes the URL.
pub fn check_url(url: &str) -> std::result::Result<(), String> {
    if url.len() > MAX_URL_LEN {
        return Err(format!("is longer than {MAX_URL_LEN} bytes"));
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err("is not an http(s) URL".into());
    };
    if scheme != "http" && scheme != "https" {
        return Err("is not an http(s) URL (scheme must be http or https)".into());
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("has a space or a control character".into());
    }
    let host = host_port(rest);
    if host.is_empty() || host.starts_with(':') {
        return Err("has no host".into());
    }
    Ok(())
}

/// The `host[:port]` of what follows `scheme://`, without user info.
fn host_port(rest: &str) -> &str {
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    authority.rsplit('@').next().unwrap_or("")
}

/// `scheme://host[:port]` of a URL, or `<not a URL>`.
fn redact(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest))
            if scheme.len() <= 16 && scheme.chars().all(|c| c.is_ascii_alphanumeric()) =>
        {
            format!("{scheme}://{}", host_port(rest))
        }
        _ => "<not a URL>".into(),
    }
}

/// Checks a variable name: `[A-Za-z_][A-Za-z0-9_]*`.
pub(super) fn check_env_name(name: &str) -> std::result::Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!("{name:?} is not an environment variable name"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "https://hooks.slack.com/services/T000/B000/XXXXsecretXXXX";

    #[test]
    fn urls_show_only_scheme_and_host() {
        let u = NotifyUrl::parse(SECRET).unwrap();
        assert_eq!(u.redacted(), "https://hooks.slack.com");
        assert!(!format!("{u:?}").contains("secret"), "{u:?}");
        assert_eq!(u.expose(), SECRET);
        let u = NotifyUrl::parse("http://user:pw@127.0.0.1:8080/x?token=t#f").unwrap();
        assert_eq!(u.redacted(), "http://127.0.0.1:8080");
        assert_eq!(redact("nonsense"), "<not a URL>");
    }

    #[test]
    fn bad_urls_are_refused_without_quoting_them() {
        for bad in [
            "ftp://host/secret",
            "hooks.slack.com/secret",
            "https:///secret",
            "https://host/se cret",
            "https://u@/secret",
            "https://:80/secret",
        ] {
            let e = check_url(bad).unwrap_err();
            assert!(!e.contains("secret"), "{bad}: {e}");
        }
        assert!(check_url(&format!("https://h/{}", "x".repeat(MAX_URL_LEN))).is_err());
        assert!(check_url("http://[::1]:9/x").is_ok());
    }

    #[test]
    fn urls_come_from_the_environment_at_resolve_time() {
        use std::env::VarError;
        let var = "SLACK_URL";
        let n = NotificationSpec {
            name: "team".into(),
            kind: NotificationKind::Slack,
            url: None,
            url_from: Some(UrlFrom { env: var.into() }),
            events: default_notify_events(),
            timeout: default_notify_timeout(),
            allow_link_local: false,
        };
        assert_eq!(n.target(), format!("${var}"));
        let e = n
            .resolve_url_with(|_| Err(VarError::NotPresent))
            .unwrap_err()
            .to_string();
        assert!(e.contains("is not set") && e.contains(var), "{e}");
        let e = n
            .resolve_url_with(|_| Ok("ftp://h/secret".into()))
            .unwrap_err()
            .to_string();
        assert!(!e.contains("secret"), "{e}");
        let e = n
            .resolve_url_with(|_| Ok(format!("https://h/{}", "secret".repeat(400))))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("more than 2048 bytes") && !e.contains("secret"),
            "{e}"
        );
        let got = n
            .resolve_url_with(|name| {
                assert_eq!(name, var);
                Ok(format!(" {SECRET}\n"))
            })
            .unwrap();
        assert_eq!(got.expose(), SECRET);
        assert!(n.wants(EventKind::Promoted) && !n.wants(EventKind::WeightSet));
    }

    #[test]
    fn variable_names() {
        assert!(check_env_name("SLACK_URL").is_ok());
        assert!(check_env_name("_x1").is_ok());
        for bad in ["", "1X", "A-B", "A B", "A=B"] {
            assert!(check_env_name(bad).is_err(), "{bad}");
        }
    }
}
