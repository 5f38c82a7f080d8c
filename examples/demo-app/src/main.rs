//! `canary-demo-app`: a tiny HTTP/1.1 backend for canary rollout tests.
//!
//! Every path answers `200` with `{"version":..,"path":..,"host":..}` and an `X-Version`
//! header, except for injected faults. See `--help` for the environment variables.

mod config;
mod fault;
mod http;
mod metrics;
mod server;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use config::Config;
use server::App;

const USAGE: &str = "\
canary-demo-app: tiny HTTP/1.1 demo backend for canary rollouts

USAGE:
    canary-demo-app              serve
    canary-demo-app healthcheck  GET http://127.0.0.1:$PORT/health, exit 0 when 200 (for HEALTHCHECK)
    canary-demo-app --help | --version

ENVIRONMENT (empty counts as unset; a bad value exits 2):
    PORT                  listen port, default 8080
    BIND                  listen address, default 0.0.0.0
    VERSION               reported in body, X-Version and metrics, default dev ([A-Za-z0-9._:+-]{1,64})
    ERROR_RATE            0..1 share of requests answered 500 (not /health, /api/health,
                          /gcp/api/health, /metrics), default 0
    LATENCY_MS            delay added to the same requests, default 0
    DRAIN_SECONDS         on SIGTERM/SIGINT keep serving this long, then exit 0, default 3
                          (a second signal exits 1 at once)
    IDLE_TIMEOUT_SECONDS  close idle keep-alive connections after this, default 120
    EXIT_AFTER_MS         exit 3 this long after start (a crashing build), default never
";

fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|s| s.trim().to_owned())
                .filter(|h| !h.is_empty())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

fn healthcheck(port: u16) -> ExitCode {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let run = || -> std::io::Result<bool> {
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
        s.set_read_timeout(Some(Duration::from_secs(2)))?;
        s.write_all(b"GET /health HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
        let mut buf = [0u8; 16];
        let n = s.read(&mut buf)?;
        Ok(buf[..n].starts_with(b"HTTP/1.0 200 "))
    };
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("healthcheck: /health did not answer 200");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("healthcheck: {e}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cfg = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("canary-demo-app: {e}");
            return ExitCode::from(2);
        }
    };
    match args.first().map(String::as_str) {
        None => {}
        Some("-h" | "--help" | "help") => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some("-V" | "--version") => {
            println!("canary-demo-app {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Some("healthcheck") => return healthcheck(cfg.port),
        Some(other) => {
            eprintln!("canary-demo-app: unknown argument {other:?}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    }

    // First signal sets `term`; a second one (while `term` is set) exits 1 at once.
    let term = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        let reg = signal_hook::flag::register_conditional_shutdown(sig, 1, Arc::clone(&term))
            .and_then(|_| signal_hook::flag::register(sig, Arc::clone(&term)));
        if let Err(e) = reg {
            eprintln!("canary-demo-app: cannot install signal handler: {e}");
            return ExitCode::FAILURE;
        }
    }

    let addr = SocketAddr::from((cfg.bind, cfg.port));
    let listener = match TcpListener::bind(addr) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("canary-demo-app: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let host = hostname();
    eprintln!(
        "canary-demo-app version={} host={} listening on {} error_rate={} latency_ms={} drain_seconds={}",
        cfg.version,
        host,
        addr,
        cfg.error_rate,
        cfg.latency.as_millis(),
        cfg.drain.as_secs_f64()
    );
    let drain = cfg.drain;
    if let Some(after) = cfg.exit_after {
        std::thread::spawn(move || {
            std::thread::sleep(after);
            eprintln!("canary-demo-app: EXIT_AFTER_MS reached: exiting 3 (a crash)");
            std::process::exit(3);
        });
    }
    let app = Arc::new(App::new(cfg, host, fault::Faults::clock_seed()));

    let acceptor = Arc::clone(&app);
    let spawned = std::thread::Builder::new()
        .name("accept".to_owned())
        .spawn(move || {
            for stream in listener.incoming() {
                match stream {
                    Ok(s) => {
                        let app = Arc::clone(&acceptor);
                        if let Err(e) = std::thread::Builder::new()
                            .name("conn".to_owned())
                            .stack_size(256 * 1024)
                            .spawn(move || app.serve(s))
                        {
                            eprintln!("canary-demo-app: cannot spawn connection thread: {e}");
                        }
                    }
                    Err(e) => {
                        eprintln!("canary-demo-app: accept: {e}");
                        std::thread::sleep(Duration::from_millis(50));
                    }
                }
            }
        });
    if let Err(e) = spawned {
        eprintln!("canary-demo-app: cannot spawn accept thread: {e}");
        return ExitCode::FAILURE;
    }

    while !term.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(50));
    }
    app.draining.store(true, Ordering::Relaxed);
    eprintln!(
        "canary-demo-app: signal received, draining for {:.1}s (still serving)",
        drain.as_secs_f64()
    );
    let until = Instant::now() + drain;
    while Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50).min(until - Instant::now()));
    }
    eprintln!("canary-demo-app: drained, exiting 0");
    ExitCode::SUCCESS
}
