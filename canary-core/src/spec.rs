//! The canary spec: one format for Rust, Python, Node and the CLI, in YAML or JSON.
//!
//! A [`Spec`] is validated when it is loaded: a value of this type always describes a rollout the
//! engine can run. Every rejection names the field and the reason, e.g.
//! `traffic.steps[2]: 120 is above 100`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::{HeaderName, HumanDuration, ImageRef, RuleValue, ServiceName, Weight};

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
}

/// One app of a group: a stable Swarm service and its canary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppSpec {
    /// The app's name (as in a compose file).
    pub name: ServiceName,
    /// The stable Swarm service. Default: `name`, or `<stack>_<name>` inside a stack.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stable: Option<ServiceName>,
    /// The canary Swarm service. Default: `<stable>-canary`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<ServiceName>,
    /// The image to try as canary.
    pub image: ImageRef,
    /// The image stable runs when the group is first deployed (by `canary deploy`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stable_image: Option<ImageRef>,
    /// The port the container listens on.
    pub port: u16,
    /// The Traefik rule that selects the app's traffic, e.g. ``Host(`api.localhost`) && PathPrefix(`/api`)``.
    pub rule: String,
    /// Canary tasks to run, independent of its traffic weight. Default 1.
    #[serde(default = "one")]
    pub canary_replicas: u64,
    /// Stable tasks when the group is first deployed. Default 2.
    #[serde(default = "two")]
    pub stable_replicas: u64,
    /// Extra environment for the canary's tasks only (e.g. a feature flag).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub canary_env: BTreeMap<String, String>,
    /// How to build the app's image (for `canary build`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<BuildSpec>,
    /// Run tasks with an init process (fast, clean stops). Default true.
    #[serde(default = "yes")]
    pub init: bool,
    /// A path that answers 200 when the app is up, used by smoke tests.
    #[serde(default = "default_health_path")]
    pub health_path: String,
}

/// How to build an app's image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BuildSpec {
    /// The build context directory, relative to the spec file.
    pub context: String,
    /// The Dockerfile inside the context. Default `Dockerfile`.
    #[serde(default = "default_dockerfile")]
    pub dockerfile: String,
    /// Build arguments.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub args: BTreeMap<String, String>,
}

/// How traffic is divided while the canary runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub enum TrafficMode {
    /// Exact weights through a Traefik weighted service.
    #[default]
    Weighted,
    /// The split follows replica counts of two services behind one Traefik service (the seed's way).
    Replicas,
}

/// A header that sends a request straight to the canary, whatever the weights.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HeaderRoute {
    /// Header name. Default `X-Canary`.
    pub name: HeaderName,
    /// Header value. Default `true`.
    pub value: RuleValue,
}

impl Default for HeaderRoute {
    fn default() -> Self {
        HeaderRoute {
            name: HeaderName::parse("X-Canary").expect("valid"),
            value: RuleValue::parse("true").expect("valid"),
        }
    }
}

/// How traffic shifts, step by step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TrafficSpec {
    /// Weighted (default) or replicas.
    #[serde(default)]
    pub mode: TrafficMode,
    /// The canary weights of the steps, ascending, e.g. `[5, 10, 25, 50]`. Exclusive with
    /// `stepWeight`/`maxWeight`. Default: 10, 20, 30, 40, 50.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<Weight>>,
    /// Weight added at each step (with `maxWeight`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_weight: Option<Weight>,
    /// Last step's weight (with `stepWeight`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_weight: Option<Weight>,
    /// Time at each step before it is analysed. Default 30s.
    #[serde(default = "default_interval")]
    pub interval: HumanDuration,
    /// Requests with this header go to the canary. Default `X-Canary: true`; `null` turns it off.
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
            header_route: default_header_route(),
            sticky: false,
            mirror: Weight::ZERO,
            total_replicas: None,
            entry_points: default_entry_points(),
        }
    }
}

/// What to do when analysis stays inconclusive past its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub enum InconclusiveAction {
    /// Roll the canary back (default).
    #[default]
    Rollback,
    /// Pause and wait for a person to resume, promote or abort.
    Pause,
}

