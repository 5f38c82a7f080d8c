//! `replay()`: [`canary_sdk::replay()`] (the engine run again on a recording or a Prometheus
//! span, on a paused clock) as a Promise of the report, a plain object (`ReplayReport`).

use std::path::PathBuf;

use canary_core::spec::overrides::Override;
use canary_sdk::replay::{PrometheusRange, ReplayOptions, ReplayReport};
use napi::bindgen_prelude::PromiseRaw;
use napi::Env;
use napi_derive::napi;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::convert::{arg, Js};
use crate::error::{OrThrow, Settled};
use crate::promise::now_or_later;

/// `replay()`'s options: what to replay, the spec (a plain object as `Spec.toObject()` gives;
/// default the recording's own) and the overrides of a what-if.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Options {
    recording: Option<PathBuf>,
    prometheus: Option<PrometheusRange>,
    #[serde(default)]
    overrides: Map<String, Value>,
    spec: Option<Value>,
}

/// Replays a recording (`canary run --record`) or a past span of Prometheus: every decision
/// with its figures, how it ended, and for a recording where it differs from the recorded run.
#[napi(
    ts_args_type = "options: ReplayOptions",
    ts_return_type = "Promise<ReplayReport>"
)]
pub fn replay(
    env: &Env,
    options: Option<Value>,
) -> napi::Result<PromiseRaw<'_, Settled<Js<ReplayReport>>>> {
    let o: Options = arg(options, "options").or_throw(env)?;
    let spec = o
        .spec
        .map(canary_core::Spec::from_value)
        .transpose()
        .or_throw(env)?;
    let mut options = ReplayOptions::default().overrides(
        o.overrides
            .into_iter()
            .map(|(k, v)| Override::set(k, v))
            .collect(),
    );
    options.recording = o.recording;
    options.prometheus = o.prometheus;
    now_or_later(env, async move {
        canary_sdk::replay(spec, options).await.map(Js)
    })
}
