//! JavaScript values ↔ Rust values, through serde (napi's `serde_json::Value` conversion).
//! Arguments arrive as JSON-like values and are deserialized with the path of the offending
//! field, so bad input is a `CANARY_INVALID_INPUT` error naming it (`options.requests: invalid
//! type: string, expected u32`), the way a bad spec is. Results leave as plain objects.

use canary_core::Error;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

/// Reads argument `what` as a `T` (`undefined` reads as `null`).
pub(crate) fn arg<T: DeserializeOwned>(json: Option<Value>, what: &str) -> canary_core::Result<T> {
    serde_path_to_error::deserialize(json.unwrap_or(Value::Null)).map_err(|e| {
        let path = e.path().to_string();
        let field = match (path.as_str(), what) {
            (".", _) | ("", _) => what.to_string(),
            (p, "") => p.to_string(),
            (p, w) => format!("{w}.{p}"),
        };
        Error::invalid(field, e.into_inner().to_string())
    })
}

/// Reads an optional argument `what`: `undefined` and `null` give `T::default()`.
pub(crate) fn opts<T: DeserializeOwned + Default>(
    json: Option<Value>,
    what: &str,
) -> canary_core::Result<T> {
    match json {
        None | Some(Value::Null) => Ok(T::default()),
        json => arg(json, what),
    }
}

/// A Rust value handed to JavaScript as a plain object (serde, camelCase as in the core's JSON).
pub struct Js<T>(pub T);

impl<T: Serialize> napi::bindgen_prelude::ToNapiValue for Js<T> {
    unsafe fn to_napi_value(
        env: napi::sys::napi_env,
        val: Self,
    ) -> napi::Result<napi::sys::napi_value> {
        let json = to_json(&val.0).map_err(|e| napi::Error::from_reason(e.to_string()))?;
        // SAFETY: called by napi on the JavaScript thread with its own env.
        unsafe { Value::to_napi_value(env, json) }
    }
}

/// `v` as JSON with integers beyond `u32` (timestamps in ms, versions) as doubles, so JavaScript
/// gets a `number` rather than a `BigInt`; every such value in the core is far below 2^53.
pub(crate) fn to_json<T: Serialize>(v: &T) -> canary_core::Result<Value> {
    fn plain(v: &mut Value) {
        match v {
            Value::Number(n) if n.as_u64().is_some_and(|u| u > u32::MAX as u64) => {
                if let Some(f) = n.as_f64().and_then(serde_json::Number::from_f64) {
                    *n = f;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(plain),
            Value::Object(map) => map.values_mut().for_each(plain),
            _ => {}
        }
    }
    let mut json = serde_json::to_value(v)
        .map_err(|e| Error::Internal(format!("cannot convert for JavaScript: {e}")))?;
    plain(&mut json);
    Ok(json)
}
