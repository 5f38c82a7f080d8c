//! The one way YAML is read and written in canary: specs, compose files, router files.
//!
//! Built on serde-saphyr (a pure-Rust, panic-free parser with budgets), chosen over the
//! drop-in forks of the deprecated `serde_yaml`: those keep the `unsafe-libyaml` C port, and the
//! spec parser must survive any input (it is fuzzed). Every read is bounded: at most
//! [`MAX_TEXT`] bytes, serde-saphyr's default budget of events, aliases and depth, duplicate keys
//! refused. A rejection names the field (`traffic.steps[2]`) and says where in the text it is.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Error, Result};

/// The largest YAML text read: specs and compose files are a few kilobytes.
pub const MAX_TEXT: usize = 1024 * 1024;

fn options() -> serde_saphyr::Options {
    // YAML 1.2 booleans: `n`, `no`, `on`, `y` stay text (a check named `n` is not `false`).
    serde_saphyr::options! {
        with_snippet: false,
        strict_booleans: true,
    }
}

/// Reads `text` as a `T`. A syntax error or a value of the wrong shape comes back as
/// [`Error::InvalidInput`] with the path of the field (empty at the top) and the reason, with
/// the line and column of the spot.
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T> {
    if text.len() > MAX_TEXT {
        return Err(Error::invalid(
            "",
            format!("the text is {} bytes; the limit is {MAX_TEXT}", text.len()),
        ));
    }
    let mut path = String::new();
    let read = serde_saphyr::with_deserializer_from_str_with_options(text, options(), |de| {
        serde_path_to_error::deserialize::<_, T>(de).map_err(|e| {
            path = e.path().to_string();
            e.into_inner()
        })
    });
    read.map_err(|e| {
        let field = if path == "." { String::new() } else { path };
        Error::invalid(field, describe(&e)).with_source(e)
    })
}

/// Reads `text` as plain data (maps, lists, scalars), for callers that edit the tree before
/// reading it as a type (the CLI's `--set` overrides).
pub fn to_value(text: &str) -> Result<serde_json::Value> {
    from_str(text)
}

/// Writes `value` as YAML.
pub fn to_string<T: Serialize>(value: &T) -> Result<String> {
    serde_saphyr::to_string(value)
        .map_err(|e| Error::internal(format!("cannot write YAML: {e}")).with_source(e))
}

/// serde-saphyr's message, with ` (line L, column C)` when it knows the spot (the same form
/// [`crate::yaml_index::YamlIndex::annotate`] writes).
fn describe(e: &serde_saphyr::Error) -> String {
    let mut text = e.to_string();
    if let Some(at) = e.location() {
        if let Some(i) = text.find(" at line ") {
            text.truncate(i);
        }
        if at.line() > 0 {
            text.push_str(&format!(" (line {}, column {})", at.line(), at.column()));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Doc {
        name: String,
        #[serde(default)]
        list: Vec<u8>,
        #[serde(default)]
        map: BTreeMap<String, u32>,
    }

    #[test]
    fn errors_name_the_field_and_the_line() {
        let e = from_str::<Doc>("name: a\nlist: [1, 2, 300]\n").unwrap_err();
        let Error::InvalidInput { field, reason, .. } = e else {
            panic!("{e:?}")
        };
        assert_eq!(field, "list[2]");
        assert!(reason.contains("line 2"), "{reason}");
        let e = from_str::<Doc>("name: a\ncolour: blue\n").unwrap_err();
        assert!(e.to_string().contains("colour"), "{e}");
        let e = from_str::<Doc>("name: a\nname: b\n").unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
    }

    #[test]
    fn bounded() {
        let big = format!("name: \"{}\"\n", "x".repeat(MAX_TEXT));
        assert!(from_str::<Doc>(&big).is_err());
        // A billion laughs is refused by the alias budget, not expanded.
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        let mut prev = 'a';
        for c in 'b'..='j' {
            bomb.push_str(&format!("{c}: &{c} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
            prev = c;
        }
        assert!(to_value(&bomb).is_err());
    }

    #[test]
    fn round_trip() {
        let v = to_value("a: [1, 2]\nb: {c: x}\n").unwrap();
        assert_eq!(v["b"]["c"], "x");
        let text = to_string(&v).unwrap();
        assert_eq!(to_value(&text).unwrap(), v);
    }
}
