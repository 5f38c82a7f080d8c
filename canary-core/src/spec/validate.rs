//! What the types alone cannot check: cross-field rules, ranges and names. Every rejection names
//! the field (`traffic.steps[2]`) and the reason.

use std::time::Duration;

use super::notify::check_env_name;
use super::{check_url, CanaryReplicas, HookSpec, MetricKind, Pause, Spec, Strategy, TrafficMode};
use crate::error::{Error, Result};

impl Spec {
    /// Checks everything the types alone cannot.
    pub fn validate(&self) -> Result<()> {
        self.check_limits()?;
        if self.apps.is_empty() {
            return Err(Error::invalid("apps", "a group needs at least one app"));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, app) in self.apps.iter().enumerate() {
            let f = |k: &str| format!("apps[{i}].{k}");
            if !seen.insert(app.name.clone()) {
                return Err(Error::invalid(
                    f("name"),
                    format!("{} appears twice in the group", app.name),
                ));
            }
            let stable = app
                .stable_service(self.stack.as_ref())
                .map_err(|e| Error::invalid(f("stable"), crate::model::reason_of(&e)))?;
            let canary = app
                .canary_service(self.stack.as_ref())
                .map_err(|e| Error::invalid(f("canary"), crate::model::reason_of(&e)))?;
            if stable == canary {
                return Err(Error::invalid(
                    f("canary"),
                    "the canary service must differ from the stable one",
                ));
            }
            for (j, other) in self.apps.iter().enumerate().take(i) {
                let os = other.stable_service(self.stack.as_ref())?;
                let oc = other.canary_service(self.stack.as_ref())?;
                if [&os, &oc].contains(&&stable) || [&os, &oc].contains(&&canary) {
                    return Err(Error::invalid(
                        f("name"),
                        format!("its services overlap those of apps[{j}]"),
                    ));
                }
            }
            if app.port == 0 {
                return Err(Error::invalid(f("port"), "0 is not a port"));
            }
            validate_rule(&app.rule).map_err(|r| Error::invalid(f("rule"), r))?;
            match app.canary_replicas {
                CanaryReplicas::Fixed(0) | CanaryReplicas::Auto { min: 0, .. } => {
                    return Err(Error::invalid(
                        f("canaryReplicas"),
                        "the canary needs at least 1 replica",
                    ));
                }
                CanaryReplicas::Auto {
                    min,
                    max: Some(max),
                } if max < min => {
                    return Err(Error::invalid(
                        f("canaryReplicas.max"),
                        format!("{max} is below min {min}"),
                    ));
                }
                CanaryReplicas::Auto { .. } if self.traffic.mode == TrafficMode::Replicas => {
                    return Err(Error::invalid(
                        f("canaryReplicas"),
                        "`auto` needs weighted mode (replicas mode sets the counts itself)",
                    ));
                }
                _ => {}
            }
            if app.stable_replicas == 0 {
                return Err(Error::invalid(
                    f("stableReplicas"),
                    "stable needs at least 1 replica",
                ));
            }
            for k in app.canary_env.keys() {
                if k.is_empty() || k.contains('=') || k.chars().any(|c| c.is_whitespace()) {
                    return Err(Error::invalid(
                        f("canaryEnv"),
                        format!("{k:?} is not a variable name"),
                    ));
                }
            }
            if !app.health_path.starts_with('/') {
                return Err(Error::invalid(f("healthPath"), "must start with /"));
            }
            if let Some(b) = &app.build {
                if b.context.trim().is_empty() {
                    return Err(Error::invalid(f("build.context"), "cannot be empty"));
                }
            }
        }
        let t = &self.traffic;
        if let Some(steps) = &t.steps {
            if t.step_weight.is_some() || t.max_weight.is_some() {
                return Err(Error::invalid(
                    "traffic.steps",
                    "give either steps or stepWeight/maxWeight, not both",
                ));
            }
            if steps.is_empty() {
                return Err(Error::invalid("traffic.steps", "needs at least one step"));
            }
            for (i, step) in steps.iter().enumerate() {
                let w = step.weight;
                if w.get() == 0 && i > 0 {
                    return Err(Error::invalid(
                        format!("traffic.steps[{i}]"),
                        "only the first step can have weight 0 (a header-only phase)",
                    ));
                }
                if w.get() == 0 && t.header_route.is_none() {
                    return Err(Error::invalid(
                        format!("traffic.steps[{i}]"),
                        "a step of weight 0 reaches the canary only through headerRoute, which is off",
                    ));
                }
                if w.get() == 0 && t.mode == TrafficMode::Replicas {
                    return Err(Error::invalid(
                        format!("traffic.steps[{i}]"),
                        "a header-only phase needs weighted mode",
                    ));
                }
                if i > 0 && w <= steps[i - 1].weight {
                    return Err(Error::invalid(
                        format!("traffic.steps[{i}]"),
                        format!(
                            "{} is not above the step before ({})",
                            w.get(),
                            steps[i - 1].weight.get()
                        ),
                    ));
                }
                if let Some(Pause::For(d)) = step.pause {
                    if d.get() < Duration::from_millis(100) {
                        return Err(Error::invalid(
                            format!("traffic.steps[{i}].pause"),
                            "must be at least 100ms (or false)",
                        ));
                    }
                }
            }
        }
        match (t.step_weight, t.max_weight) {
            (Some(s), _) if s.get() == 0 => {
                return Err(Error::invalid("traffic.stepWeight", "must be above 0"));
            }
            (Some(s), Some(m)) if m < s => {
                return Err(Error::invalid(
                    "traffic.maxWeight",
                    format!("{} is below stepWeight {}", m.get(), s.get()),
                ));
            }
            (None, Some(m)) if m.get() < 10 => {
                return Err(Error::invalid(
                    "traffic.maxWeight",
                    format!(
                        "{} is below the default stepWeight 10; set stepWeight too",
                        m.get()
                    ),
                ));
            }
            _ => {}
        }
        if t.interval.get() < Duration::from_millis(100) {
            return Err(Error::invalid("traffic.interval", "must be at least 100ms"));
        }
        if t.watch.get() < Duration::from_millis(100) || t.watch.get() > Duration::from_secs(10) {
            return Err(Error::invalid(
                "traffic.watch",
                format!("{} is not between 100ms and 10s", t.watch),
            ));
        }
        if t.entry_points.is_empty() {
            return Err(Error::invalid(
                "traffic.entryPoints",
                "needs at least one entry point",
            ));
        }
        for (i, e) in t.entry_points.iter().enumerate() {
            if e.is_empty()
                || !e
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(Error::invalid(
                    format!("traffic.entryPoints[{i}]"),
                    format!("{e:?} is not an entry point name"),
                ));
            }
        }
        if t.mode == TrafficMode::Replicas {
            if t.sticky {
                return Err(Error::invalid(
                    "traffic.sticky",
                    "sticky sessions need weighted mode",
                ));
            }
            if t.mirror.get() > 0 {
                return Err(Error::invalid(
                    "traffic.mirror",
                    "mirroring needs weighted mode",
                ));
            }
            if let Some(total) = t.total_replicas {
                if total < 2 {
                    return Err(Error::invalid(
                        "traffic.totalReplicas",
                        "replicas mode needs at least 2 tasks",
                    ));
                }
            }
        } else if t.total_replicas.is_some() {
            return Err(Error::invalid(
                "traffic.totalReplicas",
                "only used in replicas mode",
            ));
        }
        let a = &self.analysis;
        if let Some(e) = a.every {
            if e.get() < Duration::from_millis(500) || e.get() > Duration::from_secs(3600) {
                return Err(Error::invalid(
                    "analysis.every",
                    format!("{e} is not between 500ms and 1h"),
                ));
            }
        }
        if let Some(w) = a.window {
            if w.get() < Duration::from_secs(1) {
                return Err(Error::invalid("analysis.window", "must be at least 1s"));
            }
        }
        for (i, c) in a.checks.iter().enumerate() {
            let f = |k: &str| format!("analysis.checks[{i}].{k}");
            if c.name.trim().is_empty() {
                return Err(Error::invalid(f("name"), "cannot be empty"));
            }
            validate_metric(&f("metric"), &c.metric, self.timeouts.call.get())?;
            if c.min.is_none() && c.max.is_none() && c.relative.is_none() {
                return Err(Error::invalid(
                    f("name"),
                    format!("check {:?} needs min, max or relative", c.name),
                ));
            }
            for (k, v) in [("min", c.min), ("max", c.max)] {
                if let Some(v) = v {
                    if !v.is_finite() {
                        return Err(Error::invalid(f(k), "must be a finite number"));
                    }
                }
            }
            if let (Some(lo), Some(hi)) = (c.min, c.max) {
                if lo > hi {
                    return Err(Error::invalid(f("min"), format!("{lo} is above max {hi}")));
                }
            }
            if let Some(r) = &c.relative {
                if !r.tolerance.is_finite() || r.tolerance < 0.0 {
                    return Err(Error::invalid(
                        f("relative.tolerance"),
                        "must be a number of 0 or more",
                    ));
                }
            }
        }
        if let Some(tm) = &a.task_metrics {
            tm.check()
                .map_err(|(k, r)| Error::invalid(format!("analysis.taskMetrics.{k}"), r))?;
            let latencies =
                a.checks
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (format!("analysis.checks[{i}].metric"), &c.metric))
                    .chain(a.judge.iter().flat_map(|j| {
                        j.metrics.iter().enumerate().map(|(i, m)| {
                            (format!("analysis.judge.metrics[{i}].metric"), &m.metric)
                        })
                    }));
            for (field, m) in latencies {
                if matches!(m, MetricKind::Latency(_)) && tm.duration.is_none() {
                    return Err(Error::invalid(
                        field,
                        "latency is read from the apps' histogram: set analysis.taskMetrics.duration",
                    ));
                }
            }
        }
        if let Some(j) = &a.judge {
            if j.metrics.is_empty() {
                return Err(Error::invalid(
                    "analysis.judge.metrics",
                    "needs at least one metric",
                ));
            }
            if !(j.confidence > 0.5 && j.confidence < 1.0) {
                return Err(Error::invalid(
                    "analysis.judge.confidence",
                    format!("{} is not between 0.5 and 1", j.confidence),
                ));
            }
            if !(j.effect_size >= 0.0 && j.effect_size.is_finite()) {
                return Err(Error::invalid(
                    "analysis.judge.effectSize",
                    "must be 0 or more",
                ));
            }
            if !(0.0..=100.0).contains(&j.pass_score) {
                return Err(Error::invalid(
                    "analysis.judge.passScore",
                    "must be within 0..100",
                ));
            }
            if !(0.0..=100.0).contains(&j.marginal_score) || j.marginal_score > j.pass_score {
                return Err(Error::invalid(
                    "analysis.judge.marginalScore",
                    "must be within 0..passScore",
                ));
            }
            if j.min_samples < 2 {
                return Err(Error::invalid(
                    "analysis.judge.minSamples",
                    "must be at least 2",
                ));
            }
            for (i, m) in j.metrics.iter().enumerate() {
                let f = |k: &str| format!("analysis.judge.metrics[{i}].{k}");
                validate_metric(&f("metric"), &m.metric, self.timeouts.call.get())?;
                if !(m.weight > 0.0 && m.weight.is_finite()) {
                    return Err(Error::invalid(f("weight"), "must be above 0"));
                }
            }
        }
        if self.strategy == Strategy::BlueGreen {
            for (given, field) in [
                (t.steps.is_some(), "traffic.steps"),
                (t.step_weight.is_some(), "traffic.stepWeight"),
                (t.max_weight.is_some(), "traffic.maxWeight"),
            ] {
                if given {
                    return Err(Error::invalid(
                        field,
                        "blue/green has no steps: a preview at weight 0, then all traffic at once",
                    ));
                }
            }
            if t.mode == TrafficMode::Replicas {
                return Err(Error::invalid("strategy", "blue/green needs weighted mode"));
            }
            if t.header_route.is_none() {
                return Err(Error::invalid(
                    "traffic.headerRoute",
                    "blue/green previews the new version through the header route, which is off",
                ));
            }
        }
        let step_hooks = t
            .steps
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, s)| (format!("traffic.steps[{i}].confirm"), &s.confirm));
        let mut hooks: Vec<(String, &Vec<HookSpec>)> = [
            ("hooks.preRollout", &self.hooks.pre_rollout),
            ("hooks.step", &self.hooks.step),
            ("hooks.confirmPromotion", &self.hooks.confirm_promotion),
            ("hooks.postRollout", &self.hooks.post_rollout),
            ("hooks.rollback", &self.hooks.rollback),
        ]
        .into_iter()
        .map(|(k, l)| (k.to_string(), l))
        .collect();
        hooks.extend(step_hooks);
        for (kind, list) in hooks {
            for (i, h) in list.iter().enumerate() {
                let f = |k: &str| format!("{kind}[{i}].{k}");
                if h.name.trim().is_empty() {
                    return Err(Error::invalid(f("name"), "cannot be empty"));
                }
                if !(h.url.starts_with("http://") || h.url.starts_with("https://"))
                    || h.url.len() < 10
                {
                    return Err(Error::invalid(
                        f("url"),
                        format!("{:?} is not an http(s) URL", h.url),
                    ));
                }
                if h.timeout.get().is_zero() {
                    return Err(Error::invalid(f("timeout"), "must be above 0"));
                }
            }
        }
        self.validate_notifications()?;
        if self.timeouts.call.get() < Duration::from_millis(100) {
            return Err(Error::invalid("timeouts.call", "must be at least 100ms"));
        }
        if self.timeouts.converge.get() < Duration::from_secs(1) {
            return Err(Error::invalid("timeouts.converge", "must be at least 1s"));
        }
        if self.timeouts.rollback.get() < Duration::from_secs(1) {
            return Err(Error::invalid("timeouts.rollback", "must be at least 1s"));
        }
        // Last: its rules are about fields checked above.
        self.check_replicas_mode()
    }
}

