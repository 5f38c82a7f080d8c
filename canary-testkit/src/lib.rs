//! Test doubles on loopback shared by the tests of the canary crates, so that each crate's tests
//! do not write their own.
//!
//! [`Server`] is an HTTP/1.1 server on `127.0.0.1` for tests of HTTP clients (webhooks,
//! notifications, web metrics, the Traefik API): it records every [`Request`] it reads and
//! answers each with the [`Answer`] a closure gives (a status, headers and body, or raw bytes for
//! broken servers, each after an optional delay). It runs on its own threads, so plain `#[test]`
//! functions and tokio tests (any runtime flavour) use it alike.
//!
//! What it guarantees:
//! - it listens on `127.0.0.1` only, on a port the system picks;
//! - it is bounded: it accepts at most a set number of connections and stops after a set time
//!   ([`Builder`]), reads at most [`MAX_REQUEST`] bytes of a request, and waits at most
//!   [`IO_TIMEOUT`] for a client to send or to read;
//! - it stops when dropped: it accepts no more connections and delayed answers are not sent.

mod answer;
mod request;
mod server;

pub use answer::Answer;
pub use request::{Request, MAX_REQUEST};
pub use server::{Arrived, Builder, Server, IO_TIMEOUT};
