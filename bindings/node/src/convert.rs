//! JavaScript values ↔ Rust values, through serde. Arguments are read as JSON-like values and
//! deserialized with the path of the offending field, so bad input is a `CANARY_INVALID_INPUT`
//! error that names the field (`options.apiUrl: missing field`), the same way a bad spec is.

use canary_core::Error;
use napi::bindgen_prelude::{ToNapiValue, Unknown};
use napi::{sys, Env};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::error::to_js;

/// Reads argument `what` as a `T`; a wrong shape throws `CANARY_INVALID_INPUT` naming the field.
pub fn arg<T: DeserializeOwned>(env: &Env, value: Unknown<'_>, what: &str) -> napi::Result<T> {
    let json = json_of(env, value, what)?;
    from_json(json, what).map_err(|e| to_js(env, &e))
}

/// Reads an optional argument: `undefined` and `null` give `T::default()`.
pub fn opt_arg<T: DeserializeOwned + Default>(
    env: &Env,
    value: Option<Unknown<'_>>,
    what: &str,
) -> napi::Result<T> {
    match value {
        None => Ok(T::default()),
        Some(v) => match json_of(env, v, what)? {
            Value::Null => Ok(T::default()),
            json => from_json(json, what).map_err(|e| to_js(env, &e)),
        },
    }
}

/// The argument as a JSON value (`undefined` is `null`).
pub fn json_of(env: &Env, value: Unknown<'_>, what: &str) -> napi::Result<Value> {
    env.from_js_value::<Value, _>(value).map_err(|e| {
        to_js(
            env,
            &Error::invalid(what, format!("not a plain JSON-like value: {}", e.reason)),
        )
    })
}

/// Deserializes `json` as a `T`, naming the failing field under `what`.
pub fn from_json<T: DeserializeOwned>(json: Value, what: &str) -> canary_core::Result<T> {
    serde_path_to_error::deserialize(json).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." || path.is_empty() {
            what.to_string()
        } else if what.is_empty() {
            path
        } else {
            format!("{what}.{path}")
        };
        Error::invalid(field, e.into_inner().to_string())
    })
}

/// A Rust value handed to JavaScript as a plain object (serde, camelCase as in the core's JSON).
pub struct Js<T>(pub T);

impl<T: Serialize> ToNapiValue for Js<T> {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        let mut json = serde_json::to_value(&val.0)
            .map_err(|e| napi::Error::from_reason(format!("cannot convert to JavaScript: {e}")))?;
        plain_numbers(&mut json);
        // SAFETY: called by napi on the JavaScript thread with its own env.
        unsafe { Value::to_napi_value(env, json) }
    }
}

/// Turns integers beyond `u32` (timestamps in ms, versions) into doubles, so JavaScript gets a
/// `number` rather than a `BigInt`; every such value in the core is far below 2^53.
pub fn plain_numbers(v: &mut Value) {
    match v {
        Value::Number(n) if !n.is_f64() && n.as_u64().is_none_or(|u| u > u32::MAX as u64) => {
            if let Some(f) = n.as_f64().and_then(serde_json::Number::from_f64) {
                *n = f;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(plain_numbers),
        Value::Object(map) => map.values_mut().for_each(plain_numbers),
        _ => {}
    }
}

/// Milliseconds from JavaScript as a duration.
pub fn ms(ms: u64) -> std::time::Duration {
    std::time::Duration::from_millis(ms)
}

/// Reads argument `what` as an instance of the native class `T`; anything else throws
/// `CANARY_INVALID_INPUT` ("spec: expected a Spec").
pub fn class_arg<'a, T>(
    env: &Env,
    value: Unknown<'a>,
    what: &str,
    expected: &str,
) -> napi::Result<napi::bindgen_prelude::ClassInstance<'a, T>>
where
    T: 'a + napi::bindgen_prelude::MaybeTypeTag,
{
    use napi::bindgen_prelude::{ClassInstance, FromNapiValue, JsValue};
    // SAFETY: `value` is a live value of this env; the conversion checks the class before it
    // casts (type tag and class identity).
    unsafe { ClassInstance::<T>::from_napi_value(env.raw(), value.raw()) }
        .map_err(|_| to_js(env, &Error::invalid(what, format!("expected a {expected}"))))
}