/// A metric of one track of an app: `successRate`, or `{latency: 0.99}`, or `{query: "..."}`.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum MetricKind {
    /// Requests in the window.
    RequestCount,
    /// Requests per second.
    RequestRate,
    /// Responses with a 5xx status in the window.
    ErrorCount,
    /// Share of non-5xx responses, 0–1.
    SuccessRate,
    /// Share of 5xx responses, 0–1.
    ErrorRate,
    /// Latency quantile in seconds, e.g. `{latency: 0.99}`.
    Latency(f64),
    /// A custom query (PromQL for Prometheus) with placeholders `{{service}}`, `{{app}}`,
    /// `{{track}}`, `{{window}}`; substituted values are escaped.
    Query(String),
}

// serde_yaml reads externally tagged enums only from YAML tags (`!latency 0.99`), so the map
// form people write (and JSON) is read by hand, the same way for every format.
impl<'de> Deserialize<'de> for MetricKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        const UNIT: &[&str] = &[
            "requestCount",
            "requestRate",
            "errorCount",
            "successRate",
            "errorRate",
        ];
        const ALL: &[&str] = &[
            "requestCount",
            "requestRate",
            "errorCount",
            "successRate",
            "errorRate",
            "latency",
            "query",
        ];
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = MetricKind;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(
                    "a metric name such as successRate, or {latency: 0.99}, or {query: \"...\"}",
                )
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<MetricKind, E> {
                Ok(match v {
                    "requestCount" => MetricKind::RequestCount,
                    "requestRate" => MetricKind::RequestRate,
                    "errorCount" => MetricKind::ErrorCount,
                    "successRate" => MetricKind::SuccessRate,
                    "errorRate" => MetricKind::ErrorRate,
                    "latency" | "query" => {
                        return Err(E::custom(format!("{v} needs a value, e.g. {{{v}: ...}}")))
                    }
                    other => return Err(E::unknown_variant(other, UNIT)),
                })
            }
            // YAML's tag form, `!latency 0.99`, which serde_yaml hands over as an enum.
            fn visit_enum<A: serde::de::EnumAccess<'de>>(
                self,
                data: A,
            ) -> Result<MetricKind, A::Error> {
                use serde::de::{Error as _, VariantAccess as _};
                let (key, variant) = data.variant::<String>()?;
                match key.as_str() {
                    "latency" => Ok(MetricKind::Latency(variant.newtype_variant()?)),
                    "query" => Ok(MetricKind::Query(variant.newtype_variant()?)),
                    other if UNIT.contains(&other) => {
                        variant.unit_variant()?;
                        self.visit_str(other)
                    }
                    other => Err(A::Error::unknown_variant(other, ALL)),
                }
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<MetricKind, A::Error> {
                use serde::de::Error as _;
                let Some(key) = map.next_key::<String>()? else {
                    return Err(A::Error::custom("an empty map is not a metric"));
                };
                let kind = match key.as_str() {
                    "latency" => MetricKind::Latency(map.next_value()?),
                    "query" => MetricKind::Query(map.next_value()?),
                    other if UNIT.contains(&other) => {
                        map.next_value::<serde::de::IgnoredAny>()?;
                        self.visit_str(other)?
                    }
                    other => return Err(A::Error::unknown_variant(other, ALL)),
                };
                if map.next_key::<String>()?.is_some() {
                    return Err(A::Error::custom("a metric map has exactly one key"));
                }
                Ok(kind)
            }
        }
        d.deserialize_any(V)
    }
}

impl MetricKind {
    /// Whether a larger value is worse (errors, latency) or better (success rate).
    pub fn higher_is_worse(&self) -> bool {
        !matches!(
            self,
            MetricKind::SuccessRate | MetricKind::RequestCount | MetricKind::RequestRate
        )
    }

    /// A short label for reports: `successRate`, `latency(p99)`, `query`.
    pub fn label(&self) -> String {
        match self {
            MetricKind::RequestCount => "requestCount".into(),
            MetricKind::RequestRate => "requestRate".into(),
            MetricKind::ErrorCount => "errorCount".into(),
            MetricKind::SuccessRate => "successRate".into(),
            MetricKind::ErrorRate => "errorRate".into(),
            MetricKind::Latency(q) => format!("latency(p{})", q * 100.0),
            MetricKind::Query(_) => "query".into(),
        }
    }
}

/// Which direction of change is bad for a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Direction {
    /// Higher canary values are bad (errors, latency).
    Increase,
    /// Lower canary values are bad (success rate).
    Decrease,
    /// Any significant difference is bad.
    Either,
}

