//! Errors: every failure reaches JavaScript as an `Error` whose `code` is the core's stable code
//! (`CANARY_CONFLICT`, `CANARY_INVALID_INPUT`, ... from [`canary_core::Error::code`]), whose
//! `message` is the core's message, with `field` and `reason` for invalid input and `cause` (an
//! `Error` with the underlying words) for each error in the `source()` chain.
//!
//! napi-rs can only reject a Promise from another thread with its own fixed statuses, so the
//! error object is built on the JavaScript thread ([`Settled`]) and handed to napi as the value
//! to throw or reject with.

use canary_core::Error;
use napi::bindgen_prelude::{FromNapiValue, JsObjectValue, JsValue, Object, ToNapiValue, Unknown};
use napi::{sys, Env, JsError};

/// The JavaScript `Error` for a core error. Call on the JavaScript thread.
pub(crate) fn js_error<'e>(env: &'e Env, e: &Error) -> napi::Result<Unknown<'e>> {
    let error = plain(env, e.code(), &e.to_string())?;
    // SAFETY: `error` is a live object of this env (a JavaScript `Error`).
    let mut obj = unsafe { Object::from_napi_value(env.raw(), error.raw())? };
    if let Error::InvalidInput { field, reason, .. } = e {
        obj.set_named_property("field", field.as_str())?;
        obj.set_named_property("reason", reason.as_str())?;
    }
    let mut at = obj;
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let cause = plain(env, "", &s.to_string())?;
        at.set_named_property("cause", cause)?;
        // SAFETY: as above.
        at = unsafe { Object::from_napi_value(env.raw(), cause.raw())? };
        source = s.source();
    }
    Ok(error)
}

/// A JavaScript `Error` with `message` and, unless empty, `code`.
fn plain<'e>(env: &'e Env, code: &str, message: &str) -> napi::Result<Unknown<'e>> {
    let error: napi::Error<String> = napi::Error::new(code.to_string(), message);
    let value = JsError::from(error).into_unknown(*env);
    if value.raw().is_null() {
        return Err(napi::Error::from_reason(message));
    }
    Ok(value)
}

/// A core error as a napi error that throws (or rejects with) [`js_error`]'s object.
pub(crate) fn to_js(env: &Env, e: &Error) -> napi::Error {
    match js_error(env, e) {
        Ok(v) => napi::Error::from(v),
        // The environment is shutting down; nobody will see it.
        Err(_) => napi::Error::from_reason(format!("{}: {e}", e.code())),
    }
}

/// Maps a core result onto napi's, with the error built by [`to_js`].
pub(crate) trait OrThrow<T> {
    /// The value, or the JavaScript error to throw.
    fn or_throw(self, env: &Env) -> napi::Result<T>;
}

impl<T> OrThrow<T> for canary_core::Result<T> {
    fn or_throw(self, env: &Env) -> napi::Result<T> {
        self.map_err(|e| to_js(env, &e))
    }
}

/// The outcome of an async call, turned into a resolved value or a rejection carrying the core's
/// code once it is back on the JavaScript thread.
pub struct Settled<T>(pub canary_core::Result<T>);

impl<T: ToNapiValue> ToNapiValue for Settled<T> {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        match val.0 {
            // SAFETY: called by napi on the JavaScript thread with its own env.
            Ok(v) => unsafe { T::to_napi_value(env, v) },
            Err(e) => Err(to_js(&Env::from_raw(env), &e)),
        }
    }
}
