//! Validated values: a value of these types is always good, so the engine and the implementations
//! never check them again. Each one rejects bad input when built or deserialized.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Implements `Display`, `FromStr`, `AsRef<str>`, serde (as a validated string) and `JsonSchema` for
/// a string newtype with a `parse(&str) -> Result<Self>` constructor.
macro_rules! string_newtype {
    ($ty:ident, $schema:expr) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
        impl FromStr for $ty {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                Self::parse(s)
            }
        }
        impl TryFrom<String> for $ty {
            type Error = Error;
            fn try_from(s: String) -> Result<Self> {
                Self::parse(&s)
            }
        }
        impl From<$ty> for String {
            fn from(v: $ty) -> String {
                v.0
            }
        }
        impl Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).map_err(|e| serde::de::Error::custom(reason_of(&e)))
            }
        }
        impl JsonSchema for $ty {
            fn schema_name() -> Cow<'static, str> {
                stringify!($ty).into()
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                $schema
            }
        }
        impl $ty {
            /// The value as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
    };
}

/// The reason text of an [`Error::InvalidInput`] (without the field), used inside serde errors so
/// the path is added once, by the spec loader.
pub(crate) fn reason_of(e: &Error) -> String {
    match e {
        Error::InvalidInput { reason, .. } => reason.clone(),
        other => other.to_string(),
    }
}

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

/// A container image reference: `[registry[:port]/]path[:tag][@sha256:digest]`, or an image ID
/// `sha256:<64 hex>`. Promotion pins stable to an ID or digest so the update really changes it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageRef(String);

impl ImageRef {
    /// Validates `s` as an image reference.
    pub fn parse(s: &str) -> Result<Self> {
        let bad = |why: String| Err(Error::invalid("", format!("image {s:?} {why}")));
        if s.is_empty() {
            return Err(Error::invalid("", "an image reference cannot be empty"));
        }
        if s.len() > 512 {
            return bad("is too long".into());
        }
        if let Some(c) = s
            .chars()
            .find(|c| c.is_whitespace() || c.is_control() || "`'\"\\".contains(*c))
        {
            return bad(format!("has the character {c:?}"));
        }
        if let Some(hex) = s.strip_prefix("sha256:") {
            return if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                Ok(ImageRef(s.to_string()))
            } else {
                bad("is not a valid image ID (sha256: and 64 hex digits)".into())
            };
        }
        let (name_tag, digest) = match s.split_once('@') {
            Some((n, d)) => (n, Some(d)),
            None => (s, None),
        };
        if let Some(d) = digest {
            let Some((algo, hex)) = d.split_once(':') else {
                return bad("has a digest without an algorithm".into());
            };
            if algo.is_empty() || hex.len() < 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return bad("has an invalid digest".into());
            }
        }
        // A tag is after the last ':' that comes after the last '/'.
        let last_slash = name_tag.rfind('/').map(|i| i + 1).unwrap_or(0);
        let (name, tag) = match name_tag[last_slash..].rfind(':') {
            Some(i) => (
                &name_tag[..last_slash + i],
                Some(&name_tag[last_slash + i + 1..]),
            ),
            None => (name_tag, None),
        };
        if let Some(t) = tag {
            let ok = !t.is_empty()
                && t.len() <= 128
                && t.bytes()
                    .next()
                    .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-');
            if !ok {
                return bad(format!("has an invalid tag {t:?}"));
            }
        }
        if name.is_empty() {
            return bad("has no name".into());
        }
        // The first component may be a registry host (with '.' or ':' or "localhost").
        let mut parts: Vec<&str> = name.split('/').collect();
        if parts.len() > 1 {
            let first = parts[0];
            if first.contains('.') || first.contains(':') || first == "localhost" {
                parts.remove(0);
            }
        }
        for p in parts {
            let ok = !p.is_empty()
                && p.bytes().all(|b| {
                    b.is_ascii_lowercase()
                        || b.is_ascii_digit()
                        || b == b'.'
                        || b == b'_'
                        || b == b'-'
                })
                && p.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
                && p.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric());
            if !ok {
                return bad(format!(
                    "has an invalid path component {p:?} (lowercase letters, digits, '.', '_', '-')"
                ));
            }
        }
        Ok(ImageRef(s.to_string()))
    }

    /// The tag (`v2` of `registry:5000/api:v2`), if the reference has one.
    pub fn tag(&self) -> Option<&str> {
        if self.0.starts_with("sha256:") {
            return None;
        }
        let name_tag = self.0.split('@').next().unwrap_or(&self.0);
        let last_slash = name_tag.rfind('/').map(|i| i + 1).unwrap_or(0);
        name_tag[last_slash..]
            .rfind(':')
            .map(|i| &name_tag[last_slash + i + 1..])
    }

    /// True when this reference names exactly one image: an ID or a digest.
    pub fn is_pinned(&self) -> bool {
        self.0.starts_with("sha256:") || self.0.contains('@')
    }
}
string_newtype!(
    ImageRef,
    json_schema!({
        "type": "string",
        "minLength": 1,
        "description": "A container image reference, e.g. registry.example.com/api:1.4.2 or sha256:<id>."
    })
);

