//! What the fault suite shares: the faults themselves (a killed task, a stopped process, a cut
//! connection), Traefik's own request counters per service, and the table every case adds a row
//! to (printed, and kept in `target/ci-artifacts/faults.md`).

use std::collections::BTreeMap;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::docker;
use crate::load::http_get;

/// `docker kill` of every running container of a Swarm service (a crash, an OOM kill);
/// how many were killed.
pub fn kill_service_containers(service: &str) -> usize {
    let ids = docker::ok(&[
        "ps",
        "-q",
        "--filter",
        &format!("label=com.docker.swarm.service.name={service}"),
    ]);
    let ids: Vec<&str> = ids.lines().filter(|l| !l.is_empty()).collect();
    for id in &ids {
        let _ = docker::run(&["kill", id]);
    }
    ids.len()
}

/// Traefik's `traefik_service_requests_total`, summed per (service, code class `2xx`/`4xx`/...),
/// read from its `/metrics` on 127.0.0.1.
pub fn traefik_requests(api_port: u16) -> BTreeMap<(String, String), u64> {
    let mut out = BTreeMap::new();
    let Ok(m) = http_get(
        api_port,
        "127.0.0.1",
        "/metrics",
        &[],
        Duration::from_secs(5),
    ) else {
        return out;
    };
    for line in m.body.lines() {
        let Some(rest) = line.strip_prefix("traefik_service_requests_total{") else {
            continue;
        };
        let Some((labels, value)) = rest.split_once("} ") else {
            continue;
        };
        let label = |k: &str| {
            labels
                .split(',')
                .find_map(|kv| kv.strip_prefix(&format!("{k}=\"")))
                .map(|v| v.trim_end_matches('"').to_string())
        };
        let (Some(service), Some(code)) = (label("service"), label("code")) else {
            continue;
        };
        let class = format!("{}xx", &code[..1]);
        let n = value.trim().parse::<f64>().unwrap_or(0.0) as u64;
        *out.entry((service, class)).or_default() += n;
    }
    out
}

/// Non-2xx answers Traefik counted for services whose name starts with `prefix`, between two
/// reads of [`traefik_requests`].
pub fn failed_between(
    before: &BTreeMap<(String, String), u64>,
    after: &BTreeMap<(String, String), u64>,
    prefix: &str,
) -> u64 {
    after
        .iter()
        .filter(|((s, class), _)| s.starts_with(prefix) && class != "2xx")
        .map(|(k, n)| n - before.get(k).copied().unwrap_or(0))
        .sum()
}

/// A TCP proxy on 127.0.0.1 to `127.0.0.1:target` that can be cut: the stand-in for an API the
/// controller loses (a firewall change, a dead load balancer).
pub struct CutProxy {
    /// Its port.
    pub port: u16,
    cut: Arc<AtomicBool>,
}

impl CutProxy {
    /// Starts proxying.
    pub fn start(target: u16) -> Self {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().expect("addr").port();
        let cut = Arc::new(AtomicBool::new(false));
        let c = cut.clone();
        std::thread::spawn(move || {
            for conn in l.incoming() {
                let Ok(client) = conn else { continue };
                if c.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                let cut = c.clone();
                for (mut from, mut to) in [
                    (
                        client.try_clone().expect("clone"),
                        server.try_clone().expect("clone"),
                    ),
                    (server, client),
                ] {
                    let cut = cut.clone();
                    std::thread::spawn(move || {
                        let _ = from.set_read_timeout(Some(Duration::from_millis(200)));
                        let mut buf = [0u8; 16 * 1024];
                        loop {
                            if cut.load(Ordering::SeqCst) {
                                let _ = to.shutdown(std::net::Shutdown::Both);
                                return;
                            }
                            match std::io::Read::read(&mut from, &mut buf) {
                                Ok(0) => {
                                    let _ = to.shutdown(std::net::Shutdown::Write);
                                    return;
                                }
                                Ok(n) => {
                                    if to.write_all(&buf[..n]).is_err() {
                                        return;
                                    }
                                }
                                Err(e)
                                    if matches!(
                                        e.kind(),
                                        std::io::ErrorKind::WouldBlock
                                            | std::io::ErrorKind::TimedOut
                                    ) => {}
                                Err(_) => return,
                            }
                        }
                    });
                }
            }
        });
        CutProxy { port, cut }
    }

    /// From now on, every connection is closed at once.
    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
    }
}

/// A process stopped by a signal (`SIGSTOP`/`SIGCONT`/`SIGTERM`/`SIGKILL`).
pub fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status();
}

/// The command line of a running process, to start it again the same way.
pub fn cmdline(pid: u32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            b.split(|c| *c == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// One row of the fault table.
#[derive(Debug, Clone)]
pub struct Row {
    /// The fault.
    pub fault: String,
    /// Failed requests, as `failed / total` with where they fell.
    pub requests: String,
    /// How the rollout ended.
    pub outcome: String,
    /// Time from the fault to the engine acting on it.
    pub time_to_act: String,
}

/// Prints a row and adds it to `target/ci-artifacts/faults.md`.
pub fn record(row: &Row) {
    let line = format!(
        "| {} | {} | {} | {} |",
        row.fault, row.requests, row.outcome, row.time_to_act
    );
    eprintln!("FAULT TABLE {line}");
    let dir = artifacts_dir();
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("faults.md");
    let new = !path.exists();
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
    {
        if new {
            let _ = writeln!(
                f,
                "| fault | failed / total requests | outcome | time to act |\n|---|---|---|---|"
            );
        }
        let _ = writeln!(f, "{line}");
    }
}

fn artifacts_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("ci-artifacts")
}
