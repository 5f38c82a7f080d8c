//! Canary or blue/green: how the traffic goes from stable to the new version.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::defaults::{default_abort_scale_down_delay, default_scale_down_delay, yes};
use crate::model::HumanDuration;

/// How the new version takes the traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum Strategy {
    /// The canary takes a growing share, step by step. Default.
    #[default]
    Canary,
    /// The new version runs at stable's size and is previewed through the header route (weight
    /// 0), then takes all traffic at once; the old version stays at full size for
    /// `blueGreen.scaleDownDelay`, so a rollback within it is a weight flip.
    BlueGreen,
}

/// Blue/green settings (with `strategy: blueGreen`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BlueGreenSpec {
    /// After the switch, how long the old version keeps its full size before it is replaced
    /// (Argo's `scaleDownDelaySeconds`): a failed analysis or `canary abort` in this window
    /// moves all traffic back at once. Default 30s.
    #[serde(default = "default_scale_down_delay")]
    pub scale_down_delay: HumanDuration,
    /// After a rollback, how long the new version keeps running out of the routing before it is
    /// scaled to 0, to look at (Argo's `abortScaleDownDelaySeconds`). Default 30s; `0s` removes it at
    /// once.
    #[serde(default = "default_abort_scale_down_delay")]
    pub abort_scale_down_delay: HumanDuration,
    /// Switch as soon as the preview's analysis passes (Argo's `autoPromotionEnabled`). With
    /// `false`, the preview holds until `canary resume` or `canary promote`. Default true.
    #[serde(default = "yes")]
    pub auto_promotion: bool,
}

impl Default for BlueGreenSpec {
    fn default() -> Self {
        BlueGreenSpec {
            scale_down_delay: default_scale_down_delay(),
            abort_scale_down_delay: default_abort_scale_down_delay(),
            auto_promotion: true,
        }
    }
}
