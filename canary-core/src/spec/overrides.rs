//! Overrides: one field of a spec set (or removed) by path on the spec's tree before it is
//! validated, so an override is checked exactly like the file and a rejection names the field
//! (`traffic.steps[1]: 120 is above 100`). The CLI's flags and `--set`, Python's and Node's
//! `overrides` all end here.
//!
//! A path is dot-separated keys with `[i]` indices: `traffic.interval`, `analysis.checks[0].min`.
//! In a list, a key selects the element whose `name` is that key (`apps.neotix-api.image`) and
//! `*` every element (`apps.*.canaryReplicas`). A path ending in `!` removes the field.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// The longest override path, and the most overrides at once.
const MAX_PATH: usize = 512;
const MAX_OVERRIDES: usize = 256;

/// One field set (or, with a path ending in `!`, removed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Override {
    /// The field's path (see the module docs).
    pub path: String,
    /// Its new value (ignored when removing).
    pub value: Value,
}

impl Override {
    /// Sets `path` to `value`.
    pub fn set(path: impl Into<String>, value: impl Into<Value>) -> Self {
        Override {
            path: path.into(),
            value: value.into(),
        }
    }
    /// Removes the field at `path`.
    pub fn remove(path: impl Into<String>) -> Self {
        Override {
            path: format!("{}!", path.into()),
            value: Value::Null,
        }
    }
}

/// Applies `overrides` in order to `tree`.
pub fn apply(tree: &mut Value, overrides: &[Override]) -> Result<()> {
    if overrides.len() > MAX_OVERRIDES {
        return Err(Error::invalid(
            "overrides",
            format!(
                "{} overrides; the limit is {MAX_OVERRIDES}",
                overrides.len()
            ),
        ));
    }
    for o in overrides {
        if o.path.len() > MAX_PATH {
            return Err(Error::invalid("overrides", "an override path is too long"));
        }
        set(tree, o.path.trim(), o.value.clone()).map_err(|why| {
            Error::invalid(o.path.trim_end_matches('!'), format!("override: {why}"))
        })?;
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Key(String),
    Index(usize),
    All,
}

fn parse_path(path: &str) -> Result<Vec<Seg>, String> {
    let mut segs = Vec::new();
    for part in path.split('.') {
        let (key, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if key.is_empty() && rest.is_empty() {
            return Err("an empty path segment".into());
        }
        if key == "*" {
            segs.push(Seg::All);
        } else if !key.is_empty() {
            segs.push(Seg::Key(key.to_string()));
        }
        while let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']').ok_or("an unclosed '['")?;
            let idx = &r[..end];
            if idx == "*" {
                segs.push(Seg::All);
            } else {
                segs.push(Seg::Index(
                    idx.parse()
                        .map_err(|_| format!("{idx:?} is not an index"))?,
                ));
            }
            rest = &r[end + 1..];
        }
        if !rest.is_empty() {
            return Err(format!("unexpected {rest:?}"));
        }
    }
    Ok(segs)
}

/// Sets (or, for a path ending in `!`, removes) the node at `path`. In a list, a key selects the
/// element whose `name` is that key (`apps.neotix-api.image`) and `*` every element.
fn set(tree: &mut Value, path: &str, value: Value) -> Result<(), String> {
    let (path, remove) = match path.strip_suffix('!') {
        Some(p) => (p, true),
        None => (path, false),
    };
    let segs = parse_path(path)?;
    let Some((last, parents)) = segs.split_last() else {
        return Err("an empty path".into());
    };
    let mut targets: Vec<&mut Value> = vec![tree];
    for seg in parents {
        let mut next = Vec::new();
        for t in targets {
            next.extend(step(t, seg, !remove)?);
        }
        targets = next;
    }
    if targets.is_empty() && !remove {
        return Err("no such element".into());
    }
    for t in targets {
        match (last, &mut *t) {
            (Seg::Key(k), Value::Object(m)) => {
                if remove {
                    m.remove(k);
                } else {
                    m.insert(k.clone(), value.clone());
                }
            }
            (Seg::Key(k), Value::Null) if !remove => {
                let mut m = Map::new();
                m.insert(k.clone(), value.clone());
                *t = Value::Object(m);
            }
            (Seg::Index(i), Value::Array(a)) if *i < a.len() => {
                if remove {
                    a.remove(*i);
                } else {
                    a[*i] = value.clone();
                }
            }
            (Seg::Index(i), Value::Array(a)) if *i == a.len() && !remove => a.push(value.clone()),
            (Seg::All, Value::Array(a)) => {
                for e in a.iter_mut() {
                    *e = value.clone();
                }
            }
            (_, Value::Null) if remove => {}
            (seg, other) => return Err(format!("cannot set {seg:?} in {}", kind(other))),
        }
    }
    Ok(())
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

fn step<'a>(v: &'a mut Value, seg: &Seg, create: bool) -> Result<Vec<&'a mut Value>, String> {
    if v.is_null() && create {
        *v = match seg {
            Seg::Key(_) => Value::Object(Map::new()),
            _ => Value::Array(Vec::new()),
        };
    }
    match (seg, v) {
        (Seg::Key(k), Value::Object(m)) => {
            if !m.contains_key(k) {
                if !create {
                    return Ok(Vec::new());
                }
                m.insert(k.clone(), Value::Null);
            }
            Ok(vec![m.get_mut(k).expect("inserted")])
        }
        (Seg::Key(k), Value::Array(a)) => {
            let found: Vec<&mut Value> = a
                .iter_mut()
                .filter(|e| e.get("name").and_then(Value::as_str) == Some(k.as_str()))
                .collect();
            if found.is_empty() {
                return Err(format!("no element named {k:?}"));
            }
            Ok(found)
        }
        (Seg::Index(i), Value::Array(a)) => {
            let len = a.len();
            a.get_mut(*i)
                .map(|e| vec![e])
                .ok_or_else(|| format!("index {i} is past the end ({len})"))
        }
        (Seg::All, Value::Array(a)) => Ok(a.iter_mut().collect()),
        (seg, other) => Err(format!("cannot go into {seg:?} of {}", kind(other))),
    }
}
