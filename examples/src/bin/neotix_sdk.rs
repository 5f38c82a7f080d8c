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
//! The wiring is four lines of implementations and one engine:
//!
//! - [`SwarmOrchestrator`] runs the services (Docker found like the docker CLI finds it) and, as
//!   [`canary_swarm::SwarmStateStore`], keeps the rollout's state in labels on the stable service,
//!   so a killed program resumes where it was;
//! - [`TraefikRouter`] writes the weights into Traefik's file-provider directory and confirms them
//!   through Traefik's API (it must be built for the spec's traffic mode);
//! - [`PrometheusMetrics`] answers the analysis' questions with PromQL on Traefik's metrics (it
//!   learns each app's Traefik backend names from its route);
//! - [`WebhookRunner`] calls the spec's hooks;
//! - [`Rollout`] decides everything: steps, analysis, promotion or rollback.
//!
//! Exit code: 0 promoted, 2 rolled back, 1 error. Settings come from the variables
//! `scripts/stack/env.sh` exports.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use canary_core::{AppRoute, Deps, Orchestrator, Outcome, Rollout, RolloutOptions, Spec};
use canary_swarm::SwarmOrchestrator;
use canary_traefik::{PrometheusMetrics, TraefikRouter, WebhookRunner};

fn setting(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_string())
}

async fn run(spec_path: &str) -> canary_core::Result<Outcome> {
    let spec = Spec::load(spec_path)?;

    // Docker: DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH, as for the docker CLI.
    let swarm = SwarmOrchestrator::connect().await?;

    let router = TraefikRouter::builder(
        setting(
            "CANARY_TRAEFIK_DYNAMIC_DIR",
            "/var/lib/canary-stack/dynamic",
        ),
        setting("CANARY_TRAEFIK_URL", "http://127.0.0.1:38082"),
    )
    .network(setting("CANARY_NETWORK", "canary-net"))
    .mode(spec.traffic.mode)
    .build()?;

    // The metrics source selects Traefik's series by backend name; the routes tell it the names
    // (stable's own `traefik.http.services.<name>` label wins over its Swarm name).
    let mut metrics =
        PrometheusMetrics::builder(setting("CANARY_PROMETHEUS_URL", "http://127.0.0.1:39090"))
            // The local stack's Prometheus scrapes Traefik every second.
            .scrape_interval(Duration::from_secs(1));
    for (app, spec_app) in spec.app_refs().into_iter().zip(&spec.apps) {
        let stable = swarm.inspect(&app.stable).await?;
        metrics = metrics.route(&AppRoute {
            app,
            rule: spec_app.rule.clone(),
            port: spec_app.port,
            entry_points: spec.traffic.entry_points.clone(),
            stable_labels: stable.labels,
        });
    }

    let deps = Deps {
        orchestrator: Arc::new(swarm.clone()),
        router: Arc::new(router),
        metrics: Arc::new(metrics.build()?),
        store: Arc::new(swarm.state_store()),
        hooks: Arc::new(WebhookRunner::new()?),
    };
    // `restart`: run again even when a rollout of the same images already ended (a demo).
    let rollout = Rollout::new(spec, deps, RolloutOptions::default().restart(true));

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
        Err(e) => {
            eprintln!("neotix_sdk: {e}");
            ExitCode::FAILURE
        }
    }
}