/// A comparison of the canary with stable over the same window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RelativeCheck {
    /// Allowed absolute difference in the bad direction (e.g. 0.01 = one point of error rate).
    #[serde(default)]
    pub tolerance: f64,
    /// Which direction is bad. Default: from the metric (errors and latency up, success down).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
}

/// One analysis check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CheckSpec {
    /// The check's name in reports.
    pub name: String,
    /// What is measured.
    pub metric: MetricKind,
    /// The canary value must be at least this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// The canary value must be at most this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Compare with stable's value over the same window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relative: Option<RelativeCheck>,
    /// A failed critical check rolls back at once, whatever the failure limit.
    #[serde(default)]
    pub critical: bool,
}

/// A metric the statistical judge compares between canary and stable samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JudgeMetric {
    /// The metric name in reports.
    pub name: String,
    /// What is sampled.
    pub metric: MetricKind,
    /// Which direction is bad. Default: from the metric.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    /// Weight in the score. Default 1.
    #[serde(default = "one_f")]
    pub weight: f64,
    /// A critical metric that fails fails the whole analysis.
    #[serde(default)]
    pub critical: bool,
}

/// The statistical judge (Mann-Whitney U, as Spinnaker Kayenta does).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JudgeSpec {
    /// The metrics judged.
    pub metrics: Vec<JudgeMetric>,
    /// Confidence level of the two-sided test. Default 0.95.
    #[serde(default = "default_confidence")]
    pub confidence: f64,
    /// Relative effect size tolerated even when significant: 0.1 ignores a 10 % shift of the
    /// median. Default 0.
    #[serde(default)]
    pub effect_size: f64,
    /// Score (0–100) at or above which the analysis passes. Default 95.
    #[serde(default = "default_pass_score")]
    pub pass_score: f64,
    /// Score at or above which (and below pass) the result is marginal, i.e. inconclusive. Default 75.
    #[serde(default = "default_marginal_score")]
    pub marginal_score: f64,
    /// Fewest samples per track for a verdict; fewer is "no data". Default 5.
    #[serde(default = "default_min_samples")]
    pub min_samples: usize,
}

/// How each step is analysed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AnalysisSpec {
    /// Metrics window. Default: the step interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<HumanDuration>,
    /// Failed analyses tolerated; one more rolls back. Default 0.
    #[serde(default)]
    pub failure_limit: u32,
    /// Inconclusive analyses tolerated; one more triggers `onInconclusive`. Default 2.
    #[serde(default = "two_u32")]
    pub inconclusive_limit: u32,
    /// What happens past the inconclusive limit. Default rollback.
    #[serde(default)]
    pub on_inconclusive: InconclusiveAction,
    /// Fewest canary requests in the window for a verdict; fewer is "no data". Default 10.
    #[serde(default = "default_min_requests")]
    pub min_requests: u64,
    /// Threshold and relative checks.
    #[serde(default)]
    pub checks: Vec<CheckSpec>,
    /// The statistical judge, if wanted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judge: Option<JudgeSpec>,
}

impl Default for AnalysisSpec {
    fn default() -> Self {
        AnalysisSpec {
            window: None,
            failure_limit: 0,
            inconclusive_limit: 2,
            on_inconclusive: InconclusiveAction::Rollback,
            min_requests: default_min_requests(),
            checks: Vec::new(),
            judge: None,
        }
    }
}

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

/// How stable takes over the canary's version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub enum PromoteStrategy {
    /// Update stable to the canary's image (pinned by ID) while the canary keeps its share, then
    /// move all traffic to stable and scale the canary to 0 (Flagger's way). Default.
    #[default]
    UpdateStable,
    /// First move all traffic to the canary, then update stable, then move it all back.
    ShiftThenUpdate,
}

/// Promotion settings.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PromoteSpec {
    /// The strategy.
    #[serde(default)]
    pub strategy: PromoteStrategy,
}

/// Deadlines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TimeoutsSpec {
    /// One call to the orchestrator, router, metrics or state store. Default 30s.
    #[serde(default = "default_call_timeout")]
    pub call: HumanDuration,
    /// A service reaching its desired state. Default 5m.
    #[serde(default = "default_converge_timeout")]
    pub converge: HumanDuration,
}

impl Default for TimeoutsSpec {
    fn default() -> Self {
        TimeoutsSpec {
            call: default_call_timeout(),
            converge: default_converge_timeout(),
        }
    }
}

