//! Benchmark (not a test) of the core's own costs, for `bench/run.sh`; prints one JSON object.
//!
//! ```text
//! bench-core judge <samples-file> [rounds]   Mann-Whitney U of the file's two lines of numbers
//! bench-core steps [rounds]                  a whole rollout on the in-memory fakes, 1/4/16 apps
//! ```
//!
//! `judge` times `canary_core::analysis::stats::mann_whitney_u` on the same samples scipy gets
//! (bench/judge/scipy_mwu.py writes them), so both sides rank identical data.
//!
//! `steps` runs a rollout of N apps through 10 steps on `canary_core::memory`'s in-memory
//! orchestrator and router, on tokio's paused clock: the intervals cost no wall time, so the
//! wall time per step is the engine's own work (routing, analysis, saving the state) for N apps.

use std::sync::Arc;
use std::time::{Duration, Instant};

use canary_core::memory::{MemoryOrchestrator, MemoryRouter};
use canary_core::spec::MetricKind;
use canary_core::{
    Deps, HookContext, HookOutcome, HookRunner, ImageRef, MemoryStateStore, MetricQuery,
    MetricsSource, Observation, Outcome, Rollout, RolloutOptions, ServiceName, Spec,
};

/// A healthy canary: plenty of requests, no errors, fast answers.
#[derive(Debug)]
struct Healthy;

#[async_trait::async_trait]
impl MetricsSource for Healthy {
    async fn value(&self, q: &MetricQuery) -> canary_core::Result<Observation> {
        Ok(Observation::Value(match q.metric {
            MetricKind::RequestCount => 1000.0,
            MetricKind::RequestRate => 50.0,
            MetricKind::SuccessRate => 1.0,
            MetricKind::Latency(_) => 0.01,
            _ => 0.0,
        }))
    }
    async fn samples(&self, _: &MetricQuery) -> canary_core::Result<Vec<f64>> {
        Ok(Vec::new())
    }
}

#[derive(Debug)]
struct NoHooks;

#[async_trait::async_trait]
impl HookRunner for NoHooks {
    async fn call(
        &self,
        _: &canary_core::spec::HookSpec,
        _: &HookContext,
    ) -> canary_core::Result<HookOutcome> {
        Ok(HookOutcome {
            ok: true,
            message: String::new(),
        })
    }
}

const STEPS: usize = 10;

fn spec(apps: usize) -> Spec {
    let mut yaml = String::from("group: bench\napps:\n");
    for i in 0..apps {
        yaml.push_str(&format!(
            "  - {{ name: app{i}, image: \"app{i}:v2\", port: 8080, rule: \"Host(`app{i}.localhost`)\" }}\n"
        ));
    }
    yaml.push_str("traffic: { steps: [10, 20, 30, 40, 50, 60, 70, 80, 90, 95], interval: 10s }\n");
    yaml.push_str("analysis:\n  minRequests: 10\n  checks:\n");
    yaml.push_str("    - { name: success-rate, metric: successRate, min: 0.99, critical: true }\n");
    yaml.push_str(
        "    - { name: errors-vs-stable, metric: errorRate, relative: { tolerance: 0.01 } }\n",
    );
    yaml.push_str("    - { name: latency-p99, metric: { latency: 0.99 }, max: 1.0 }\n");
    Spec::from_yaml(&yaml).expect("the bench's spec is valid")
}

/// One whole rollout of `apps` apps; the wall time per step.
fn rollout_per_step(apps: usize) -> Duration {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("runtime");
    rt.block_on(async {
        let orch = Arc::new(MemoryOrchestrator::new());
        for i in 0..apps {
            let name = ServiceName::parse(&format!("app{i}")).expect("name");
            orch.add_service(
                name,
                &ImageRef::parse(&format!("app{i}:v1")).expect("image"),
                4,
            );
        }
        let deps = Deps::new(
            orch,
            Arc::new(MemoryRouter::new()),
            Arc::new(Healthy),
            Arc::new(MemoryStateStore::new()),
            Arc::new(NoHooks),
        );
        let opts = RolloutOptions::default()
            .owner("bench/1")
            .poll(Duration::from_millis(500));
        let rollout = Rollout::new(spec(apps), deps, opts).expect("rollout");
        let t = Instant::now();
        let outcome = rollout.run().await.expect("the rollout runs");
        let took = t.elapsed();
        assert_eq!(outcome, Outcome::Promoted, "a healthy canary is promoted");
        took / STEPS as u32
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn steps(rounds: usize) {
    let mut out = Vec::new();
    for apps in [1usize, 4, 16] {
        rollout_per_step(apps); // warm up
        let per: Vec<f64> = (0..rounds)
            .map(|_| rollout_per_step(apps).as_secs_f64() * 1e6)
            .collect();
        out.push(serde_json::json!({"apps": apps, "step_us": median(per)}));
    }
    println!("{}", serde_json::json!({ "steps": out }));
}

fn read_samples(path: &str) -> (Vec<f64>, Vec<f64>) {
    let text = std::fs::read_to_string(path).expect("samples file");
    let mut lines = text.lines().map(|l| {
        l.split_whitespace()
            .map(|v| v.parse::<f64>().expect("a number"))
            .collect::<Vec<_>>()
    });
    let x = lines.next().expect("line 1: canary samples");
    let y = lines.next().expect("line 2: stable samples");
    (x, y)
}

fn judge(path: &str, rounds: usize) {
    let (x, y) = read_samples(path);
    let first = canary_core::analysis::stats::mann_whitney_u(&x, &y).expect("a result");
    let per: Vec<f64> = (0..rounds)
        .map(|_| {
            let t = Instant::now();
            let r = canary_core::analysis::stats::mann_whitney_u(&x, &y);
            let took = t.elapsed().as_secs_f64();
            std::hint::black_box(r);
            took
        })
        .collect();
    println!(
        "{}",
        serde_json::json!({
            "n1": x.len(), "n2": y.len(), "u": first.u, "p_value": first.p_value,
            "method": format!("{:?}", first.method), "ms": median(per) * 1e3,
        })
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rounds = |i: usize| {
        args.get(i)
            .and_then(|s| s.parse::<usize>().ok())
            .unwrap_or(5)
            .clamp(1, 1000)
    };
    match args.first().map(String::as_str) {
        Some("judge") => judge(args.get(1).expect("a samples file"), rounds(2)),
        Some("steps") => steps(rounds(1)),
        _ => {
            eprintln!("usage: bench-core judge <samples-file> [rounds] | steps [rounds]");
            std::process::exit(2);
        }
    }
}
