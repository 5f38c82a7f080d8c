//! A group shaped like neotix's (two apps, each 4 stable and 2 canary tasks) on the two-node
//! test cluster (`scripts/cluster/up.sh`: the stack's engine as manager, a worker `dockerd` in a
//! network namespace, a registry on 10.213.0.1:5000), routed through the etcd router and two
//! Traefik replicas:
//!
//! - `canary build --push` pushes both tracks and prints each registry digest; stable and canary
//!   tasks spread over both nodes (the worker pulls from the registry);
//! - every weight is read back from **both** Traefik replicas' APIs (the router confirms through
//!   both before it reports a step; the test checks it independently);
//! - the worker is drained mid-step: the rollout finishes, stable's share loses no request, and
//!   promotion pins the registry digest `canary build --push` printed;
//! - in a second rollout the worker's `dockerd` is SIGKILLed mid-step: what stable's share loses
//!   until Swarm reschedules is measured and printed, and the rollout ends promoted or rolled back.
//!
//! Layout (why): etcd runs as a Swarm service on the manager (Traefik reaches it over the
//! overlay `canary-net` from any node; the controller through a host port on 127.0.0.1). Traefik
//! runs as two services of one replica each, both on the manager: the swarm provider needs a
//! manager's API (through the stack's socket proxy) and host-mode ports allow one task per port
//! and node, so a one-manager cluster holds two replicas only as two port pairs. Draining or
//! killing the worker then tests what it should: the app's tasks, not the edge. The manager's
//! host ports of these services are closed to everything but `lo` by a mangle rule the test
//! adds and removes. Requests go to 127.0.0.1 only.
//!
//! Needs root (the cluster scripts). Without Docker, the stack or root the test skips; with `CI`
//! set it fails instead.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::{Duration, Instant};

use canary_e2e::docker;
use canary_e2e::faults::{self, traefik_requests};
use canary_e2e::group::Group;
use canary_e2e::load::{http_get, Load};
use canary_e2e::stack::{free_port, repo_root, stack_or_skip, Stack};
use serde_json::Value;

const REGISTRY: &str = "10.213.0.1:5000";
const WORKER_PID: &str = "/var/lib/canary-stack/cluster/canary/worker1/dockerd.pid";
const ETCD_IMAGE: &str = "canary-e2e-etcd:local";
const TRAEFIK_IMAGE: &str = "canary-traefik:3.7.9";
/// The neotix group's two apps (`neotix-api` and `gcp-deployment-api` in the example), short.
const APPS: [&str; 2] = ["api", "gcp"];
const STABLE_REPLICAS: usize = 4;
const CANARY_REPLICAS: usize = 2;

fn skip_or_fail(why: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set and the multi-node test cannot run: {why}"
    );
    eprintln!("SKIPPED multinode: {why}");
}

/// Leaves the cluster as the test found it, also after a panic: the worker active again, and
/// then `scripts/cluster/down.sh` if the test brought the worker up, else `up.sh` (which restarts
/// a killed worker `dockerd`).
struct Cluster {
    down_at_end: bool,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let worker = worker_node();
        if !worker.is_empty() {
            let _ = docker::run(&["node", "update", "--availability", "active", &worker]);
        }
        if self.down_at_end {
            let _ = Command::new(repo_root().join("scripts/cluster/down.sh")).status();
        } else {
            let _ = cluster_up();
        }
    }
}

