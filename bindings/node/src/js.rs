//! JavaScript code as a dependency of the engine: an object with `value(query)` (and optionally
//! `samples(query)`) as the [`MetricsSource`], a function `(hook, context)` as the
//! [`HookRunner`]. Each may answer at once or with a Promise.
//!
//! The engine runs on napi's Tokio threads; it reaches the JavaScript thread through weak
//! thread-safe functions (they do not keep Node alive on their own; a pending `run()` does). A
//! thrown error, a rejected Promise or an answer of the wrong shape comes back as an `Err`,
//! which the engine treats as it treats any failing source or hook: inconclusive, or a "no";
//! never a pass.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use canary_core::spec::HookSpec;
use canary_core::{
    Error, HookContext, HookOutcome, HookRunner, MetricQuery, MetricsSource, Observation, Result,
};
use napi::bindgen_prelude::{
    FnArgs, FromNapiValue, Function, JsObjectValue, JsValue, Object, Promise, Unknown,
};
use napi::threadsafe_function::ThreadsafeFunction;
use napi::{sys, Env, Status, ValueType};
use serde::Deserialize;
use serde_json::Value;

use crate::convert::to_json;
use crate::error::to_js;

/// The metrics source and hook runner written in JavaScript that `Canary.connect` (and the
/// in-memory world of the tests) take besides the spec; `None` leaves the default.
#[derive(Default)]
pub(crate) struct Extras {
    pub(crate) metrics: Option<Arc<dyn MetricsSource>>,
    pub(crate) hooks: Option<Arc<dyn HookRunner>>,
}

/// Reads `{ metrics?, hooks? }` (argument `options`).
pub(crate) fn extras(env: &Env, v: Option<Unknown<'_>>) -> napi::Result<Extras> {
    let invalid = |field: &str, why: &str| to_js(env, &Error::invalid(field, why));
    let Some(v) = v else {
        return Ok(Extras::default());
    };
    match v.get_type()? {
        ValueType::Undefined | ValueType::Null => return Ok(Extras::default()),
        ValueType::Object => {}
        _ => return Err(invalid("options", "expected { metrics?, hooks? }")),
    }
    // SAFETY: checked to be an object of this env.
    let obj = unsafe { Object::from_napi_value(env.raw(), v.raw())? };
    if let Some(k) = Object::keys(&obj)?
        .into_iter()
        .find(|k| k != "metrics" && k != "hooks")
    {
        return Err(invalid(
            &format!("options.{k}"),
            "unknown; expected metrics or hooks",
        ));
    }
    let mut out = Extras::default();
    let m: Unknown<'_> = obj.get_named_property("metrics")?;
    match m.get_type()? {
        ValueType::Undefined | ValueType::Null => {}
        ValueType::Object => {
            // SAFETY: checked to be an object of this env.
            let o = unsafe { Object::from_napi_value(env.raw(), m.raw())? };
            let source =
                JsMetricsSource::new(env, o).map_err(|e| invalid("options.metrics", &e.reason))?;
            out.metrics = Some(Arc::new(source));
        }
        _ => {
            return Err(invalid(
                "options.metrics",
                "expected an object with value(query) and optionally samples(query)",
            ))
        }
    }
    let h: Unknown<'_> = obj.get_named_property("hooks")?;
    match h.get_type()? {
        ValueType::Undefined | ValueType::Null => {}
        ValueType::Function => {
            // SAFETY: checked to be a function of this env.
            let f = unsafe { Function::from_napi_value(env.raw(), h.raw())? };
            out.hooks = Some(Arc::new(JsHookRunner::new(&f)?));
        }
        _ => {
            return Err(invalid(
                "options.hooks",
                "expected a function (hook, context)",
            ))
        }
    }
    Ok(out)
}

/// A weak thread-safe function called with plain arguments (no error-first convention).
type Tsfn<Args, Ret> = ThreadsafeFunction<Args, Ret, Args, Status, false, true>;

/// What a JavaScript function returned: a value, or a Promise of one.
pub enum Answer<T: FromNapiValue + 'static> {
    /// Returned at once.
    Now(T),
    /// A Promise, settled later on the JavaScript thread.
    Later(Promise<T>),
}

