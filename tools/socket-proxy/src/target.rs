//! The request target (`/v1.41/services?filters=%7B...%7D`): taken apart into checked pieces, and
//! put back together in one canonical spelling that is what the Docker daemon receives.
//!
//! The proxy never forwards the client's bytes. Whatever a client writes, Docker sees a path
//! made of plain segments (`[A-Za-z0-9_.-]`, never `.` or `..`, never empty) and a query whose
//! values are percent-encoded by this module. So there is no second reading of the target in
//! which an encoded slash, a dot segment or a doubled separator means something the allowlist
//! did not check.

use std::fmt::Write as _;

/// Longest request target accepted, in bytes (hyper's header limit is the outer bound).
pub(crate) const MAX_TARGET_LEN: usize = 4096;
/// Most path segments accepted (the longest allowed path has three: `/v1.41/nodes/<id>`).
const MAX_SEGMENTS: usize = 8;
/// Longest path segment accepted (Docker IDs are 64 hex digits, names are shorter).
const MAX_SEGMENT_LEN: usize = 128;
/// Most `key=value` pairs in a query.
const MAX_QUERY_PAIRS: usize = 8;

/// A request target that passed the syntax checks; which endpoints and keys are allowed is
/// [`crate::policy`]'s business.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target<'a> {
    /// The API version prefix without its `v` (`1.41`), if the path had one.
    pub(crate) version: Option<&'a str>,
    /// The path segments after the version prefix.
    pub(crate) segments: Vec<&'a str>,
    /// The query's pairs in order: the key as written, the value percent-decoded.
    pub(crate) query: Vec<(&'a str, String)>,
}

/// Splits and checks a request target. The error says which rule it broke; it never quotes
/// the input (the caller logs that, escaped).
pub(crate) fn parse(raw: &str) -> Result<Target<'_>, &'static str> {
    if raw.len() > MAX_TARGET_LEN {
        return Err("request target too long");
    }
    if !raw.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("request target has a byte outside visible ASCII");
    }
    if raw.contains('#') {
        return Err("request target has a fragment");
    }
    // Origin form only: no `http://host/...`, no `*`, no `host:port`.
    let Some(rest) = raw.strip_prefix('/') else {
        return Err("request target is not an absolute path");
    };
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    let mut segments = Vec::new();
    for seg in path.split('/') {
        if segments.len() == MAX_SEGMENTS {
            return Err("path has too many segments");
        }
        segments.push(check_segment(seg)?);
    }
    let version = match segments.first() {
        // Docker routes `/v{version:[0-9.]+}/...`: a `v` and a digit start a version prefix,
        // which must then be a well-formed one (`/version` is an ordinary segment).
        Some(first)
            if first.len() > 1
                && first.starts_with('v')
                && first.as_bytes()[1].is_ascii_digit() =>
        {
            let v = &first[1..];
            if !is_api_version(v) {
                return Err("path has a malformed API version prefix");
            }
            segments.remove(0);
            Some(v)
        }
        _ => None,
    };
    let query = match query {
        None | Some("") => Vec::new(),
        Some(q) => parse_query(q)?,
    };
    Ok(Target {
        version,
        segments,
        query,
    })
}

fn check_segment(seg: &str) -> Result<&str, &'static str> {
    if seg.is_empty() {
        return Err("path has an empty segment (`//` or a trailing `/`)");
    }
    if seg.len() > MAX_SEGMENT_LEN {
        return Err("path segment too long");
    }
    if seg.contains('%') {
        // None of the allowed paths needs an escape; refusing them all removes every
        // encoded-slash and encoded-dot trick in one rule.
        return Err("path has a percent-escape");
    }
    if !seg
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    {
        return Err("path segment has a character outside [A-Za-z0-9_.-]");
    }
    if seg.bytes().all(|b| b == b'.') {
        return Err("path has a dot segment");
    }
    Ok(seg)
}

/// `1.41`: one to three digits, a dot, one to three digits.
fn is_api_version(v: &str) -> bool {
    let Some((major, minor)) = v.split_once('.') else {
        return false;
    };
    let digits = |s: &str| (1..=3).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    digits(major) && digits(minor)
}

