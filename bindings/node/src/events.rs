//! Events on their way to JavaScript: the listeners given to `run(options, onEvent)` and
//! `deploy(options, onStep)`, and the async iterator of `canary.events()`.
//!
//! Delivery order: a call that emits events settles only after its listener was called with
//! each of them, in order, so `await canary.run(...)` is followed by no late event. An iterator
//! from `events()` ends once the next `run()` has ended and its events are read (or when broken
//! out of).

use std::future::Future;
use std::sync::Arc;

use canary_core::{Event, Result};
use napi::bindgen_prelude::{AsyncGenerator, Unknown};
use napi::threadsafe_function::{ThreadsafeFunction, UnknownReturnValue};
use napi::Status;
use napi_derive::napi;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::{broadcast, mpsc, watch};

use crate::convert::{to_json, Js};

/// A JavaScript listener as a weak thread-safe function: it does not keep Node alive on its own
/// (the pending Promise of the call it belongs to does).
pub type Listener = ThreadsafeFunction<Value, UnknownReturnValue, Value, Status, false, true>;

/// Calls `listener` with `value` and waits until it returned. What it throws is reported on
/// stderr and otherwise ignored: a listener's bug must not stop a rollout.
pub(crate) async fn tell(listener: Option<&Listener>, value: &impl Serialize) {
    let Some(listener) = listener else { return };
    let Ok(json) = to_json(value) else { return };
    if let Err(err) = listener.call_async_catch(json).await {
        eprintln!("canary-sdk: a listener threw: {}", err.reason);
    }
}

/// Runs `fut` while passing what it sends on `rx` to `listener`, in order; settles after the
/// last one was delivered.
pub(crate) async fn relay<T, I: Serialize>(
    mut rx: mpsc::UnboundedReceiver<I>,
    listener: Option<&Listener>,
    fut: impl Future<Output = Result<T>>,
) -> Result<T> {
    tokio::pin!(fut);
    let out = loop {
        tokio::select! {
            biased;
            Some(item) = rx.recv() => tell(listener, &item).await,
            out = &mut fut => break out,
        }
    };
    while let Ok(item) = rx.try_recv() {
        tell(listener, &item).await;
    }
    out
}

/// Where a `Canary`'s events meet: every run, step and command forwards its rollout's events
/// here, for the iterators of `events()`.
#[derive(Debug)]
pub(crate) struct Hub {
    events: broadcast::Sender<Event>,
    /// Counts finished runs: iterators end after the next one.
    runs: watch::Sender<u64>,
}

impl Hub {
    pub(crate) fn new() -> Self {
        Hub {
            events: broadcast::channel(1024).0,
            runs: watch::channel(0).0,
        }
    }

    /// Runs `fut` while forwarding the events on `rx` (subscribed before `fut` starts) to the
    /// iterators and to `listener`; settles after the last one was delivered.
    pub(crate) async fn forward<T>(
        &self,
        mut rx: broadcast::Receiver<Event>,
        listener: Option<&Listener>,
        fut: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        use broadcast::error::{RecvError, TryRecvError};
        tokio::pin!(fut);
        let out = loop {
            tokio::select! {
                biased;
                r = rx.recv() => match r {
                    Ok(e) => self.pass(e, listener).await,
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => break (&mut fut).await,
                },
                out = &mut fut => break out,
            }
        };
        loop {
            match rx.try_recv() {
                Ok(e) => self.pass(e, listener).await,
                Err(TryRecvError::Lagged(_)) => continue,
                Err(_) => break out,
            }
        }
    }

    async fn pass(&self, e: Event, listener: Option<&Listener>) {
        tell(listener, &e).await;
        let _ = self.events.send(e);
    }

    /// Marks the end of a run for the iterators.
    pub(crate) fn run_ended(&self) {
        self.runs.send_modify(|n| *n += 1);
    }

    /// An iterator of the events from now until the end of the next run.
    pub(crate) fn stream(&self) -> EventStream {
        let mut done = self.runs.subscribe();
        done.mark_unchanged();
        EventStream {
            state: Arc::new(tokio::sync::Mutex::new(StreamState {
                rx: self.events.subscribe(),
                done,
                ending: false,
                closed: false,
            })),
        }
    }
}

struct StreamState {
    rx: broadcast::Receiver<Event>,
    done: watch::Receiver<u64>,
    ending: bool,
    closed: bool,
}

impl StreamState {
    async fn next(&mut self) -> Option<Event> {
        use broadcast::error::{RecvError, TryRecvError};
        loop {
            if self.closed {
                return None;
            }
            if self.ending {
                match self.rx.try_recv() {
                    Ok(e) => return Some(e),
                    Err(TryRecvError::Lagged(_)) => continue,
                    Err(_) => {
                        self.closed = true;
                        return None;
                    }
                }
            }
            tokio::select! {
                biased;
                r = self.rx.recv() => match r {
                    Ok(e) => return Some(e),
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => self.closed = true,
                },
                _ = self.done.changed() => self.ending = true,
            }
        }
    }
}

/// One event as JavaScript sees it (the `RolloutEvent` interface of the typings).
pub type RolloutEvent = Js<Event>;

/// The events of a `Canary` as an async iterator: `for await (const e of canary.events())`.
#[napi(async_iterator)]
pub struct EventStream {
    state: Arc<tokio::sync::Mutex<StreamState>>,
}

#[napi]
impl AsyncGenerator for EventStream {
    type Yield = RolloutEvent;
    type Next = Unknown<'static>;
    type Return = Unknown<'static>;

    fn next(
        &mut self,
        _value: Option<Self::Next>,
    ) -> impl Future<Output = napi::Result<Option<Self::Yield>>> + Send + 'static {
        let state = self.state.clone();
        async move { Ok(state.lock().await.next().await.map(Js)) }
    }

    fn complete(
        &mut self,
        _value: Option<Self::Return>,
    ) -> impl Future<Output = napi::Result<Option<Self::Yield>>> + Send + 'static {
        let state = self.state.clone();
        async move {
            state.lock().await.closed = true;
            Ok(None)
        }
    }
}
