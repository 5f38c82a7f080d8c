//! # canary-sdk
//!
//! One entry point for every front end of **canary** (the `canary` CLI, the Python package, the
//! Node package, Rust programs): [`Settings`] in (from the environment, a map, or code), the
//! Swarm and Traefik backends wired, and every operation as one library call on [`Canary`].
//! Front ends parse arguments and print; every decision is `canary-core`'s.
//!
//! | module | owns |
//! |---|---|
//! | `settings` | [`Settings`]: where Docker, Traefik and Prometheus are; checked once |
//! | `session` | [`Canary`]: a group's backends and its operations, its rollouts' notifications |
//! | `compose` | the compose file a spec came from: promotions written back, drift |
//! | `stack` | deploying Traefik itself behind a read-only Docker API proxy |
//! | `samples` | [`SamplesFrom`]: the judge's samples from Traefik's access log, values from the rest |
//! | `replay` | [`replay()`]: the engine run again on a recording or a Prometheus range, on a paused clock |
//!
//! ```no_run
//! # async fn run() -> canary_core::Result<()> {
//! use canary_core::ops::SmokeOptions;
//! use canary_core::{RolloutOptions, SpecFile};
//! use canary_sdk::{Canary, Settings};
//!
//! let file = SpecFile::load("examples/neotix/canary.yaml", &[])?;
//! let canary = Canary::connect(file.spec, Settings::from_env()?).await?;
//! canary.deploy(&Default::default(), &mut |step| println!("{step:?}")).await?;
//! assert!(canary.smoke_test(&SmokeOptions::default()).await?.ok);
//! let outcome = canary.rollout(canary.controller())?.run().await?;
//! println!("{outcome:?}");
//! # Ok(())
//! # }
//! ```

mod compose;
pub mod replay;
mod samples;
mod session;
mod settings;
mod stack;

pub use replay::{replay, ReplayOptions, ReplayOutcome, ReplayReport};
pub use samples::SamplesFrom;
pub use session::{state_store, test_notifications_of, Backend, Canary, NotificationTest, Pushed};
pub use settings::{MetricsBackend, RouterBackend, Settings, ENV};
pub use stack::TraefikDeploy;
