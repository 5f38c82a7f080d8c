//! # canary-scrape-proxy
//!
//! A forward HTTP proxy for Prometheus scrapes of Swarm tasks. Prometheus' Docker Swarm
//! discovery (role `tasks`) names each task by its address on an overlay network, which a
//! Prometheus outside the swarm cannot reach; with `proxy_url` pointing here, it asks this
//! proxy, which runs as a Swarm service on that network, for `GET http://<task>:<port>/metrics`.
//! Nothing else passes: GET only, the one path, IPv4 targets inside the allowed networks, one
//! request per connection, bounded sizes and timeouts. The local stack (`scripts/stack/up.sh`)
//! runs it as `canary-scrape-proxy` on `canary-net`, published on 127.0.0.1 only. A Prometheus
//! running inside the swarm needs none of this. See docs/local-stack.md.
//!
//! - `request`: what a scrape may ask for (pure, tested);
//! - `forward`: one connection, judged, the target's answer copied back;
//! - this file: arguments, the listener and the connection limit.

mod forward;
mod request;

use std::net::TcpListener;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use request::{Net, Policy};

const USAGE: &str = "\
canary-scrape-proxy: forward proxy for Prometheus scrapes of Swarm tasks

USAGE:
    canary-scrape-proxy [--listen ADDR] [--allow CIDR]... [--path PATH]
    canary-scrape-proxy --help | --version

OPTIONS:
    --listen ADDR   address to serve, default 0.0.0.0:9099
    --allow CIDR    network a target may be in (repeatable), default 10.0.0.0/8
    --path PATH     the one path that may be scraped, default /metrics
";

/// Connections served at once; more are closed at once (Prometheus retries at the next scrape).
const MAX_CONNECTIONS: usize = 64;

fn main() -> ExitCode {
    let (listen, policy) = match parse_args(std::env::args().skip(1)) {
        Ok(Some(a)) => a,
        Ok(None) => return ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("canary-scrape-proxy: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let listener = match TcpListener::bind(&listen) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("canary-scrape-proxy: cannot listen on {listen}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let nets: Vec<String> = policy.nets.iter().map(ToString::to_string).collect();
    eprintln!(
        "canary-scrape-proxy: listening on {listen}, GET {} on {}",
        policy.path,
        nets.join(", ")
    );
    let policy = Arc::new(policy);
    let open = Arc::new(AtomicUsize::new(0));
    for conn in listener.incoming() {
        let Ok(client) = conn else { continue };
        if open.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            open.fetch_sub(1, Ordering::SeqCst);
            continue; // dropped: closes the connection
        }
        let (policy, done) = (Arc::clone(&policy), Arc::clone(&open));
        let spawned = std::thread::Builder::new().spawn(move || {
            if let Err(e) = forward::serve(client, &policy) {
                eprintln!("canary-scrape-proxy: {e}");
            }
            done.fetch_sub(1, Ordering::SeqCst);
        });
        if spawned.is_err() {
            open.fetch_sub(1, Ordering::SeqCst);
        }
    }
    ExitCode::SUCCESS
}

/// The listen address and the policy; `None` when `--help` or `--version` was answered.
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<(String, Policy)>, String> {
    let mut listen = "0.0.0.0:9099".to_string();
    let mut nets = Vec::new();
    let mut path = "/metrics".to_string();
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--listen" => listen = value()?,
            "--allow" => nets.push(Net::parse(&value()?)?),
            "--path" => {
                path = value()?;
                if !path.starts_with('/') || path.contains(['?', '#', ' ']) || path.len() > 200 {
                    return Err(format!("--path {path:?}: want a plain absolute path"));
                }
            }
            "--help" | "-h" => {
                print!("{USAGE}");
                return Ok(None);
            }
            "--version" => {
                println!("canary-scrape-proxy {}", env!("CARGO_PKG_VERSION"));
                return Ok(None);
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if nets.is_empty() {
        nets.push(Net::parse("10.0.0.0/8")?);
    }
    Ok(Some((listen, Policy { nets, path })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Result<Option<(String, Policy)>, String> {
        parse_args(s.split_whitespace().map(String::from))
    }

    #[test]
    fn arguments() {
        let (l, p) = args("").unwrap().unwrap();
        assert_eq!(
            (l.as_str(), p.path.as_str(), p.nets.len()),
            ("0.0.0.0:9099", "/metrics", 1)
        );
        let (_, p) = args("--allow 10.0.1.0/24 --allow 10.0.2.0/24")
            .unwrap()
            .unwrap();
        assert_eq!(p.nets.len(), 2);
        assert!(args("--allow").is_err());
        assert!(args("--allow 10.0.0.0").is_err());
        assert!(args("--path metrics").is_err());
        assert!(args("--path /m?x").is_err());
        assert!(args("--nope").is_err());
        assert!(args("--version").unwrap().is_none());
    }
}
