//! `canary_sdk::replay` end to end without Docker: a rollout is recorded (through the recorder
//! the CLI's `run --record` uses) over a scripted metrics source on the in-memory world, then
//! replayed from the file: the same decisions, figures included; a what-if with a looser
//! threshold decides otherwise; a query the analysis gave up on replays as the same timeout.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use canary_core::memory::{MemoryOrchestrator, MemoryRouter};
use canary_core::recording::Recorder;
use canary_core::spec::overrides::Override;
use canary_core::spec::MetricKind;
use canary_core::traits::{HookContext, HookOutcome, HookRunner};
use canary_core::{
    Deps, EventKind, ImageRef, MemoryStateStore, MetricQuery, MetricsSource, Observation, Result,
    Rollout, RolloutOptions, Spec, Track,
};
use canary_sdk::replay::{replay, ReplayOptions, ReplayOutcome};

const SPEC: &str = r#"
group: shop
apps:
  - name: api
    image: shop-api:v2
    stableImage: shop-api:v1
    port: 8080
    rule: "Host(`shop.localhost`)"
    canaryEnv: {API_TOKEN: s3cr3t-env-value}
hooks:
  preRollout: [{name: gate, url: "http://ops:pw-in-url@127.0.0.1:9/gate?token=hook-token", metadata: {auth: meta-secret}}]
traffic:
  steps: [20, 50]
  interval: 10s
analysis:
  every: 2s
  minRequests: 10
  checks:
    - {name: success-rate, metric: successRate, min: 0.9, critical: true}
    - {name: errors-vs-stable, metric: errorRate, relative: {tolerance: 0.5}}
  judge:
    metrics: [{name: latency, metric: {latency: 0.5}}]
timeouts:
  call: 3s
"#;

/// The canary answers 80 % of its requests, stable all of them; latency samples differ a little.
/// The canary's latency samples hang once (past the call deadline).
#[derive(Debug, Default)]
struct Scripted {
    hung: std::sync::atomic::AtomicBool,
}

