//! How a request is recognised as one for the canary whatever the weights (Flagger's A/B match):
//! a header with an exact value, a header matching a regex, or a cookie with a value.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};

use crate::model::{CookieName, CookieValue, HeaderName, RuleRegex, RuleValue};

/// Requests that match go to the canary, whatever the weights. Written as one of:
///
/// ```yaml
/// headerRoute: {name: X-Canary, value: "true"}                    # exact header value
/// headerRoute: {name: X-User, regex: "^(alice|bob)$", example: alice}  # header by regex
/// headerRoute: {cookie: canary, value: always}                    # cookie `canary=always`
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "HeaderRouteFields", into = "HeaderRouteFields")]
#[non_exhaustive]
pub enum HeaderRoute {
    /// `name: value`, exactly (Traefik's `Header`).
    Exact {
        /// Header name.
        name: HeaderName,
        /// Header value.
        value: RuleValue,
    },
    /// A header whose value matches a regex (Traefik's `HeaderRegexp`; Go's regexp syntax,
    /// unanchored unless the regex says `^…$`).
    Regex {
        /// Header name.
        name: HeaderName,
        /// The regex the value matches.
        regex: RuleRegex,
        /// A value that matches, sent by smoke tests and probes (checked against the regex when
        /// the spec is loaded). Without it, probes cannot reach the canary through the match.
        example: Option<RuleValue>,
    },
    /// A cookie `name=value` in the `Cookie` header (a `HeaderRegexp` on `Cookie`).
    Cookie {
        /// Cookie name.
        cookie: CookieName,
        /// Cookie value.
        value: CookieValue,
    },
}

impl Default for HeaderRoute {
    /// `X-Canary: true`.
    fn default() -> Self {
        HeaderRoute::Exact {
            name: HeaderName::parse("X-Canary").expect("valid"),
            value: RuleValue::parse("true").expect("valid"),
        }
    }
}

impl HeaderRoute {
    /// The header a client sends to match (name, value), when one is known: the exact value, the
    /// cookie pair, or a regex route's `example`.
    pub fn request_header(&self) -> Option<(String, String)> {
        match self {
            HeaderRoute::Exact { name, value } => Some((name.to_string(), value.to_string())),
            HeaderRoute::Regex { name, example, .. } => {
                example.as_ref().map(|e| (name.to_string(), e.to_string()))
            }
            HeaderRoute::Cookie { cookie, value } => {
                Some(("Cookie".into(), format!("{cookie}={value}")))
            }
        }
    }

    /// Whether a request with these headers matches, as Traefik decides it (for tests and
    /// dry runs; header names compare without case).
    pub fn matches<'a>(&self, headers: impl IntoIterator<Item = (&'a str, &'a str)>) -> bool {
        headers.into_iter().any(|(n, v)| match self {
            HeaderRoute::Exact { name, value } => {
                n.eq_ignore_ascii_case(name.as_str()) && v == value.as_str()
            }
            HeaderRoute::Regex { name, regex, .. } => {
                n.eq_ignore_ascii_case(name.as_str()) && regex.is_match(v)
            }
            HeaderRoute::Cookie { cookie, value } => {
                n.eq_ignore_ascii_case("cookie")
                    && v.split(';').any(|pair| {
                        pair.trim_start()
                            .split_once('=')
                            .is_some_and(|(k, val)| k == cookie.as_str() && val == value.as_str())
                    })
            }
        })
    }
}

impl fmt::Display for HeaderRoute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderRoute::Exact { name, value } => write!(f, "{name}: {value}"),
            HeaderRoute::Regex { name, regex, .. } => write!(f, "{name} ~ /{regex}/"),
            HeaderRoute::Cookie { cookie, value } => write!(f, "cookie {cookie}={value}"),
        }
    }
}

/// The fields as written; [`HeaderRoute`] is what they may combine into.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct HeaderRouteFields {
    /// Header name (with `value` or `regex`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<HeaderName>,
    /// The exact header value, or with `cookie` the cookie's value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    value: Option<RuleValue>,
    /// A regex the header's value matches (Go's regexp syntax).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    regex: Option<RuleRegex>,
    /// With `regex`: a value that matches, for smoke tests and probes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    example: Option<RuleValue>,
    /// A cookie name (with `value`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cookie: Option<CookieName>,
}

impl TryFrom<HeaderRouteFields> for HeaderRoute {
    type Error = String;