/// `scripts/cluster/up.sh` (idempotent); `Err` with its output when it fails.
fn cluster_up() -> Result<(), String> {
    let out = Command::new(repo_root().join("scripts/cluster/up.sh"))
        .env("CANARY_WORKER_PRELOAD", "canary-demo:latest")
        .env("CANARY_CLUSTER_PUSH", "")
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// The worker's node name; empty when no worker has joined (or Docker does not answer).
fn worker_node() -> String {
    docker::run(&[
        "node",
        "ls",
        "--filter",
        "node.label=io.canary.node=worker1",
        "--format",
        "{{.Hostname}}",
    ])
    .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    .unwrap_or_default()
}

/// etcd's Debian binary (`etcd-server`, which scripts/cluster/up.sh installs) and the two
/// libraries it links, in an image from scratch.
fn etcd_image() {
    if docker::run(&["image", "inspect", ETCD_IMAGE]).is_ok_and(|o| o.status.success()) {
        return;
    }
    let dir = std::env::temp_dir().join(format!("canary-e2e-etcd-{}", std::process::id()));
    for (from, to) in [
        ("/usr/bin/etcd", "bin/etcd"),
        (
            "/lib/x86_64-linux-gnu/libc.so.6",
            "lib/x86_64-linux-gnu/libc.so.6",
        ),
        ("/lib64/ld-linux-x86-64.so.2", "lib64/ld-linux-x86-64.so.2"),
    ] {
        let to = dir.join(to);
        std::fs::create_dir_all(to.parent().expect("a parent")).expect("dir");
        std::fs::copy(from, &to).unwrap_or_else(|e| panic!("{from}: {e}"));
    }
    std::fs::write(
        dir.join("Dockerfile"),
        "FROM scratch\nCOPY . /\nENTRYPOINT [\"/bin/etcd\"]\n",
    )
    .expect("Dockerfile");
    docker::ok(&[
        "build",
        "-q",
        "-t",
        ETCD_IMAGE,
        dir.to_str().expect("utf-8"),
    ]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// One Traefik replica: its web and API ports on 127.0.0.1.
#[derive(Debug, Clone, Copy)]
struct Replica {
    web: u16,
    api: u16,
}

/// etcd and two Traefik replicas of one test, and the guard of their host ports; all removed
/// when dropped.
struct Edge {
    services: Vec<String>,
    guard: Vec<String>,
    etcd_port: u16,
    replicas: [Replica; 2],
}

impl Edge {
    fn start(name: &str) -> Edge {
        etcd_image();
        let etcd = format!("{name}-etcd");
        let etcd_port = free_port();
        let replicas = [
            Replica {
                web: free_port(),
                api: free_port(),
            },
            Replica {
                web: free_port(),
                api: free_port(),
            },
        ];
        let mut ports: Vec<String> = vec![etcd_port.to_string()];
        for r in &replicas {
            ports.push(r.web.to_string());
            ports.push(r.api.to_string());
        }
        // Swarm binds host-mode ports on every address: only lo may reach them.
        let guard = vec![
            "PREROUTING".to_string(),
            "-p".into(),
            "tcp".into(),
            "-m".into(),
            "multiport".into(),
            "--dports".into(),
            ports.join(","),
            "!".into(),
            "-i".into(),
            "lo".into(),
            "-m".into(),
            "comment".into(),
            "--comment".into(),
            format!("{name} e2e guard"),
            "-j".into(),
            "DROP".into(),
        ];
        let mut add = vec!["-t", "mangle", "-I"];
        add.extend(guard.iter().map(String::as_str));
        let ok = Command::new("iptables")
            .args(&add)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "iptables -t mangle -I {}", guard.join(" "));
        let mut edge = Edge {
            services: Vec::new(),
            guard,
            etcd_port,
            replicas,
        };
        let on_manager = "node.labels.io.canary.node==manager";
        docker::ok(&[
            "service",
            "create",
            "--detach",
            "--quiet",
            "--no-resolve-image",
            "--name",
            &etcd,
            "--label",
            "io.canary.test=1",
            "--constraint",
            on_manager,
            "--network",
            "canary-net",
            "--endpoint-mode",
            "dnsrr",
            "--publish",
            &format!("published={etcd_port},target=2379,mode=host"),
            ETCD_IMAGE,
            "--name",
            "e",
            "--data-dir",
            "/data",
            "--listen-client-urls",
            "http://0.0.0.0:2379",
            "--advertise-client-urls",
            &format!("http://{etcd}:2379"),
            "--listen-peer-urls",
            "http://127.0.0.1:2380",
            "--initial-advertise-peer-urls",
            "http://127.0.0.1:2380",
            "--initial-cluster",
            "e=http://127.0.0.1:2380",
        ]);
        edge.services.push(etcd.clone());
        for (i, r) in replicas.iter().enumerate() {
            let svc = format!("{name}-traefik{}", i + 1);
            docker::ok(&[
                "service",
                "create",
                "--detach",
                "--quiet",
                "--no-resolve-image",
                "--name",
                &svc,
                "--label",
                "io.canary.test=1",
                "--constraint",
                on_manager,
                "--network",
                "canary-net",
                "--network",
                "canary-docker-api",
                "--endpoint-mode",
                "dnsrr",
                "--publish",
                &format!("published={},target=8080,mode=host", r.web),
                "--publish",
                &format!("published={},target=8082,mode=host", r.api),
                TRAEFIK_IMAGE,
                "--global.checkNewVersion=false",
                "--global.sendAnonymousUsage=false",
                "--entryPoints.web.address=:8080",
                "--entryPoints.traefik.address=:8082",
                "--api.insecure=true",
                "--ping.entryPoint=traefik",
                "--metrics.prometheus.entryPoint=traefik",
                "--metrics.prometheus.addServicesLabels=true",
                "--providers.providersThrottleDuration=500ms",
                "--providers.swarm.endpoint=tcp://canary-docker-proxy:2375",
                "--providers.swarm.exposedByDefault=false",
                "--providers.swarm.network=canary-net",
                "--providers.swarm.refreshSeconds=1s",
                "--providers.swarm.allowEmptyServices=true",
                &format!("--providers.etcd.endpoints={etcd}:2379"),
                "--providers.etcd.rootKey=traefik",
            ]);
            edge.services.push(svc);
        }
        let deadline = Instant::now() + Duration::from_secs(90);
        for r in &replicas {
            while !http_get(r.api, "127.0.0.1", "/ping", &[], Duration::from_secs(2))
                .is_ok_and(|a| a.status == 200)
            {
                assert!(
                    Instant::now() < deadline,
                    "Traefik on {} did not start",
                    r.api
                );
                std::thread::sleep(Duration::from_millis(300));
            }
        }
        while !http_get(
            etcd_port,
            "127.0.0.1",
            "/health",
            &[],
            Duration::from_secs(2),
        )
        .is_ok_and(|a| a.status == 200)
        {
            assert!(Instant::now() < deadline, "etcd did not start");
            std::thread::sleep(Duration::from_millis(300));
        }
        edge
    }
}

impl Drop for Edge {
    fn drop(&mut self) {
        for s in &self.services {
            let _ = docker::run(&["service", "rm", s]);
        }
        let mut del = vec!["-t", "mangle", "-D"];
        del.extend(self.guard.iter().map(String::as_str));
        let _ = Command::new("iptables").args(&del).status();
    }
}

/// The local tags and digest references of the test's repositories, removed when dropped (the
/// registry keeps its copy; its blobs are the demo image's layers). Dropped after the group,
/// whose stopping containers still hold the images for a few seconds.
struct Images(Vec<String>);

/// `docker rmi reference`, retried while a stopping container still uses the image.
fn rmi(reference: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !docker::run(&["rmi", reference]).is_ok_and(|o| o.status.success())
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(500));
    }
}

