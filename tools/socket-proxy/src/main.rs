//! # canary-socket-proxy
//!
//! A read-only Docker API proxy for Traefik's swarm provider. It listens on TCP, passes the few
//! GET (and HEAD) requests the provider makes to the Docker socket, and answers everything else
//! with `403 {"message": "..."}`. Containers' environments and command lines are removed from
//! what it passes back. The local stack (`scripts/stack/up.sh`) runs it as the Swarm
//! service `canary-docker-proxy`, the only container with the socket mounted, on an internal
//! overlay network it shares with Traefik alone; Traefik gets no socket at all. See
//! docs/local-stack.md ("Docker socket proxy").
//!
//! What it owns, by module:
//!
//! - `policy`: the allowlist (endpoints, methods, query keys), with the Traefik source lines
//!   each entry comes from;
//! - `target`: parsing the request target into checked segments and query pairs, and the one
//!   canonical spelling that is sent on;
//! - `proxy`: one request, judged, refused or forwarded, its answer streamed back;
//! - `redact`: containers' environments and command lines taken out of `/services` and
//!   `/tasks` answers (Traefik reads neither; a canary's environment may hold secrets);
//! - `upstream`: the HTTP/1.1 connection to the unix socket;
//! - this file: arguments, the listener, connection limits and timeouts, signals.
//!
//! Why hyper rather than hand-written HTTP on tokio: the proxy must stream Docker's answers
//! (chunked or not) and parse hostile request heads without panicking. hyper 1 does both, and
//! enforces a header-size limit and a header-read timeout. It is already in the workspace's
//! dependency tree through bollard and reqwest. The proxy never forwards the client's bytes:
//! it forwards a request rebuilt from the parts the allowlist checked.

mod policy;
mod proxy;
mod redact;
mod target;
mod upstream;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use proxy::log;
use upstream::Docker;

const USAGE: &str = "\
canary-socket-proxy: read-only Docker API proxy for Traefik's swarm provider

USAGE:
    canary-socket-proxy [--listen ADDR] [--socket PATH] [--log-allowed]
    canary-socket-proxy --help | --version

OPTIONS (or environment; a flag wins):
    --listen ADDR   CANARY_SOCKET_PROXY_LISTEN   TCP address to serve, default 127.0.0.1:2375
    --socket PATH   CANARY_SOCKET_PROXY_SOCKET   Docker socket, default /var/run/docker.sock
    --log-allowed   CANARY_SOCKET_PROXY_LOG_ALLOWED=1   log allowed requests too (refusals and
                                                 failures always are)

Allowed: HEAD|GET /_ping, GET /version, /services, /tasks, /networks, /nodes/{id}
(optionally under /vX.Y, query keys filters and status only). Everything else: 403.
";

/// Most client connections served at once; more are closed at accept. Traefik holds one or two.
const MAX_CONNECTIONS: usize = 64;
/// A client must send a whole request head within this time; an idle keep-alive connection is
/// closed after it too (hyper starts the clock when it waits for the next head).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(15);
/// Request head size limit (request line plus headers), in bytes: more earns a 431.
const MAX_HEAD_BYTES: usize = 8192;
/// Read/write buffer limit per connection (pipelined requests queue in it), in bytes.
const MAX_BUF_BYTES: usize = 64 * 1024;
/// Most request headers.
const MAX_HEADERS: usize = 32;

#[derive(Debug)]
struct Config {
    listen: SocketAddr,
    socket: PathBuf,
    log_allowed: bool,
}

enum Parsed {
    Run(Config),
    Exit(ExitCode),
}

