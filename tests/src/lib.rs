//! # canary-e2e
//!
//! End-to-end tests of **canary** on the real local stack (`scripts/stack/up.sh`: Docker Swarm,
//! Traefik 3.7.9, Prometheus), driven through the `canary` binary as a person or a script would
//! use it. The tests are in `tests/tests/*.rs`; this library holds what they share:
//!
//! - [`browser`]: headless Chromium through chromedriver (WebDriver over HTTP on 127.0.0.1), for
//!   the dashboard's real-browser test; without it a test skips, or fails when `CI` is set;
//! - [`bin`]: the `canary` binary under test (`CANARY_BIN`, or built once with cargo);
//! - [`stack`]: the stack's addresses, and the skip-or-fail rule: without Docker or the stack a
//!   test prints `SKIPPED` and passes, unless `CI` is set, where it fails;
//! - [`group`]: one test's canary group (its own `cte<hex>` names, spec file, services labelled
//!   `io.canary.test=1`), `canary` invocations, background `canary run`s read as JSON Lines, and
//!   the cleanup (routes file, services and with them the saved state) even when the test panics;
//! - [`load`]: a steady background load on 127.0.0.1 that records every answer;
//! - [`docker`]: the docker CLI, to check what the binary did;
//! - [`faults`]: the fault suite's faults (killed tasks, stopped processes, cut connections),
//!   Traefik's own request counters, and the fault table.
//!
//! Traffic only ever goes to 127.0.0.1.

pub mod bin;
pub mod browser;
pub mod docker;
pub mod faults;
pub mod group;
pub mod load;
pub mod stack;
