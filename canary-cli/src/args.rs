//! The command line: subcommands, connection settings and spec overrides (clap derive).
//!
//! Every connection setting and every override also reads a `CANARY_*` environment variable; a
//! flag beats the variable, the variable beats the spec file. Defaults match the local stack of
//! `scripts/stack/env.sh`.

use std::net::SocketAddr;
use std::path::PathBuf;

use canary_core::{HumanDuration, Track};
use clap::{Args, Parser, Subcommand, ValueEnum};

fn duration(s: &str) -> Result<HumanDuration, String> {
    HumanDuration::parse(s).map_err(|e| e.to_string())
}

fn track(s: &str) -> Result<Track, String> {
    s.parse::<Track>().map_err(|e| e.to_string())
}

/// `canary`: canary deployments on Docker Swarm, with Traefik as the router and Prometheus as the
/// metrics source.
#[derive(Debug, Parser)]
#[command(
    name = "canary",
    version,
    about = "Canary deployments on Docker Swarm with Traefik and Prometheus",
    long_about = "Canary deployments on Docker Swarm with Traefik as the router and Prometheus as \
                  the metrics source.\n\nExit codes: 0 success (run: promoted), 2 rolled back or \
                  aborted, 1 error, 130/143 interrupted (the rollout's state is saved; `canary run` \
                  resumes it)."
)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: Global,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum OutputFormat {
    /// Lines for people, with a live progress line on a terminal.
    Human,
    /// One JSON object per line (JSON Lines) for every event, then a result object.
    Json,
}

/// Where the analysis reads its metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum MetricsArg {
    /// PromQL over the Prometheus HTTP API (`--prometheus-url`).
    Prometheus,
    /// Traefik's own `/metrics`, scraped by this process (`--traefik-url`).
    Traefik,
}

/// Where the router writes the routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum RouterArg {
    /// Traefik's file provider (`--traefik-dynamic-dir` on this machine).
    File,
    /// Traefik's etcd v3 provider (`--kv-url`), which every Traefik replica watches.
    Kv,
}

/// Options every subcommand takes.
#[derive(Debug, Args)]
pub(crate) struct Global {
    /// The spec file (YAML or JSON).
    #[arg(
        short = 'f',
        long = "file",
        env = "CANARY_SPEC",
        global = true,
        default_value = "canary.yaml"
    )]
    pub(crate) spec: PathBuf,

    /// Output format.
    #[arg(short = 'o', long, env = "CANARY_OUTPUT", global = true, value_enum, default_value_t = OutputFormat::Human)]
    pub(crate) output: OutputFormat,

    /// Log filter for diagnostics on stderr (e.g. `info`, `canary_swarm=debug`).
    #[arg(long, env = "CANARY_LOG", global = true, default_value = "warn")]
    pub(crate) log: String,

    /// How long a controller's lease lasts without a heartbeat. `canary run` renews its lease
    /// every third of this; the other commands treat a rollout whose lease is older as not
    /// driven. Use the same value for every command of a group.
    #[arg(long, env = "CANARY_LEASE", global = true, default_value = "15s", value_parser = duration)]
    pub(crate) lease: HumanDuration,

    #[command(flatten)]
    pub(crate) connect: Connect,

    #[command(flatten)]
    pub(crate) overrides: Overrides,
}

/// Where Docker, Traefik and Prometheus are.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Connections")]
pub(crate) struct Connect {
    /// The Docker daemon, as for the docker CLI (`unix:///var/run/docker.sock`, `tcp://host:2376`;
    /// `DOCKER_TLS_VERIFY` and `DOCKER_CERT_PATH` are read too).
    #[arg(long, env = "DOCKER_HOST", global = true)]
    pub(crate) docker_host: Option<String>,

