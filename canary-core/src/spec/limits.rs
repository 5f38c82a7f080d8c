//! The range of every number and the size of every list a spec may hold, checked before anything
//! else so no value from a file, a flag or a binding reaches Docker, a clock or an allocator
//! unbounded. Swarm accepts absurd replica counts (4,000,000,000 made dockerd eat 23 GB and lost
//! the swarm); a duration of 10^20 seconds overflows every clock.
//!
//! | field | range |
//! |---|---|
//! | every duration | at most 7d ([`HumanDuration::MAX`](crate::model::HumanDuration::MAX)) |
//! | `apps` | 1 to 64 |
//! | `apps[].canaryReplicas`, `stableReplicas`, `traffic.totalReplicas` | up to `limits.maxReplicas` (default 1,000; at most 10,000) |
//! | `apps[].canaryEnv` | up to 128 variables of up to 16 KiB |
//! | `apps[].rule` | up to 4,096 characters; `healthPath` up to 1,024 |
//! | `apps[].placement` | up to 32 constraints, 8 preferences; `maxReplicasPerNode` up to `limits.maxReplicas` |
//! | `traffic.entryPoints` | up to 16 |
//! | `analysis.failureLimit`, `inconclusiveLimit` | up to 1,000 |
//! | `analysis.minRequests` | up to 10^12 |
//! | `analysis.checks` | up to 256; names up to 256 characters; queries up to 16 KiB |
//! | each `web` metric | `url` up to 2,048 bytes, `body` up to 16 KiB, up to 32 `headers` (names up to 256 bytes, values and variable names up to 8 KiB), `jsonPath` up to 512 bytes |
//! | `analysis.judge.metrics` | up to 64; `minSamples` up to 1,000,000 |
//! | each hook list | up to 32; URLs up to 2,048 characters; `metadata` up to 64 entries |
//! | `notifications` | up to 16; names up to 64 characters; URLs up to 2,048 bytes; `events` up to 32; `urlFrom.env` up to 256 characters; `timeout` 100ms to 1m |

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{CanaryReplicas, MetricKind, Spec, WebHeader, MAX_URL_LEN};
use crate::error::{Error, Result};
use crate::model::MAX_REPLICAS;

pub use crate::model::MAX_REPLICAS_CEILING;

/// Limits a spec may raise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LimitsSpec {
    /// The most replicas of any service of the group. Default 1,000; at most 10,000.
    #[serde(default = "default_max_replicas")]
    pub max_replicas: u64,
}

impl Default for LimitsSpec {
    fn default() -> Self {
        LimitsSpec {
            max_replicas: MAX_REPLICAS,
        }
    }
}

fn default_max_replicas() -> u64 {
    MAX_REPLICAS
}

fn at_most(field: impl Into<String>, value: u64, max: u64, what: &str) -> Result<()> {
    if value > max {
        return Err(Error::invalid(
            field,
            format!("{value} {what} is above the limit of {max}"),
        ));
    }
    Ok(())
}

