//! `Spec`: a validated canary spec, loaded from a file, YAML or JSON text, or a plain object.
//! Every way goes through [`canary_core::Spec`], so a rejected spec names the field and the
//! reason exactly as the CLI does (`traffic.steps[2]: 120 is above 100`).

use std::sync::Arc;

use napi::bindgen_prelude::Unknown;
use napi::Env;
use napi_derive::napi;

use crate::convert::{arg, json_of, Js};
use crate::error::OrThrow;

/// A validated canary spec. Make one with `Spec.load`, `Spec.fromYaml`, `Spec.fromJson` or
/// `Spec.fromObject`; a spec that cannot run throws `CANARY_INVALID_INPUT` naming the field.
#[napi]
pub struct Spec {
    pub(crate) inner: Arc<canary_core::Spec>,
}

impl Spec {
    pub(crate) fn core(&self) -> Arc<canary_core::Spec> {
        self.inner.clone()
    }
}

#[napi]
impl Spec {
    /// Reads a spec file: `.json` as JSON, anything else as YAML.
    #[napi(factory, ts_args_type = "path: string")]
    pub fn load(env: Env, path: Unknown<'_>) -> napi::Result<Spec> {
        let path: String = arg(&env, path, "path")?;
        Ok(Spec {
            inner: Arc::new(canary_core::Spec::load(path).or_throw(&env)?),
        })
    }

    /// Parses a YAML spec (JSON is YAML too).
    #[napi(factory, ts_args_type = "text: string")]
    pub fn from_yaml(env: Env, text: Unknown<'_>) -> napi::Result<Spec> {
        let text: String = arg(&env, text, "text")?;
        Ok(Spec {
            inner: Arc::new(canary_core::Spec::from_yaml(&text).or_throw(&env)?),
        })
    }

    /// Parses a JSON spec.
    #[napi(factory, ts_args_type = "text: string")]
    pub fn from_json(env: Env, text: Unknown<'_>) -> napi::Result<Spec> {
        let text: String = arg(&env, text, "text")?;
        Ok(Spec {
            inner: Arc::new(canary_core::Spec::from_json(&text).or_throw(&env)?),
        })
    }

    /// Validates a spec given as a plain object, with the same field names as the YAML.
    #[napi(factory, ts_args_type = "spec: SpecObject")]
    pub fn from_object(env: Env, spec: Unknown<'_>) -> napi::Result<Spec> {
        let json = json_of(&env, spec, "spec")?;
        Ok(Spec {
            inner: Arc::new(canary_core::Spec::from_value(json).or_throw(&env)?),
        })
    }

    /// The JSON Schema of the spec.
    #[napi(ts_return_type = "Record<string, unknown>")]
    pub fn json_schema() -> Js<serde_json::Value> {
        Js(canary_core::Spec::json_schema())
    }

    /// The group's name.
    #[napi(getter)]
    pub fn group(&self) -> String {
        self.inner.group.to_string()
    }

    /// The stack the services belong to, if any.
    #[napi(getter)]
    pub fn stack(&self) -> Option<String> {
        self.inner.stack.as_ref().map(|s| s.to_string())
    }

    /// The canary weights of the steps, in order.
    #[napi]
    pub fn steps(&self) -> Vec<u32> {
        self.inner.steps().iter().map(|w| w.get() as u32).collect()
    }

    /// The apps with their stable and canary Swarm service names resolved.
    #[napi(ts_return_type = "AppRef[]")]
    pub fn apps(&self) -> Js<Vec<canary_core::AppRef>> {
        Js(self.inner.app_refs())
    }

    /// The analysis window in milliseconds (explicit, or the step interval).
    #[napi]
    pub fn window_ms(&self) -> f64 {
        self.inner.window().as_millis() as f64
    }

    /// The spec as a plain object, defaults filled in (what `Spec.fromObject` reads back).
    #[napi(ts_return_type = "SpecObject")]
    pub fn to_object(&self) -> Js<canary_core::Spec> {
        Js((*self.inner).clone())
    }

    /// The spec as JSON text.
    #[napi]
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(&*self.inner).unwrap_or_default()
    }
}
