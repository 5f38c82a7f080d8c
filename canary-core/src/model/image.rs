//! [`ImageRef`]: a container image reference as Docker reads it.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};

use super::{reason_of, string_newtype};
use crate::error::{Error, Result};

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
