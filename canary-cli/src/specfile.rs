//! Reading the spec file with the command line's overrides on top.
//!
//! The file is read as a tree, each override replaces one node of it, and only then is the tree
//! validated as a [`Spec`], so an override is checked exactly like the file and a rejection names
//! the field (`traffic.steps[1]: 120 is above 100`).

use std::path::{Path, PathBuf};

use canary_core::Spec;
use serde_json::{json, Map, Value};

use crate::args::Overrides;
use crate::error::CliError;

/// A validated spec and where it came from.
#[derive(Debug, Clone)]
pub(crate) struct LoadedSpec {
    /// The spec, overrides applied.
    pub(crate) spec: Spec,
    /// The directory of the spec file (build contexts are relative to it).
    pub(crate) dir: PathBuf,
}

/// Reads `path` and applies `overrides`.
pub(crate) fn load(path: &Path, overrides: &Overrides) -> Result<LoadedSpec, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::usage(format!("cannot read spec file {}: {e}", path.display())))?;
    let mut tree: Value = canary_core::yaml::to_value(&text)
        .map_err(|e| CliError::usage(format!("{}: not YAML or JSON: {e}", path.display())))?;
    for (path_text, value) in override_list(overrides)? {
        set(&mut tree, &path_text, value)
            .map_err(|why| CliError::usage(format!("override {path_text}: {why}")))?;
    }
    let spec =
        Spec::from_value(tree).map_err(|e| CliError::usage(format!("{}: {e}", path.display())))?;
    let dir = path
        .parent()
        .map(|p| {
            if p.as_os_str().is_empty() {
                Path::new(".")
            } else {
                p
            }
        })
        .unwrap_or(Path::new("."))
        .to_path_buf();
    Ok(LoadedSpec { spec, dir })
}