    /// The directory Traefik's file provider watches (on this machine).
    #[arg(
        long,
        env = "CANARY_TRAEFIK_DYNAMIC_DIR",
        global = true,
        default_value = "/var/lib/canary-stack/dynamic"
    )]
    pub(crate) traefik_dynamic_dir: PathBuf,

    /// Traefik's API entry point (API, /ping, /metrics).
    #[arg(
        long,
        env = "CANARY_TRAEFIK_URL",
        global = true,
        default_value = "http://127.0.0.1:38082"
    )]
    pub(crate) traefik_url: String,

    /// Where the routes go: Traefik's file provider, or its etcd provider (`kv`) that every
    /// Traefik replica of a multi-node cluster watches.
    #[arg(long, env = "CANARY_ROUTER", global = true, value_enum, default_value_t = RouterArg::File)]
    pub(crate) router: RouterArg,

    /// The etcd v3 endpoint of Traefik's etcd provider (`--router kv`).
    #[arg(
        long,
        env = "CANARY_KV_URL",
        global = true,
        default_value = "http://127.0.0.1:2379"
    )]
    pub(crate) kv_url: String,

    /// The root key of Traefik's etcd provider (`providers.etcd.rootKey`).
    #[arg(
        long,
        env = "CANARY_KV_ROOT_KEY",
        global = true,
        default_value = "traefik"
    )]
    pub(crate) kv_root_key: String,

    /// The API of every Traefik replica (comma-separated or repeated); a route change is done
    /// once each shows it. Default: `--traefik-url` alone.
    #[arg(long, env = "CANARY_TRAEFIK_API", global = true, value_delimiter = ',')]
    pub(crate) traefik_api: Vec<String>,

    /// The Swarm overlay network through which Traefik reaches the tasks.
    #[arg(
        long,
        env = "CANARY_NETWORK",
        global = true,
        default_value = "canary-net"
    )]
    pub(crate) network: String,

    /// Traefik's `web` entry point, where `canary test` sends its requests.
    #[arg(
        long,
        env = "CANARY_WEB_URL",
        global = true,
        default_value = "http://127.0.0.1:38080"
    )]
    pub(crate) web_url: String,

    /// Where the analysis reads metrics.
    #[arg(long, env = "CANARY_METRICS", global = true, value_enum, default_value_t = MetricsArg::Prometheus)]
    pub(crate) metrics: MetricsArg,

    /// The Prometheus that scrapes Traefik.
    #[arg(
        long,
        env = "CANARY_PROMETHEUS_URL",
        global = true,
        default_value = "http://127.0.0.1:39090"
    )]
    pub(crate) prometheus_url: String,

    /// How often Prometheus scrapes Traefik (a rate needs two scrapes, so no query range is
    /// shorter than twice this); with `--metrics traefik`, how often this process scrapes.
    #[arg(long, env = "CANARY_SCRAPE_INTERVAL", global = true, default_value = "1s", value_parser = duration)]
    pub(crate) scrape_interval: HumanDuration,

    /// Traefik's JSON access log on this machine: the statistical judge then compares each
    /// request's own duration and status read from it (the checks keep reading `--metrics`).
    #[arg(long, env = "CANARY_TRAEFIK_ACCESS_LOG", global = true)]
    pub(crate) traefik_access_log: Option<PathBuf>,
}

