//! `Spec`: a validated canary spec, read from a file or text (a plain spec in YAML or JSON, or a
//! compose file with `x-canary` settings) with overrides on top, or from a plain object. Every
//! way goes through [`canary_core::SpecFile`] / [`canary_core::Spec`], so a rejected spec names
//! the field and the reason exactly as the CLI does (`traffic.steps[2]: 120 is above 100`).

use std::path::PathBuf;
use std::sync::Arc;

use canary_core::spec::overrides::Override;
use napi::Env;
use napi_derive::napi;
use serde_json::{Map, Value};

use crate::convert::{arg, opts, Js};
use crate::error::OrThrow;

/// A validated canary spec. Make one with `Spec.load`, `Spec.fromText` or `Spec.fromObject`; a
/// spec that cannot run throws `CANARY_INVALID_INPUT` naming the field.
#[napi]
pub struct Spec {
    pub(crate) inner: Arc<canary_core::Spec>,
    /// The directory build contexts are relative to (the spec file's).
    pub(crate) dir: PathBuf,
}

/// `{ "traffic.interval": "5s", "apps.*.canaryReplicas": 2 }` in the order given.
fn overrides(json: Option<Value>) -> canary_core::Result<Vec<Override>> {
    let map: Map<String, Value> = opts(json, "overrides")?;
    Ok(map.into_iter().map(|(k, v)| Override::set(k, v)).collect())
}

#[napi]
impl Spec {
    /// Reads a spec file with `overrides` (field path → value) applied before validation.
    #[napi(
        factory,
        ts_args_type = "path: string, overrides?: Record<string, unknown> | null"
    )]
    pub fn load(env: Env, path: Option<Value>, overrides: Option<Value>) -> napi::Result<Spec> {
        let path: String = arg(path, "path").or_throw(&env)?;
        let overrides = self::overrides(overrides).or_throw(&env)?;
        let file = canary_core::SpecFile::load(path, &overrides).or_throw(&env)?;
        Ok(Spec {
            inner: Arc::new(file.spec),
            dir: file.dir,
        })
    }

    /// Parses a spec from text (YAML, JSON, or a compose file with `x-canary`), with
    /// `overrides` applied; build contexts are then relative to the current directory.
    #[napi(
        factory,
        ts_args_type = "text: string, overrides?: Record<string, unknown> | null"
    )]
    pub fn from_text(
        env: Env,
        text: Option<Value>,
        overrides: Option<Value>,
    ) -> napi::Result<Spec> {
        let text: String = arg(text, "text").or_throw(&env)?;
        let overrides = self::overrides(overrides).or_throw(&env)?;
        let (spec, _) = canary_core::Spec::from_text(&text, &overrides).or_throw(&env)?;
        Ok(Spec {
            inner: Arc::new(spec),
            dir: PathBuf::from("."),
        })
    }

    /// Validates a spec given as a plain object, with the YAML's field names.
    #[napi(factory, ts_args_type = "spec: SpecObject")]
    pub fn from_object(env: Env, spec: Option<Value>) -> napi::Result<Spec> {
        let spec = canary_core::Spec::from_value(spec.unwrap_or(Value::Null)).or_throw(&env)?;
        Ok(Spec {
            inner: Arc::new(spec),
            dir: PathBuf::from("."),
        })
    }

    /// The JSON Schema of the spec.
    #[napi(ts_return_type = "Record<string, unknown>")]
    pub fn json_schema() -> Js<Value> {
        Js(canary_core::Spec::json_schema())
    }

    /// The group's name.
    #[napi(getter)]
    pub fn group(&self) -> String {
        self.inner.group.to_string()
    }

    /// The apps with their stable and canary Swarm service names resolved.
    #[napi(ts_return_type = "AppRef[]")]
    pub fn apps(&self) -> Js<Vec<canary_core::AppRef>> {
        Js(self.inner.app_refs())
    }

    /// The spec as a plain object, defaults filled in (what `Spec.fromObject` reads back).
    #[napi(ts_return_type = "SpecObject")]
    pub fn to_object(&self) -> Js<canary_core::Spec> {
        Js((*self.inner).clone())
    }
}
