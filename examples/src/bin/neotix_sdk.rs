//! The neotix rollout driven by the crates directly, without the CLI: what a program that links
//! canary copies.
//!
//! ```text
//! bash scripts/stack/up.sh && source scripts/stack/env.sh
//! canary build  -f examples/neotix/canary.yaml --track stable && canary build -f examples/neotix/canary.yaml --track canary
//! canary deploy -f examples/neotix/canary.yaml        # the stable services this program canaries
//! cargo run -p canary-examples --bin neotix_sdk -- examples/neotix/canary.yaml
//! ```
//!
//! [`Canary::connect`] wires the backends from [`Settings`] (the variables
//! `scripts/stack/env.sh` exports, as for the CLI): Swarm runs the services and keeps the
//! rollout's state in labels on the stable service (a killed program resumes where it was),
//! Traefik routes and confirms the weights, Prometheus answers the analysis, webhooks are called.
//! [`canary_core::Rollout`] decides everything: steps, analysis, promotion or rollback.
//!
//! Exit code: 0 promoted, 2 rolled back, 1 error.

use std::process::ExitCode;

use canary_core::{Outcome, SpecFile};
use canary_sdk::{Canary, Settings};

async fn run(spec_path: &str) -> canary_core::Result<Outcome> {
    let file = SpecFile::load(spec_path, &[])?;
    let canary = Canary::connect(file.spec, Settings::from_env()?).await?;
    // `restart`: run again even when a rollout of the same images already ended (a demo).
    let rollout = canary.rollout(canary.controller().restart(true))?;

    // Every event carries the step, the weight, and for analyses the figures behind the verdict.
    let mut events = rollout.subscribe();
    let printer = tokio::spawn(async move {
        while let Ok(ev) = events.recv().await {
            println!(
                "[{:?}] step {}/{} weight {}%: {}",
                ev.kind,
                ev.step + 1,
                ev.steps,
                ev.weight,
                ev.message
            );
            for check in ev.analysis.iter().flat_map(|a| &a.checks) {
                println!(
                    "    {} {}: {:?} ({})",
                    check.app, check.name, check.verdict, check.reason
                );
            }
        }
    });
    let outcome = rollout.run().await;
    drop(rollout); // closes the event channel, so the printer ends after the last event
    let _ = printer.await;
    outcome
}

#[tokio::main]
async fn main() -> ExitCode {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "examples/neotix/canary.yaml".into());
    match run(&path).await {
        Ok(Outcome::Promoted) => {
            println!("promoted");
            ExitCode::SUCCESS
        }
        Ok(Outcome::RolledBack { cause }) => {
            println!("rolled back: {cause}");
            ExitCode::from(2)
        }
        Ok(other) => {
            println!("ended: {other:?}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("neotix_sdk: {e}");
            ExitCode::FAILURE
        }
    }
}
