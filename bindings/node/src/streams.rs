//! The log lines of `canary.logs()` and the build output of `canary.build()` as async
//! iterators. Each starts its stream on the first `next()`, so a failure to start (no such app,
//! Docker down) rejects the first step of the `for await` loop with the core's error; an error
//! later in the stream rejects that step and ends the iterator.

use std::future::Future;
use std::sync::Arc;

use canary_core::Result;
use futures::future::BoxFuture;
use futures::stream::{BoxStream, StreamExt};
use napi::bindgen_prelude::{AsyncGenerator, Unknown};
use napi_derive::napi;
use serde_json::Value;
use tokio::sync::Mutex;

use crate::convert::Js;
use crate::error::Settled;

type Items = BoxStream<'static, Result<Value>>;

/// A stream started on first use.
pub(crate) struct Lazy {
    start: Option<BoxFuture<'static, Result<Items>>>,
    items: Option<Items>,
}

impl Lazy {
    /// A stream that `start` opens.
    pub(crate) fn new(start: impl Future<Output = Result<Items>> + Send + 'static) -> Self {
        Lazy {
            start: Some(Box::pin(start)),
            items: None,
        }
    }

    async fn next(&mut self) -> Option<Result<Value>> {
        if let Some(start) = self.start.take() {
            match start.await {
                Ok(items) => self.items = Some(items),
                Err(e) => return Some(Err(e)),
            }
        }
        let item = self.items.as_mut()?.next().await;
        if !matches!(item, Some(Ok(_))) {
            self.items = None;
        }
        item
    }
}

/// One step of an iterator: a value, or the core's error as a rejection.
pub type Item<T> = Settled<Js<T>>;

fn next_of(
    lazy: &Arc<Mutex<Lazy>>,
) -> impl Future<Output = napi::Result<Option<Item<Value>>>> + Send + 'static {
    let lazy = lazy.clone();
    async move {
        let item = lazy.lock().await.next().await;
        Ok(item.map(|r| Settled(r.map(Js))))
    }
}

fn close(
    lazy: &Arc<Mutex<Lazy>>,
) -> impl Future<Output = napi::Result<Option<Item<Value>>>> + Send + 'static {
    let lazy = lazy.clone();
    async move {
        let mut l = lazy.lock().await;
        l.start = None;
        l.items = None;
        Ok(None)
    }
}

/// The log lines of a track's services: `for await (const line of canary.logs('canary'))`.
/// Breaking out of the loop stops following.
#[napi(async_iterator)]
pub struct LogStream {
    pub(crate) lazy: Arc<Mutex<Lazy>>,
}

/// One log line (the `LogLine` interface of the typings).
pub type LogLine = Item<Value>;

#[napi]
impl AsyncGenerator for LogStream {
    type Yield = LogLine;
    type Next = Unknown<'static>;
    type Return = Unknown<'static>;

    fn next(
        &mut self,
        _: Option<Self::Next>,
    ) -> impl Future<Output = napi::Result<Option<Self::Yield>>> + Send + 'static {
        next_of(&self.lazy)
    }

    fn complete(
        &mut self,
        _: Option<Self::Return>,
    ) -> impl Future<Output = napi::Result<Option<Self::Yield>>> + Send + 'static {
        close(&self.lazy)
    }
}

/// The output of image builds: `for await (const out of canary.build('canary'))`.
#[napi(async_iterator)]
pub struct BuildStream {
    pub(crate) lazy: Arc<Mutex<Lazy>>,
}

/// One line of build output or a built image (the `BuildOutput` interface of the typings).
pub type BuildOutput = Item<Value>;

#[napi]
impl AsyncGenerator for BuildStream {
    type Yield = BuildOutput;
    type Next = Unknown<'static>;
    type Return = Unknown<'static>;

    fn next(
        &mut self,
        _: Option<Self::Next>,
    ) -> impl Future<Output = napi::Result<Option<Self::Yield>>> + Send + 'static {
        next_of(&self.lazy)
    }

    fn complete(
        &mut self,
        _: Option<Self::Return>,
    ) -> impl Future<Output = napi::Result<Option<Self::Yield>>> + Send + 'static {
        close(&self.lazy)
    }
}