/// Spec settings that flags and `CANARY_*` variables override. `--set` reaches every other field.
#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "Spec overrides")]
pub(crate) struct Overrides {
    /// `group`.
    #[arg(long, env = "CANARY_GROUP", global = true)]
    pub(crate) group: Option<String>,
    /// `stack` (`none` removes it).
    #[arg(long, env = "CANARY_STACK", global = true)]
    pub(crate) stack: Option<String>,
    /// The canary image: `REF` for every app, or `APP=REF` for one (repeatable).
    #[arg(long, env = "CANARY_IMAGE", global = true, value_delimiter = ',')]
    pub(crate) image: Vec<String>,
    /// Stable's first image (`canary deploy`): `REF` or `APP=REF` (repeatable).
    #[arg(
        long,
        env = "CANARY_STABLE_IMAGE",
        global = true,
        value_delimiter = ','
    )]
    pub(crate) stable_image: Vec<String>,
    /// Extra canary environment `KEY=VALUE` for every app, or `APP:KEY=VALUE` (repeatable).
    #[arg(long, env = "CANARY_CANARY_ENV", global = true, value_delimiter = ',')]
    pub(crate) canary_env: Vec<String>,
    /// `traffic.mode`: weighted or replicas.
    #[arg(long, env = "CANARY_MODE", global = true)]
    pub(crate) mode: Option<String>,
    /// `traffic.steps`, e.g. `20,50,80`.
    #[arg(long, env = "CANARY_STEPS", global = true)]
    pub(crate) steps: Option<String>,
    /// `traffic.stepWeight`.
    #[arg(long, env = "CANARY_STEP_WEIGHT", global = true)]
    pub(crate) step_weight: Option<u8>,
    /// `traffic.maxWeight`.
    #[arg(long, env = "CANARY_MAX_WEIGHT", global = true)]
    pub(crate) max_weight: Option<u8>,
    /// `traffic.interval`, e.g. `20s`.
    #[arg(long, env = "CANARY_INTERVAL", global = true)]
    pub(crate) interval: Option<String>,
    /// `traffic.headerRoute` as `NAME=VALUE`, or `none`.
    #[arg(long, env = "CANARY_HEADER_ROUTE", global = true)]
    pub(crate) header_route: Option<String>,
    /// `traffic.sticky`.
    #[arg(long, env = "CANARY_STICKY", global = true)]
    pub(crate) sticky: Option<bool>,
    /// `traffic.mirror` (percent).
    #[arg(long, env = "CANARY_MIRROR", global = true)]
    pub(crate) mirror: Option<u8>,
    /// `analysis.window`.
    #[arg(long, env = "CANARY_ANALYSIS_WINDOW", global = true)]
    pub(crate) analysis_window: Option<String>,
    /// `analysis.failureLimit`.
    #[arg(long, env = "CANARY_FAILURE_LIMIT", global = true)]
    pub(crate) failure_limit: Option<u32>,
    /// `analysis.inconclusiveLimit`.
    #[arg(long, env = "CANARY_INCONCLUSIVE_LIMIT", global = true)]
    pub(crate) inconclusive_limit: Option<u32>,
    /// `analysis.onInconclusive`: rollback or pause.
    #[arg(long, env = "CANARY_ON_INCONCLUSIVE", global = true)]
    pub(crate) on_inconclusive: Option<String>,
    /// `analysis.minRequests`.
    #[arg(long, env = "CANARY_MIN_REQUESTS", global = true)]
    pub(crate) min_requests: Option<u64>,
    /// `promote.strategy`: updateStable or shiftThenUpdate.
    #[arg(long, env = "CANARY_PROMOTE_STRATEGY", global = true)]
    pub(crate) promote_strategy: Option<String>,
    /// `timeouts.call`.
    #[arg(long, env = "CANARY_CALL_TIMEOUT", global = true)]
    pub(crate) call_timeout: Option<String>,
    /// `timeouts.converge`.
    #[arg(long, env = "CANARY_CONVERGE_TIMEOUT", global = true)]
    pub(crate) converge_timeout: Option<String>,
    /// Any spec field: `PATH=YAML`, e.g. `analysis.checks[0].min=0.95`, `apps.neotix-api.canaryReplicas=2`
    /// (`apps.*.x` sets it on every app). Applied last (repeatable; `;` separates them in
    /// `CANARY_SET`).
    #[arg(long = "set", env = "CANARY_SET", global = true, value_delimiter = ';')]
    pub(crate) set: Vec<String>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Build the apps' images from their `build` contexts, tagged `image` (canary) or
    /// `stableImage` (stable).
    Build(BuildArgs),
    /// Deploy or adopt the group: network, Traefik check, stable services, routes. Idempotent.
    Deploy(DeployArgs),
    /// Smoke test: requests to each app with and without the header route.
    Test(TestArgs),
    /// Run the progressive rollout to promotion or rollback (resumes a saved one).
    Run(RunArgs),
    /// The rollout's state, the weights in force, replicas, and the last analysis.
    Status,
    /// Go to the next step now, or with `--full` promote now.
    Promote(PromoteArgs),
    /// Roll the canary back now.
    Rollback,
    /// Hold the rollout at its current step.
    Pause,
    /// Continue a paused rollout.
    Resume,
    /// Log lines of the stable or canary services.
    Logs(LogsArgs),
    /// A live rollout dashboard in the browser (or, with `--report`, a rollout's HTML report).
    Dashboard(DashboardArgs),
    /// Run the engine again on recorded metrics (a `run --record` file, or a past span of
    /// Prometheus) on a paused clock: every decision with its figures, and when it would have
    /// rolled back or promoted. With `--set` (or any override flag): a what-if.
    Replay(ReplayArgs),
    /// Send one test message to each of the spec's notifications (Slack, Teams, Discord, JSON)
    /// and say what each answered. Needs no Docker. Exit code 1 when one was not delivered.
    NotifyTest,
}