fn one() -> u64 {
    1
}
fn two() -> u64 {
    2
}
fn two_u32() -> u32 {
    2
}
fn one_f() -> f64 {
    1.0
}
fn yes() -> bool {
    true
}
fn default_health_path() -> String {
    "/health".into()
}
fn default_dockerfile() -> String {
    "Dockerfile".into()
}
fn default_interval() -> HumanDuration {
    HumanDuration(Duration::from_secs(30))
}
fn default_header_route() -> Option<HeaderRoute> {
    Some(HeaderRoute::default())
}
fn default_entry_points() -> Vec<String> {
    vec!["web".into()]
}
fn default_confidence() -> f64 {
    0.95
}
fn default_pass_score() -> f64 {
    95.0
}
fn default_marginal_score() -> f64 {
    75.0
}
fn default_min_samples() -> usize {
    5
}
fn default_min_requests() -> u64 {
    10
}
fn default_hook_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(10))
}
fn default_call_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(30))
}
fn default_converge_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(300))
}

/// An app with its Swarm service names resolved.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppRef {
    /// The app's name.
    pub name: ServiceName,
    /// The stable Swarm service.
    pub stable: ServiceName,
    /// The canary Swarm service.
    pub canary: ServiceName,
}

impl AppRef {
    /// The service of a track.
    pub fn service(&self, track: crate::model::Track) -> &ServiceName {
        match track {
            crate::model::Track::Stable => &self.stable,
            crate::model::Track::Canary => &self.canary,
        }
    }
}

impl AppSpec {
    /// The image build of this app for `track` (the `build` section, tagged with `image` for the
    /// canary or `stableImage` for stable), with the build arguments `CANARY_TRACK`,
    /// `CANARY_IMAGE` and `CANARY_TAG` added so one Dockerfile can serve both tracks. `spec_dir`
    /// is the directory of the spec file, which `build.context` is relative to. `None` when the
    /// app has no build section.
    pub fn build_request(
        &self,
        track: crate::model::Track,
        spec_dir: &Path,
    ) -> Result<Option<crate::traits::BuildRequest>> {
        let Some(b) = &self.build else {
            return Ok(None);
        };
        let tag = match track {
            crate::model::Track::Canary => self.image.clone(),
            crate::model::Track::Stable => self.stable_image.clone().ok_or_else(|| {
                Error::invalid(
                    "stableImage",
                    format!(
                        "{}: building stable needs stableImage in the spec (the tag to build)",
                        self.name
                    ),
                )
            })?,
        };
        let mut args = b.args.clone();
        args.insert("CANARY_TRACK".into(), track.to_string());
        args.insert("CANARY_IMAGE".into(), tag.to_string());
        args.insert(
            "CANARY_TAG".into(),
            tag.tag().unwrap_or("latest").to_string(),
        );
        Ok(Some(crate::traits::BuildRequest {
            context: spec_dir.join(&b.context),
            dockerfile: b.dockerfile.clone(),
            tag,
            args,
        }))
    }

    /// The stable service name (explicit, or the app's name, stack-prefixed inside a stack).
    pub fn stable_service(&self, stack: Option<&ServiceName>) -> Result<ServiceName> {
        match (&self.stable, stack) {
            (Some(s), _) => Ok(s.clone()),
            (None, Some(stack)) => self.name.in_stack(stack),
            (None, None) => Ok(self.name.clone()),
        }
    }

    /// The canary service name (explicit, or `<stable>-canary`).
    pub fn canary_service(&self, stack: Option<&ServiceName>) -> Result<ServiceName> {
        match &self.canary {
            Some(c) => Ok(c.clone()),
            None => self.stable_service(stack)?.with_suffix("-canary"),
        }
    }
}

impl Spec {
    /// Parses and validates a YAML spec (JSON is YAML too, so this reads both).
    pub fn from_yaml(text: &str) -> Result<Self> {
        let de = serde_yaml::Deserializer::from_str(text);
        let spec: Spec = serde_path_to_error::deserialize(de).map_err(path_error)?;
        spec.validate()?;
        Ok(spec)
    }

    /// Parses and validates a JSON spec.
    pub fn from_json(text: &str) -> Result<Self> {
        let mut de = serde_json::Deserializer::from_str(text);
        let spec: Spec = serde_path_to_error::deserialize(&mut de).map_err(path_error)?;
        spec.validate()?;
        Ok(spec)
    }

