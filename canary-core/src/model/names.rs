//! Names that end up in Swarm objects and Traefik rules: [`ServiceName`], [`HeaderName`],
//! [`RuleValue`], [`RuleRegex`], [`CookieName`], [`CookieValue`]. Each rejects what Docker or
//! Traefik would refuse or misread.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};

use super::{reason_of, string_newtype};
use crate::error::{Error, Result};

/// A Docker Swarm service name: 1–63 characters, letters, digits, `-` and `_`, starting and ending
/// with a letter or digit (swarmkit's rule). A stack's services are `<stack>_<name>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServiceName(String);

impl ServiceName {
    /// Validates `s` as a service name.
    pub fn parse(s: &str) -> Result<Self> {
        if s.is_empty() {
            return Err(Error::invalid("", "a service name cannot be empty"));
        }
        if s.len() > 63 {
            return Err(Error::invalid(
                "",
                format!(
                    "service name {s:?} is {} characters, the limit is 63",
                    s.len()
                ),
            ));
        }
        let bytes = s.as_bytes();
        let ok_char = |c: u8| c.is_ascii_alphanumeric() || c == b'-' || c == b'_';
        if let Some(c) = s.chars().find(|c| !c.is_ascii() || !ok_char(*c as u8)) {
            return Err(Error::invalid(
                "",
                format!(
                    "service name {s:?} has {c:?}: only letters, digits, '-' and '_' are allowed"
                ),
            ));
        }
        if !bytes[0].is_ascii_alphanumeric() || !bytes[bytes.len() - 1].is_ascii_alphanumeric() {
            return Err(Error::invalid(
                "",
                format!("service name {s:?} must start and end with a letter or digit"),
            ));
        }
        Ok(ServiceName(s.to_string()))
    }

    /// The name with a suffix, validated again (e.g. `api` + `-canary`).
    pub fn with_suffix(&self, suffix: &str) -> Result<Self> {
        Self::parse(&format!("{}{suffix}", self.0))
    }

    /// The name `docker stack deploy` gives service `self` in `stack`: `<stack>_<name>`.
    pub fn in_stack(&self, stack: &ServiceName) -> Result<Self> {
        Self::parse(&format!("{stack}_{self}"))
    }
}
string_newtype!(
    ServiceName,
    json_schema!({
        "type": "string",
        "minLength": 1,
        "maxLength": 63,
        "pattern": "^[a-zA-Z0-9](?:[-_]*[A-Za-z0-9]+)*$",
        "description": "A Docker Swarm service name."
    })
);

/// An HTTP header name used in a route (`X-Canary`): a token of letters, digits and `-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HeaderName(String);

impl HeaderName {
    /// Validates a header name.
    pub fn parse(s: &str) -> Result<Self> {
        if s.is_empty() || s.len() > 128 {
            return Err(Error::invalid(
                "",
                "a header name must have 1 to 128 characters",
            ));
        }
        if let Some(c) = s
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(Error::invalid(
                "",
                format!(
                    "header name {s:?} has {c:?}: only letters, digits, '-' and '_' are allowed"
                ),
            ));
        }
        Ok(HeaderName(s.to_string()))
    }
}
string_newtype!(
    HeaderName,
    json_schema!({"type": "string", "pattern": "^[A-Za-z0-9_-]{1,128}$"})
);

/// A value that is placed inside a router rule (a header value, a host): printable text without
/// backticks, quotes or backslashes, so it can never break out of the rule. Rejected, not escaped.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RuleValue(String);

impl RuleValue {
    /// Validates a value for use inside a rule.
    pub fn parse(s: &str) -> Result<Self> {
        if s.is_empty() || s.len() > 1024 {
            return Err(Error::invalid(
                "",
                "a rule value must have 1 to 1024 characters",
            ));
        }
        if let Some(c) = s.chars().find(|c| c.is_control() || "`'\"\\".contains(*c)) {
            return Err(Error::invalid(
                "",
                format!("{s:?} has {c:?}: backticks, quotes, backslashes and control characters are not allowed"),
            ));
        }
        Ok(RuleValue(s.to_string()))
    }
}
string_newtype!(
    RuleValue,
    json_schema!({"type": "string", "minLength": 1, "pattern": "^[^`'\"\\\\\\u0000-\\u001f]+$"})
);

/// A regular expression placed inside a router rule (`HeaderRegexp`): 1 to 512 characters, no
/// backticks or control characters, and within the syntax Go's `regexp` and Rust's `regex` share
/// (no `(?x)` or `(?R)` flags, no class set operations `&&`, `--`, `~~`), so what is checked here
/// is what Traefik runs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RuleRegex(String);

impl RuleRegex {
    /// The longest regex accepted.
    pub const MAX_LEN: usize = 512;

    /// Validates a regex for use inside a rule.
    pub fn parse(s: &str) -> Result<Self> {
        if s.is_empty() || s.len() > Self::MAX_LEN {
            return Err(Error::invalid(
                "",
                format!("a regex must have 1 to {} characters", Self::MAX_LEN),
            ));
        }
        if let Some(c) = s.chars().find(|c| c.is_control() || *c == '`') {
            return Err(Error::invalid(
                "",
                format!("regex {s:?} has {c:?}: backticks and control characters are not allowed"),
            ));
        }
        for op in ["&&", "--", "~~", "(?x", "(?R"] {
            if s.contains(op) {
                return Err(Error::invalid(
                    "",
                    format!(
                        "regex {s:?} uses {op:?}, which Go's regexp (Traefik) reads differently"
                    ),
                ));
            }
        }
        Self::compile(s)?;
        Ok(RuleRegex(s.to_string()))
    }

