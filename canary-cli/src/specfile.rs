//! The spec file with the command line's overrides on top: each flag becomes one
//! [`Override`] (the CLI's only job here); reading the file, applying them and validating is
//! [`SpecFile::load`]'s, the same path Python and Node take.

use std::path::Path;

use canary_core::spec::overrides::Override;
use canary_core::SpecFile;
use serde_json::{json, Value};

use crate::args::Overrides;
use crate::error::CliError;

/// Reads `path` and applies `overrides`.
pub(crate) fn load(path: &Path, overrides: &Overrides) -> Result<SpecFile, CliError> {
    let list = override_list(overrides)?;
    SpecFile::load(path, &list).map_err(|e| CliError::from(e).context(path.display()))
}

/// The flags as overrides, in the order they apply.
pub(crate) fn override_list(o: &Overrides) -> Result<Vec<Override>, CliError> {
    let mut out: Vec<Override> = Vec::new();
    let s = |v: &str| Value::String(v.to_string());
    if let Some(g) = &o.group {
        out.push(ov("group".into(), s(g)));
    }
    if let Some(st) = &o.stack {
        if st == "none" {
            out.push(ov("stack!".into(), Value::Null));
        } else {
            out.push(ov("stack".into(), s(st)));
        }
    }
    for (flag, field, list) in [
        ("--image", "image", &o.image),
        ("--stable-image", "stableImage", &o.stable_image),
    ] {
        for item in list.iter().filter(|i| !i.is_empty()) {
            match item.split_once('=') {
                Some((app, image)) if !app.is_empty() => {
                    out.push(ov(format!("apps.{app}.{field}"), s(image)))
                }
                Some(_) => {
                    return Err(CliError::usage(format!(
                        "{flag} {item:?}: expected REF or APP=REF"
                    )))
                }
                None => out.push(ov(format!("apps.*.{field}"), s(item))),
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
            Some((app, key)) => out.push(ov(format!("apps.{app}.canaryEnv.{key}"), s(value))),
            None => out.push(ov(format!("apps.*.canaryEnv.{key}"), s(value))),
        }
    }
    if let Some(m) = &o.mode {
        out.push(ov("traffic.mode".into(), s(m)));
    }
    if let Some(steps) = &o.steps {
        let mut list = Vec::new();
        for part in steps.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let n: u64 = part.parse().map_err(|_| {
                CliError::usage(format!("--steps {steps:?}: {part:?} is not a whole number"))
            })?;
            list.push(json!(n));
        }
        out.push(ov("traffic.stepWeight!".into(), Value::Null));
        out.push(ov("traffic.maxWeight!".into(), Value::Null));
        out.push(ov("traffic.steps".into(), Value::Array(list)));
    }
    if o.step_weight.is_some() || o.max_weight.is_some() {
        out.push(ov("traffic.steps!".into(), Value::Null));
    }
    if let Some(w) = o.step_weight {
        out.push(ov("traffic.stepWeight".into(), json!(w)));
    }
    if let Some(w) = o.max_weight {
        out.push(ov("traffic.maxWeight".into(), json!(w)));
    }
    if let Some(i) = &o.interval {
        out.push(ov("traffic.interval".into(), s(i)));
    }
    if let Some(h) = &o.header_route {
        if h == "none" {
            out.push(ov("traffic.headerRoute".into(), Value::Null));
        } else {
            let (name, value) = h.split_once('=').ok_or_else(|| {
                CliError::usage(format!("--header-route {h:?}: expected NAME=VALUE or none"))
            })?;
            out.push(ov(
                "traffic.headerRoute".into(),
                json!({"name": name, "value": value}),
            ));
        }
    }
    if let Some(b) = o.sticky {
        out.push(ov("traffic.sticky".into(), json!(b)));
    }
    if let Some(m) = o.mirror {
        out.push(ov("traffic.mirror".into(), json!(m)));
    }
    if let Some(w) = &o.analysis_window {
        out.push(ov("analysis.window".into(), s(w)));
    }
    if let Some(n) = o.failure_limit {
        out.push(ov("analysis.failureLimit".into(), json!(n)));
    }
    if let Some(n) = o.inconclusive_limit {
        out.push(ov("analysis.inconclusiveLimit".into(), json!(n)));
    }
    if let Some(a) = &o.on_inconclusive {
        out.push(ov("analysis.onInconclusive".into(), s(a)));
    }
    if let Some(n) = o.min_requests {
        out.push(ov("analysis.minRequests".into(), json!(n)));
    }
    if let Some(p) = &o.promote_strategy {
        out.push(ov("promote.strategy".into(), s(p)));
    }
    if let Some(t) = &o.call_timeout {
        out.push(ov("timeouts.call".into(), s(t)));
    }
    if let Some(t) = &o.converge_timeout {
        out.push(ov("timeouts.converge".into(), s(t)));
    }
    for item in o.set.iter().filter(|i| !i.trim().is_empty()) {
        let (path, text) = item
            .split_once('=')
            .ok_or_else(|| CliError::usage(format!("--set {item:?}: expected PATH=VALUE")))?;
        let value: Value = canary_core::yaml::to_value(text)
            .map_err(|e| CliError::usage(format!("--set {item:?}: the value is not YAML: {e}")))?;
        out.push(ov(path.trim().to_string(), value));
    }
    Ok(out)
}

/// `(path, value)` as an override; a path ending in `!` removes the field.
fn ov(path: String, value: Value) -> Override {
    match path.strip_suffix('!') {
        Some(p) => Override::remove(p),
        None => Override::set(path, value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use canary_core::Spec;

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
        assert!(spec
            .apps
            .iter()
            .all(|a| a.canary_replicas == canary_core::spec::CanaryReplicas::Fixed(2)));
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
