//! `Canary`: one group's spec with its backends ([`canary_sdk::Canary`]) and every operation of
//! the CLI as a method returning a Promise: deploy, smoke test, run, step, status, the commands,
//! logs, builds and backends. Each converts its arguments with serde, makes one SDK or engine
//! call on napi's Tokio runtime, and hands the result back as a plain object.
//!
//! The object drives one controller at a time: `run(options)` makes a rollout with those options
//! and the commands, `step()` and `status()` go through the latest one, so a `pause()` while a
//! `run()` of the same object is going is delivered to it.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use canary_core::ops::{DeployOptions, DeployStep, SmokeReport};
use canary_core::traits::BuildEvent;
use canary_core::{
    Command, CommandOutcome, Error, HumanDuration, LogOptions, Outcome, Phase, Result, Rollout,
    Status, Track,
};
use canary_sdk::{Backend, Pushed, Settings};
use futures::StreamExt;
use napi::bindgen_prelude::{PromiseRaw, Unknown};
use napi::Env;
use napi_derive::napi;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};

use crate::convert::{arg, opts, to_json, Js};
use crate::error::{OrThrow, Settled};
use crate::events::{relay, EventStream, Hub, Listener};
use crate::js::{extras, Extras};
use crate::promise::now_or_later;
use crate::spec::Spec;
use crate::streams::{BuildStream, Lazy, LogStream};