impl Spec {
    /// Names unique and printable, exactly one of `url` and `urlFrom`, URLs of the right shape
    /// (the error never quotes one: it may hold a token), events given, a sane timeout.
    fn validate_notifications(&self) -> Result<()> {
        let mut names = std::collections::BTreeSet::new();
        for (i, n) in self.notifications.iter().enumerate() {
            let f = |k: &str| format!("notifications[{i}].{k}");
            if n.name.trim().is_empty() {
                return Err(Error::invalid(f("name"), "cannot be empty"));
            }
            if n.name.chars().any(char::is_control) {
                return Err(Error::invalid(f("name"), "has a control character"));
            }
            if !names.insert(n.name.as_str()) {
                return Err(Error::invalid(
                    f("name"),
                    format!("{:?} is used by another notification", n.name),
                ));
            }
            match (&n.url, &n.url_from) {
                (Some(_), Some(_)) => {
                    return Err(Error::invalid(
                        f("url"),
                        "give either url or urlFrom, not both",
                    ))
                }
                (None, None) => {
                    return Err(Error::invalid(f("url"), "give url or urlFrom"));
                }
                (Some(u), None) => {
                    check_url(u.expose()).map_err(|r| Error::invalid(f("url"), r))?;
                }
                (None, Some(from)) => {
                    check_env_name(&from.env).map_err(|r| Error::invalid(f("urlFrom.env"), r))?;
                }
            }
            if n.events.is_empty() {
                return Err(Error::invalid(
                    f("events"),
                    "needs at least one event kind (remove the notification to send nothing)",
                ));
            }
            let t = n.timeout.get();
            if t < Duration::from_millis(100) || t > Duration::from_secs(60) {
                return Err(Error::invalid(
                    f("timeout"),
                    format!("{} is not between 100ms and 1m", n.timeout),
                ));
            }
        }
        Ok(())
    }
}