impl Drop for Images {
    fn drop(&mut self) {
        for repo in &self.0 {
            let refs = docker::run(&[
                "images",
                "--digests",
                "--format",
                "{{.Repository}} {{.Tag}} {{.Digest}}",
                repo,
            ])
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
            for line in refs.lines() {
                let mut f = line.split_whitespace();
                let (Some(repo), Some(tag), Some(digest)) = (f.next(), f.next(), f.next()) else {
                    continue;
                };
                if tag != "<none>" {
                    rmi(&format!("{repo}:{tag}"));
                }
                if digest != "<none>" {
                    rmi(&format!("{repo}@{digest}"));
                }
            }
        }
    }
}

/// The node of each running task of `service`.
fn running_on(service: &str) -> Vec<String> {
    docker::ok(&[
        "service",
        "ps",
        service,
        "--filter",
        "desired-state=running",
        "--format",
        "{{.Node}} {{.CurrentState}}",
    ])
    .lines()
    .filter(|l| l.contains("Running"))
    .filter_map(|l| l.split_whitespace().next().map(String::from))
    .collect()
}

/// The nodes `service`'s running tasks are on.
fn nodes_of(service: &str) -> BTreeSet<String> {
    running_on(service).into_iter().collect()
}

/// The weights of the weighted service `name@etcd` as replica `r`'s API reports them, by child.
fn weights(r: Replica, name: &str) -> BTreeMap<String, u64> {
    let Ok(a) = http_get(
        r.api,
        "127.0.0.1",
        &format!("/api/http/services/{name}@etcd"),
        &[],
        Duration::from_secs(3),
    ) else {
        return BTreeMap::new();
    };
    let v: Value = serde_json::from_str(&a.body).unwrap_or(Value::Null);
    v["weighted"]["services"]
        .as_array()
        .map(|s| {
            s.iter()
                .filter_map(|c| Some((c["name"].as_str()?.to_string(), c["weight"].as_u64()?)))
                .collect()
        })
        .unwrap_or_default()
}