    /// Validates a spec given as a JSON value (a Python dict or JS object, converted).
    pub fn from_value(value: serde_json::Value) -> Result<Self> {
        let spec: Spec = serde_path_to_error::deserialize(value).map_err(path_error)?;
        spec.validate()?;
        Ok(spec)
    }

    /// Reads a spec file: `.json` as JSON, anything else as YAML.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::invalid("", format!("cannot read spec file {}: {e}", path.display()))
        })?;
        if path.extension().is_some_and(|e| e == "json") {
            Self::from_json(&text)
        } else {
            Self::from_yaml(&text)
        }
    }

    /// The JSON Schema of the spec, generated from these types.
    pub fn json_schema() -> serde_json::Value {
        serde_json::to_value(schemars::schema_for!(Spec)).expect("a schema serializes")
    }

    /// The canary weights of the steps, in order.
    pub fn steps(&self) -> Vec<Weight> {
        let t = &self.traffic;
        if let Some(steps) = &t.steps {
            return steps.clone();
        }
        let step = t.step_weight.map(Weight::get).unwrap_or(10) as u64;
        let max = t.max_weight.map(Weight::get).unwrap_or(50) as u64;
        let mut out = Vec::new();
        let mut w = step;
        while w < max {
            out.push(Weight::new(w).expect("below max"));
            w += step;
        }
        out.push(Weight::new(max).expect("max is a weight"));
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

    /// Checks everything the types alone cannot.
    pub fn validate(&self) -> Result<()> {
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
            if app.canary_replicas == 0 {
                return Err(Error::invalid(
                    f("canaryReplicas"),
                    "the canary needs at least 1 replica",
                ));
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
            for (i, w) in steps.iter().enumerate() {
                if w.get() == 0 {
                    return Err(Error::invalid(
                        format!("traffic.steps[{i}]"),
                        "a step needs a weight above 0",
                    ));
                }
                if i > 0 && *w <= steps[i - 1] {
                    return Err(Error::invalid(
                        format!("traffic.steps[{i}]"),
                        format!(
                            "{} is not above the step before ({})",
                            w.get(),
                            steps[i - 1].get()
                        ),
                    ));
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
            validate_metric(&c.metric).map_err(|r| Error::invalid(f("metric"), r))?;
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
                validate_metric(&m.metric).map_err(|r| Error::invalid(f("metric"), r))?;
                if !(m.weight > 0.0 && m.weight.is_finite()) {
                    return Err(Error::invalid(f("weight"), "must be above 0"));
                }
            }
        }
        let hooks = [
            ("preRollout", &self.hooks.pre_rollout),
            ("step", &self.hooks.step),
            ("confirmPromotion", &self.hooks.confirm_promotion),
            ("postRollout", &self.hooks.post_rollout),
            ("rollback", &self.hooks.rollback),
        ];
        for (kind, list) in hooks {
            for (i, h) in list.iter().enumerate() {
                let f = |k: &str| format!("hooks.{kind}[{i}].{k}");
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
        if self.timeouts.call.get() < Duration::from_millis(100) {
            return Err(Error::invalid("timeouts.call", "must be at least 100ms"));
        }
        if self.timeouts.converge.get() < Duration::from_secs(1) {
            return Err(Error::invalid("timeouts.converge", "must be at least 1s"));
        }
        Ok(())
    }
}

fn validate_metric(m: &MetricKind) -> std::result::Result<(), String> {
    match m {
        MetricKind::Latency(q) if !(*q > 0.0 && *q < 1.0) => {
            Err(format!("latency quantile {q} is not between 0 and 1"))
        }
        MetricKind::Query(q) if q.trim().is_empty() => Err("the query is empty".into()),
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
    if rule.matches('`').count() % 2 != 0 {
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

// serde_yaml's messages end with " at line L column C", which helps people find the spot.
fn path_error<E: std::fmt::Display>(e: serde_path_to_error::Error<E>) -> Error {
    let path = e.path().to_string();
    let field = if path == "." { String::new() } else { path };
    let mut reason = e.into_inner().to_string();
    // serde_yaml puts its own (coarser) path in front of the message: keep ours only.
    if let Some((prefix, rest)) = reason.split_once(": ") {
        if !prefix.contains(' ') && field.starts_with(prefix) {
            reason = rest.to_string();
        }
    }
    Error::invalid(field, reason)
}
