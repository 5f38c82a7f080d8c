//! Helpers of the real-stack tests: the stack's settings, Swarm services made with the `docker`
//! CLI and removed on drop, and HTTP load sent only to Traefik on 127.0.0.1.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use canary_core::spec::TrafficMode;
use canary_core::traits::TaskEndpoint;
use canary_core::{AppRef, AppRoute, Orchestrator, ServiceName};
use canary_swarm::SwarmOrchestrator;
use canary_traefik::TraefikRouter;

/// The local stack, as `scripts/stack/env.sh` sets it up.
#[derive(Debug, Clone)]
pub struct Stack {
    pub web_port: u16,
    pub traefik_url: String,
    pub prometheus_url: String,
    pub dynamic_dir: PathBuf,
    pub network: String,
}

fn env_or(key: &str, default: &str) -> String {
    std::env::var(key)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_string())
}

/// The stack, or `None` (with a message) when it is not up. Under `CI` a missing stack fails.
pub fn stack() -> Option<Stack> {
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter("canary_traefik=info")
        .try_init();
    let web_port: u16 = env_or("CANARY_WEB_PORT", "38080")
        .parse()
        .expect("CANARY_WEB_PORT");
    let api_port = env_or("CANARY_API_PORT", "38082");
    let prom_port = env_or("CANARY_PROM_PORT", "39090");
    let stack_dir = env_or("CANARY_STACK_DIR", "/var/lib/canary-stack");
    let s = Stack {
        web_port,
        traefik_url: env_or(
            "CANARY_TRAEFIK_URL",
            &format!("http://127.0.0.1:{api_port}"),
        ),
        prometheus_url: env_or(
            "CANARY_PROMETHEUS_URL",
            &format!("http://127.0.0.1:{prom_port}"),
        ),
        dynamic_dir: PathBuf::from(env_or(
            "CANARY_TRAEFIK_DYNAMIC_DIR",
            &format!("{stack_dir}/dynamic"),
        )),
        network: env_or("CANARY_NETWORK", "canary-net"),
    };
    let mut problems = Vec::new();
    let docker = Command::new("docker")
        .args(["info", "-f", "{{.Swarm.LocalNodeState}}"])
        .output();
    match docker {
        Ok(o) if o.status.success() && String::from_utf8_lossy(&o.stdout).trim() == "active" => {}
        Ok(o) => problems.push(format!(
            "docker swarm not active ({}{})",
            String::from_utf8_lossy(&o.stdout).trim(),
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => problems.push(format!("no docker CLI ({e})")),
    }
    for (what, url) in [
        ("traefik", format!("{}/ping", s.traefik_url)),
        ("prometheus", format!("{}/-/ready", s.prometheus_url)),
    ] {
        if !http_ok(&url) {
            problems.push(format!("{what} not answering at {url}"));
        }
    }
    if !s.dynamic_dir.is_dir() {
        problems.push(format!(
            "no file-provider directory {}",
            s.dynamic_dir.display()
        ));
    }
    if problems.is_empty() {
        return Some(s);
    }
    let msg = format!(
        "the local stack is not up ({}); start it with scripts/stack/up.sh",
        problems.join("; ")
    );
    if std::env::var_os("CI").is_some() {
        panic!("{msg}");
    }
    eprintln!("SKIPPED: {msg}");
    None
}

/// A plain blocking HTTP/1.0 GET on loopback: true for a 2xx.
fn http_ok(url: &str) -> bool {
    use std::io::{Read, Write};
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let (hostport, path) = rest
        .split_once('/')
        .map(|(h, p)| (h, format!("/{p}")))
        .unwrap_or((rest, "/".into()));
    let Ok(addr) = hostport.parse::<std::net::SocketAddr>() else {
        return false;
    };
    let Ok(mut s) = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(3)));
    if s.write_all(format!("GET {path} HTTP/1.0\r\nHost: {hostport}\r\n\r\n").as_bytes())
        .is_err()
    {
        return false;
    }
    let mut buf = [0u8; 16];
    let n = s.read(&mut buf).unwrap_or(0);
    let head = String::from_utf8_lossy(&buf[..n]);
    head.starts_with("HTTP/1.") && head.as_bytes().get(9) == Some(&b'2')
}

