//! The canary spec: one format for Rust, Python, Node and the CLI, in YAML or JSON.
//!
//! A [`Spec`] is validated when it is loaded: a value of this type always describes a rollout the
//! engine can run. Every rejection names the field and the reason, e.g.
//! `traffic.steps[2]: 120 is above 100`.
//!
//! | module | owns |
//! |---|---|
//! | `app` | [`AppSpec`], [`BuildSpec`]: one app and its service names |
//! | `placement` | [`PlacementSpec`]: where the canary's tasks run, when not where stable's do |
//! | `capacity` | [`CanaryReplicas`]: the canary's task count, fixed or following the weight |
//! | `traffic` | [`TrafficSpec`], [`TrafficMode`] |
//! | `steps` | [`StepSpec`], [`Pause`]: the steps and their gates |
//! | `strategy` | [`Strategy`], [`BlueGreenSpec`]: canary or blue/green |
//! | `header_route` | [`HeaderRoute`]: exact header, header by regex, or cookie |
//! | `metric` | [`MetricKind`] and the forms it is written in |
//! | `web` | [`WebMetric`]: the `web` metric's shape, rules and placeholders |
//! | `analysis` | [`AnalysisSpec`], checks and the judge |
//! | `task_metrics` | [`TaskMetricsSpec`]: the apps' own per-task metrics as the built-in metrics' source |
//! | `replicas` | replicas mode: the replica plan of the steps, and what the analysis can see |
//! | `hooks` | [`HooksSpec`], [`HookSpec`] |
//! | `notify` | [`NotificationSpec`]: where events are posted, which ones, the URL kept secret |
//! | `promote` | [`PromoteSpec`], [`TimeoutsSpec`] |
//! | `limits` | the range of every number and the size of every list ([`LimitsSpec`]) |
//! | `defaults` | the default of every optional field |
//! | `validate` | what the types alone cannot check |
//! | `load` | text (YAML, JSON) or a JSON value in, a validated [`Spec`] out |
//! | `overrides` | one field set by path before validation |

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::model::{AppRef, ServiceName, Weight};

mod analysis;
mod app;
mod capacity;
pub(crate) mod defaults;
mod header_route;
mod hooks;
mod limits;
mod load;
mod metric;
mod notify;
pub mod overrides;
mod placement;
mod promote;
mod replicas;
mod steps;
mod strategy;
mod task_metrics;
mod traffic;
mod validate;
mod web;

pub use analysis::{
    AnalysisSpec, CheckSpec, Direction, InconclusiveAction, JudgeMetric, JudgeSpec, RelativeCheck,
};
pub use app::{AppSpec, BuildSpec};
pub use capacity::CanaryReplicas;
pub use header_route::HeaderRoute;
pub use hooks::{HookSpec, HooksSpec};
pub use limits::{LimitsSpec, MAX_REPLICAS_CEILING};
pub use metric::MetricKind;
pub use notify::{check_url, NotificationKind, NotificationSpec, NotifyUrl, UrlFrom, MAX_URL_LEN};
pub use placement::{PlacementSpec, MAX_CONSTRAINTS, MAX_PREFERENCES};
pub use promote::{PromoteSpec, PromoteStrategy, TimeoutsSpec};
pub use replicas::DEFAULT_REPLICA_TOLERANCE;
pub use steps::{Pause, StepSpec};
pub use strategy::{BlueGreenSpec, Strategy};
pub use task_metrics::TaskMetricsSpec;
pub use traffic::{TrafficMode, TrafficSpec};
pub use web::{WebHeader, WebMethod, WebMetric, WebVars, WEB_TIMEOUT_RANGE};