/// A metric's own rules; `field` is the metric's path (`analysis.checks[0].metric`), `call` the
/// spec's `timeouts.call`, which bounds every metrics call.
fn validate_metric(field: &str, m: &MetricKind, call: Duration) -> Result<()> {
    match m {
        MetricKind::Latency(q) if !(*q > 0.0 && *q < 1.0) => Err(Error::invalid(
            field,
            format!("latency quantile {q} is not between 0 and 1"),
        )),
        MetricKind::Query(q) if q.trim().is_empty() => {
            Err(Error::invalid(field, "the query is empty"))
        }
        MetricKind::Web(w) => {
            w.check()
                .map_err(|(sub, reason)| Error::invalid(format!("{field}.web.{sub}"), reason))?;
            match w.timeout {
                Some(t) if t.get() > call => Err(Error::invalid(
                    format!("{field}.web.timeout"),
                    format!(
                        "{t} is above timeouts.call {}, which would cut the call first",
                        crate::model::HumanDuration(call)
                    ),
                )),
                _ => Ok(()),
            }
        }
        _ => Ok(()),
    }
}

/// A Traefik rule is passed through as the user wrote it; we only refuse what cannot be right.
fn validate_rule(rule: &str) -> std::result::Result<(), String> {
    if rule.trim().is_empty() {
        return Err("a rule cannot be empty".into());
    }
    if rule.chars().any(|c| c.is_control()) {
        return Err("a rule cannot contain control characters".into());
    }
    if !rule.matches('`').count().is_multiple_of(2) {
        return Err(format!("{rule:?} has an unbalanced backtick"));
    }
    let mut depth = 0i32;
    for c in rule.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ => {}
        }
        if depth < 0 {
            break;
        }
    }
    if depth != 0 {
        return Err(format!("{rule:?} has unbalanced parentheses"));
    }
    Ok(())
}