impl<T: FromNapiValue + 'static> FromNapiValue for Answer<T> {
    unsafe fn from_napi_value(env: sys::napi_env, v: sys::napi_value) -> napi::Result<Self> {
        let mut is_promise = false;
        // SAFETY: napi hands a live value of `env` on the JavaScript thread.
        let status = unsafe { sys::napi_is_promise(env, v, &mut is_promise) };
        if status != sys::Status::napi_ok {
            return Err(napi::Error::new(
                Status::from(status),
                "cannot inspect the answer",
            ));
        }
        if is_promise {
            Ok(Answer::Later(unsafe { Promise::from_napi_value(env, v)? }))
        } else {
            Ok(Answer::Now(unsafe { T::from_napi_value(env, v)? }))
        }
    }
}

impl<T: FromNapiValue + 'static> Answer<T> {
    async fn get(self) -> napi::Result<T> {
        match self {
            Answer::Now(v) => Ok(v),
            Answer::Later(p) => p.await,
        }
    }
}

fn type_of(env: sys::napi_env, v: sys::napi_value) -> napi::Result<ValueType> {
    let mut t = 0;
    // SAFETY: as above.
    let status = unsafe { sys::napi_typeof(env, v, &mut t) };
    if status != sys::Status::napi_ok {
        return Err(napi::Error::new(
            Status::from(status),
            "cannot read the answer's type",
        ));
    }
    Ok(ValueType::from(t))
}

fn wrong(what: &str, got: ValueType) -> napi::Error {
    napi::Error::new(
        Status::InvalidArg,
        format!("returned {got}; expected {what}"),
    )
}

/// `value()`'s answer: a number, or `null`/`undefined` for no data.
pub struct Reading(Option<f64>);

impl FromNapiValue for Reading {
    unsafe fn from_napi_value(env: sys::napi_env, v: sys::napi_value) -> napi::Result<Self> {
        match type_of(env, v)? {
            ValueType::Number => Ok(Reading(Some(unsafe { f64::from_napi_value(env, v)? }))),
            ValueType::Null | ValueType::Undefined => Ok(Reading(None)),
            t => Err(wrong("a number, null or undefined", t)),
        }
    }
}

/// `samples()`'s answer: an array of numbers, or `null`/`undefined` for none.
pub struct SampleList(Vec<f64>);

impl FromNapiValue for SampleList {
    unsafe fn from_napi_value(env: sys::napi_env, v: sys::napi_value) -> napi::Result<Self> {
        match type_of(env, v)? {
            ValueType::Null | ValueType::Undefined => Ok(SampleList(Vec::new())),
            ValueType::Object => unsafe { Vec::<f64>::from_napi_value(env, v) }
                .map(SampleList)
                .map_err(|_| {
                    napi::Error::new(
                        Status::InvalidArg,
                        "returned an object that is not an array of numbers; expected number[]",
                    )
                }),
            t => Err(wrong("an array of numbers, null or undefined", t)),
        }
    }
}

/// A hook's answer: `true`/`false`, or `{ ok, message? }`.
pub struct Verdict(HookOutcome);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerdictObject {
    ok: bool,
    #[serde(default)]
    message: Option<String>,
}

impl FromNapiValue for Verdict {
    unsafe fn from_napi_value(env: sys::napi_env, v: sys::napi_value) -> napi::Result<Self> {
        match type_of(env, v)? {
            ValueType::Boolean => Ok(Verdict(HookOutcome {
                ok: unsafe { bool::from_napi_value(env, v)? },
                message: String::new(),
            })),
            ValueType::Object => {
                let env = Env::from_raw(env);
                let unknown = unsafe { Unknown::from_raw_unchecked(env.raw(), v) };
                let o: VerdictObject = env.from_js_value(unknown).map_err(|e| {
                    napi::Error::new(
                        Status::InvalidArg,
                        format!("returned an object that is not {{ ok: boolean, message?: string }}: {}", e.reason),
                    )
                })?;
                Ok(Verdict(HookOutcome {
                    ok: o.ok,
                    message: o.message.unwrap_or_default(),
                }))
            }
            t => Err(wrong("a boolean or { ok, message? }", t)),
        }
    }
}

/// The core error for a JavaScript callback that threw, rejected or answered badly.
fn failed(who: &str, e: napi::Error) -> Error {
    if e.status == Status::InvalidArg {
        Error::invalid(who, e.reason)
    } else {
        let why = if e.reason.is_empty() {
            "it threw or rejected".to_string()
        } else {
            e.reason
        };
        Error::unavailable(format!("{who} failed: {why}"))
    }
}

