//! # canary-node
//!
//! The Node.js face of **canary** (npm package `canary-sdk`), built with napi-rs: a thin layer
//! over [`canary_sdk`] and [`canary_core`]. It converts arguments and results with serde (plain
//! objects, described by the TypeScript interfaces of `types-header.d.ts`), makes one SDK or
//! engine call per method on napi's Tokio runtime, and maps errors. No rollout decision is made
//! here.
//!
//! | module | what it owns |
//! |---|---|
//! | [`error`] | core errors → JavaScript `Error`s with `code`, `field`/`reason` and `cause` |
//! | [`convert`] | JavaScript values ↔ Rust values (serde), bad input → `CANARY_INVALID_INPUT` |
//! | [`promise`] | Promises settled on the spot when a call needs no waiting (`status()`) |
//! | [`js`] | a JavaScript object as the metrics source, a JavaScript function as the hook runner |
//! | [`events`] | listeners (`onEvent`, `onStep`) and the `events()` async iterator |
//! | [`streams`] | the `logs()` and `build()` async iterators |
//! | [`spec`] | `Spec` |
//! | [`canary`] | `Canary`: connect and every operation |
//! | [`replay`] | `replay()`: the engine on recorded metrics, on a paused clock |
//! | `testing` | feature `testing` only: the in-memory world of the package's tests |
//!
//! Modules depend downwards only: `testing` → `canary` → `spec`, `js`, `events`, `streams`,
//! `promise` → `convert`, `error`.
//!
//! ## Features
//! - `testing`: `testing.MemoryWorld` and `testing.benchStatus` (canary-core's in-memory
//!   orchestrator, router and state store). Never in the released module.

pub mod canary;
pub mod convert;
pub mod error;
pub mod events;
pub mod js;
pub mod promise;
pub mod replay;
pub mod spec;
pub mod streams;
#[cfg(feature = "testing")]
pub mod testing;