fn parse_args(args: &[String], env: impl Fn(&str) -> Option<String>) -> Result<Parsed, String> {
    let nonempty = |k: &str| env(k).filter(|v| !v.is_empty());
    let mut listen = nonempty("CANARY_SOCKET_PROXY_LISTEN").unwrap_or("127.0.0.1:2375".into());
    let mut socket =
        nonempty("CANARY_SOCKET_PROXY_SOCKET").unwrap_or("/var/run/docker.sock".into());
    let mut log_allowed = nonempty("CANARY_SOCKET_PROXY_LOG_ALLOWED").is_some_and(|v| v == "1");
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--help" | "-h" => {
                print!("{USAGE}");
                return Ok(Parsed::Exit(ExitCode::SUCCESS));
            }
            "--version" | "-V" => {
                println!("canary-socket-proxy {}", env!("CARGO_PKG_VERSION"));
                return Ok(Parsed::Exit(ExitCode::SUCCESS));
            }
            "--listen" => listen = it.next().ok_or("--listen needs an address")?.clone(),
            "--socket" => socket = it.next().ok_or("--socket needs a path")?.clone(),
            "--log-allowed" => log_allowed = true,
            other => return Err(format!("unknown argument {}", proxy::quoted(other))),
        }
    }
    let listen = listen
        .parse()
        .map_err(|e| format!("listen address {}: {e}", proxy::quoted(&listen)))?;
    if socket.len() > 4096 {
        return Err("socket path too long".into());
    }
    Ok(Parsed::Run(Config {
        listen,
        socket: PathBuf::from(socket),
        log_allowed,
    }))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = match parse_args(&args, |k| std::env::var(k).ok()) {
        Ok(Parsed::Run(c)) => c,
        Ok(Parsed::Exit(code)) => return code,
        Err(e) => {
            eprintln!("canary-socket-proxy: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("canary-socket-proxy: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("canary-socket-proxy: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> Result<(), String> {
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| format!("cannot install the SIGTERM handler: {e}"))?;
    let docker = Arc::new(Docker::new(config.socket));
    let log_allowed = config.log_allowed;
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    log(format_args!(
        "listening on {} for {} (read-only allowlist for Traefik's swarm provider)",
        listener
            .local_addr()
            .map_or(config.listen.to_string(), |a| a.to_string()),
        docker.socket().display()
    ));
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // EMFILE and friends: wait a little instead of spinning.
                    log(format_args!("accept: {e}"));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = term.recv() => {
                log(format_args!("SIGTERM: exiting"));
                return Ok(());
            }
            _ = tokio::signal::ctrl_c() => return Ok(()),
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            log(format_args!(
                "{peer}: closed at once, {MAX_CONNECTIONS} connections already open"
            ));
            continue;
        };
        // Without it, a head and a body written separately meet Nagle and the client's delayed
        // ACK: measured 45 ms per keep-alive request instead of about 1.
        let _ = stream.set_nodelay(true);
        let docker = docker.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let docker = docker.clone();
                async move { proxy::handle(req, &docker, log_allowed).await }
            });
            let result = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .max_header_size(MAX_HEAD_BYTES)
                .max_buf_size(MAX_BUF_BYTES)
                .max_headers(MAX_HEADERS)
                .serve_connection(TokioIo::new(stream), service)
                .await;
            if let Err(e) = result {
                if !e.is_incomplete_message() {
                    log(format_args!("{peer}: {e}"));
                }
            }
            drop(slot);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str], env: &[(&str, &str)]) -> Result<Config, String> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let env = |k: &str| {
            env.iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| v.to_string())
        };
        match parse_args(&args, env)? {
            Parsed::Run(c) => Ok(c),
            Parsed::Exit(_) => Err("exit".into()),
        }
    }

    #[test]
    fn defaults_env_and_flags() {
        let c = run(&[], &[]).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:2375");
        assert_eq!(c.socket, PathBuf::from("/var/run/docker.sock"));
        assert!(!c.log_allowed);
        assert!(run(&["--log-allowed"], &[]).unwrap().log_allowed);
        assert!(
            run(&[], &[("CANARY_SOCKET_PROXY_LOG_ALLOWED", "1")])
                .unwrap()
                .log_allowed
        );
        let c = run(
            &[],
            &[
                ("CANARY_SOCKET_PROXY_LISTEN", "0.0.0.0:1"),
                ("CANARY_SOCKET_PROXY_SOCKET", "/s"),
            ],
        )
        .unwrap();
        assert_eq!(
            (c.listen.to_string().as_str(), c.socket.to_str()),
            ("0.0.0.0:1", Some("/s"))
        );
        let c = run(
            &["--listen", "[::1]:9", "--socket", "/t"],
            &[("CANARY_SOCKET_PROXY_LISTEN", "0.0.0.0:1")],
        )
        .unwrap();
        assert_eq!(
            (c.listen.to_string().as_str(), c.socket.to_str()),
            ("[::1]:9", Some("/t"))
        );
        // An empty variable counts as unset.
        assert_eq!(
            run(&[], &[("CANARY_SOCKET_PROXY_LISTEN", "")])
                .unwrap()
                .listen
                .port(),
            2375
        );
    }

    #[test]
    fn bad_arguments_are_errors() {
        assert!(run(&["--listen"], &[])
            .unwrap_err()
            .contains("needs an address"));
        assert!(run(&["--listen", "nope"], &[])
            .unwrap_err()
            .contains("listen address"));
        assert!(run(&["--bogus"], &[])
            .unwrap_err()
            .contains("unknown argument"));
        assert!(run(&[], &[("CANARY_SOCKET_PROXY_LISTEN", "x:y")]).is_err());
    }
}