#[async_trait]
impl MetricsSource for Scripted {
    async fn value(&self, q: &MetricQuery) -> Result<Observation> {
        let canary = q.track == Track::Canary;
        Ok(Observation::Value(match q.metric {
            MetricKind::RequestCount => 100.0,
            MetricKind::SuccessRate => {
                if canary {
                    0.8
                } else {
                    1.0
                }
            }
            MetricKind::ErrorRate => {
                if canary {
                    0.2
                } else {
                    0.0
                }
            }
            _ => return Ok(Observation::NoData),
        }))
    }
    async fn samples(&self, q: &MetricQuery) -> Result<Vec<f64>> {
        if q.track == Track::Canary && !self.hung.swap(true, std::sync::atomic::Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
        let base = if q.track == Track::Canary { 0.05 } else { 0.01 };
        Ok((0..20).map(|i| base + i as f64 * 0.001).collect())
    }
}

#[derive(Debug)]
struct Yes;

#[async_trait]
impl HookRunner for Yes {
    async fn call(
        &self,
        _hook: &canary_core::spec::HookSpec,
        _context: &HookContext,
    ) -> Result<HookOutcome> {
        Ok(HookOutcome {
            ok: true,
            message: String::new(),
        })
    }
}

/// Runs `spec` on the in-memory world over `Scripted`, recording to `path`, on a paused clock.
fn record(spec: Spec, path: PathBuf) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async move {
        let recorder = Recorder::create(&path, &spec).unwrap();
        let orchestrator = Arc::new(MemoryOrchestrator::new());
        for app in spec.app_refs() {
            orchestrator.add_service(app.stable, &ImageRef::parse("shop-api:v1").unwrap(), 2);
        }
        let deps = Deps::new(
            orchestrator,
            Arc::new(MemoryRouter::new()),
            recorder.metrics(Arc::new(Scripted::default())),
            Arc::new(MemoryStateStore::new()),
            Arc::new(Yes),
        );
        let rollout = Rollout::new(spec, deps, RolloutOptions::default()).unwrap();
        let following = recorder.follow(rollout.subscribe());
        rollout.run().await.unwrap();
        following.stop().await;
        recorder.finish().unwrap();
    });
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("canary-sdk-replay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn a_recorded_rollout_replays_to_the_same_decisions_and_a_what_if_decides_otherwise() {
    let path = temp("shop.jsonl");
    record(Spec::from_yaml(SPEC).unwrap(), path.clone());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.starts_with("{\"format\":\"canary-recording\",\"version\":1,"),
        "{text}"
    );
    for secret in ["s3cr3t-env-value", "pw-in-url", "hook-token", "meta-secret"] {
        assert!(!text.contains(secret), "{secret} was recorded");
    }
    assert!(
        text.contains("\"kind\":\"unanswered\""),
        "the hung query is recorded as such"
    );

    // As recorded: the first continuous analysis, 2 s into step 1, waits 3 s for the judge's
    // hung samples (the call deadline), then the critical success-rate check (0.8 < 0.9) rolls
    // back at t+5.0s. The replay waits the same deadline: the same decisions, the same time.
    let report = rt
        .block_on(replay(
            None,
            ReplayOptions::default().recording(path.clone()),
        ))
        .unwrap();
    let recorded = report.recorded.clone().unwrap();
    assert_eq!(report.differences, Vec::<String>::new(), "{report:#?}");
    // Every decision and figure as recorded (the events' wall-clock stamps aside).
    let plain = |ds: &[canary_sdk::replay::Decision]| {
        ds.iter()
            .map(|d| {
                let mut d = d.clone();
                d.event.at_ms = 0;
                d
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(plain(&report.decisions), plain(&recorded.decisions));
    assert_eq!(report.decisions.len(), 5, "{report:#?}");
    let ReplayOutcome::RolledBack { at_ms, cause } = &report.outcome else {
        panic!("{report:#?}")
    };
    assert_eq!(
        *at_ms, 5000,
        "2 s to the first continuous analysis, 3 s of deadline"
    );
    assert!(
        cause.contains("success-rate") && cause.contains("0.800"),
        "{cause}"
    );
    assert_eq!(recorded.outcome, report.outcome);
    let analysis = report
        .decisions
        .iter()
        .find_map(|d| d.event.analysis.as_ref())
        .unwrap();
    assert!(
        analysis.judges[0].metrics[0]
            .reason
            .contains("timed out after 3s"),
        "{analysis:#?}"
    );

    // What-if: a looser success-rate threshold. The continuous analysis that ends at 5 s no
    // longer fails critically; the next one, at 7 s, asks past the recorded step (it ended with
    // the rollback at 5 s): no decision within what was recorded, and no rollback at t+5.0s.
    let what_if = rt
        .block_on(replay(
            None,
            ReplayOptions::default()
                .recording(path.clone())
                .overrides(vec![Override::set("analysis.checks[0].min", 0.5)]),
        ))
        .unwrap();
    assert!(!what_if.differences.is_empty(), "{what_if:#?}");
    match &what_if.outcome {
        ReplayOutcome::Undecided {
            at_ms,
            phase,
            step,
            weight,
            why,
        } => {
            assert_eq!(
                (*phase, *step, *weight),
                (canary_core::Phase::Progressing, 0, 20)
            );
            assert_eq!(
                *at_ms, 7000,
                "the next continuous analysis, 2 s after the last"
            );
            assert!(why.contains("step 1 ends 5.0s"), "{why}");
        }
        other => panic!("{other:#?}"),
    }
    let kinds: Vec<EventKind> = what_if.decisions.iter().map(|d| d.event.kind).collect();
    assert_eq!(kinds, [EventKind::WeightSet], "{what_if:#?}");

    let _ = std::fs::remove_file(&path);
    if let Some(dir) = path.parent() {
        let _ = std::fs::remove_dir(dir);
    }
}

/// The recordings shipped in `examples/replay` (the demo's bad canary, recorded by
/// `bench/continuous/run.sh` on the real stack): replayed, each gives its recorded decisions back,
/// figures included; with looser thresholds the step-1 verdict passes and the rollout moves on.
#[test]
fn the_shipped_recordings_of_the_bad_canary_replay_exactly_and_a_looser_threshold_moves_on() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/replay");
    let rt = tokio::runtime::Runtime::new().unwrap();
    // (file, when the recorded run decided to roll back, in ms after the canary got traffic)
    for (file, decided) in [
        ("neotix-bad.jsonl", 10_000..10_200),
        ("neotix-bad-every-1s.jsonl", 2_000..2_200),
    ] {
        let path = dir.join(file);
        let report = rt
            .block_on(replay(
                None,
                ReplayOptions::default().recording(path.clone()),
            ))
            .unwrap();
        assert_eq!(
            report.differences,
            Vec::<String>::new(),
            "{file}: {report:#?}"
        );
        let recorded = report.recorded.clone().unwrap();
        assert_eq!(report.decisions.len(), recorded.decisions.len(), "{file}");
        let ReplayOutcome::RolledBack { at_ms, cause } = &report.outcome else {
            panic!("{file}: {report:#?}")
        };
        assert!(cause.contains("success-rate"), "{file}: {cause}");
        let ReplayOutcome::RolledBack { at_ms: was, .. } = recorded.outcome else {
            panic!("{file}: {recorded:#?}")
        };
        assert!(decided.contains(&was), "{file}: recorded at {was} ms");
        // On the paused clock the decision falls on the analysis' schedule, to the millisecond.
        assert_eq!(*at_ms, decided.start, "{file}");

        let what_if = rt
            .block_on(replay(
                None,
                ReplayOptions::default().recording(path).overrides(vec![
                    Override::set("analysis.checks[0].min", 0.5),
                    Override::set("analysis.checks[1].relative.tolerance", 0.5),
                ]),
            ))
            .unwrap();
        assert!(!what_if.differences.is_empty(), "{file}");
        assert!(
            !what_if
                .decisions
                .iter()
                .any(|d| d.event.kind == EventKind::RollingBack),
            "{file}: {what_if:#?}"
        );
        let ReplayOutcome::Undecided { step, why, .. } = &what_if.outcome else {
            panic!("{file}: {what_if:#?}")
        };
        // Once per step the passing verdict moves to step 2 (not recorded); continuously the
        // next analysis asks past the recorded step 1.
        assert!(why.contains("the recording"), "{file}: {why}");
        assert!(*step <= 1, "{file}");
    }
}