    /// Whether `text` matches, as Traefik would decide it.
    pub fn is_match(&self, text: &str) -> bool {
        Self::compile(&self.0).is_ok_and(|r| r.is_match(text))
    }

    fn compile(s: &str) -> Result<regex::Regex> {
        regex::RegexBuilder::new(s)
            .size_limit(1 << 20)
            .nest_limit(32)
            .build()
            .map_err(|e| {
                let first = e.to_string();
                let last = first.lines().last().unwrap_or_default().trim().to_string();
                Error::invalid("", format!("regex {s:?} is not valid: {last}"))
            })
    }
}
string_newtype!(
    RuleRegex,
    json_schema!({"type": "string", "minLength": 1, "maxLength": 512, "pattern": "^[^`\\u0000-\\u001f]+$"})
);

/// A cookie's name (an RFC 6265 token): 1 to 128 letters, digits and ``!#$%&'*+-.^_|~``.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CookieName(String);

impl CookieName {
    /// Validates a cookie name.
    pub fn parse(s: &str) -> Result<Self> {
        if s.is_empty() || s.len() > 128 {
            return Err(Error::invalid(
                "",
                "a cookie name must have 1 to 128 characters",
            ));
        }
        if let Some(c) = s
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || "!#$%&'*+-.^_|~".contains(*c)))
        {
            return Err(Error::invalid(
                "",
                format!("cookie name {s:?} has {c:?}: only an RFC 6265 token is allowed"),
            ));
        }
        Ok(CookieName(s.to_string()))
    }
}
string_newtype!(
    CookieName,
    json_schema!({"type": "string", "pattern": "^[A-Za-z0-9!#$%&'*+.^_|~-]{1,128}$"})
);

/// A cookie's value (RFC 6265 cookie-octets, without the backtick a rule cannot hold): 1 to 1024
/// printable ASCII characters other than space, `"`, `,`, `;`, `\` and `` ` ``.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CookieValue(String);

impl CookieValue {
    /// Validates a cookie value.
    pub fn parse(s: &str) -> Result<Self> {
        if s.is_empty() || s.len() > 1024 {
            return Err(Error::invalid(
                "",
                "a cookie value must have 1 to 1024 characters",
            ));
        }
        if let Some(c) = s
            .chars()
            .find(|c| !c.is_ascii_graphic() || "\",;\\`".contains(*c))
        {
            return Err(Error::invalid(
                "",
                format!("cookie value {s:?} has {c:?}: spaces, quotes, commas, semicolons, backslashes and backticks are not allowed"),
            ));
        }
        Ok(CookieValue(s.to_string()))
    }
}
string_newtype!(
    CookieValue,
    json_schema!({"type": "string", "pattern": "^[!#-+\\--:<-\\[\\]-_a-~]{1,1024}$"})
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_names_follow_swarmkit() {
        for ok in ["api", "neotix_neotix-api", "a", "A1-b_2", &"x".repeat(63)] {
            assert!(ServiceName::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "-api",
            "api-",
            "api.v2",
            "ap i",
            "é",
            &"x".repeat(64),
            "api_",
        ] {
            assert!(ServiceName::parse(bad).is_err(), "{bad}");
        }
        let api = ServiceName::parse("neotix-api").unwrap();
        assert_eq!(
            api.with_suffix("-canary").unwrap().as_str(),
            "neotix-api-canary"
        );
        let stack = ServiceName::parse("neotix").unwrap();
        assert_eq!(api.in_stack(&stack).unwrap().as_str(), "neotix_neotix-api");
    }

    #[test]
    fn rule_values_reject_breakouts() {
        assert!(RuleValue::parse("true").is_ok());
        for bad in ["a`b", "a\"b", "a'b", "a\\b", "a\nb", ""] {
            assert!(RuleValue::parse(bad).is_err(), "{bad:?}");
        }
        assert!(HeaderName::parse("X-Canary").is_ok());
        assert!(HeaderName::parse("X Canary").is_err());
    }

    #[test]
    fn regexes_are_what_go_and_rust_share() {
        let r = RuleRegex::parse(r"^(alice|bob)\d*$").unwrap();
        assert!(r.is_match("alice7") && !r.is_match("carol"));
        for bad in ["", "a`b", "(", "[a&&b]", "(?x) a", "a\nb", &"a".repeat(513)] {
            assert!(RuleRegex::parse(bad).is_err(), "{bad:?}");
        }
        assert!(RuleRegex::parse("a{1000}{1000}").is_err(), "size limit");
    }

    #[test]
    fn cookies_follow_rfc_6265() {
        assert!(CookieName::parse("canary_v2").is_ok());
        assert!(CookieValue::parse("always").is_ok());
        for bad in ["", "a b", "a=b", "a;b", "é"] {
            assert!(CookieName::parse(bad).is_err(), "{bad:?}");
        }
        for bad in ["", "a b", "a;b", "a,b", "a\"b", "a`b"] {
            assert!(CookieValue::parse(bad).is_err(), "{bad:?}");
        }
    }
}