/// `canary replay`.
#[derive(Debug, Args)]
pub(crate) struct ReplayArgs {
    /// The recording (`canary run --record FILE`). Its own spec is replayed, with the override
    /// flags on top, unless `--use-spec-file`.
    #[arg(value_name = "RECORDING", required_unless_present = "from")]
    pub(crate) recording: Option<PathBuf>,
    /// Instead of a recording, a past span of Prometheus (`--prometheus-url`) with the spec of
    /// `-f`: from when the canary got traffic (RFC 3339 in UTC, or Unix seconds)...
    #[arg(long, requires = "to", conflicts_with = "recording")]
    pub(crate) from: Option<String>,
    /// ... to the end of the span.
    #[arg(long, requires = "from")]
    pub(crate) to: Option<String>,
    /// Replay a recording with the spec of `-f` (and the overrides) instead of its own.
    #[arg(long, requires = "recording")]
    pub(crate) use_spec_file: bool,
}

/// `canary dashboard`.
#[derive(Debug, Args)]
pub(crate) struct DashboardArgs {
    /// More spec files, beside `-f` (each group's limits and actions). Without any spec that
    /// exists, only the groups of the state store are shown, read-only.
    #[arg(value_name = "SPEC")]
    pub(crate) specs: Vec<PathBuf>,
    /// Where to listen. Anything but loopback with `--allow-actions` needs `--token`.
    #[arg(long, env = "CANARY_DASHBOARD_ADDR", default_value = "127.0.0.1:0")]
    pub(crate) addr: SocketAddr,
    /// Let the page pause, resume, promote and roll back (each behind a confirmation).
    #[arg(long, env = "CANARY_DASHBOARD_ALLOW_ACTIONS")]
    pub(crate) allow_actions: bool,
    /// The bearer token actions need (16 to 512 characters); prefer the variable, which `ps`
    /// does not show.
    #[arg(long, env = "CANARY_DASHBOARD_TOKEN", hide_env_values = true)]
    pub(crate) token: Option<String>,
    /// Write the self-contained HTML report of the spec's group to this file and exit.
    #[arg(long, value_name = "FILE")]
    pub(crate) report: Option<PathBuf>,
}

/// `canary build`.
#[derive(Debug, Args)]
pub(crate) struct BuildArgs {
    /// Which image to build: `stable` (tag `stableImage`) or `canary` (tag `image`). Default:
    /// both (stable for the apps that have a `stableImage`).
    #[arg(long, value_parser = track)]
    pub(crate) track: Option<Track>,
    /// Push each image built to its registry (`registry:port/name:tag`), with the credentials of
    /// `~/.docker/config.json`, and print its registry digest.
    #[arg(long)]
    pub(crate) push: bool,
    /// Only this app.
    #[arg(long)]
    pub(crate) app: Option<String>,
    /// Extra build argument `KEY=VALUE` (repeatable). `CANARY_TRACK`, `CANARY_IMAGE` and
    /// `CANARY_TAG` are always passed.
    #[arg(long = "build-arg")]
    pub(crate) build_args: Vec<String>,
}

/// `canary deploy`.
#[derive(Debug, Args)]
pub(crate) struct DeployArgs {
    /// Put existing stable services back on `stableImage` (and `stableReplicas`) when no rollout
    /// is in progress, e.g. to run a demo again after a promotion.
    #[arg(long)]
    pub(crate) reset_stable: bool,
    /// Extra label `KEY=VALUE` on the stable services created (repeatable).
    #[arg(long = "label")]
    pub(crate) labels: Vec<String>,
    /// Endpoint mode of created services: `dnsrr` (no IPVS needed) or `vip`.
    #[arg(long, default_value = "dnsrr")]
    pub(crate) endpoint_mode: String,
    /// When Traefik's service does not exist, deploy it from this (local) image, e.g.
    /// `canary-traefik:3.7.9`, reading Docker through a read-only API proxy
    /// (`--docker-proxy-image`). Without it an unreachable Traefik is an error.
    #[arg(long, requires = "docker_proxy_image")]
    pub(crate) traefik_image: Option<String>,
    /// The read-only Docker API proxy's image Traefik reads Docker through (with
    /// `--traefik-image`), e.g. `canary-socket-proxy:0.1.0` (tools/socket-proxy).
    #[arg(long)]
    pub(crate) docker_proxy_image: Option<String>,
    /// The Traefik service's name (with `--traefik-image`).
    #[arg(long, env = "CANARY_TRAEFIK_SERVICE", default_value = "canary-traefik")]
    pub(crate) traefik_service: String,
}

