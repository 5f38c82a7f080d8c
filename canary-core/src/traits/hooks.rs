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

/// What a hook is told: [`HookContext::new`] and the chained setters (the engine builds it).
///
/// ```
/// use canary_core::{HookContext, HookPoint};
///
/// let ctx = HookContext::new("shop", HookPoint::ConfirmPromotion)
///     .apps(vec!["api".into(), "web".into()])
///     .step(2)
///     .weight(30)
///     .phase("progressing");
/// assert_eq!((ctx.step, ctx.weight), (Some(2), 30));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
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

impl HookContext {
    /// A call of `group`'s hooks at `point`: no apps, step, weight, phase or metadata yet.
    pub fn new(group: impl Into<String>, point: HookPoint) -> Self {
        HookContext {
            group: group.into(),
            apps: Vec::new(),
            point,
            step: None,
            weight: 0,
            phase: String::new(),
            metadata: BTreeMap::new(),
        }
    }
    /// Sets the apps' names.
    #[must_use]
    pub fn apps(mut self, apps: Vec<String>) -> Self {
        self.apps = apps;
        self
    }
    /// Sets the step index (`None`: not at a step).
    #[must_use]
    pub fn step(mut self, step: impl Into<Option<usize>>) -> Self {
        self.step = step.into();
        self
    }
    /// Sets the canary weight in force.
    #[must_use]
    pub fn weight(mut self, weight: u8) -> Self {
        self.weight = weight;
        self
    }
    /// Sets the rollout's phase, in words.
    #[must_use]
    pub fn phase(mut self, phase: impl Into<String>) -> Self {
        self.phase = phase.into();
        self
    }
    /// Sets the hook's metadata.
    #[must_use]
    pub fn metadata(mut self, metadata: BTreeMap<String, String>) -> Self {
        self.metadata = metadata;
        self
    }
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
