//! HTTP webhooks called at points of the rollout.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::defaults::default_hook_timeout;
use crate::model::HumanDuration;

/// An HTTP webhook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HookSpec {
    /// The hook's name in reports.
    pub name: String,
    /// `http://` or `https://` URL; it receives a POST with a JSON body.
    pub url: String,
    /// Deadline for one call. Default 10s.
    #[serde(default = "default_hook_timeout")]
    pub timeout: HumanDuration,
    /// Free-form values passed in the body.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    /// Let this hook reach link-local and cloud metadata addresses (169.254.0.0/16,
    /// 100.100.100.200, fe80::/10, fd00:ec2::254), which hooks are refused by default. Default
    /// false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_link_local: bool,
}

/// When hooks are called.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HooksSpec {
    /// Before any traffic moves; a failure aborts the rollout.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pre_rollout: Vec<HookSpec>,
    /// At each step before analysis (load tests, acceptance tests); a failure counts as a failed analysis.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub step: Vec<HookSpec>,
    /// Before promotion; while one fails the rollout waits at its last step.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub confirm_promotion: Vec<HookSpec>,
    /// After promotion (notifications); failures are reported, not acted on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub post_rollout: Vec<HookSpec>,
    /// When a rollback starts (notifications); failures are reported, not acted on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rollback: Vec<HookSpec>,
}