/// The share of an app's traffic sent to the canary, in percent: 0–100.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Weight(u8);

impl Weight {
    /// No traffic.
    pub const ZERO: Weight = Weight(0);
    /// All traffic.
    pub const FULL: Weight = Weight(100);

    /// A weight from a percentage; above 100 is rejected.
    pub fn new(percent: u64) -> Result<Self> {
        if percent > 100 {
            Err(Error::invalid("", format!("{percent} is above 100")))
        } else {
            Ok(Weight(percent as u8))
        }
    }

    /// The percentage.
    pub fn get(self) -> u8 {
        self.0
    }

    /// The complementary weight (stable's share when `self` is canary's).
    pub fn complement(self) -> Weight {
        Weight(100 - self.0)
    }
}

impl fmt::Display for Weight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", self.0)
    }
}

impl Serialize for Weight {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(self.0)
    }
}

impl<'de> Deserialize<'de> for Weight {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = i64::deserialize(d)?;
        if n < 0 {
            return Err(serde::de::Error::custom(format!("{n} is below 0")));
        }
        Weight::new(n as u64).map_err(|e| serde::de::Error::custom(reason_of(&e)))
    }
}

impl JsonSchema for Weight {
    fn schema_name() -> Cow<'static, str> {
        "Weight".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "integer", "minimum": 0, "maximum": 100, "description": "Percent of traffic, 0-100."})
    }
}

/// Which version of an app: the one in production, or the one being tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Track {
    /// The version in production.
    Stable,
    /// The version being tried.
    Canary,
}

impl fmt::Display for Track {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Track::Stable => "stable",
            Track::Canary => "canary",
        })
    }
}

impl FromStr for Track {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "stable" => Ok(Track::Stable),
            "canary" => Ok(Track::Canary),
            other => Err(Error::invalid(
                "track",
                format!("{other:?} is neither \"stable\" nor \"canary\""),
            )),
        }
    }
}

/// How traffic is divided between stable and canary: the canary's weight; stable has the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct TrafficSplit {
    /// Canary's share.
    pub canary: Weight,
}

impl TrafficSplit {
    /// A split with `canary` percent on the canary.
    pub fn canary(canary: Weight) -> Self {
        TrafficSplit { canary }
    }
    /// Stable's share.
    pub fn stable(self) -> Weight {
        self.canary.complement()
    }
}

/// Replica counts that approximate a weight when traffic follows replica counts (the seed's way).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplicaPlan {
    /// Stable replicas.
    pub stable: u64,
    /// Canary replicas.
    pub canary: u64,
    /// The canary weight these counts really give: `canary / (stable + canary)`, rounded.
    pub effective: Weight,
}

impl ReplicaPlan {
    /// The replica counts out of `total` tasks closest to `weight`, keeping at least one stable
    /// task while the weight is below 100 and at least one canary task while it is above 0.
    pub fn for_weight(weight: Weight, total: u64) -> Result<Self> {
        if total == 0 {
            return Err(Error::invalid(
                "replicas",
                "total replicas must be at least 1",
            ));
        }
        let w = weight.get() as u64;
        let mut canary = (w * total + 50) / 100;
        if w > 0 && canary == 0 {
            canary = 1;
        }
        if w < 100 && canary == total {
            if total == 1 {
                return Err(Error::invalid(
                    "replicas",
                    format!(
                        "{weight} cannot be split over 1 replica; use at least 2 or weighted mode"
                    ),
                ));
            }
            canary = total - 1;
        }
        let effective = Weight::new((canary * 100 + total / 2) / total)?;
        Ok(ReplicaPlan {
            stable: total - canary,
            canary,
            effective,
        })
    }
}

/// A duration written as `500ms`, `30s`, `5m`, `1h` or `1m30s` (a bare number means seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct HumanDuration(pub Duration);

impl HumanDuration {
    /// Parses the text form.
    pub fn parse(s: &str) -> Result<Self> {
        let t = s.trim();
        if t.is_empty() {
            return Err(Error::invalid("", "a duration cannot be empty"));
        }
        if let Ok(secs) = t.parse::<u64>() {
            return Ok(HumanDuration(Duration::from_secs(secs)));
        }
        let mut total = Duration::ZERO;
        let mut rest = t;
        while !rest.is_empty() {
            let num_len = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .ok_or_else(|| {
                    Error::invalid("", format!("duration {s:?} lacks a unit (ms, s, m, h)"))
                })?;
            if num_len == 0 {
                return Err(Error::invalid(
                    "",
                    format!("duration {s:?} is not like 30s, 5m, 500ms"),
                ));
            }
            let n: f64 = rest[..num_len]
                .parse()
                .map_err(|_| Error::invalid("", format!("duration {s:?} has a bad number")))?;
            rest = &rest[num_len..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit())
                .unwrap_or(rest.len());
            let unit = &rest[..unit_len];
            rest = &rest[unit_len..];
            let secs = match unit {
                "ms" => n / 1000.0,
                "s" => n,
                "m" => n * 60.0,
                "h" => n * 3600.0,
                other => {
                    return Err(Error::invalid(
                        "",
                        format!("duration {s:?} has unknown unit {other:?} (use ms, s, m or h)"),
                    ))
                }
            };
            total += Duration::from_secs_f64(secs);
        }
        Ok(HumanDuration(total))
    }