/// Asserts both replicas route `weight` percent to the canary's slot of each of `bases`.
fn assert_weight_everywhere(edge: &Edge, bases: &[String], weight: u64) {
    for base in bases {
        let slot = format!("{base}--canary");
        for r in edge.replicas {
            let w = weights(r, base);
            let canary = w.get(&slot).or_else(|| w.get(&format!("{slot}@etcd")));
            let total: u64 = w.values().sum();
            assert!(
                canary.is_some()
                    && total > 0
                    && canary.copied().unwrap_or(0) * 100 == weight * total,
                "Traefik on {} reports {w:?} for {base}, not {weight}% to {slot}",
                r.api
            );
        }
    }
}

/// Non-2xx answers Traefik counted between two reads for stable's backend (`…@swarm`) and for
/// the canary's tasks (`…--tasks@etcd`) of `group`.
fn failed_by_service(
    before: &BTreeMap<(String, String), u64>,
    after: &BTreeMap<(String, String), u64>,
    group: &str,
) -> (u64, u64) {
    let (mut stable, mut canary) = (0, 0);
    for ((service, class), n) in after {
        if class == "2xx" || !service.contains(group) {
            continue;
        }
        let d = n.saturating_sub(
            before
                .get(&(service.clone(), class.clone()))
                .copied()
                .unwrap_or(0),
        );
        if service.contains("--tasks") {
            canary += d;
        } else if service.ends_with("@swarm") {
            stable += d;
        }
    }
    (stable, canary)
}

fn epoch_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The group's spec: every app of [`APPS`] on `<registry>/<group>-<app>:<canary>` (stable
/// `:<stable>`), 4 stable and 2 canary tasks each.
fn spec(g: &Group, canary: &str, stable: &str, steps: &str, build: bool) -> String {
    let mut s = format!("group: {0}\nstack: {0}\napps:\n", g.name);
    for app in APPS {
        let repo = format!("{REGISTRY}/{}-{app}", g.name);
        s.push_str(&format!(
            "  - name: {app}\n    image: {repo}:{canary}\n    stableImage: {repo}:{stable}\n    \
             stableReplicas: {STABLE_REPLICAS}\n    canaryReplicas: {CANARY_REPLICAS}\n    port: 8080\n    \
             rule: \"Host(`{host}`) && PathPrefix(`/{app}`)\"\n    healthPath: /health\n",
            host = g.host
        ));
        if build {
            s.push_str("    build: {context: app}\n");
        }
    }
    s.push_str(&format!(
        "traffic:\n  steps: [{steps}]\n  interval: 15s\nanalysis:\n  window: 5s\n  minRequests: 5\n  \
         inconclusiveLimit: 6\n  checks:\n    - {{name: success-rate, metric: successRate, min: 0.95, critical: true}}\n\
         timeouts:\n  call: 20s\n  converge: 120s\n"
    ));
    s
}