/// What `run()` may change about this controller (the rest comes from the settings).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RunOptions {
    owner: Option<String>,
    poll: Option<HumanDuration>,
    #[serde(default)]
    takeover: bool,
    #[serde(default)]
    restart: bool,
    retries: Option<u8>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct LogArgs {
    app: Option<String>,
    #[serde(default)]
    follow: bool,
    tail: Option<u32>,
    since: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct BuildArgs {
    app: Option<String>,
    #[serde(default)]
    args: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PushArgs {
    app: Option<String>,
}

/// The controller this object drives and commands through, with its id.
struct Controller {
    rollout: Arc<Rollout>,
    owner: String,
}

/// A canary group connected to its backends.
#[napi]
pub struct Canary {
    sdk: Arc<canary_sdk::Canary>,
    controller: Mutex<Controller>,
    hub: Hub,
    /// Bumped by `stop()`; a run in progress stops when it changes.
    stop: watch::Sender<u64>,
}

impl Canary {
    /// Wraps a connected SDK group (also used by the in-memory world of the tests).
    pub(crate) fn new(sdk: canary_sdk::Canary) -> Result<Self> {
        let options = sdk.controller();
        let owner = options.owner.clone();
        let rollout = Arc::new(sdk.rollout(options)?);
        Ok(Canary {
            sdk: Arc::new(sdk),
            controller: Mutex::new(Controller { rollout, owner }),
            hub: Hub::new(),
            stop: watch::channel(0).0,
        })
    }

    /// The rollout of the current controller and who it is for the command events.
    pub(crate) fn current(&self) -> (Arc<Rollout>, String) {
        let c = self.controller.lock().unwrap_or_else(|p| p.into_inner());
        (c.rollout.clone(), format!("node:{}", c.owner))
    }

    /// Connects to the real backends (the SDK's `Canary::connect`) with JavaScript extras.
    async fn open(
        spec: canary_core::Spec,
        dir: std::path::PathBuf,
        settings: Option<Value>,
        x: Extras,
    ) -> Result<Self> {
        let given: serde_json::Map<String, Value> = opts(settings, "settings")?;
        let settings = Settings::from_env()?.merge(Value::Object(given))?;
        let mut sdk = canary_sdk::Canary::connect(spec, settings)
            .await?
            .with_spec_dir(dir);
        if let Some(m) = x.metrics {
            sdk = sdk.with_metrics(m);
        }
        if let Some(h) = x.hooks {
            sdk = sdk.with_hooks(h);
        }
        Canary::new(sdk)
    }

    async fn command_now(&self, cmd: Command) -> Result<Js<CommandOutcome>> {
        let (rollout, by) = self.current();
        let events = rollout.subscribe();
        let out = self.hub.forward(events, None, rollout.command_by(cmd, &by));
        out.await.map(Js)
    }

    async fn run_now(
        &self,
        options: Option<Value>,
        on_event: Option<Listener>,
    ) -> Result<Js<Outcome>> {
        let o: RunOptions = opts(options, "options")?;
        let mut ro = self
            .sdk
            .controller()
            .takeover(o.takeover)
            .restart(o.restart);
        if let Some(owner) = o.owner {
            ro = ro.owner(owner);
        }
        if let Some(poll) = o.poll {
            ro = ro.poll(poll.get());
        }
        if let Some(n) = o.retries {
            ro = ro.retries(n.into());
        }
        // The core owns the bounds; the error names the field as the caller wrote it.
        ro.validate_as("options")?;
        let owner = ro.owner.clone();
        let rollout = Arc::new(self.sdk.rollout(ro)?);
        *self.controller.lock().unwrap_or_else(|p| p.into_inner()) = Controller {
            rollout: rollout.clone(),
            owner,
        };
        self.sdk.require_stable().await?;
        let mut stopped = self.stop.subscribe();
        let events = rollout.subscribe();
        let out = tokio::select! {
            out = self.hub.forward(events, on_event.as_ref(), rollout.run()) => out,
            _ = stopped.changed() => {
                // The run future is dropped between two saved transitions: hand the lease
                // back so the next run resumes at once.
                let _ = rollout.release().await;
                Err(Error::Aborted("stopped by stop(): the rollout stays where it was and the next run() resumes it".into()))
            }
        };
        self.hub.run_ended();
        out.map(Js)
    }
}

#[napi]
impl Canary {
    /// Connects `spec`'s group: Docker (DOCKER_HOST or `settings.dockerHost`), Traefik and the
    /// metrics source, from `settings` over the `CANARY_*` environment over the defaults.
    /// `options.metrics` and `options.hooks` replace the metrics source and the webhook runner
    /// with JavaScript.
    #[napi(
        ts_args_type = "spec: Spec, settings?: Settings | null, options?: ConnectOptions | null",
        ts_return_type = "Promise<Canary>"
    )]
    pub fn connect<'e>(
        env: &'e Env,
        spec: &Spec,
        settings: Option<Value>,
        options: Option<Unknown<'_>>,
    ) -> napi::Result<PromiseRaw<'e, Settled<Canary>>> {
        let x = extras(env, options)?;
        let (spec, dir) = ((*spec.inner).clone(), spec.dir.clone());
        env.spawn_future(async move { Ok(Settled(Canary::open(spec, dir, settings, x).await)) })
    }

    /// Deploys the group (stable services, network, routes; idempotent); `onStep` sees each
    /// step as it happens.
    #[napi(
        ts_args_type = "options?: DeployOptions | null, onStep?: (step: DeployStep) => void",
        ts_return_type = "Promise<DeployStep[]>"
    )]
    pub async fn deploy(
        &self,
        options: Option<Value>,
        on_step: Option<Listener>,
    ) -> napi::Result<Settled<Js<Vec<DeployStep>>>> {
        let (tx, rx) = mpsc::unbounded_channel();
        let go = async {
            let o: DeployOptions = opts(options, "options")?;
            let mut send = |s: &DeployStep| drop(tx.send(s.clone()));
            self.sdk.deploy(&o, &mut send).await
        };
        Ok(Settled(relay(rx, on_step.as_ref(), go).await.map(Js)))
    }

    /// Sends requests to each app with and without the header route and counts the answers.
    #[napi(
        ts_args_type = "options?: SmokeOptions | null",
        ts_return_type = "Promise<SmokeReport>"
    )]
    pub async fn smoke_test(
        &self,
        options: Option<Value>,
    ) -> napi::Result<Settled<Js<SmokeReport>>> {
        let go = async {
            self.sdk
                .smoke_test(&opts(options, "options")?)
                .await
                .map(Js)
        };
        Ok(Settled(go.await))
    }

    /// Runs the rollout to its end: resolves `{ result: 'promoted' }` or `{ result:
    /// 'rolledBack', cause }`; rejects (with the core's code) on errors that need a person. A
    /// saved rollout of the same images is resumed where it was. `onEvent` sees every event,
    /// in order, before the Promise settles.
    #[napi(
        ts_args_type = "options?: RunOptions | null, onEvent?: (event: RolloutEvent) => void",
        ts_return_type = "Promise<Outcome>"
    )]
    pub async fn run(
        &self,
        options: Option<Value>,
        on_event: Option<Listener>,
    ) -> napi::Result<Settled<Js<Outcome>>> {
        Ok(Settled(self.run_now(options, on_event).await))
    }

    /// Stops a `run()` of this object between two saved transitions and hands its lease back;
    /// that `run()` rejects with `CANARY_ABORTED`. The rollout stays where it was.
    #[napi]
    pub fn stop(&self) {
        self.stop.send_modify(|n| *n += 1);
    }

    /// Advances the rollout one transition (for callers that drive it themselves); resolves the
    /// phase it left the rollout in.
    #[napi(ts_return_type = "Promise<Phase>")]
    pub async fn step(&self) -> napi::Result<Settled<Js<Phase>>> {
        let (rollout, _) = self.current();
        let out = self.hub.forward(rollout.subscribe(), None, rollout.step());
        Ok(Settled(out.await.map(Js)))
    }

    /// The saved state, the split really in force and the services. Settled at once when the
    /// backends answer without waiting (see `promise.rs`).
    #[napi(ts_return_type = "Promise<Status>")]
    pub fn status<'e>(&self, env: &'e Env) -> napi::Result<PromiseRaw<'e, Settled<Js<Status>>>> {
        let (rollout, _) = self.current();
        now_or_later(env, async move { rollout.status().await.map(Js) })
    }

    /// A manual control by name: `pause`, `resume`, `promote`, `promote-full` or `rollback`.
    /// Delivered to the controller driving the rollout, in this process or another; carried out
    /// here when nobody drives it.
    #[napi(
        ts_args_type = "command: CommandName",
        ts_return_type = "Promise<CommandOutcome>"
    )]
    pub async fn command(
        &self,
        command: Option<Value>,
    ) -> napi::Result<Settled<Js<CommandOutcome>>> {
        let go = async {
            let word: String = arg(command, "command")?;
            self.command_now(Command::from_str(&word)?).await
        };
        Ok(Settled(go.await))
    }

    /// Holds the rollout at its current step.
    #[napi(ts_return_type = "Promise<CommandOutcome>")]
    pub async fn pause(&self) -> napi::Result<Settled<Js<CommandOutcome>>> {
        Ok(Settled(self.command_now(Command::Pause).await))
    }

    /// Continues after a pause.
    #[napi(ts_return_type = "Promise<CommandOutcome>")]
    pub async fn resume(&self) -> napi::Result<Settled<Js<CommandOutcome>>> {
        Ok(Settled(self.command_now(Command::Resume).await))
    }

    /// Goes to the next step now (promotes after the last); with `full`, promotes now.
    #[napi(
        ts_args_type = "full?: boolean | null",
        ts_return_type = "Promise<CommandOutcome>"
    )]
    pub async fn promote(&self, full: Option<Value>) -> napi::Result<Settled<Js<CommandOutcome>>> {
        let go = async {
            let full: Option<bool> = arg(full, "full")?;
            let cmd = if full == Some(true) {
                Command::PromoteFull
            } else {
                Command::Promote
            };
            self.command_now(cmd).await
        };
        Ok(Settled(go.await))
    }

    /// Rolls back now.
    #[napi(ts_return_type = "Promise<CommandOutcome>")]
    pub async fn rollback(&self) -> napi::Result<Settled<Js<CommandOutcome>>> {
        Ok(Settled(self.command_now(Command::Abort).await))
    }

    /// The events of this object's runs, steps and commands from now on, as an async
    /// iterator that ends once the next `run()` has ended. `break` out of it to stop earlier.
    #[napi]
    pub fn events(&self) -> EventStream {
        self.hub.stream()
    }

    /// The log lines of `track`'s services (of one app or all), as an async iterator.
    #[napi(ts_args_type = "track: Track, options?: LogOptions | null")]
    pub fn logs(
        &self,
        env: Env,
        track: Option<Value>,
        options: Option<Value>,
    ) -> napi::Result<LogStream> {
        let track: Track = arg(track, "track").or_throw(&env)?;
        let o: LogArgs = opts(options, "options").or_throw(&env)?;
        let lo = LogOptions::default()
            .follow(o.follow)
            .tail(o.tail.map(u64::from))
            .since_secs(o.since.map(u64::from));
        let sdk = self.sdk.clone();
        let lazy = Lazy::new(async move {
            let lines = sdk.logs(track, o.app.as_deref(), &lo).await?;
            Ok(lines.map(|l| l.and_then(|l| to_json(&l))).boxed())
        });
        Ok(LogStream {
            lazy: Arc::new(lazy.into()),
        })
    }

    /// Builds `track`'s image of each app with a build section (one app, or all), with `args`
    /// added to the spec's build arguments, as an async iterator of output lines and built
    /// images. The spec's `build.context` is relative to the spec file.
    #[napi(ts_args_type = "track: Track, options?: BuildOptions | null")]
    pub fn build(
        &self,
        env: Env,
        track: Option<Value>,
        options: Option<Value>,
    ) -> napi::Result<BuildStream> {
        let track: Track = arg(track, "track").or_throw(&env)?;
        let o: BuildArgs = opts(options, "options").or_throw(&env)?;
        let sdk = self.sdk.clone();
        let lazy = Lazy::new(async move {
            let out = sdk.build(track, o.app.as_deref(), &o.args).await?;
            Ok(out
                .map(|r| {
                    r.map(|(app, e)| match e {
                        BuildEvent::Output(line) => json!({ "app": app, "output": line }),
                        BuildEvent::Built(id) => json!({ "app": app, "built": id }),
                        // An event newer than this binding: as the core serialises it.
                        other => json!({ "app": app, "event": other }),
                    })
                })
                .boxed())
        });
        Ok(BuildStream {
            lazy: Arc::new(lazy.into()),
        })
    }

    /// Pushes `track`'s image of each app with a build section (one app, or all) to the registry
    /// its name says, with the credentials of the Docker CLI's config; the registry's digests,
    /// which a rollout then pins.
    #[napi(
        ts_args_type = "track: Track, options?: PushOptions | null",
        ts_return_type = "Promise<Pushed[]>"
    )]
    pub async fn push(
        &self,
        track: Option<Value>,
        options: Option<Value>,
    ) -> napi::Result<Settled<Js<Vec<Pushed>>>> {
        let go = async {
            let track: Track = arg(track, "track")?;
            let o: PushArgs = opts(options, "options")?;
            self.sdk.push(track, o.app.as_deref()).await
        };
        Ok(Settled(go.await.map(Js)))
    }

    /// Traefik's service name of every app's tracks (what its metrics are labelled with).
    #[napi(ts_return_type = "Promise<Backend[]>")]
    pub async fn backends(&self) -> napi::Result<Settled<Js<Vec<Backend>>>> {
        Ok(Settled(self.sdk.backends().map(Js)))
    }

    /// The settings in force (with the environment and the defaults).
    #[napi(getter, ts_return_type = "Required<Settings>")]
    pub fn settings(&self) -> Js<Settings> {
        Js(self.sdk.settings().clone())
    }
}