/// A canary group: one or more apps canaried, analysed and promoted (or rolled back) together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(
    title = "canary spec",
    description = "A canary rollout of one or more Swarm services behind Traefik."
)]
pub struct Spec {
    /// The group's name: names the router file, the state labels and the events.
    pub group: ServiceName,
    /// The `docker stack deploy` stack the services belong to, if any: service `api` in stack
    /// `neotix` is the Swarm service `neotix_api`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<ServiceName>,
    /// The apps of the group (at least one).
    pub apps: Vec<AppSpec>,
    /// Canary (default: a growing share, step by step) or blue/green (all at once after a preview).
    #[serde(default)]
    pub strategy: Strategy,
    /// Blue/green settings, with `strategy: blueGreen`.
    #[serde(default)]
    pub blue_green: BlueGreenSpec,
    /// How traffic moves from stable to canary.
    #[serde(default)]
    pub traffic: TrafficSpec,
    /// How each step is judged.
    #[serde(default)]
    pub analysis: AnalysisSpec,
    /// HTTP webhooks called at points of the rollout.
    #[serde(default)]
    pub hooks: HooksSpec,
    /// How a successful canary becomes stable.
    #[serde(default)]
    pub promote: PromoteSpec,
    /// Deadlines for calls to the orchestrator, router, metrics and hooks.
    #[serde(default)]
    pub timeouts: TimeoutsSpec,
    /// Limits the spec raises (`maxReplicas`).
    #[serde(default)]
    pub limits: LimitsSpec,
    /// Promote without analysis (an emergency release, Flagger's `skipAnalysis`): the steps
    /// still move the weight, every analysis passes as "skipped", and every event and the final
    /// state say so. Default false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub skip_analysis: bool,
    /// Where the rollout's events are posted (Slack, Microsoft Teams, Discord, plain JSON).
    /// Failures are logged, never acted on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notifications: Vec<NotificationSpec>,
}

impl Spec {
    /// The JSON Schema of the spec, generated from these types.
    pub fn json_schema() -> serde_json::Value {
        serde_json::to_value(schemars::schema_for!(Spec)).expect("a schema serializes")
    }

    /// The canary weights of the steps, in order.
    pub fn steps(&self) -> Vec<Weight> {
        self.plan().into_iter().map(|s| s.weight).collect()
    }

    /// The steps with their gates, in order. Blue/green is two steps: the preview at weight 0
    /// (held until `canary resume` without `blueGreen.autoPromotion`), then all traffic at once,
    /// held for `blueGreen.scaleDownDelay` before the old version is replaced.
    pub fn plan(&self) -> Vec<StepSpec> {
        if self.strategy == Strategy::BlueGreen {
            let bg = &self.blue_green;
            let delay = bg.scale_down_delay;
            return vec![
                StepSpec {
                    pause: (!bg.auto_promotion).then_some(Pause::UntilResumed),
                    ..StepSpec::of(Weight::ZERO)
                },
                StepSpec {
                    pause: (!delay.get().is_zero()).then_some(Pause::For(delay)),
                    ..StepSpec::of(Weight::FULL)
                },
            ];
        }
        let t = &self.traffic;
        if let Some(steps) = &t.steps {
            return steps.clone();
        }
        let step = t.step_weight.map(Weight::get).unwrap_or(10) as u64;
        let max = t.max_weight.map(Weight::get).unwrap_or(50) as u64;
        let mut out = Vec::new();
        let mut w = step;
        while w < max {
            out.push(StepSpec::of(Weight::new(w).expect("below max")));
            w += step;
        }
        out.push(StepSpec::of(Weight::new(max).expect("max is a weight")));
        out
    }

    /// The apps with their service names resolved.
    pub fn app_refs(&self) -> Vec<AppRef> {
        self.apps
            .iter()
            .map(|a| AppRef {
                name: a.name.clone(),
                stable: a.stable_service(self.stack.as_ref()).expect("validated"),
                canary: a.canary_service(self.stack.as_ref()).expect("validated"),
            })
            .collect()
    }

    /// The analysis window: explicit, or the step interval.
    pub fn window(&self) -> Duration {
        self.analysis.window.unwrap_or(self.traffic.interval).get()
    }
}
