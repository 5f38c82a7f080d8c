//! Errors: every failure of the core reaches JavaScript as an `Error` whose `code` is the core's
//! stable code (`CANARY_CONFLICT`, `CANARY_INVALID_INPUT`, ... from [`canary_core::Error::code`])
//! and whose `message` is the core's message.
//!
//! napi-rs builds an error's `code` from a status string, and a Promise rejected from another
//! thread can only carry its fixed statuses; so the error object is built on the JavaScript
//! thread ([`Settled`]) and handed to napi as the value to throw or reject with.

use canary_core::Error;
use napi::bindgen_prelude::{JsValue, ToNapiValue, Unknown};
use napi::{sys, Env, JsError};

/// A core error as a napi error that throws (or rejects with) a JavaScript `Error` carrying
/// `code`. Call on the JavaScript thread.
pub fn to_js(env: &Env, e: &Error) -> napi::Error {
    coded(env, e.code(), &e.to_string())
}

/// A napi error that throws a JavaScript `Error` with this `code` and `message`.
pub fn coded(env: &Env, code: &str, message: &str) -> napi::Error {
    let error: napi::Error<String> = napi::Error::new(code.to_string(), message);
    let value: Unknown<'_> = JsError::from(error).into_unknown(*env);
    if value.raw().is_null() {
        // The environment is shutting down; nobody will see it.
        return napi::Error::from_reason(format!("{code}: {message}"));
    }
    napi::Error::from(value)
}

/// Maps a core result onto napi's, with the error built by [`to_js`].
pub trait OrThrow<T> {
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

impl<T> From<canary_core::Result<T>> for Settled<T> {
    fn from(r: canary_core::Result<T>) -> Self {
        Settled(r)
    }
}

impl<T: ToNapiValue> ToNapiValue for Settled<T> {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        match val.0 {
            // SAFETY: called by napi on the JavaScript thread with its own env.
            Ok(v) => unsafe { T::to_napi_value(env, v) },
            Err(e) => Err(to_js(&Env::from_raw(env), &e)),
        }
    }
}
