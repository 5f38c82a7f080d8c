//! The in-memory world: a [`StateStore`](crate::traits::StateStore), an
//! [`Orchestrator`](crate::traits::Orchestrator) and a [`Router`](crate::traits::Router) that keep
//! everything in this process and never touch Docker or Traefik. A replay
//! (`canary_sdk::replay`) runs its rollout on them, tests of code that drives a whole rollout use
//! them, and the state store alone serves runs that need no crash recovery.

mod orchestrator;
mod router;
mod state;

pub use orchestrator::{MemoryOrchestrator, PINNED};
pub use router::MemoryRouter;
pub use state::MemoryStateStore;
