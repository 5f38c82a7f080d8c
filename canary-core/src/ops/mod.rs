//! What every front end does besides running a rollout, through the traits so the CLI, Python
//! and Node share one path: the routes of a group ([`routes`]), deploying it ([`mod@deploy`]) and
//! smoke-testing it ([`mod@smoke`]).

pub mod deploy;
pub mod routes;
pub mod smoke;

pub use deploy::{deploy, DeployOptions, DeployStep};
pub use smoke::{smoke_test, SmokeOptions, SmokeReport, SmokeTally};