/// A short random tag for names.
pub fn tag() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let mixed = (nanos as u64) ^ ((std::process::id() as u64) << 32) ^ (nanos >> 64) as u64;
    format!(
        "{:08x}",
        (mixed.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as u32
    )
}

pub fn sn(s: &str) -> ServiceName {
    ServiceName::parse(s).unwrap()
}

fn docker(args: &[String]) -> Result<String, String> {
    let out = Command::new("docker")
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(format!(
            "docker {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A Swarm service of the demo app, removed on drop.
#[derive(Debug)]
pub struct Service {
    pub name: String,
}

impl Service {
    /// `docker service create` of `canary-demo:<version>` with `VERSION=<version>`.
    pub fn create(
        name: &str,
        version: &str,
        replicas: u64,
        env: &[(&str, &str)],
        labels: &BTreeMap<String, String>,
    ) -> Service {
        Self::create_with(name, version, replicas, env, labels, &[])
    }

    /// [`Service::create`] with extra `docker service create` flags (e.g. `--restart-delay 1s`).
    pub fn create_with(
        name: &str,
        version: &str,
        replicas: u64,
        env: &[(&str, &str)],
        labels: &BTreeMap<String, String>,
        extra: &[&str],
    ) -> Service {
        let mut args: Vec<String> = [
            "service",
            "create",
            "--detach",
            "--quiet",
            "--name",
            name,
            "--label",
            "io.canary.test=1",
            "--init",
            "--network",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.push(env_or("CANARY_NETWORK", "canary-net"));
        // No VIP: this kernel has no IPVS, and Traefik talks to the tasks directly anyway.
        args.extend([
            "--endpoint-mode".into(),
            "dnsrr".into(),
            "--replicas".into(),
            replicas.to_string(),
        ]);
        args.extend(["--stop-grace-period".into(), "10s".into()]);
        args.extend(["--env".into(), format!("VERSION={version}")]);
        for (k, v) in env {
            args.extend(["--env".into(), format!("{k}={v}")]);
        }
        for (k, v) in labels {
            args.extend(["--label".into(), format!("{k}={v}")]);
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        args.push(format!("canary-demo:{version}"));
        docker(&args).unwrap_or_else(|e| panic!("{e}"));
        Service {
            name: name.to_string(),
        }
    }

    /// The ids of this service's running containers on this node.
    pub fn containers(&self) -> Vec<String> {
        docker(&[
            "ps".into(),
            "-q".into(),
            "--filter".into(),
            format!("label=com.docker.swarm.service.name={}", self.name),
        ])
        .map(|o| o.lines().map(String::from).collect())
        .unwrap_or_default()
    }

    pub fn scale(&self, replicas: u64) {
        docker(&[
            "service".into(),
            "scale".into(),
            "--detach".into(),
            format!("{}={replicas}", self.name),
        ])
        .unwrap_or_else(|e| panic!("{e}"));
    }

    /// Running tasks.
    pub fn running(&self) -> u64 {
        docker(&[
            "service".into(),
            "ps".into(),
            "--filter".into(),
            "desired-state=running".into(),
            "--format".into(),
            "{{.CurrentState}}".into(),
            self.name.clone(),
        ])
        .map(|o| o.lines().filter(|l| l.starts_with("Running")).count() as u64)
        .unwrap_or(0)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = docker(&["service".into(), "rm".into(), self.name.clone()]);
    }
}

/// Removes a group file left behind by a failed test.
pub struct FileGuard(pub PathBuf);

impl Drop for FileGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// An app of a test: its route and services.
pub struct App {
    pub route: AppRoute,
    pub stable: Service,
    pub canary: Service,
    pub host: String,
}

/// The group of the apps a test makes with `tag`.
pub fn group_of(tag: &str) -> String {
    format!("canarytest-traefik-{tag}")
}

/// The Docker client of the tests (what the engine reads the canary's tasks with).
pub async fn orchestrator() -> SwarmOrchestrator {
    SwarmOrchestrator::connect()
        .await
        .expect("Docker answers (the stack is up)")
}

/// The running tasks of `service` with their addresses, as the engine reads them.
pub async fn endpoints(orch: &SwarmOrchestrator, service: &ServiceName) -> Vec<TaskEndpoint> {
    orch.task_endpoints(service)
        .await
        .unwrap_or_else(|e| panic!("task endpoints of {service}: {e}"))
}

/// Creates stable (`v1`) and canary (`v2`) with the labels the router asks for, waits until
/// Traefik serves stable with all its tasks and the canary runs `canary_replicas` tasks, and fills
/// the route's canary endpoints (what the engine does). `canary_extra` goes to the canary's
/// `docker service create`.
#[allow(clippy::too_many_arguments)]
pub async fn app_with(
    router: &TraefikRouter,
    mode: TrafficMode,
    tag: &str,
    name: &str,
    stable_replicas: u64,
    canary_replicas: u64,
    canary_env: &[(&str, &str)],
    canary_extra: &[&str],
) -> App {
    let stable = format!("{}-{name}", group_of(tag));
    let canary = format!("{stable}-canary");
    let host = format!("{tag}-{name}.localhost");
    let app_ref = AppRef {
        name: sn(name),
        stable: sn(&stable),
        canary: sn(&canary),
    };
    let mut route = AppRoute::new(sn(&group_of(tag)), app_ref, format!("Host(`{host}`)"), 8080)
        .health_path("/health")
        .entry_points(vec!["web".into()]);
    let stable_labels = router
        .labels_for(&route, canary_core::Track::Stable, mode)
        .unwrap();
    let canary_labels = router
        .labels_for(&route, canary_core::Track::Canary, mode)
        .unwrap();
    let stable = Service::create(&stable, "v1", stable_replicas, &[], &stable_labels);
    let canary = Service::create_with(
        &canary,
        "v2",
        canary_replicas,
        canary_env,
        &canary_labels,
        canary_extra,
    );
    // What the engine would read back from the stable service.
    route.stable_labels = stable_labels;
    route
        .stable_labels
        .insert("io.canary.test".into(), "1".into());
    // Stable's share must find its servers, and the canary's its tasks.
    let backend = format!(
        "{}@swarm",
        canary_traefik::AppBackends::of(&route).unwrap().stable
    );
    let api = router.api().clone();
    let orch = orchestrator().await;
    let network = env_or("CANARY_NETWORK", "canary-net");
    let start = Instant::now();
    loop {
        let servers = api
            .service(&backend)
            .await
            .ok()
            .flatten()
            .and_then(|s| s.load_balancer)
            .map(|lb| lb.servers.len() as u64)
            .unwrap_or(0);
        let eps = endpoints(&orch, &route.app.canary).await;
        let reachable = eps
            .iter()
            .filter(|e| e.addresses.contains_key(&network))
            .count() as u64;
        // Replicas mode: the canary's tasks are servers of stable's service too.
        let want = if mode == TrafficMode::Replicas {
            stable_replicas + canary_replicas
        } else {
            stable_replicas
        };
        if servers == want && reachable == canary_replicas {
            route.canary_endpoints = eps;
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "{backend} has {servers} servers of {want}, the canary {reachable} tasks of {canary_replicas}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    App {
        route,
        stable,
        canary,
        host,
    }
}

/// [`app_with`] without extra flags for the canary.
pub async fn app(
    router: &TraefikRouter,
    mode: TrafficMode,
    tag: &str,
    name: &str,
    stable_replicas: u64,
    canary_replicas: u64,
    canary_env: &[(&str, &str)],
) -> App {
    app_with(
        router,
        mode,
        tag,
        name,
        stable_replicas,
        canary_replicas,
        canary_env,
        &[],
    )
    .await
}

/// A client for Traefik's web entry point on loopback.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(16)
        .build()
        .unwrap()
}

/// One request: the version that answered, or what went wrong.
pub async fn hit(
    client: &reqwest::Client,
    port: u16,
    host: &str,
    headers: &[(&str, &str)],
) -> Result<(String, reqwest::header::HeaderMap), String> {
    let mut req = client
        .get(format!("http://127.0.0.1:{port}/"))
        .header("Host", host);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req
        .send()
        .await
        .map_err(|e| format!("transport: {}", chain(&e.without_url())))?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.text().await.map_err(|e| format!("body: {e}"))?;
    if status != 200 {
        return Err(format!(
            "HTTP {status}: {}",
            body.chars().take(120).collect::<String>()
        ));
    }
    let v: serde_json::Value =
        serde_json::from_str(&body).map_err(|e| format!("not JSON ({e}): {body}"))?;
    Ok((v["version"].as_str().unwrap_or("?").to_string(), headers))
}

fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut s = e.source();
    while let Some(x) = s {
        out = format!("{out}: {x}");
        s = x.source();
    }
    out
}

/// Counts of `n` requests sent with `concurrency` workers.
pub async fn versions(
    port: u16,
    host: &str,
    n: usize,
    concurrency: usize,
    headers: &[(&str, &str)],
) -> BTreeMap<String, usize> {
    let client = client();
    let counts = Arc::new(Mutex::new(BTreeMap::<String, usize>::new()));
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut handles = Vec::new();
    for _ in 0..concurrency {
        let (client, counts, next, host) = (
            client.clone(),
            counts.clone(),
            next.clone(),
            host.to_string(),
        );
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        handles.push(tokio::spawn(async move {
            while next.fetch_add(1, Ordering::SeqCst) < n {
                let h: Vec<(&str, &str)> = headers
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                let key = match hit(&client, port, &host, &h).await {
                    Ok((v, _)) => v,
                    Err(e) => format!("error: {e}"),
                };
                *counts.lock().unwrap().entry(key).or_default() += 1;
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let out = counts.lock().unwrap().clone();
    out
}

/// What a steady load saw.
#[derive(Debug, Default, Clone)]
pub struct LoadStats {
    pub ok: u64,
    pub failed: u64,
    pub failures: Vec<String>,
    /// Failures by kind (status or transport error, first 60 characters).
    pub failure_kinds: BTreeMap<String, u64>,
    pub by_version: BTreeMap<String, u64>,
    /// Start times of requests that the canary (`v2`) answered.
    pub canary_starts: Vec<Instant>,
    /// When the last response of the canary arrived.
    pub last_canary_end: Option<Instant>,
}

/// A steady load on one host until stopped.
pub struct Load {
    stop: Arc<AtomicBool>,
    stats: Arc<Mutex<LoadStats>>,
    handles: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    /// `workers` loops, each pausing `pause` between requests.
    pub fn start(port: u16, host: &str, workers: usize, pause: Duration) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(Mutex::new(LoadStats::default()));
        let client = client();
        let handles = (0..workers)
            .map(|_| {
                let (stop, stats, client, host) = (
                    stop.clone(),
                    stats.clone(),
                    client.clone(),
                    host.to_string(),
                );
                tokio::spawn(async move {
                    // Bounded: a test never runs this longer than ten minutes.
                    let deadline = Instant::now() + Duration::from_secs(600);
                    while !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
                        let started = Instant::now();
                        let r = hit(&client, port, &host, &[]).await;
                        {
                            let mut s = stats.lock().unwrap();
                            match r {
                                Ok((v, _)) => {
                                    s.ok += 1;
                                    if v == "v2" {
                                        s.canary_starts.push(started);
                                        s.last_canary_end = Some(Instant::now());
                                    }
                                    *s.by_version.entry(v).or_default() += 1;
                                }
                                Err(e) => {
                                    s.failed += 1;
                                    *s.failure_kinds
                                        .entry(e.chars().take(60).collect())
                                        .or_default() += 1;
                                    if s.failures.len() < 10 {
                                        s.failures.push(e);
                                    }
                                }
                            }
                        }
                        if !pause.is_zero() {
                            tokio::time::sleep(pause).await;
                        }
                    }
                })
            })
            .collect();
        Load {
            stop,
            stats,
            handles,
        }
    }

    pub fn snapshot(&self) -> LoadStats {
        self.stats.lock().unwrap().clone()
    }

    pub async fn stop(self) -> LoadStats {
        self.stop.store(true, Ordering::SeqCst);
        for h in self.handles {
            h.await.unwrap();
        }
        let s = self.stats.lock().unwrap().clone();
        s
    }
}

/// Polls `f` every 200ms until it is true or `timeout` passes.
pub async fn eventually(timeout: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// One request of a paced load (the blast-radius test).
#[derive(Debug, Clone)]
pub struct Record {
    /// Seconds from the start of the load to sending.
    pub sent: f64,
    pub status: Option<u16>,
    pub version: Option<String>,
    pub error: Option<String>,
    pub ms: f64,
}

/// `count` requests at `rps` a second, each in its own task so one slow answer delays no other
/// (as bench/blast-radius/bench.py sends them), to Traefik on 127.0.0.1 only, 3s client timeout.
pub async fn paced_load(port: u16, host: String, rps: u32, count: u32) -> Vec<Record> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();
    let start = tokio::time::Instant::now();
    let period = Duration::from_secs(1) / rps;
    let mut handles = Vec::new();
    for i in 0..count {
        tokio::time::sleep_until(start + period * i).await;
        let (client, host) = (client.clone(), host.clone());
        handles.push(tokio::spawn(async move {
            let t0 = tokio::time::Instant::now();
            let sent = (t0 - start).as_secs_f64();
            let r = client
                .get(format!("http://127.0.0.1:{port}/"))
                .header("Host", &host)
                .send()
                .await;
            let ms = t0.elapsed().as_secs_f64() * 1000.0;
            match r {
                Ok(resp) => Record {
                    sent,
                    status: Some(resp.status().as_u16()),
                    version: resp
                        .headers()
                        .get("x-version")
                        .and_then(|v| v.to_str().ok())
                        .map(String::from),
                    error: None,
                    ms,
                },
                Err(e) => Record {
                    sent,
                    status: None,
                    version: None,
                    error: Some(
                        if e.is_timeout() {
                            "timeout"
                        } else {
                            "transport"
                        }
                        .into(),
                    ),
                    ms,
                },
            }
        }));
    }
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

/// `traefik_service_requests_total` of one Traefik service, by code.
pub async fn requests_by_code(traefik_url: &str, service: &str) -> BTreeMap<String, f64> {
    let text = reqwest::get(format!("{traefik_url}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // The crate's exposition parser is internal; these lines are plain
    // `name{k="v",...} value` (Traefik's service and code labels carry no quote or comma).
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("traefik_service_requests_total{") else {
            continue;
        };
        let (labels, value) = rest.rsplit_once("} ").expect("a sample line");
        let label = |name: &str| {
            labels
                .split("\",")
                .find_map(|kv| kv.strip_prefix(&format!("{name}=\"")))
                .map(|v| v.trim_end_matches('"').to_string())
        };
        if label("service").as_deref() == Some(service) {
            let code = label("code").unwrap_or_else(|| "?".into());
            *out.entry(code).or_default() += value.trim().parse::<f64>().expect("a number");
        }
    }
    out
}

pub fn delta(
    after: &BTreeMap<String, f64>,
    before: &BTreeMap<String, f64>,
) -> BTreeMap<String, f64> {
    after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0.0)))
        .filter(|(_, v)| *v > 0.0)
        .collect()
}
