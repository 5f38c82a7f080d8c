//! Promotes Swarm services to an image the way canary does, for `bench/promote/run.sh`:
//! pin the image (ID or digest), then for every service at once set the pinned image and wait
//! until all its tasks run it.
//!
//! ```text
//! cargo run -p canary-swarm --example promote-bench -- [--keep-update-config] canary-demo:v2 shop_api shop_web
//! ```
//!
//! `--keep-update-config` leaves the services' update order as it is (see
//! [`RollingUpdate::Keep`]); by default `set_image` makes it start-first.
//!
//! Prints one line per service and a last line `total_ms=<n>`; exits 1 on any failure.

use std::time::{Duration, Instant};

use canary_core::{ImageRef, Orchestrator, ServiceName};
use canary_swarm::{RollingUpdate, SwarmOrchestrator};

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("promote-bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1).peekable();
    let usage = "usage: promote-bench [--keep-update-config] <image> <service>...";
    let keep = args.next_if(|a| a == "--keep-update-config").is_some();
    let image = ImageRef::parse(&args.next().ok_or(usage)?)?;
    let services: Vec<ServiceName> = args
        .map(|s| ServiceName::parse(&s))
        .collect::<Result<_, _>>()?;
    if services.is_empty() {
        return Err(usage.into());
    }
    let start = Instant::now();
    let mut swarm = SwarmOrchestrator::connect().await?;
    if keep {
        swarm = swarm.with_rolling_update(RollingUpdate::Keep);
    }
    let pinned = swarm.pin_image(&image).await?;
    println!(
        "pinned {image} to {pinned} ({} ms)",
        start.elapsed().as_millis()
    );
    let promotions = services.iter().map(|service| {
        let (swarm, pinned) = (&swarm, &pinned);
        async move {
            swarm.set_image(service, pinned).await?;
            let state = swarm
                .wait_converged(service, Duration::from_secs(600))
                .await?;
            println!(
                "{service}: {}/{} tasks on {} after {} ms",
                state.running,
                state.desired,
                state.image,
                start.elapsed().as_millis()
            );
            Ok::<_, canary_core::Error>(())
        }
    });
    futures::future::try_join_all(promotions).await?;
    println!("total_ms={}", start.elapsed().as_millis());
    Ok(())
}
