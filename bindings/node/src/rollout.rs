//! `Rollout`: the core engine driven from JavaScript. Every method is one call into
//! [`canary_core::Rollout`] on napi's Tokio runtime, returning a Promise; events reach JavaScript
//! through a listener (`onEvent`) or an async iterator (`events()`).
//!
//! Delivery order: a call that can emit events (`run`, `step`, the commands) settles only after
//! every listener was called with the events it emitted, so `await rollout.run()` is followed by
//! no late event. An iterator from `events()` ends once the next `run()` has ended and its events
//! are read (or when broken out of).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use canary_core::{
    Command, Deps, Event, HookRunner, MetricsSource, Orchestrator, Router, StateStore,
};
use napi::bindgen_prelude::{
    AsyncGenerator, ClassInstance, FnArgs, FromNapiValue, Function, JsObjectValue, JsValue,
    MaybeTypeTag, Object, PromiseRaw, Unknown,
};
use napi::threadsafe_function::{ThreadsafeFunction, UnknownReturnValue};
use napi::{Env, Status, ValueType};
use napi_derive::napi;
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::{broadcast, mpsc, oneshot, watch};

use crate::convert::{class_arg, ms, opt_arg, plain_numbers, Js};
use crate::error::{to_js, OrThrow, Settled};
use crate::js::{JsHookRunner, JsMetricsSource};
use crate::spec::Spec;
use crate::swarm::{promise, MemoryStateStore, SwarmOrchestrator, SwarmStateStore};
use crate::testing::{MemoryOrchestrator, MemoryRouter};
use crate::traefik::{PrometheusMetrics, TraefikRouter, TraefikScrapeMetrics, WebhookRunner};

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct OptionsArg {
    owner: Option<String>,
    lease_ms: Option<u64>,
    poll_ms: Option<u64>,
    takeover: Option<bool>,
    restart: Option<bool>,
    retries: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PromoteArg {
    full: Option<bool>,
}

fn instance<'a, T: 'a + MaybeTypeTag>(env: &Env, v: Unknown<'a>) -> Option<ClassInstance<'a, T>> {
    // SAFETY: a live value of this env; the conversion checks the class before it casts.
    unsafe { ClassInstance::<T>::from_napi_value(env.raw(), v.raw()) }.ok()
}

fn invalid(env: &Env, field: &str, reason: &str) -> napi::Error {
    to_js(env, &canary_core::Error::invalid(field, reason))
}

/// Reads the `deps` object into the engine's dependencies.
fn deps(env: &Env, deps: Unknown<'_>) -> napi::Result<Deps> {
    if deps.get_type()? != ValueType::Object {
        return Err(invalid(
            env,
            "deps",
            "expected an object { orchestrator, router, metrics, store, hooks? }",
        ));
    }
    // SAFETY: checked to be an object of this env.
    let obj = unsafe { Object::from_napi_value(env.raw(), deps.raw())? };
    let get = |name: &str| -> napi::Result<Unknown<'_>> { obj.get_named_property(name) };

    let v = get("orchestrator")?;
    let orchestrator: Arc<dyn Orchestrator> = if let Some(s) = instance::<SwarmOrchestrator>(env, v)
    {
        Arc::new(s.inner.clone())
    } else if let Some(m) = instance::<MemoryOrchestrator>(env, v) {
        m.inner.clone()
    } else {
        return Err(invalid(
            env,
            "deps.orchestrator",
            "expected a SwarmOrchestrator (or testing.MemoryOrchestrator)",
        ));
    };

    let v = get("router")?;
    let router: Arc<dyn Router> = if let Some(r) = instance::<TraefikRouter>(env, v) {
        r.inner.clone()
    } else if let Some(m) = instance::<MemoryRouter>(env, v) {
        m.inner.clone()
    } else {
        return Err(invalid(
            env,
            "deps.router",
            "expected a TraefikRouter (or testing.MemoryRouter)",
        ));
    };

    let v = get("metrics")?;
    let metrics: Arc<dyn MetricsSource> = if let Some(p) = instance::<PrometheusMetrics>(env, v) {
        p.inner.clone()
    } else if let Some(s) = instance::<TraefikScrapeMetrics>(env, v) {
        s.inner.clone()
    } else if v.get_type()? == ValueType::Object {
        // SAFETY: checked to be an object of this env.
        let o = unsafe { Object::from_napi_value(env.raw(), v.raw())? };
        Arc::new(JsMetricsSource::new(env, o).map_err(|e| invalid(env, "deps.metrics", &e.reason))?)
    } else {
        return Err(invalid(env, "deps.metrics", "expected PrometheusMetrics, TraefikScrapeMetrics or an object with value(query) and samples(query)"));
    };

    let v = get("store")?;
    let store: Arc<dyn StateStore> = if let Some(s) = instance::<SwarmStateStore>(env, v) {
        s.inner.clone()
    } else if let Some(m) = instance::<MemoryStateStore>(env, v) {
        m.inner.clone()
    } else {
        return Err(invalid(
            env,
            "deps.store",
            "expected a SwarmStateStore or a MemoryStateStore",
        ));
    };

    let v = get("hooks")?;
    let hooks: Arc<dyn HookRunner> = match v.get_type()? {
        ValueType::Undefined | ValueType::Null => {
            Arc::new(canary_traefik::WebhookRunner::new().map_err(|e| to_js(env, &e))?)
        }
        ValueType::Function => {
            // SAFETY: checked to be a function of this env.
            let f: Function<'_, FnArgs<(Value, Value)>, _> =
                unsafe { Function::from_napi_value(env.raw(), v.raw())? };
            Arc::new(JsHookRunner::new(&f)?)
        }
        _ => match instance::<WebhookRunner>(env, v) {
            Some(w) => w.inner.clone(),
            None => {
                return Err(invalid(
                    env,
                    "deps.hooks",
                    "expected a WebhookRunner or a function (hook, context)",
                ))
            }
        },
    };

    Ok(Deps {
        orchestrator,
        router,
        metrics,
        store,
        hooks,
    })
}

/// A listener's thread-safe function (weak: it does not keep Node alive).
type Listener = ThreadsafeFunction<Value, UnknownReturnValue, Value, Status, false, true>;

/// What `run()` and the commands tell listeners and iterators.
#[derive(Default)]
struct Fanout {
    /// Each live listener's flush channel: a flush request is answered once the listener was
    /// called with every event sent so far.
    flushers: Mutex<Vec<mpsc::UnboundedSender<oneshot::Sender<()>>>>,
}

impl Fanout {
    /// Waits (bounded) until every listener was called with every event sent so far.
    async fn flush(&self) {
        let mut waits = Vec::new();
        {
            let mut fl = self.flushers.lock().expect("not poisoned");
            fl.retain(|tx| {
                let (ack, done) = oneshot::channel();
                let live = tx.send(ack).is_ok();
                if live {
                    waits.push(done);
                }
                live
            });
        }
        let _ =
            tokio::time::timeout(Duration::from_secs(10), futures::future::join_all(waits)).await;
    }
}

/// A canary rollout of one group, driven by the core engine.
#[napi]
pub struct Rollout {
    inner: Arc<canary_core::Rollout>,
    spec: Arc<canary_core::Spec>,
    fanout: Arc<Fanout>,
    /// Counts finished `run()` calls; iterators end after the next one.
    runs: Arc<watch::Sender<u64>>,
}

#[napi]
impl Rollout {
    /// A rollout of `spec` through `deps`. `deps.store` keeps the state (a `SwarmStateStore`
    /// survives a crash and lets other processes send commands); `deps.hooks` defaults to a
    /// `WebhookRunner`.
    #[napi(
        constructor,
        ts_args_type = "spec: Spec, deps: RolloutDeps, options?: RolloutOptions"
    )]
    pub fn new(
        env: Env,
        spec: Unknown<'_>,
        deps_arg: Unknown<'_>,
        options: Option<Unknown<'_>>,
    ) -> napi::Result<Self> {
        let spec = class_arg::<Spec>(&env, spec, "spec", "Spec")?.core();
        let deps = deps(&env, deps_arg)?;
        let o: OptionsArg = opt_arg(&env, options, "options")?;
        let mut opts = canary_core::RolloutOptions::default();
        if let Some(owner) = o.owner {
            opts = opts.owner(owner);
        }
        if let Some(t) = o.lease_ms {
            opts = opts.lease(ms(t));
        }
        if let Some(t) = o.poll_ms {
            opts = opts.poll(ms(t));
        }
        if let Some(t) = o.takeover {
            opts = opts.takeover(t);
        }
        if let Some(r) = o.restart {
            opts = opts.restart(r);
        }
        if let Some(r) = o.retries {
            opts = opts.retries(r);
        }
        Ok(Rollout {
            inner: Arc::new(canary_core::Rollout::new((*spec).clone(), deps, opts).or_throw(&env)?),
            spec,
            fanout: Arc::default(),
            runs: Arc::new(watch::channel(0).0),
        })
    }

    /// The spec.
    #[napi(getter)]
    pub fn spec(&self) -> Spec {
        Spec {
            inner: self.spec.clone(),
        }
    }

    /// Runs the rollout to its end: resolves `{ result: "promoted" }` or
    /// `{ result: "rolledBack", cause }`; rejects (with the core's code) on errors that need a
    /// person. A saved rollout of the same images is resumed where it was.
    #[napi(ts_return_type = "Promise<Outcome>")]
    pub fn run<'e>(
        &self,
        env: &'e Env,
    ) -> napi::Result<PromiseRaw<'e, Settled<Js<canary_core::Outcome>>>> {
        let (r, fanout, runs) = (self.inner.clone(), self.fanout.clone(), self.runs.clone());
        promise(env, async move {
            let out = r.run().await;
            fanout.flush().await;
            runs.send_modify(|n| *n += 1);
            Ok(Js(out?))
        })
    }

    /// Advances one transition (for callers that drive the rollout themselves); resolves the
    /// phase it left the rollout in.
    #[napi(ts_return_type = "Promise<Phase>")]
    pub fn step<'e>(
        &self,
        env: &'e Env,
    ) -> napi::Result<PromiseRaw<'e, Settled<Js<canary_core::Phase>>>> {
        let (r, fanout) = (self.inner.clone(), self.fanout.clone());
        promise(env, async move {
            let out = r.step().await;
            fanout.flush().await;
            Ok(Js(out?))
        })
    }

    /// Holds the rollout at its current step.
    #[napi(ts_return_type = "Promise<CommandOutcome>")]
    pub fn pause<'e>(
        &self,
        env: &'e Env,
    ) -> napi::Result<PromiseRaw<'e, Settled<Js<canary_core::CommandOutcome>>>> {
        self.command(env, Command::Pause)
    }

    /// Continues after a pause.
    #[napi(ts_return_type = "Promise<CommandOutcome>")]
    pub fn resume<'e>(
        &self,
        env: &'e Env,
    ) -> napi::Result<PromiseRaw<'e, Settled<Js<canary_core::CommandOutcome>>>> {
        self.command(env, Command::Resume)
    }

    /// Goes to the next step now (promotes after the last); with `{ full: true }` promotes now,
    /// skipping the remaining steps.
    #[napi(
        ts_args_type = "options?: { full?: boolean }",
        ts_return_type = "Promise<CommandOutcome>"
    )]
    pub fn promote<'e>(
        &self,
        env: &'e Env,
        options: Option<Unknown<'_>>,
    ) -> napi::Result<PromiseRaw<'e, Settled<Js<canary_core::CommandOutcome>>>> {
        let o: PromoteArg = opt_arg(env, options, "options")?;
        let cmd = if o.full.unwrap_or(false) {
            Command::PromoteFull
        } else {
            Command::Promote
        };
        self.command(env, cmd)
    }

    /// Rolls back now.
    #[napi(ts_return_type = "Promise<CommandOutcome>")]
    pub fn abort<'e>(
        &self,
        env: &'e Env,
    ) -> napi::Result<PromiseRaw<'e, Settled<Js<canary_core::CommandOutcome>>>> {
        self.command(env, Command::Abort)
    }

    /// The saved state, the split really in force and the services.
    #[napi(ts_return_type = "Promise<Status>")]
    pub fn status<'e>(
        &self,
        env: &'e Env,
    ) -> napi::Result<PromiseRaw<'e, Settled<Js<canary_core::Status>>>> {
        let r = self.inner.clone();
        promise(env, async move { Ok(Js(r.status().await?)) })
    }

    /// Calls `listener` with every event from now on; the returned subscription stops it.
    /// Errors thrown by the listener are reported on stderr and otherwise ignored.
    #[napi(ts_args_type = "listener: (event: RolloutEvent) => void")]
    pub fn on_event(&self, env: Env, listener: Unknown<'_>) -> napi::Result<EventSubscription> {
        if listener.get_type()? != ValueType::Function {
            return Err(invalid(
                &env,
                "listener",
                "expected a function (event) => void",
            ));
        }
        // SAFETY: checked to be a function of this env.
        let f: Function<'_, Value, UnknownReturnValue> =
            unsafe { Function::from_napi_value(env.raw(), listener.raw())? };
        let tsfn: Listener = f
            .build_threadsafe_function::<Value>()
            .callee_handled::<false>()
            .weak::<true>()
            .build()?;
        let mut rx = self.inner.subscribe();
        let (flush_tx, mut flush_rx) = mpsc::unbounded_channel::<oneshot::Sender<()>>();
        let (stop_tx, mut stop_rx) = oneshot::channel::<()>();
        self.fanout
            .flushers
            .lock()
            .expect("not poisoned")
            .push(flush_tx);
        napi::bindgen_prelude::spawn(async move {
            let mut orphaned = false;
            loop {
                tokio::select! {
                    r = rx.recv() => match r {
                        Ok(e) => deliver(&tsfn, e).await,
                        Err(broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(broadcast::error::RecvError::Closed) => break,
                    },
                    Some(ack) = flush_rx.recv() => {
                        loop {
                            match rx.try_recv() {
                                Ok(e) => deliver(&tsfn, e).await,
                                Err(broadcast::error::TryRecvError::Lagged(_)) => continue,
                                Err(_) => break,
                            }
                        }
                        let _ = ack.send(());
                    },
                    // Only an explicit unsubscribe stops it: a subscription object that was
                    // garbage-collected (its sender dropped) leaves the listener in place.
                    r = &mut stop_rx, if !orphaned => match r {
                        Ok(()) => break,
                        Err(_) => orphaned = true,
                    },
                }
            }
        });
        Ok(EventSubscription {
            stop: Some(stop_tx),
        })
    }

    /// The events from now on as an async iterator; it ends once the next `run()` has ended and
    /// its events are read. `break` out of it to stop earlier.
    #[napi]
    pub fn events(&self) -> EventStream {
        let mut done = self.runs.subscribe();
        done.mark_unchanged();
        EventStream {
            state: Arc::new(tokio::sync::Mutex::new(StreamState {
                rx: self.inner.subscribe(),
                done,
                ending: false,
                closed: false,
            })),
        }
    }
}