#[test]
fn rollout_over_two_nodes_through_two_traefik_replicas_survives_drain_and_node_loss() {
    let Some(base_stack) = stack_or_skip("multinode") else {
        return;
    };
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !root {
        return skip_or_fail("not root (the cluster scripts need it)");
    }
    let t0 = Instant::now();
    let _cluster = Cluster {
        down_at_end: worker_node().is_empty(),
    };
    if let Err(e) = cluster_up() {
        return skip_or_fail(&format!("scripts/cluster/up.sh failed: {e}"));
    }
    eprintln!("cluster up in {:.1}s", t0.elapsed().as_secs_f64());
    let worker = worker_node();
    assert!(
        !worker.is_empty(),
        "no node labelled io.canary.node=worker1"
    );

    let name = canary_e2e::group::unique_name_with("multinode");
    let edge = Edge::start(&name);
    let a = edge.replicas[0];
    // The group talks to replica 1 (metrics, /ping, load); the router confirms through both.
    let stack = Stack {
        web_port: a.web,
        api_port: a.api,
        ..base_stack
    };
    let apis = edge
        .replicas
        .iter()
        .map(|r| format!("http://127.0.0.1:{}", r.api))
        .collect::<Vec<_>>()
        .join(",");
    // One test in this binary: the `canary` processes it starts inherit these.
    std::env::set_var("CANARY_ROUTER", "kv");
    std::env::set_var(
        "CANARY_KV_URL",
        format!("http://127.0.0.1:{}", edge.etcd_port),
    );
    std::env::set_var("CANARY_TRAEFIK_API", &apis);
    std::env::set_var("CANARY_METRICS", "traefik");

    let g = Group::with_prefix(&stack, &name);
    let repo = |app: &str| format!("{REGISTRY}/{}-{app}", g.name);
    let tag = |app: &str, v: &str| format!("{}:{v}", repo(app));
    let images = Images(APPS.iter().map(|a| repo(a)).collect());
    std::fs::create_dir_all(g.dir.join("app")).expect("dir");
    std::fs::write(
        g.dir.join("app/Dockerfile"),
        "FROM canary-demo:latest\nARG CANARY_TAG=dev\nENV VERSION=${CANARY_TAG}\n",
    )
    .expect("Dockerfile");
    let spec1 = g.write("canary.yaml", &spec(&g, "v2", "v1", "20, 50, 80", true));

    // Build and push both tracks of both apps; each digest is printed.
    let t = Instant::now();
    let built = g.canary(&spec1, &["build", "--push", "-o", "json"]);
    built.expect_code(0, "canary build --push");
    let pushed: BTreeMap<String, String> = built
        .json()
        .into_iter()
        .filter(|v| v["type"] == "pushed")
        .filter_map(|v| {
            Some((
                v["image"].as_str()?.to_string(),
                v["digest"].as_str()?.to_string(),
            ))
        })
        .collect();
    eprintln!(
        "build --push of {} images: {:.1}s {pushed:?}",
        pushed.len(),
        t.elapsed().as_secs_f64()
    );
    for app in APPS {
        for v in ["v1", "v2"] {
            let d = pushed
                .get(&tag(app, v))
                .unwrap_or_else(|| panic!("no digest for {}", tag(app, v)));
            assert!(d.starts_with(&format!("{}@sha256:", repo(app))), "{d}");
        }
        assert_ne!(pushed[&tag(app, "v1")], pushed[&tag(app, "v2")]);
    }

    // Stable over both nodes: the worker pulled v1 from the registry.
    g.deploy(&spec1);
    let stables: Vec<String> = APPS.iter().map(|a| g.service(a, false)).collect();
    let canaries: Vec<String> = APPS.iter().map(|a| g.service(a, true)).collect();
    let bases: Vec<String> = APPS
        .iter()
        .map(|a| format!("canary-{}--{a}", g.name))
        .collect();
    for stable in &stables {
        // Stable spreads over the nodes (as a user's stack file would say); the canary must
        // follow.
        docker::ok(&[
            "service",
            "update",
            "--detach",
            "--quiet",
            "--placement-pref-add",
            "spread=node.labels.io.canary.node",
            stable,
        ]);
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while stables
        .iter()
        .any(|s| nodes_of(s).len() < 2 || running_on(s).len() < STABLE_REPLICAS)
    {
        assert!(
            Instant::now() < deadline,
            "stable's tasks are not on both nodes"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let all_settled = |services: &[String], replicas: usize, off: Option<&str>| {
        services.iter().all(|s| {
            running_on(s).len() >= replicas && off.is_none_or(|w| !nodes_of(s).contains(w))
        })
    };

    // Rollout 1: the worker is drained at step 1.
    let paths: Vec<String> = APPS.iter().map(|a| format!("/{a}/x")).collect();
    let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
    let load = Load::start(a.web, &g.host, &paths, 10);
    let mut run = g.spawn(&spec1, &["run"]);
    let ev = run.wait_event("weightSet", 1, Duration::from_secs(180));
    assert_eq!(ev["weight"], 20, "{ev}");
    assert_weight_everywhere(&edge, &bases, 20);
    let placement = |s: &str| docker::service(s)["Spec"]["TaskTemplate"]["Placement"].clone();
    for (stable, canary) in stables.iter().zip(&canaries) {
        assert_eq!(placement(canary), placement(stable), "{canary}'s placement");
        assert!(
            placement(canary)["Preferences"].is_array(),
            "{}",
            placement(canary)
        );
    }
    let spread: BTreeSet<String> = stables
        .iter()
        .chain(&canaries)
        .flat_map(|s| nodes_of(s))
        .collect();
    assert!(
        spread.contains(&worker) && spread.len() >= 2,
        "tasks on {spread:?}"
    );
    std::thread::sleep(Duration::from_secs(3));
    let before = traefik_requests(a.api);
    let drained = Instant::now();
    let drained_ms = epoch_ms();
    docker::ok(&["node", "update", "--availability", "drain", &worker]);
    let deadline = Instant::now() + Duration::from_secs(120);
    // Until every task runs again, none of them on the worker.
    while !(all_settled(&stables, STABLE_REPLICAS, Some(&worker))
        && all_settled(&canaries, CANARY_REPLICAS, Some(&worker)))
    {
        assert!(
            Instant::now() < deadline,
            "tasks still on the drained worker"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let moved = drained.elapsed();
    // The canary's rescheduled tasks are watched: the routes follow them.
    run.wait_for(
        "canaryTasks after the drain",
        Duration::from_secs(30),
        |l| l["kind"] == "canaryTasks" && l["atMs"].as_u64().is_some_and(|t| t >= drained_ms),
    );
    std::thread::sleep(Duration::from_secs(3));
    let after = traefik_requests(a.api);
    docker::ok(&["node", "update", "--availability", "active", &worker]);
    let ev = run.wait_event("weightSet", 2, Duration::from_secs(180));
    assert_eq!(ev["weight"], 50, "{ev}");
    assert_weight_everywhere(&edge, &bases, 50);
    let (code, lines, stderr) = run.finish(Duration::from_secs(400));
    let report = load.stop();
    assert_eq!(
        code,
        Some(0),
        "rollout 1 did not promote: {stderr}\n{lines:#?}"
    );
    let (stable_failed, canary_failed) = failed_by_service(&before, &after, &g.name);
    eprintln!(
        "DRAIN: tasks off the worker in {:.1}s; failed during the drain: stable {stable_failed}, canary {canary_failed}; \
         whole rollout: {} of {} requests failed ({:?})",
        moved.as_secs_f64(),
        report.failures(|_| false).len(),
        report.samples.len(),
        report.summary()
    );
    assert_eq!(
        stable_failed, 0,
        "stable's share lost requests during the drain"
    );
    // Promotion pinned the registry digest.
    for (app, stable) in APPS.iter().zip(&stables) {
        assert_eq!(
            docker::service_image(stable),
            pushed[&tag(app, "v2")],
            "{stable} after promotion"
        );
    }

    // Rollout 2: back to v1 as the canary; the worker's dockerd is killed at step 1.
    let deadline = Instant::now() + Duration::from_secs(90);
    for stable in &stables {
        while !nodes_of(stable).contains(&worker) {
            // Swarm does not move running tasks back; a forced update places them again.
            docker::ok(&["service", "update", "--detach", "--force", stable]);
            assert!(
                Instant::now() < deadline,
                "{stable} never returned to the worker"
            );
            std::thread::sleep(Duration::from_secs(5));
        }
    }
    let spec2 = g.write("canary2.yaml", &spec(&g, "v1", "v2", "30, 60", false));
    let load = Load::start(a.web, &g.host, &paths, 10);
    let mut run = g.spawn(&spec2, &["run"]);
    let ev = run.wait_event("weightSet", 1, Duration::from_secs(180));
    assert_eq!(ev["weight"], 30, "{ev}");
    assert_weight_everywhere(&edge, &bases, 30);
    let on_worker: usize = stables
        .iter()
        .map(|s| running_on(s).iter().filter(|n| **n == worker).count())
        .sum();
    std::thread::sleep(Duration::from_secs(3));
    let before = traefik_requests(a.api);
    let pid: u32 = std::fs::read_to_string(WORKER_PID)
        .expect("the worker's pid file")
        .trim()
        .parse()
        .expect("a pid");
    let killed = Instant::now();
    faults::signal(pid, "KILL");
    // Until Swarm sees the node down and runs its tasks elsewhere.
    let deadline = Instant::now() + Duration::from_secs(180);
    let down = loop {
        let state = docker::ok(&["node", "inspect", "-f", "{{.Status.State}}", &worker]);
        if state == "down" {
            break killed.elapsed();
        }
        assert!(Instant::now() < deadline, "the worker is never seen down");
        std::thread::sleep(Duration::from_millis(250));
    };
    while !all_settled(&stables, STABLE_REPLICAS, Some(&worker)) {
        assert!(Instant::now() < deadline, "stable was not rescheduled");
        std::thread::sleep(Duration::from_millis(250));
    }
    let rescheduled = killed.elapsed();
    std::thread::sleep(Duration::from_secs(2));
    let after = traefik_requests(a.api);
    let (code, lines, stderr) = run.finish(Duration::from_secs(400));
    let report = load.stop();
    let (stable_failed, canary_failed) = failed_by_service(&before, &after, &g.name);
    let failed = report.failures(|_| false);
    let in_window = failed
        .iter()
        .filter(|s| s.at >= killed && s.at <= killed + rescheduled + Duration::from_secs(2))
        .count();
    let phase = g.status(&spec2)["state"]["phase"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    eprintln!(
        "DOCKERD KILL ({on_worker} stable tasks on the worker): node down after {:.1}s, stable rescheduled after {:.1}s; \
         Traefik counted failed: stable {stable_failed}, canary {canary_failed}; the load saw {in_window} failed in that \
         window, {} of {} over the rollout ({:?}); rollout ended {code:?} ({phase})",
        down.as_secs_f64(),
        rescheduled.as_secs_f64(),
        failed.len(),
        report.samples.len(),
        report.summary()
    );
    assert!(
        on_worker > 0,
        "no stable task was on the worker when it was killed"
    );
    assert!(
        matches!(
            (code, phase.as_str()),
            (Some(0), "promoted") | (Some(2), "rolledBack")
        ),
        "rollout 2 ended {code:?} in phase {phase:?}: {stderr}\n{lines:#?}"
    );
    // The worker comes back for the next test (up.sh restarts a SIGKILLed dockerd).
    if let Err(e) = cluster_up() {
        panic!("the worker did not come back: {e}");
    }
    drop(g);
    drop(images);
    drop(edge);
}
