//! JavaScript values ↔ Rust values, through serde (napi's `serde_json::Value` conversion).
//! Arguments arrive as JSON-like values and are deserialized with the path of the offending
//! field, so bad input is a `CANARY_INVALID_INPUT` error naming it (`options.requests: invalid
//! type: string, expected u32`), the way a bad spec is. Results leave as plain objects.

use canary_core::Error;
use napi::bindgen_prelude::{Function, JsObjectValue, JsValue, Object, ToNapiValue, Unknown};
use napi::{sys, Env};
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

/// A Rust value handed to JavaScript as a plain object: serialized to JSON text by serde and
/// read by V8's `JSON.parse`. That costs a tenth of building the object through one N-API call per
/// property (a 3 KB status: ~8 µs instead of ~100 µs), and integers of any size arrive as
/// `number`s (timestamps in ms are above `u32`).
pub struct Js<T>(pub T);

impl<T: Serialize> ToNapiValue for Js<T> {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        let text = serde_json::to_string(&val.0)
            .map_err(|e| napi::Error::from_reason(format!("cannot convert for JavaScript: {e}")))?;
        let env = Env::from_raw(env);
        let json: Object<'_> = env.get_global()?.get_named_property("JSON")?;
        let parse: Function<'_, String, Unknown<'_>> = json.get_named_property("parse")?;
        Ok(parse.call(text)?.raw())
    }
}

/// `v` as a JSON value, for JavaScript callbacks (which take napi's `serde_json::Value`).
pub(crate) fn to_json<T: Serialize>(v: &T) -> canary_core::Result<Value> {
    serde_json::to_value(v)
        .map_err(|e| Error::internal(format!("cannot convert for JavaScript: {e}")).with_source(e))
}
