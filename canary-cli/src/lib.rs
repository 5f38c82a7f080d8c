//! # canary-cli
//!
//! The `canary` binary: argument parsing and printing over [`canary_sdk`] (settings in, the
//! backends wired, every operation) and [`canary_core`] (the engine and its types). It has no
//! rollout logic and no Docker or HTTP client of its own: every decision is the engine's.
//!
//! ## Commands
//!
//! | command | does | the seed's |
//! |---|---|---|
//! | `canary build -f SPEC --track stable\|canary` | builds each app's `build` context, tagged `stableImage` or `image` | `build-images.sh` |
//! | `canary deploy -f SPEC` | network, Traefik check, stable services (created or adopted), routes; idempotent | `deploy-canary.sh` |
//! | `canary test -f SPEC` | requests to each app with and without the header route: versions and status codes | `test-canary.sh` |
//! | `canary run -f SPEC` | the progressive rollout: steps, analysis, promote or roll back; resumes a saved one | `promote-canary.sh` |
//! | `canary status -f SPEC` | state, step, weights in force (read from Traefik), replicas, last analysis | |
//! | `canary promote [--full]`, `rollback`, `pause`, `resume` | manual controls, delivered to a running `canary run` or applied here | `docker service scale …=0` |
//! | `canary logs -f SPEC --track stable\|canary [--follow]` | the services' log lines | `docker service logs` |
//! | `canary dashboard [-f SPEC] [SPEC...] [--allow-actions] [--report FILE]` | the live dashboard in the browser (`canary_dashboard`), or a rollout's HTML report | Grafana |
//!
//! ## Exit codes
//!
//! `0` success (`run`: promoted), `2` rolled back or aborted (by analysis, a hook or a person),
//! `1` error (one line on stderr; also a wrong flag), `130`/`143` interrupted by SIGINT/SIGTERM (the rollout's state is
//! saved and the next `canary run` resumes it).
//!
//! ## Settings
//!
//! Connections (flags, or the variables `scripts/stack/env.sh` exports): `--docker-host`
//! (`DOCKER_HOST`), `--traefik-dynamic-dir` (`CANARY_TRAEFIK_DYNAMIC_DIR`), `--traefik-url`
//! (`CANARY_TRAEFIK_URL`), `--router file|kv` (`CANARY_ROUTER`), `--kv-url` (`CANARY_KV_URL`),
//! `--kv-root-key` (`CANARY_KV_ROOT_KEY`), `--traefik-api` (`CANARY_TRAEFIK_API`, every Traefik
//! replica's API), `--network` (`CANARY_NETWORK`), `--web-url` (`CANARY_WEB_URL`),
//! `--prometheus-url` (`CANARY_PROMETHEUS_URL`), `--metrics prometheus|traefik`
//! (`CANARY_METRICS`), `--scrape-interval` (`CANARY_SCRAPE_INTERVAL`). Spec overrides: `--group`,
//! `--stack`, `--image`, `--stable-image`, `--canary-env`, `--mode`, `--steps`, `--interval`,
//! `--header-route`, `--analysis-window`, `--failure-limit`, `--min-requests`, ... each with its
//! `CANARY_*` variable, and `--set PATH=VALUE` for any other field. A flag beats its variable,
//! which beats the spec file; the result is validated like the file.
//!
//! ## Output
//!
//! Human by default; `--output json` prints one JSON object per line: every rollout event
//! (`{"type":"event", ...canary_core::Event}`), then `{"type":"result", ...}`; errors as
//! `{"type":"error","code","message","exitCode"}`. `canary run --metrics-addr 127.0.0.1:PORT`
//! serves the engine's decisions (weight, step, phase, verdicts, check values) as Prometheus
//! metrics for the dashboard in `monitoring/`.

mod args;
mod cmd;
mod error;
mod exporter;
mod output;
mod session;
mod specfile;

use clap::Parser;

/// Parses the command line, runs the command and returns the process exit code.
pub fn main() -> std::process::ExitCode {
    let cli = match args::Cli::try_parse() {
        Ok(cli) => cli,
        // Help and version go to stdout with 0; a usage error is an error (1), never 2, which
        // means "rolled back" here.
        Err(e) => {
            let _ = e.print();
            return std::process::ExitCode::from(if e.use_stderr() {
                error::EXIT_ERROR
            } else {
                0
            });
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_new(&cli.global.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    let printer = output::Printer::new(cli.global.output);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            printer.error(&error::CliError::new(
                "CANARY_INTERNAL",
                format!("cannot start the async runtime: {e}"),
            ));
            return std::process::ExitCode::from(error::EXIT_ERROR);
        }
    };
    let code = match runtime.block_on(cmd::dispatch(&cli, &printer)) {
        Ok(code) => code,
        Err(e) => {
            printer.error(&e);
            e.exit
        }
    };
    // A `logs --follow` stream or a hung request must not keep the process alive.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    std::process::ExitCode::from(code)
}