impl Rollout {
    /// The core rollout (for `testing.benchStatus`).
    pub(crate) fn core(&self) -> Arc<canary_core::Rollout> {
        self.inner.clone()
    }

    fn command<'e>(
        &self,
        env: &'e Env,
        cmd: Command,
    ) -> napi::Result<PromiseRaw<'e, Settled<Js<canary_core::CommandOutcome>>>> {
        let (r, fanout) = (self.inner.clone(), self.fanout.clone());
        promise(env, async move {
            let out = r.command(cmd).await;
            fanout.flush().await;
            Ok(Js(out?))
        })
    }
}

/// Calls a listener with one event and waits until it returned.
async fn deliver(tsfn: &Listener, e: Event) {
    let mut json = serde_json::to_value(&e).unwrap_or(Value::Null);
    plain_numbers(&mut json);
    if let Err(err) = tsfn.call_async_catch(json).await {
        eprintln!("canary-sdk: an event listener threw: {}", err.reason);
    }
}

/// A listener added with `Rollout.onEvent`.
#[napi]
pub struct EventSubscription {
    stop: Option<oneshot::Sender<()>>,
}

#[napi]
impl EventSubscription {
    /// Stops calling the listener. Unsubscribing twice is fine.
    #[napi]
    pub fn unsubscribe(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
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

/// The events of a rollout as an async iterator (`for await (const e of rollout.events())`).
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
    ) -> impl std::future::Future<Output = napi::Result<Option<Self::Yield>>> + Send + 'static {
        let state = self.state.clone();
        async move { Ok(state.lock().await.next().await.map(Js)) }
    }

    fn complete(
        &mut self,
        _value: Option<Self::Return>,
    ) -> impl std::future::Future<Output = napi::Result<Option<Self::Yield>>> + Send + 'static {
        let state = self.state.clone();
        async move {
            state.lock().await.closed = true;
            Ok(None)
        }
    }
}
