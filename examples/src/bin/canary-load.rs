//! A steady HTTP load for the demo, benchmarks and tests: `--rps` requests a second to one URL,
//! counting answers by status and by the version that answered (`X-Version` header), and failed
//! requests (connection errors and 5xx). Prints one JSON summary at the end (and, with
//! `--progress`, one line a second).
//!
//! ```text
//! canary-load --url http://127.0.0.1:38080/api/x --host api.localhost --rps 50 --duration 60s
//! ```

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Parser;

#[derive(Parser, Debug)]
#[command(about = "Steady HTTP load that counts answers per version")]
struct Args {
    /// The URL (keep it on 127.0.0.1).
    #[arg(long)]
    url: String,
    /// Host header.
    #[arg(long)]
    host: Option<String>,
    /// Extra header `Name: value` (repeatable).
    #[arg(long = "header")]
    headers: Vec<String>,
    /// Requests per second.
    #[arg(long, default_value_t = 50)]
    rps: u32,
    /// How long, e.g. 30s or 2m; 0 runs until killed or until --stop-file exists.
    #[arg(long, default_value = "30s")]
    duration: String,
    /// Stop when this file exists.
    #[arg(long)]
    stop_file: Option<std::path::PathBuf>,
    /// Per-request timeout in ms.
    #[arg(long, default_value_t = 5000)]
    timeout_ms: u64,
    /// Print a line a second.
    #[arg(long)]
    progress: bool,
}

#[derive(Default, Debug, serde::Serialize)]
struct Stats {
    sent: u64,
    ok: u64,
    failed: u64,
    by_status: BTreeMap<String, u64>,
    by_version: BTreeMap<String, u64>,
    /// Unix ms of the last answer from each version.
    last_seen_ms: BTreeMap<String, u64>,
    errors: BTreeMap<String, u64>,
}

fn parse_duration(s: &str) -> Duration {
    let s = s.trim();
    let (num, mul) = if let Some(n) = s.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60.0)
    } else {
        (s, 1.0)
    };
    let v: f64 = num.parse().unwrap_or_else(|_| {
        eprintln!("canary-load: bad duration {s:?}");
        std::process::exit(2)
    });
    Duration::from_secs_f64(v * mul)
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let duration = parse_duration(&args.duration);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(args.timeout_ms))
        .pool_max_idle_per_host(64)
        .build()
        .expect("client");
    let stats = Arc::new(Mutex::new(Stats::default()));
    let start = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / args.rps.max(1) as f64));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut tasks = tokio::task::JoinSet::new();
    let mut last_print = Instant::now();
    loop {
        if !duration.is_zero() && start.elapsed() >= duration {
            break;
        }
        if args.stop_file.as_ref().is_some_and(|f| f.exists()) {
            break;
        }
        tick.tick().await;
        let mut req = client.get(&args.url);
        if let Some(h) = &args.host {
            req = req.header("Host", h);
        }
        for h in &args.headers {
            if let Some((k, v)) = h.split_once(':') {
                req = req.header(k.trim(), v.trim());
            }
        }
        let shared = stats.clone();
        shared.lock().unwrap().sent += 1;
        tasks.spawn(async move {
            let r = req.send().await;
            let mut s = shared.lock().unwrap();
            match r {
                Ok(resp) => {
                    let code = resp.status().as_u16();
                    *s.by_status.entry(code.to_string()).or_default() += 1;
                    let version = resp
                        .headers()
                        .get("x-version")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-")
                        .to_string();
                    *s.by_version.entry(version.clone()).or_default() += 1;
                    s.last_seen_ms.insert(version, now_ms());
                    if code >= 500 {
                        s.failed += 1;
                    } else {
                        s.ok += 1;
                    }
                }
                Err(e) => {
                    s.failed += 1;
                    let kind = if e.is_timeout() {
                        "timeout"
                    } else if e.is_connect() {
                        "connect"
                    } else {
                        "other"
                    };
                    *s.errors.entry(kind.into()).or_default() += 1;
                }
            }
        });
        while tasks.try_join_next().is_some() {}
        if args.progress && last_print.elapsed() >= Duration::from_secs(1) {
            last_print = Instant::now();
            let s = stats.lock().unwrap();
            eprintln!(
                "load: {:>5.1}s sent {} ok {} failed {} versions {:?}",
                start.elapsed().as_secs_f64(),
                s.sent,
                s.ok,
                s.failed,
                s.by_version
            );
        }
    }
    while tasks.join_next().await.is_some() {}
    let s = stats.lock().unwrap();
    println!("{}", serde_json::to_string(&*s).expect("serializes"));
}