    /// The duration.
    pub fn get(self) -> Duration {
        self.0
    }
}

impl From<Duration> for HumanDuration {
    fn from(d: Duration) -> Self {
        HumanDuration(d)
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms % 1000 != 0 {
            write!(f, "{ms}ms")
        } else if ms % 3_600_000 == 0 && ms > 0 {
            write!(f, "{}h", ms / 3_600_000)
        } else if ms % 60_000 == 0 && ms > 0 {
            write!(f, "{}m", ms / 60_000)
        } else {
            write!(f, "{}s", ms / 1000)
        }
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Secs(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Secs(n) => Ok(HumanDuration(Duration::from_secs(n))),
            Raw::Text(t) => {
                HumanDuration::parse(&t).map_err(|e| serde::de::Error::custom(reason_of(&e)))
            }
        }
    }
}

impl JsonSchema for HumanDuration {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A duration: 500ms, 30s, 5m, 1h, 1m30s, or a number of seconds.",
            "oneOf": [
                {"type": "string", "pattern": "^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"},
                {"type": "integer", "minimum": 0}
            ]
        })
    }
}

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
    fn image_refs() {
        for ok in [
            "nginx",
            "canary-demo:v2",
            "localhost:5000/team/api:1.2.3",
            "registry.example.com/api@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ] {
            assert!(ImageRef::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "Upper/api",
            "api:",
            "api:-x",
            "a b",
            "sha256:123",
            "api@sha256:zz",
            "x`y",
        ] {
            assert!(ImageRef::parse(bad).is_err(), "{bad}");
        }
        assert!(ImageRef::parse(
            "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
        )
        .unwrap()
        .is_pinned());
        assert!(!ImageRef::parse("api:v2").unwrap().is_pinned());
        let tag = |s: &str| ImageRef::parse(s).unwrap().tag().map(str::to_string);
        assert_eq!(tag("api:v2").as_deref(), Some("v2"));
        assert_eq!(
            tag("localhost:5000/team/api:1.2.3").as_deref(),
            Some("1.2.3")
        );
        assert_eq!(tag("localhost:5000/team/api"), None);
        assert_eq!(
            tag("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
            None
        );
    }

    #[test]
    fn weights() {
        assert_eq!(Weight::new(20).unwrap().complement().get(), 80);
        assert_eq!(
            Weight::new(101).unwrap_err().to_string(),
            "101 is above 100"
        );
        let w: Weight = serde_json::from_str("100").unwrap();
        assert_eq!(w, Weight::FULL);
        assert!(serde_json::from_str::<Weight>("-1").is_err());
        assert!(serde_json::from_str::<Weight>("120")
            .unwrap_err()
            .to_string()
            .contains("120 is above 100"));
    }

    #[test]
    fn replica_plans() {
        let p = ReplicaPlan::for_weight(Weight::new(20).unwrap(), 5).unwrap();
        assert_eq!((p.stable, p.canary, p.effective.get()), (4, 1, 20));
        let p = ReplicaPlan::for_weight(Weight::new(5).unwrap(), 4).unwrap();
        assert_eq!((p.stable, p.canary, p.effective.get()), (3, 1, 25));
        let p = ReplicaPlan::for_weight(Weight::new(99).unwrap(), 4).unwrap();
        assert_eq!((p.stable, p.canary), (1, 3));
        let p = ReplicaPlan::for_weight(Weight::FULL, 4).unwrap();
        assert_eq!((p.stable, p.canary), (0, 4));
        let p = ReplicaPlan::for_weight(Weight::ZERO, 4).unwrap();
        assert_eq!((p.stable, p.canary), (4, 0));
        assert!(ReplicaPlan::for_weight(Weight::new(50).unwrap(), 1).is_err());
        assert!(ReplicaPlan::for_weight(Weight::new(50).unwrap(), 0).is_err());
    }

    #[test]
    fn durations() {
        let d = |s| HumanDuration::parse(s).unwrap().get();
        assert_eq!(d("30s"), Duration::from_secs(30));
        assert_eq!(d("500ms"), Duration::from_millis(500));
        assert_eq!(d("1m30s"), Duration::from_secs(90));
        assert_eq!(d("2h"), Duration::from_secs(7200));
        assert_eq!(d("15"), Duration::from_secs(15));
        for bad in ["", "s", "10x", "1.2.3s", "ten"] {
            assert!(HumanDuration::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(HumanDuration(Duration::from_secs(90)).to_string(), "90s");
        assert_eq!(HumanDuration(Duration::from_secs(120)).to_string(), "2m");
        assert_eq!(
            HumanDuration(Duration::from_millis(1500)).to_string(),
            "1500ms"
        );
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
}
