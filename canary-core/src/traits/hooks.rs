//! [`HookRunner`]: calls hooks (HTTP webhooks, or code in the host language).

use std::collections::BTreeMap;

use std::fmt::Debug;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

#[cfg(feature = "mocks")]
use mockall::automock;

use crate::error::Result;
use crate::spec::HookSpec;

/// Where a hook is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum HookPoint {
    /// Before traffic moves.
    PreRollout,
    /// At each step.
    Step,
    /// Before a step's weight is set (the step's `confirm` hooks).
    ConfirmTrafficIncrease,
    /// Before promotion.
    ConfirmPromotion,
    /// After promotion.
    PostRollout,
    /// When rolling back.
    Rollback,
}

/// What a hook is told.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HookContext {
    /// The group.
    pub group: String,
    /// The apps' names.
    pub apps: Vec<String>,
    /// The point.
    pub point: HookPoint,
    /// The step index (0-based), if at a step.
    pub step: Option<usize>,
    /// The canary weight in force.
    pub weight: u8,
    /// The rollout's phase.
    pub phase: String,
    /// The hook's metadata from the spec.
    pub metadata: BTreeMap<String, String>,
}

/// A hook's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HookOutcome {
    /// True when the hook says go.
    pub ok: bool,
    /// Its words.
    pub message: String,
}

/// Calls hooks: HTTP webhooks, or code in the host language.
#[cfg_attr(feature = "mocks", automock)]
#[async_trait]
pub trait HookRunner: Send + Sync + Debug + 'static {
    /// Calls one hook; an `Err` (unreachable, timeout) is treated like a hook that said no.
    async fn call(&self, hook: &HookSpec, context: &HookContext) -> Result<HookOutcome>;
}
