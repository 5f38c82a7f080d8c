//! What every front end does besides running a rollout, through the traits so the CLI, Python
//! and Node share one path: the routes of a group ([`routes`]), deploying it ([`mod@deploy`]),
//! smoke-testing it ([`mod@smoke`]), writing a promotion back into the compose file
//! ([`writeback`]) and telling when stable drifted from it ([`mod@drift`]).

pub mod deploy;
pub mod drift;
pub use crate::routes;
pub mod smoke;
pub mod writeback;

pub use deploy::{deploy, DeployOptions, DeployStep};
pub use drift::{drift, Drift, DriftAgainst, DriftCheck, DriftWinner};
pub use smoke::{smoke_test, SmokeOptions, SmokeReport, SmokeTally};
pub use writeback::{write_back, ImageWrite, WriteBack, WriteBackOptions, WrittenAs};