impl Spec {
    /// Checks the range of every number and the size of every list (see the module docs).
    pub(super) fn check_limits(&self) -> Result<()> {
        at_most(
            "limits.maxReplicas",
            self.limits.max_replicas,
            MAX_REPLICAS_CEILING,
            "replicas",
        )?;
        let max = self.limits.max_replicas;
        at_most("apps", self.apps.len() as u64, 64, "apps")?;
        for (i, app) in self.apps.iter().enumerate() {
            let f = |k: &str| format!("apps[{i}].{k}");
            match app.canary_replicas {
                CanaryReplicas::Fixed(n) => at_most(f("canaryReplicas"), n, max, "replicas")?,
                CanaryReplicas::Auto { min, max: top } => {
                    at_most(f("canaryReplicas.min"), min, max, "replicas")?;
                    if let Some(top) = top {
                        at_most(f("canaryReplicas.max"), top, max, "replicas")?;
                    }
                }
            }
            at_most(f("stableReplicas"), app.stable_replicas, max, "replicas")?;
            at_most(
                f("canaryEnv"),
                app.canary_env.len() as u64,
                128,
                "variables",
            )?;
            if app.canary_env.values().any(|v| v.len() > 16 * 1024) {
                return Err(Error::invalid(f("canaryEnv"), "a value is above 16 KiB"));
            }
            at_most(
                f("rule"),
                app.rule.chars().count() as u64,
                4096,
                "characters",
            )?;
            at_most(
                f("healthPath"),
                app.health_path.chars().count() as u64,
                1024,
                "characters",
            )?;
            if app.health_path.chars().any(char::is_control) {
                return Err(Error::invalid(f("healthPath"), "has a control character"));
            }
            if let Some(b) = &app.build {
                at_most(f("build.args"), b.args.len() as u64, 128, "arguments")?;
            }
            if let Some(p) = &app.placement {
                p.validate(&f("placement"), max)?;
            }
        }
        let t = &self.traffic;
        if let Some(total) = t.total_replicas {
            at_most("traffic.totalReplicas", total, max, "replicas")?;
        }
        if let Some(steps) = &t.steps {
            at_most("traffic.steps", steps.len() as u64, 100, "steps")?;
        }
        at_most(
            "traffic.entryPoints",
            t.entry_points.len() as u64,
            16,
            "entry points",
        )?;
        let a = &self.analysis;
        at_most(
            "analysis.failureLimit",
            a.failure_limit.into(),
            1000,
            "failures",
        )?;
        at_most(
            "analysis.inconclusiveLimit",
            a.inconclusive_limit.into(),
            1000,
            "inconclusive analyses",
        )?;
        at_most(
            "analysis.minRequests",
            a.min_requests,
            1_000_000_000_000,
            "requests",
        )?;
        at_most("analysis.checks", a.checks.len() as u64, 256, "checks")?;
        for (i, c) in a.checks.iter().enumerate() {
            at_most(
                format!("analysis.checks[{i}].name"),
                c.name.chars().count() as u64,
                256,
                "characters",
            )?;
            check_metric(&format!("analysis.checks[{i}].metric"), &c.metric)?;
        }
        if let Some(j) = &a.judge {
            at_most(
                "analysis.judge.metrics",
                j.metrics.len() as u64,
                64,
                "metrics",
            )?;
            at_most(
                "analysis.judge.minSamples",
                j.min_samples as u64,
                1_000_000,
                "samples",
            )?;
            for (i, m) in j.metrics.iter().enumerate() {
                check_metric(&format!("analysis.judge.metrics[{i}].metric"), &m.metric)?;
            }
        }
        let hooks = [
            ("preRollout", &self.hooks.pre_rollout),
            ("step", &self.hooks.step),
            ("confirmPromotion", &self.hooks.confirm_promotion),
            ("postRollout", &self.hooks.post_rollout),
            ("rollback", &self.hooks.rollback),
        ];
        let step_hooks = t
            .steps
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, s)| (format!("traffic.steps[{i}].confirm"), &s.confirm));
        let hooks = hooks
            .into_iter()
            .map(|(k, l)| (format!("hooks.{k}"), l))
            .chain(step_hooks);
        for (kind, list) in hooks {
            at_most(kind.clone(), list.len() as u64, 32, "hooks")?;
            for (i, h) in list.iter().enumerate() {
                let f = |k: &str| format!("{kind}[{i}].{k}");
                at_most(f("url"), h.url.len() as u64, 2048, "characters")?;
                at_most(f("metadata"), h.metadata.len() as u64, 64, "entries")?;
            }
        }
        at_most(
            "notifications",
            self.notifications.len() as u64,
            16,
            "notifications",
        )?;
        for (i, n) in self.notifications.iter().enumerate() {
            let f = |k: &str| format!("notifications[{i}].{k}");
            at_most(f("name"), n.name.chars().count() as u64, 64, "characters")?;
            if let Some(u) = &n.url {
                // The URL is a secret: its length is given, never its text.
                at_most(
                    f("url"),
                    u.expose().len() as u64,
                    MAX_URL_LEN as u64,
                    "bytes",
                )?;
            }
            if let Some(from) = &n.url_from {
                at_most(
                    f("urlFrom.env"),
                    from.env.chars().count() as u64,
                    256,
                    "characters",
                )?;
            }
            at_most(f("events"), n.events.len() as u64, 32, "events")?;
        }
        Ok(())
    }
}

fn check_metric(field: &str, m: &MetricKind) -> Result<()> {
    match m {
        MetricKind::Query(q) => at_most(field, q.len() as u64, 16 * 1024, "bytes of query")?,
        MetricKind::Web(w) => {
            let f = |k: &str| format!("{field}.web.{k}");
            at_most(f("url"), w.url.len() as u64, 2048, "bytes")?;
            if let Some(b) = &w.body {
                at_most(f("body"), b.len() as u64, 16 * 1024, "bytes")?;
            }
            at_most(f("headers"), w.headers.len() as u64, 32, "headers")?;
            for (name, value) in &w.headers {
                at_most(f("headers"), name.len() as u64, 256, "bytes of header name")?;
                let text = match value {
                    WebHeader::Value(v) => v,
                    WebHeader::Env { env } => env,
                };
                at_most(
                    f(&format!("headers.{name}")),
                    text.len() as u64,
                    8 * 1024,
                    "bytes",
                )?;
            }
            at_most(f("jsonPath"), w.json_path.len() as u64, 512, "bytes")?;
        }
        _ => {}
    }
    Ok(())
}