    fn try_from(f: HeaderRouteFields) -> Result<Self, String> {
        let reason = |e: crate::Error| match e {
            crate::Error::InvalidInput { reason, .. } => reason,
            other => other.to_string(),
        };
        match (f.name, f.cookie, f.value, f.regex, f.example) {
            (Some(name), None, Some(value), None, None) => Ok(HeaderRoute::Exact { name, value }),
            (Some(name), None, None, Some(regex), example) => {
                if let Some(e) = &example {
                    if !regex.is_match(e.as_str()) {
                        return Err(format!(
                            "example {:?} does not match regex {:?}",
                            e.as_str(),
                            regex.as_str()
                        ));
                    }
                }
                Ok(HeaderRoute::Regex {
                    name,
                    regex,
                    example,
                })
            }
            (None, Some(cookie), Some(value), None, None) => Ok(HeaderRoute::Cookie {
                cookie,
                value: CookieValue::parse(value.as_str()).map_err(reason)?,
            }),
            _ => Err(
                "a header route is {name, value}, {name, regex[, example]} or {cookie, value}"
                    .into(),
            ),
        }
    }
}

impl From<HeaderRoute> for HeaderRouteFields {
    fn from(h: HeaderRoute) -> Self {
        match h {
            HeaderRoute::Exact { name, value } => HeaderRouteFields {
                name: Some(name),
                value: Some(value),
                ..Default::default()
            },
            HeaderRoute::Regex {
                name,
                regex,
                example,
            } => HeaderRouteFields {
                name: Some(name),
                regex: Some(regex),
                example,
                ..Default::default()
            },
            HeaderRoute::Cookie { cookie, value } => HeaderRouteFields {
                cookie: Some(cookie),
                // Every cookie value is a rule value (its characters are a subset).
                value: RuleValue::parse(value.as_str()).ok(),
                ..Default::default()
            },
        }
    }
}

impl JsonSchema for HeaderRoute {
    fn schema_name() -> Cow<'static, str> {
        "HeaderRoute".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let mut schema = HeaderRouteFields::json_schema(generator);
        schema.insert(
            "description".into(),
            "Requests that match go to the canary: {name, value}, {name, regex[, example]} or {cookie, value}.".into(),
        );
        schema.insert(
            "oneOf".into(),
            serde_json::json!([
                {"required": ["name", "value"], "not": {"anyOf": [{"required": ["regex"]}, {"required": ["cookie"]}, {"required": ["example"]}]}},
                {"required": ["name", "regex"], "not": {"anyOf": [{"required": ["value"]}, {"required": ["cookie"]}]}},
                {"required": ["cookie", "value"], "not": {"anyOf": [{"required": ["name"]}, {"required": ["regex"]}, {"required": ["example"]}]}}
            ]),
        );
        schema
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(yaml: &str) -> Result<HeaderRoute, String> {
        crate::yaml::from_str::<HeaderRoute>(yaml).map_err(|e| e.to_string())
    }

    #[test]
    fn three_forms_and_nothing_else() {
        assert_eq!(
            load("{name: X-Canary, value: 'true'}").unwrap(),
            HeaderRoute::default()
        );
        let r = load("{name: X-User, regex: '^(alice|bob)$', example: bob}").unwrap();
        assert_eq!(r.request_header(), Some(("X-User".into(), "bob".into())));
        assert!(r.matches([("x-user", "alice")]) && !r.matches([("X-User", "carol")]));
        let c = load("{cookie: canary, value: always}").unwrap();
        assert_eq!(
            c.request_header(),
            Some(("Cookie".into(), "canary=always".into()))
        );
        assert!(c.matches([("Cookie", "a=1; canary=always")]));
        assert!(!c.matches([("Cookie", "xcanary=always")]));
        for bad in [
            "{name: X-User}",
            "{name: X-User, value: a, regex: b}",
            "{cookie: c, regex: a}",
            "{name: X-User, regex: '^a$', example: b}",
            "{cookie: c, value: 'a b'}",
            "{name: X-User, value: 'a`b'}",
            "{name: X-User, regex: '('}",
            "{}",
            "{name: X-Canary, value: 'true', extra: 1}",
        ] {
            assert!(load(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn round_trips() {
        for yaml in [
            "{name: X-Canary, value: 'true'}",
            "{name: X-User, regex: '^a', example: ab}",
            "{cookie: canary, value: always}",
        ] {
            let r = load(yaml).unwrap();
            let back: HeaderRoute =
                serde_json::from_value(serde_json::to_value(&r).unwrap()).unwrap();
            assert_eq!(back, r);
        }
    }
}
