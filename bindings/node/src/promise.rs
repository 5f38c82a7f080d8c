//! Promises for calls that usually finish without waiting: `status()` of a rollout whose
//! backends answer from memory, or from a cache, costs a few microseconds in Rust, while the
//! trip through napi's Tokio runtime and back to the JavaScript thread costs tens of them.
//!
//! `now_or_later` polls the future once, on the JavaScript thread inside the runtime's
//! context: when it is ready the Promise is settled on the spot (no thread hop); when it waits on
//! I/O it moves, pinned where it is, onto the runtime and settles from there like any `async fn`.
//! Only for futures that never block a thread (no file or DNS work done in place): the first
//! poll runs on Node's event loop.

use std::future::Future;
use std::task::{Context, Poll, Waker};

use napi::bindgen_prelude::{within_runtime_if_available, PromiseRaw, ToNapiValue};
use napi::Env;

use crate::error::{js_error, Settled};

/// A Promise of `fut`'s value, settled now if `fut` is ready at once (see the module docs).
pub(crate) fn now_or_later<'e, T, F>(
    env: &'e Env,
    fut: F,
) -> napi::Result<PromiseRaw<'e, Settled<T>>>
where
    T: ToNapiValue + Send + 'static,
    F: Future<Output = canary_core::Result<T>> + Send + 'static,
{
    let mut fut = Box::pin(fut);
    // A waker that does nothing is enough: a pending future is polled again by the runtime,
    // which hands it its own waker.
    let first =
        within_runtime_if_available(|| fut.as_mut().poll(&mut Context::from_waker(Waker::noop())));
    match first {
        Poll::Ready(Ok(v)) => PromiseRaw::resolve(env, Settled(Ok(v))),
        Poll::Ready(Err(e)) => PromiseRaw::reject(env, js_error(env, &e)?),
        Poll::Pending => env.spawn_future(async move { Ok(Settled(fut.await)) }),
    }
}