/// The overrides as `(path, value)` pairs, in the order they apply; a `Value::Null` at a path
/// ending in `!` removes the field.
fn override_list(o: &Overrides) -> Result<Vec<(String, Value)>, CliError> {
    let mut out: Vec<(String, Value)> = Vec::new();
    let s = |v: &str| Value::String(v.to_string());
    if let Some(g) = &o.group {
        out.push(("group".into(), s(g)));
    }
    if let Some(st) = &o.stack {
        if st == "none" {
            out.push(("stack!".into(), Value::Null));
        } else {
            out.push(("stack".into(), s(st)));
        }
    }
    for (flag, field, list) in [
        ("--image", "image", &o.image),
        ("--stable-image", "stableImage", &o.stable_image),
    ] {
        for item in list.iter().filter(|i| !i.is_empty()) {
            match item.split_once('=') {
                Some((app, image)) if !app.is_empty() => {
                    out.push((format!("apps.{app}.{field}"), s(image)))
                }
                Some(_) => {
                    return Err(CliError::usage(format!(
                        "{flag} {item:?}: expected REF or APP=REF"
                    )))
                }
                None => out.push((format!("apps.*.{field}"), s(item))),
            }
        }
    }
    for item in o.canary_env.iter().filter(|i| !i.is_empty()) {
        let Some((key, value)) = item.split_once('=') else {
            return Err(CliError::usage(format!(
                "--canary-env {item:?}: expected KEY=VALUE or APP:KEY=VALUE"
            )));
        };
        match key.split_once(':') {
            Some((app, key)) => out.push((format!("apps.{app}.canaryEnv.{key}"), s(value))),
            None => out.push((format!("apps.*.canaryEnv.{key}"), s(value))),
        }
    }
    if let Some(m) = &o.mode {
        out.push(("traffic.mode".into(), s(m)));
    }
    if let Some(steps) = &o.steps {
        let mut list = Vec::new();
        for part in steps.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let n: u64 = part.parse().map_err(|_| {
                CliError::usage(format!("--steps {steps:?}: {part:?} is not a whole number"))
            })?;
            list.push(json!(n));
        }
        out.push(("traffic.stepWeight!".into(), Value::Null));
        out.push(("traffic.maxWeight!".into(), Value::Null));
        out.push(("traffic.steps".into(), Value::Array(list)));
    }
    if o.step_weight.is_some() || o.max_weight.is_some() {
        out.push(("traffic.steps!".into(), Value::Null));
    }
    if let Some(w) = o.step_weight {
        out.push(("traffic.stepWeight".into(), json!(w)));
    }
    if let Some(w) = o.max_weight {
        out.push(("traffic.maxWeight".into(), json!(w)));
    }
    if let Some(i) = &o.interval {
        out.push(("traffic.interval".into(), s(i)));
    }
    if let Some(h) = &o.header_route {
        if h == "none" {
            out.push(("traffic.headerRoute".into(), Value::Null));
        } else {
            let (name, value) = h.split_once('=').ok_or_else(|| {
                CliError::usage(format!("--header-route {h:?}: expected NAME=VALUE or none"))
            })?;
            out.push((
                "traffic.headerRoute".into(),
                json!({"name": name, "value": value}),
            ));
        }
    }
    if let Some(b) = o.sticky {
        out.push(("traffic.sticky".into(), json!(b)));
    }
    if let Some(m) = o.mirror {
        out.push(("traffic.mirror".into(), json!(m)));
    }
    if let Some(w) = &o.analysis_window {
        out.push(("analysis.window".into(), s(w)));
    }
    if let Some(n) = o.failure_limit {
        out.push(("analysis.failureLimit".into(), json!(n)));
    }
    if let Some(n) = o.inconclusive_limit {
        out.push(("analysis.inconclusiveLimit".into(), json!(n)));
    }
    if let Some(a) = &o.on_inconclusive {
        out.push(("analysis.onInconclusive".into(), s(a)));
    }
    if let Some(n) = o.min_requests {
        out.push(("analysis.minRequests".into(), json!(n)));
    }
    if let Some(p) = &o.promote_strategy {
        out.push(("promote.strategy".into(), s(p)));
    }
    if let Some(t) = &o.call_timeout {
        out.push(("timeouts.call".into(), s(t)));
    }
    if let Some(t) = &o.converge_timeout {
        out.push(("timeouts.converge".into(), s(t)));
    }
    for item in o.set.iter().filter(|i| !i.trim().is_empty()) {
        let (path, text) = item
            .split_once('=')
            .ok_or_else(|| CliError::usage(format!("--set {item:?}: expected PATH=VALUE")))?;
        let value: Value = canary_core::yaml::to_value(text)
            .map_err(|e| CliError::usage(format!("--set {item:?}: the value is not YAML: {e}")))?;
        out.push((path.trim().to_string(), value));
    }
    Ok(out)
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

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = "group: g\nstack: s\napps:\n  - {name: a, image: 'x:1', port: 80, rule: 'Host(`a`)'}\n  - {name: b, image: 'x:1', port: 80, rule: 'Host(`b`)'}\ntraffic:\n  stepWeight: 10\n  maxWeight: 30\n";

    fn load_with(o: Overrides) -> Result<Spec, CliError> {
        let dir = std::env::temp_dir().join(format!(
            "canary-cli-spec-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("canary.yaml");
        std::fs::write(&p, SPEC).unwrap();
        load(&p, &o).map(|l| l.spec)
    }

    #[test]
    fn flags_beat_the_file() {
        let spec = load_with(Overrides {
            group: Some("other".into()),
            stack: Some("none".into()),
            image: vec!["b=x:2".into()],
            canary_env: vec!["ERROR_RATE=0.3".into(), "a:FLAG=1".into()],
            steps: Some("20,50".into()),
            interval: Some("2s".into()),
            header_route: Some("none".into()),
            set: vec![
                "apps.*.canaryReplicas=2".into(),
                "analysis.minRequests=5".into(),
            ],
            ..Overrides::default()
        })
        .unwrap();
        assert_eq!(spec.group.as_str(), "other");
        assert!(spec.stack.is_none());
        assert_eq!(spec.apps[0].image.as_str(), "x:1");
        assert_eq!(spec.apps[1].image.as_str(), "x:2");
        assert_eq!(
            spec.apps[0].canary_env.get("FLAG").map(String::as_str),
            Some("1")
        );
        assert_eq!(
            spec.apps[1]
                .canary_env
                .get("ERROR_RATE")
                .map(String::as_str),
            Some("0.3")
        );
        assert!(!spec.apps[1].canary_env.contains_key("FLAG"));
        assert_eq!(
            spec.steps().iter().map(|w| w.get()).collect::<Vec<_>>(),
            vec![20, 50]
        );
        assert_eq!(spec.traffic.interval.get().as_secs(), 2);
        assert!(spec.traffic.header_route.is_none());
        assert!(spec.apps.iter().all(|a| a.canary_replicas == 2));
        assert_eq!(spec.analysis.min_requests, 5);
    }

    #[test]
    fn bad_overrides_name_the_field() {
        let e = load_with(Overrides {
            steps: Some("20,120".into()),
            ..Overrides::default()
        })
        .unwrap_err();
        assert!(e.message.contains("traffic.steps[1]"), "{}", e.message);
        let e = load_with(Overrides {
            set: vec!["apps.zz.image=x".into()],
            ..Overrides::default()
        })
        .unwrap_err();
        assert!(
            e.message.contains("no element named \"zz\""),
            "{}",
            e.message
        );
        let e = load_with(Overrides {
            set: vec!["traffic.colour=blue".into()],
            ..Overrides::default()
        })
        .unwrap_err();
        assert!(e.message.contains("colour"), "{}", e.message);
    }
}
