//! A node of the tree as a JSON value, the way YAML 1.2's core schema reads untyped scalars:
//! `null`/`~`/empty, `true`/`false`, integers (also `0x`, `0o`), floats; all else a string.
//! YAML 1.1's `yes`, `no`, `on`, `off`, `y`, `n` are strings here, as in serde_yaml.
//! Quoted and block scalars are strings. Aliases and merge keys are expanded within the
//! [`MAX_NODES`] budget. A value with a local tag (`!latency 0.99`) becomes the one-key map
//! `{latency: 0.99}`, the form the spec's externally tagged enums read.

use serde_json::{Map, Number, Value};

use super::tree::{Kind, NodeId, Style, Tree};
use super::{YamlError, MAX_DEPTH, MAX_NODES};

/// Node `id` of `tree` as a JSON value.
pub(crate) fn to_json(tree: &Tree<'_>, id: NodeId) -> Result<Value, YamlError> {
    let mut budget = MAX_NODES;
    convert(tree, id, 0, &mut budget)
}

fn convert(
    tree: &Tree<'_>,
    id: NodeId,
    depth: usize,
    budget: &mut usize,
) -> Result<Value, YamlError> {
    if depth > MAX_DEPTH {
        return Err(tree.too_deep(id));
    }
    if *budget == 0 {
        return Err(YamlError::TooManyNodes { max: MAX_NODES });
    }
    *budget -= 1;
    let id = tree.resolve(id);
    let (value, tag) = match &tree.node(id).kind {
        Kind::Scalar { value, style, tag } => {
            return Ok(scalar(value, *style, tag.as_deref()));
        }
        Kind::Seq { items, tag } => {
            let mut out = Vec::with_capacity(items.len());
            for &item in items {
                out.push(convert(tree, item, depth + 1, budget)?);
            }
            (Value::Array(out), tag)
        }
        Kind::Map { tag, .. } => {
            let mut out = Map::new();
            for e in tree.entries(id)? {
                let v = convert(tree, e.value, depth + 1, budget)?;
                out.insert(e.key, v);
            }
            (Value::Object(out), tag)
        }
        Kind::Alias { .. } => (Value::Null, &None),
    };
    Ok(match local_tag(tag.as_deref()) {
        Some(name) => tagged(name, value),
        None => value,
    })
}

/// A scalar's value under its tag (or the core schema when it has none).
pub(crate) fn scalar(value: &str, style: Style, tag: Option<&str>) -> Value {
    if let Some(name) = local_tag(tag) {
        return tagged(name, scalar(value, style, None));
    }
    match tag {
        None if style == Style::Plain => plain(value),
        Some("!!null") => Value::Null,
        Some("!!bool") => match plain(value) {
            b @ Value::Bool(_) => b,
            _ => Value::String(value.to_string()),
        },
        Some("!!int") | Some("!!float") => match plain(value) {
            n @ Value::Number(_) => n,
            _ => Value::String(value.to_string()),
        },
        _ => Value::String(value.to_string()),
    }
}

/// `!name` (not `!!name`, not a URI): a tag the spec reads as a one-key map.
fn local_tag(tag: Option<&str>) -> Option<&str> {
    let t = tag?.strip_prefix('!')?;
    (!t.is_empty() && !t.starts_with('!')).then_some(t)
}

fn tagged(name: &str, value: Value) -> Value {
    let mut m = Map::new();
    m.insert(name.to_string(), value);
    Value::Object(m)
}

/// A plain scalar under YAML 1.2's core schema. Floats JSON cannot hold (`.inf`, `.nan`) and
/// integers past 64 bits stay strings, so a typed reader rejects them by name.
pub(crate) fn plain(s: &str) -> Value {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    if is_integer(s) {
        return match integer(s) {
            Some(n) => Value::Number(n),
            None => Value::String(s.to_string()),
        };
    }
    if is_float(s) {
        if let Some(n) = s.parse::<f64>().ok().and_then(Number::from_f64) {
            return Value::Number(n);
        }
    }
    Value::String(s.to_string())
}

/// `[-+]?[0-9]+`, `0o[0-7]+` or `0x[0-9a-fA-F]+`.
fn is_integer(s: &str) -> bool {
    let digits = |d: &str, radix: u32| !d.is_empty() && d.chars().all(|c| c.is_digit(radix));
    if let Some(oct) = s.strip_prefix("0o") {
        return digits(oct, 8);
    }
    if let Some(hex) = s.strip_prefix("0x") {
        return digits(hex, 16);
    }
    digits(s.strip_prefix(['-', '+']).unwrap_or(s), 10)
}

/// The integer `s` (shaped as [`is_integer`] says), if it fits 64 bits.
fn integer(s: &str) -> Option<Number> {
    if let Some(oct) = s.strip_prefix("0o") {
        return u64::from_str_radix(oct, 8).ok().map(Number::from);
    }
    if let Some(hex) = s.strip_prefix("0x") {
        return u64::from_str_radix(hex, 16).ok().map(Number::from);
    }
    let s = s.strip_prefix('+').unwrap_or(s);
    if let Ok(n) = s.parse::<u64>() {
        return Some(Number::from(n));
    }
    s.parse::<i64>().ok().map(Number::from)
}

/// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`
fn is_float(s: &str) -> bool {
    let b = s.strip_prefix(['-', '+']).unwrap_or(s).as_bytes();
    let mut i = 0;
    let int_digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
    i += int_digits;
    let mut frac_digits = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        frac_digits = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        i += frac_digits;
    }
    if int_digits == 0 && frac_digits == 0 {
        return false;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        let exp = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        if exp == 0 {
            return false;
        }
        i += exp;
    }
    i == b.len()
}
