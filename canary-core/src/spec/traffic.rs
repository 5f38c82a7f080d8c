//! How traffic moves from stable to the canary.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::defaults::{
    default_entry_points, default_header_route, default_interval, default_watch,
};
use super::{HeaderRoute, StepSpec};
use crate::model::{HumanDuration, Weight};

/// How traffic is divided while the canary runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum TrafficMode {
    /// Exact weights through a Traefik weighted service.
    #[default]
    Weighted,
    /// The split follows replica counts of two services behind one Traefik service (the seed's way).
    Replicas,
}

/// How traffic shifts, step by step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TrafficSpec {
    /// Weighted (default) or replicas.
    #[serde(default)]
    pub mode: TrafficMode,
    /// The steps, ascending, e.g. `[5, 10, 25, 50]`; a step may be a gate,
    /// `{weight: 25, pause: true}` (until `canary resume`), `{weight: 25, pause: 30s}`, or
    /// `{weight: 50, confirm: [hooks]}` (asked before the weight is set). A first step of 0 is
    /// a header-only phase: the canary is reached only through `headerRoute`. Exclusive with
    /// `stepWeight`/`maxWeight`. Default: 10, 20, 30, 40, 50.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<StepSpec>>,
    /// Weight added at each step (with `maxWeight`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_weight: Option<Weight>,
    /// Last step's weight (with `stepWeight`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_weight: Option<Weight>,
    /// Time at each step before it is analysed. Default 30s.
    #[serde(default = "default_interval")]
    pub interval: HumanDuration,
    /// How often the canary's running tasks are looked at while a step waits: a canary that
    /// loses its tasks is out of the routing within about this long. 100ms to 10s; default 250ms.
    #[serde(default = "default_watch")]
    pub watch: HumanDuration,
    /// Requests that match go to the canary whatever the weights: a header's exact value, a
    /// header by regex, or a cookie. Default `X-Canary: true`; `null` turns it off.
    #[serde(default = "default_header_route")]
    pub header_route: Option<HeaderRoute>,
    /// Keep a client on the version it first reached (a cookie on the weighted service).
    #[serde(default)]
    pub sticky: bool,
    /// Percent of stable's traffic also mirrored to the canary (responses discarded). Default 0.
    #[serde(default)]
    pub mirror: Weight,
    /// Replicas mode: the total tasks split between stable and canary. Default: stable's replicas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_replicas: Option<u64>,
    /// Replicas mode: how many percentage points a step's replica counts may be off its weight
    /// (20 % over 5 tasks is exact; 10 % over 5 is 10 points off). A spec with a step further
    /// off is refused when it is loaded. 0 to 50; default 10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = 50))]
    pub replica_tolerance: Option<u8>,
    /// Traefik entry points the routes listen on. Default `[web]`.
    #[serde(default = "default_entry_points")]
    pub entry_points: Vec<String>,
}

impl Default for TrafficSpec {
    fn default() -> Self {
        TrafficSpec {
            mode: TrafficMode::Weighted,
            steps: None,
            step_weight: None,
            max_weight: None,
            interval: default_interval(),
            watch: default_watch(),
            header_route: default_header_route(),
            sticky: false,
            mirror: Weight::ZERO,
            total_replicas: None,
            replica_tolerance: None,
            entry_points: default_entry_points(),
        }
    }
}