/// `obj[name]` bound to `obj`, as a weak thread-safe function; `None` when absent.
fn method<Args, Ret>(
    env: &Env,
    obj: Object<'_>,
    name: &str,
) -> napi::Result<Option<Tsfn<Args, Ret>>>
where
    Args: 'static + napi::bindgen_prelude::JsValuesTupleIntoVec,
    Ret: 'static + FromNapiValue,
{
    let v: Unknown<'_> = obj.get_named_property(name)?;
    match v.get_type()? {
        ValueType::Undefined => Ok(None),
        ValueType::Function => {
            // SAFETY: checked to be a function of this env just above.
            let f: Function<'_, Args, Ret> =
                unsafe { Function::from_napi_value(env.raw(), v.raw())? };
            Ok(Some(tsfn(&f.bind(obj)?)?))
        }
        t => Err(napi::Error::new(
            Status::InvalidArg,
            format!(
                "{name} is a {}, not a function",
                t.to_string().to_lowercase()
            ),
        )),
    }
}

fn tsfn<Args, Ret>(f: &Function<'_, Args, Ret>) -> napi::Result<Tsfn<Args, Ret>>
where
    Args: 'static + napi::bindgen_prelude::JsValuesTupleIntoVec,
    Ret: 'static + FromNapiValue,
{
    f.build_threadsafe_function::<Args>()
        .callee_handled::<false>()
        .weak::<true>()
        .build()
}

/// A JavaScript object as the metrics source.
pub struct JsMetricsSource {
    value: Tsfn<Value, Answer<Reading>>,
    samples: Option<Tsfn<Value, Answer<SampleList>>>,
}

impl fmt::Debug for JsMetricsSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsMetricsSource")
            .field("samples", &self.samples.is_some())
            .finish_non_exhaustive()
    }
}

impl JsMetricsSource {
    /// Wraps `obj`, which must have a `value` method (and may have `samples`).
    pub fn new(env: &Env, obj: Object<'_>) -> napi::Result<Self> {
        let value = method(env, obj, "value")?
            .ok_or_else(|| napi::Error::new(Status::InvalidArg, "it has no value(query) method"))?;
        Ok(JsMetricsSource {
            value,
            samples: method(env, obj, "samples")?,
        })
    }
}

#[async_trait]
impl MetricsSource for JsMetricsSource {
    async fn value(&self, query: &MetricQuery) -> Result<Observation> {
        let who = "the JavaScript metrics source's value()";
        let answer = self
            .value
            .call_async_catch(to_json(query)?)
            .await
            .map_err(|e| failed(who, e))?;
        let Reading(v) = answer.get().await.map_err(|e| failed(who, e))?;
        Ok(v.map(Observation::from_f64).unwrap_or(Observation::NoData))
    }

    async fn samples(&self, query: &MetricQuery) -> Result<Vec<f64>> {
        let who = "the JavaScript metrics source's samples()";
        let Some(samples) = &self.samples else {
            return Err(Error::invalid(
                "metrics.samples",
                "the JavaScript metrics source has no samples(query) method",
            ));
        };
        let answer = samples
            .call_async_catch(to_json(query)?)
            .await
            .map_err(|e| failed(who, e))?;
        let SampleList(v) = answer.get().await.map_err(|e| failed(who, e))?;
        Ok(v)
    }
}

/// A JavaScript function `(hook, context)` as the hook runner.
pub struct JsHookRunner {
    call: Tsfn<FnArgs<(Value, Value)>, Answer<Verdict>>,
}

impl fmt::Debug for JsHookRunner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsHookRunner").finish_non_exhaustive()
    }
}

impl JsHookRunner {
    /// Wraps a function.
    pub fn new(f: &Function<'_, FnArgs<(Value, Value)>, Answer<Verdict>>) -> napi::Result<Self> {
        Ok(JsHookRunner { call: tsfn(f)? })
    }
}

#[async_trait]
impl HookRunner for JsHookRunner {
    async fn call(&self, hook: &HookSpec, context: &HookContext) -> Result<HookOutcome> {
        let who = format!("the JavaScript hook function (hook {})", hook.name);
        let answer = self
            .call
            .call_async_catch(FnArgs::from((to_json(hook)?, to_json(context)?)))
            .await
            .map_err(|e| failed(&who, e))?;
        let Verdict(o) = answer.get().await.map_err(|e| failed(&who, e))?;
        Ok(o)
    }
}