/// `canary test`.
#[derive(Debug, Args)]
pub(crate) struct TestArgs {
    /// Requests per app and per variant (with and without the header).
    #[arg(short = 'n', long, default_value_t = 10)]
    pub(crate) requests: u32,
    /// Only this app.
    #[arg(long)]
    pub(crate) app: Option<String>,
}

/// `canary run`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// Start a new rollout even if one of the same images already ended.
    #[arg(long, env = "CANARY_RESTART")]
    pub(crate) restart: bool,
    /// Take over a rollout whose lease expired even if another host drove it.
    #[arg(long, env = "CANARY_TAKEOVER")]
    pub(crate) takeover: bool,
    /// How often commands from other processes are looked for.
    #[arg(long, env = "CANARY_POLL", default_value = "1s", value_parser = duration)]
    pub(crate) poll: HumanDuration,
    /// Serve the engine's decisions as Prometheus metrics on `http://ADDR/metrics`.
    #[arg(long, env = "CANARY_METRICS_ADDR")]
    pub(crate) metrics_addr: Option<SocketAddr>,
    /// Record every metrics query with its answer, and every event, to this file (JSON Lines,
    /// `canary_core::recording`), for `canary replay`.
    #[arg(long, value_name = "FILE")]
    pub(crate) record: Option<PathBuf>,
    /// With a compose file (-f): do not write the promoted image into it; print the patch.
    #[arg(long, env = "CANARY_NO_WRITE")]
    pub(crate) no_write: bool,
}

/// `canary promote`.
#[derive(Debug, Args)]
pub(crate) struct PromoteArgs {
    /// Promote now, skipping the remaining steps and analysis.
    #[arg(long)]
    pub(crate) full: bool,
    /// With a compose file (-f), when the promotion is carried out here: do not write the
    /// promoted image into it; print the patch.
    #[arg(long, env = "CANARY_NO_WRITE")]
    pub(crate) no_write: bool,
}

/// `canary logs`.
#[derive(Debug, Args)]
pub(crate) struct LogsArgs {
    /// Which services: stable or canary.
    #[arg(long, value_parser = track)]
    pub(crate) track: Track,
    /// Only this app.
    #[arg(long)]
    pub(crate) app: Option<String>,
    /// Keep streaming new lines.
    #[arg(long)]
    pub(crate) follow: bool,
    /// Only the last N lines per task.
    #[arg(long)]
    pub(crate) tail: Option<u64>,
    /// Only lines since this long ago (e.g. `10m`).
    #[arg(long, value_parser = duration)]
    pub(crate) since: Option<HumanDuration>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn dashboard_flags_parse_and_the_token_stays_hidden() {
        let cli = Cli::try_parse_from([
            "canary",
            "dashboard",
            "-f",
            "a.yaml",
            "b.yaml",
            "--addr",
            "0.0.0.0:8090",
            "--allow-actions",
            "--token",
            "0123456789abcdef",
        ])
        .unwrap();
        match cli.command {
            Command::Dashboard(d) => {
                assert_eq!(d.specs, [PathBuf::from("b.yaml")]);
                assert_eq!(d.addr.port(), 8090);
                assert!(d.allow_actions && d.report.is_none());
            }
            other => panic!("{other:?}"),
        }
        let help = Cli::command()
            .find_subcommand_mut("dashboard")
            .unwrap()
            .render_long_help()
            .to_string();
        assert!(help.contains("CANARY_DASHBOARD_TOKEN"), "{help}");
    }

    #[test]
    fn flags_parse() {
        let cli = Cli::try_parse_from([
            "canary",
            "run",
            "-f",
            "x.yaml",
            "--restart",
            "--lease",
            "3s",
            "--steps",
            "10,20",
            "--set",
            "traffic.interval=2s",
            "-o",
            "json",
        ])
        .unwrap();
        assert_eq!(cli.global.output, OutputFormat::Json);
        assert_eq!(cli.global.overrides.steps.as_deref(), Some("10,20"));
        match cli.command {
            Command::Run(r) => {
                assert!(r.restart);
                assert_eq!(cli.global.lease.get().as_secs(), 3);
            }
            other => panic!("{other:?}"),
        }
    }
}
