//! The default of every optional spec field, in one place (serde's `default = "..."` needs
//! functions).

use std::time::Duration;

use super::HeaderRoute;
use crate::model::{EventKind, HumanDuration};

pub(super) fn one() -> u64 {
    1
}
pub(super) fn two() -> u64 {
    2
}
pub(super) fn two_u32() -> u32 {
    2
}
pub(super) fn one_f() -> f64 {
    1.0
}
pub(super) fn yes() -> bool {
    true
}
pub(crate) fn default_health_path() -> String {
    "/health".into()
}
pub(super) fn default_dockerfile() -> String {
    "Dockerfile".into()
}
pub(super) fn default_interval() -> HumanDuration {
    HumanDuration(Duration::from_secs(30))
}
pub(super) fn default_header_route() -> Option<HeaderRoute> {
    Some(HeaderRoute::default())
}
pub(super) fn default_scale_down_delay() -> HumanDuration {
    HumanDuration(Duration::from_secs(30))
}
pub(super) fn default_abort_scale_down_delay() -> HumanDuration {
    HumanDuration(Duration::from_secs(30))
}
pub(crate) fn default_entry_points() -> Vec<String> {
    vec!["web".into()]
}
pub(super) fn default_confidence() -> f64 {
    0.95
}
pub(super) fn default_pass_score() -> f64 {
    95.0
}
pub(super) fn default_marginal_score() -> f64 {
    75.0
}
pub(super) fn default_min_samples() -> usize {
    5
}
pub(super) fn default_min_requests() -> u64 {
    10
}
pub(super) fn default_hook_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(10))
}
pub(super) fn default_call_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(30))
}
pub(super) fn default_converge_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(300))
}
pub(super) fn default_retry_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(60))
}
pub(super) fn default_rollback_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(600))
}
pub(super) fn default_watch() -> HumanDuration {
    HumanDuration(Duration::from_millis(250))
}
pub(super) fn default_notify_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(5))
}
/// The events a person wants to hear of: the rollout's beginning, its pauses and its end.
pub(super) fn default_notify_events() -> Vec<EventKind> {
    vec![
        EventKind::Started,
        EventKind::Paused,
        EventKind::Promoting,
        EventKind::Promoted,
        EventKind::RollingBack,
        EventKind::RolledBack,
        EventKind::CanaryLost,
        EventKind::Failed,
    ]
}