fn parse_query(q: &str) -> Result<Vec<(&str, String)>, &'static str> {
    let mut pairs: Vec<(&str, String)> = Vec::new();
    for pair in q.split('&') {
        if pairs.len() == MAX_QUERY_PAIRS {
            return Err("query has too many parameters");
        }
        let Some((key, value)) = pair.split_once('=') else {
            return Err("query parameter without `=`");
        };
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err("query key is empty or has a character outside [A-Za-z0-9-]");
        }
        if pairs.iter().any(|(k, _)| *k == key) {
            // Docker reads the first value, a filter might read another: one value per key.
            return Err("query key repeated");
        }
        pairs.push((key, percent_decode(value)?));
    }
    Ok(pairs)
}

/// Decodes a query value the way Go's `url.ParseQuery` does (`+` is a space); refuses broken
/// escapes, invalid UTF-8 and control characters.
fn percent_decode(value: &str) -> Result<String, &'static str> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .ok_or("query has a truncated escape")?;
                let hi = hex_value(hex[0]).ok_or("query has a malformed escape")?;
                let lo = hex_value(hex[1]).ok_or("query has a malformed escape")?;
                out.push(hi << 4 | lo);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    let s = String::from_utf8(out).map_err(|_| "query value is not UTF-8")?;
    if s.chars().any(char::is_control) {
        return Err("query value has a control character");
    }
    Ok(s)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn percent_encode(value: &str, out: &mut String) {
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

impl Target<'_> {
    /// The one spelling of this target that is sent to Docker.
    pub(crate) fn canonical(&self) -> String {
        let mut out = String::new();
        if let Some(v) = self.version {
            out.push_str("/v");
            out.push_str(v);
        }
        for seg in &self.segments {
            out.push('/');
            out.push_str(seg);
        }
        if out.is_empty() {
            out.push('/');
        }
        for (i, (key, value)) in self.query.iter().enumerate() {
            out.push(if i == 0 { '?' } else { '&' });
            out.push_str(key);
            out.push('=');
            percent_encode(value, &mut out);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_version_segments_and_query() {
        let t = parse("/v1.41/tasks?filters=%7B%22service%22%3A%7B%22x%22%3Atrue%7D%7D").unwrap();
        assert_eq!(t.version, Some("1.41"));
        assert_eq!(t.segments, ["tasks"]);
        assert_eq!(
            t.query,
            [("filters", r#"{"service":{"x":true}}"#.to_string())]
        );
        assert_eq!(
            t.canonical(),
            "/v1.41/tasks?filters=%7B%22service%22%3A%7B%22x%22%3Atrue%7D%7D"
        );
    }

    #[test]
    fn plus_is_a_space_and_is_re_encoded_unambiguously() {
        let t = parse("/services?filters=a+b%2Bc").unwrap();
        assert_eq!(t.query[0].1, "a b+c");
        assert_eq!(t.canonical(), "/services?filters=a%20b%2Bc");
    }

    #[test]
    fn a_v_segment_that_is_not_a_version_is_refused() {
        assert!(parse("/v1/services").is_err());
        assert!(parse("/v1.41.2/services").is_err());
        assert!(parse("/v1234.1/services").is_err());
        // `v` without a digit is an ordinary segment (the policy decides about it).
        assert_eq!(parse("/v").unwrap().segments, ["v"]);
        assert_eq!(parse("/version").unwrap().segments, ["version"]);
        assert_eq!(parse("/v1.41/version").unwrap().version, Some("1.41"));
    }

    #[test]
    fn broken_escapes_and_bad_utf8_are_refused() {
        assert!(parse("/services?filters=%").is_err());
        assert!(parse("/services?filters=%4").is_err());
        assert!(parse("/services?filters=%zz").is_err());
        assert!(parse("/services?filters=%FF").is_err());
        assert!(parse("/services?filters=%0A").is_err());
        assert!(parse("/services?filters=%C3%A9").is_ok());
    }
}
