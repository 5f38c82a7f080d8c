//! The rollout engine driven through fakes of every trait on tokio's paused clock: every
//! transition, manual control, resume from every saved state, no-data and error paths.

mod support;

use std::sync::Arc;
use std::time::Duration;

use canary_core::spec::MetricKind;
use canary_core::state::RolloutState;
use canary_core::{
    Command, CommandOutcome, Error, EventKind, HookOutcome, Observation, Outcome, Phase, Rollout,
    ServiceName, StateStore, Track,
};
use support::*;

#[tokio::test(start_paused = true)]
async fn good_canary_is_promoted_step_by_step() {
    let w = World::new(&["api"], FakeMetrics::success(1.0));
    let r = Rollout::new(spec(ONE_APP), w.deps(), opts("h/1")).unwrap();
    let mut events = r.subscribe();
    assert_eq!(r.run().await.unwrap(), Outcome::Promoted);

    // Traffic went 0 (canary up, header route) -> 10 -> 50 -> out.
    assert_eq!(w.router.weights(), vec![0, 10, 50, 100, 0]);
    let last = w.router.last().unwrap();
    assert!(!last.canary_routed && last.header_route.is_none());
    // Stable runs exactly the canary's image, by ID; the canary is at 0 replicas.
    assert_eq!(w.orch.get("api").unwrap().image, PINNED);
    assert_eq!(w.orch.get("api-canary").unwrap().desired, 0);
    // Stable was updated before traffic left the canary, and the canary left the routing before
    // it was scaled down.
    let log = &w.log;
    assert!(
        log.position(&format!("set_image api {PINNED}")).unwrap()
            < log.last_position("route out").unwrap()
    );
    assert!(log.last_position("route out").unwrap() < log.position("scale api-canary 0").unwrap());
    // Stable left the routing (the canary serving everything) before it took the image, and came
    // back only after: nothing the router had loaded named stable while its tasks were replaced.
    let detached = log.position("route detached").expect("stable detached");
    assert!(detached < log.position(&format!("set_image api {PINNED}")).unwrap());
    let configs = w.router.applied.lock().unwrap().clone();
    let handover = configs.iter().find(|c| c.stable_detached).unwrap();
    assert_eq!(handover.canary_weight.get(), 100);
    assert!(handover.apps.iter().all(|a| !a.canary_endpoints.is_empty()));
    // The stable service got the router's labels, the canary its own.
    assert_eq!(w.orch.get("api").unwrap().labels["router"], "api");
    assert_eq!(
        w.orch.get("api-canary").unwrap().labels["router"],
        "api-canary"
    );

    let st = saved(&w, "shop").await;
    assert_eq!(st.phase, Phase::Promoted);
    assert_eq!(st.stable_images["api"], "api:v1");
    assert!(st.lease.is_none(), "the lease is handed back at the end");

    let mut kinds = Vec::new();
    while let Ok(e) = events.try_recv() {
        kinds.push(e.kind);
    }
    let analyses = kinds.iter().filter(|k| **k == EventKind::Analysis).count();
    assert_eq!(analyses, 2, "{kinds:?}");
    assert_eq!(kinds.first(), Some(&EventKind::Started));
    assert_eq!(kinds.last(), Some(&EventKind::Promoted));
    // The saved state keeps the events for readers in other processes (a dashboard, a report):
    // everything up to the last save, which is the promotion itself.
    let saved_kinds: Vec<EventKind> = st.history.iter().map(|e| e.kind).collect();
    assert_eq!(saved_kinds.first(), Some(&EventKind::Started));
    assert!(
        saved_kinds.contains(&EventKind::Promoting),
        "{saved_kinds:?}"
    );
    assert_eq!(
        saved_kinds
            .iter()
            .filter(|k| **k == EventKind::Analysis)
            .count(),
        2
    );
    assert!(st.history.iter().any(|e| e.analysis.is_some()));
}

#[tokio::test(start_paused = true)]
async fn analysis_events_carry_the_figures() {
    let w = World::new(&["api"], FakeMetrics::success(0.5));
    let r = Rollout::new(spec(ONE_APP), w.deps(), opts("h/1")).unwrap();
    let mut events = r.subscribe();
    let out = r.run().await.unwrap();
    let Outcome::RolledBack { cause } = out else {
        panic!("{out:?}")
    };
    assert!(cause.contains("failure limit"), "{cause}");
    let mut analysis = None;
    while let Ok(e) = events.try_recv() {
        if e.kind == EventKind::Analysis {
            analysis = Some(e);
        }
    }
    let e = analysis.unwrap();
    let report = e.analysis.unwrap();
    let check = report
        .checks
        .iter()
        .find(|c| c.canary.is_some() && c.metric == "successRate")
        .unwrap();
    assert_eq!(check.canary, Some(0.5));
    assert!(e.message.contains("failed"), "{}", e.message);
}

#[tokio::test(start_paused = true)]
async fn bad_canary_is_rolled_back_and_stable_untouched() {
    let w = World::new(&["api"], FakeMetrics::success(0.7));
    let r = Rollout::new(spec(ONE_APP), w.deps(), opts("h/1")).unwrap();
    let out = r.run().await.unwrap();
    assert!(matches!(out, Outcome::RolledBack { .. }), "{out:?}");
    assert_eq!(w.orch.get("api").unwrap().image, "api:v1");
    assert_eq!(w.orch.get("api-canary").unwrap().desired, 0);
    // Only the first step was tried; then out of the routing before the scale-down.
    assert_eq!(w.router.weights(), vec![0, 10, 0]);
    assert!(
        w.log.last_position("route out").unwrap() < w.log.position("scale api-canary 0").unwrap()
    );
    assert!(!w.log.all().iter().any(|l| l.starts_with("set_image")));
    assert_eq!(saved(&w, "shop").await.phase, Phase::RolledBack);
}

#[tokio::test(start_paused = true)]
async fn failure_limit_tolerates_a_failure() {
    let w = World::new(&["api"], FakeMetrics::success(0.5));
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let c = calls.clone();
    // First analysis fails, later ones pass.
    w.metrics.set(move |q| {
        Ok(match q.metric {
            MetricKind::RequestCount => Observation::Value(500.0),
            MetricKind::SuccessRate if q.track == Track::Canary => {
                let n = c.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                Observation::Value(if n == 0 { 0.5 } else { 1.0 })
            }
            _ => Observation::Value(1.0),
        })
    });
    let s = spec(&format!("{ONE_APP}analysis:\n  failureLimit: 1\n"));
    let r = Rollout::new(s, w.deps(), opts("h/1")).unwrap();
    assert_eq!(r.run().await.unwrap(), Outcome::Promoted);
    assert_eq!(saved(&w, "shop").await.failures, 1);
    // The failed step was analysed again at the same weight.
    assert_eq!(w.router.weights(), vec![0, 10, 10, 50, 100, 0]);
}

#[tokio::test(start_paused = true)]
async fn critical_check_rolls_back_at_once() {
    let w = World::new(&["api"], FakeMetrics::success(0.9));
    let s = spec(&format!(
        "{ONE_APP}analysis:\n  failureLimit: 5\n  checks:\n    - name: sr\n      metric: successRate\n      min: 0.95\n      critical: true\n"
    ));
    let r = Rollout::new(s, w.deps(), opts("h/1")).unwrap();
    let out = r.run().await.unwrap();
    let Outcome::RolledBack { cause } = out else {
        panic!()
    };
    assert!(cause.contains("critical"), "{cause}");
    assert_eq!(w.router.weights(), vec![0, 10, 0]);
}

#[tokio::test(start_paused = true)]
async fn no_data_is_never_a_pass_and_rolls_back_past_the_limit() {
    let w = World::new(&["api"], FakeMetrics::new(|_| Ok(Observation::NoData)));
    let r = Rollout::new(spec(ONE_APP), w.deps(), opts("h/1")).unwrap();
    let out = r.run().await.unwrap();
    let Outcome::RolledBack { cause } = out else {
        panic!()
    };
    assert!(cause.contains("inconclusive"), "{cause}");
    // Default inconclusive limit 2: three inconclusive analyses at the first step, never step 2.
    assert_eq!(w.router.weights(), vec![0, 10, 10, 10, 0]);
    assert_eq!(saved(&w, "shop").await.inconclusive, 3);
}

#[tokio::test(start_paused = true)]
async fn metric_errors_are_inconclusive_then_pause_when_told() {
    let w = World::new(
        &["api"],
        FakeMetrics::new(|_| Err(Error::unavailable("prometheus down"))),
    );
    let s = spec(&format!(
        "{ONE_APP}analysis:\n  inconclusiveLimit: 0\n  onInconclusive: pause\n"
    ));
    let r = Arc::new(Rollout::new(s, w.deps(), opts("h/1")).unwrap());
    let r2 = r.clone();
    let run = tokio::spawn(async move { r2.run().await });
    // Wait until it paused.
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if w.store
            .load(&group("shop"), &[])
            .await
            .unwrap()
            .is_some_and(|v| v.state.phase == Phase::Paused)
        {
            break;
        }
    }
    let st = saved(&w, "shop").await;
    assert_eq!(st.phase, Phase::Paused);
    assert!(st.cause.unwrap().contains("prometheus down"));
    assert_eq!(w.router.weights(), vec![0, 10]);
    // Metrics come back; a person resumes; it promotes.
    w.metrics.set(|q| {
        Ok(if q.metric == MetricKind::RequestCount {
            Observation::Value(100.0)
        } else {
            Observation::Value(1.0)
        })
    });
    let other = Rollout::new(spec(ONE_APP), w.deps(), opts("h/2")).unwrap();
    assert!(matches!(
        other.command(Command::Resume).await.unwrap(),
        CommandOutcome::Delivered { .. }
    ));
    assert_eq!(run.await.unwrap().unwrap(), Outcome::Promoted);
}

#[tokio::test(start_paused = true)]
async fn manual_controls_from_another_process() {
    let w = World::new(&["api"], FakeMetrics::success(1.0));
    let s = spec(
        &ONE_APP
            .replace("steps: [10, 50]", "steps: [10, 20, 30, 40]")
            .replace("10s", "60s"),
    );
    let r = Arc::new(Rollout::new(s.clone(), w.deps(), opts("h/1")).unwrap());
    let r2 = r.clone();
    let run = tokio::spawn(async move { r2.run().await });
    tokio::time::sleep(Duration::from_secs(5)).await;
    let ctl = Rollout::new(s.clone(), w.deps(), opts("h/2")).unwrap();

    // Pause: it stops moving.
    assert!(
        matches!(ctl.command(Command::Pause).await.unwrap(), CommandOutcome::Delivered { owner } if owner == "h/1")
    );
    tokio::time::sleep(Duration::from_secs(300)).await;
    assert_eq!(saved(&w, "shop").await.phase, Phase::Paused);
    assert_eq!(w.router.weights(), vec![0, 10]);

    // Promote (next step) while paused: weight 20.
    ctl.command(Command::Promote).await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(w.router.weights(), vec![0, 10, 20]);
    // Pause again, resume: it goes on.
    ctl.command(Command::Pause).await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(saved(&w, "shop").await.phase, Phase::Paused);
    ctl.command(Command::Resume).await.unwrap();
    tokio::time::sleep(Duration::from_secs(65)).await;
    assert!(w.router.weights().len() >= 4, "{:?}", w.router.weights());
    // Promote --full: promoted without the remaining steps.
    ctl.command(Command::PromoteFull).await.unwrap();
    assert_eq!(run.await.unwrap().unwrap(), Outcome::Promoted);
    assert!(!w.router.weights().contains(&40));
    assert_eq!(w.orch.get("api").unwrap().image, PINNED);
    // Commands on an ended rollout are refused.
    assert!(matches!(
        ctl.command(Command::Abort).await,
        Err(Error::Conflict { .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn abort_from_another_process_rolls_back() {
    let w = World::new(&["api"], FakeMetrics::success(1.0));
    let r = Arc::new(Rollout::new(spec(ONE_APP), w.deps(), opts("h/1")).unwrap());
    let r2 = r.clone();
    let run = tokio::spawn(async move { r2.run().await });
    tokio::time::sleep(Duration::from_secs(3)).await;
    let ctl = Rollout::new(spec(ONE_APP), w.deps(), opts("h/2")).unwrap();
    ctl.command(Command::Abort).await.unwrap();
    let out = run.await.unwrap().unwrap();
    assert_eq!(
        out,
        Outcome::RolledBack {
            cause: "aborted by a person".into()
        }
    );
    assert_eq!(w.orch.get("api").unwrap().image, "api:v1");
}

#[tokio::test(start_paused = true)]
async fn standalone_commands_with_nobody_driving() {
    let w = World::new(&["api"], FakeMetrics::success(1.0));
    let r = Rollout::new(spec(ONE_APP), w.deps(), opts("h/1")).unwrap();
    // Nothing to command yet.
    assert!(matches!(
        r.command(Command::Pause).await,
        Err(Error::NotFound { .. })
    ));
    // Drive two transitions by hand: pending -> progressing; then the first step.
    assert_eq!(r.step().await.unwrap(), Phase::Progressing);
    // Pause and resume with nobody driving change the saved phase (the same controller, between
    // two steps it drives by hand).
    let ctl = Rollout::new(spec(ONE_APP), w.deps(), opts("h/1")).unwrap();
    assert_eq!(
        ctl.command(Command::Pause).await.unwrap(),
        CommandOutcome::Applied {
            phase: Phase::Paused
        }
    );
    assert_eq!(
        ctl.command(Command::Resume).await.unwrap(),
        CommandOutcome::Applied {
            phase: Phase::Progressing
        }
    );
    // Promote moves one step and puts its weight in force.
    assert_eq!(
        ctl.command(Command::Promote).await.unwrap(),
        CommandOutcome::Applied {
            phase: Phase::Progressing
        }
    );
    assert_eq!(saved(&w, "shop").await.step, 1);
    assert_eq!(w.router.weights().last(), Some(&50));
    // Rollback drives to the end.
    assert_eq!(
        ctl.command(Command::Abort).await.unwrap(),
        CommandOutcome::Applied {
            phase: Phase::RolledBack
        }
    );
    assert_eq!(w.orch.get("api-canary").unwrap().desired, 0);
}

#[tokio::test(start_paused = true)]
async fn a_rollout_of_other_images_in_flight_is_a_conflict() {
    let w = World::new(&["api"], FakeMetrics::success(1.0));
    let r = Rollout::new(spec(ONE_APP), w.deps(), opts("h/1")).unwrap();
    r.step().await.unwrap();
    drop(r);
    let v3 = spec(&ONE_APP.replace("api:v2", "api:v3"));
    // Its lease is handed back only by run(); step() keeps it, so wait it out (same host).
    let e = Rollout::new(v3, w.deps(), opts("h/1").lease(Duration::from_secs(1)))
        .unwrap()
        .run()
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::Conflict { message: m, .. } if m.contains("other images")),
        "{e}"
    );
}

#[tokio::test(start_paused = true)]
async fn pre_rollout_hook_failure_aborts_before_any_traffic() {
    let w = World::new(&["api"], FakeMetrics::success(1.0));
    *w.hooks.f.lock().unwrap() = Box::new(|name, _| {
        Ok(HookOutcome {
            ok: name != "gate",
            message: "closed".into(),
        })
    });
    let s = spec(&format!("{ONE_APP}hooks:\n  preRollout:\n    - name: gate\n      url: http://127.0.0.1:9/gate\n  rollback:\n    - name: notify\n      url: http://127.0.0.1:9/n\n"));
    let out = Rollout::new(s, w.deps(), opts("h/1"))
        .unwrap()
        .run()
        .await
        .unwrap();
    let Outcome::RolledBack { cause } = out else {
        panic!()
    };
    assert!(
        cause.contains("pre-rollout hook gate failed: closed"),
        "{cause}"
    );
    assert!(w.orch.get("api-canary").is_none(), "no canary was created");
    assert_eq!(w.router.weights(), vec![0]);
    assert_eq!(
        *w.hooks.calls.lock().unwrap(),
        vec!["PreRollout:gate", "Rollback:notify"]
    );
}

#[tokio::test(start_paused = true)]
async fn step_hook_failure_counts_as_a_failed_analysis() {
    let w = World::new(&["api"], FakeMetrics::success(1.0));
    *w.hooks.f.lock().unwrap() = Box::new(|_, _| Err(Error::unavailable("connection refused")));
    let s = spec(&format!(
        "{ONE_APP}hooks:\n  step:\n    - name: load\n      url: http://127.0.0.1:9/load\n"
    ));
    let out = Rollout::new(s, w.deps(), opts("h/1"))
        .unwrap()
        .run()
        .await
        .unwrap();
    let Outcome::RolledBack { cause } = out else {
        panic!()
    };
    assert!(
        cause.contains("step hook load failed") && cause.contains("connection refused"),
        "{cause}"
    );
}

#[tokio::test(start_paused = true)]
async fn confirm_promotion_holds_until_it_says_yes() {
    let w = World::new(&["api"], FakeMetrics::success(1.0));
    let asks = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let a = asks.clone();
    *w.hooks.f.lock().unwrap() = Box::new(move |_, ctx| {
        assert_eq!(ctx.weight, 50);
        let n = a.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(HookOutcome {
            ok: n >= 2,
            message: format!("ask {n}"),
        })
    });
    let s = spec(&format!("{ONE_APP}hooks:\n  confirmPromotion:\n    - name: human\n      url: http://127.0.0.1:9/ok\n"));
    assert_eq!(
        Rollout::new(s, w.deps(), opts("h/1"))
            .unwrap()
            .run()
            .await
            .unwrap(),
        Outcome::Promoted
    );
    assert_eq!(asks.load(std::sync::atomic::Ordering::SeqCst), 3);
    // Held at the last step meanwhile.
    assert_eq!(w.router.weights(), vec![0, 10, 50, 50, 50, 100, 0]);
}

#[tokio::test(start_paused = true)]
async fn canary_that_does_not_start_is_rolled_back_with_the_task_message() {
    let w = World::new(&["api"], FakeMetrics::success(1.0));
    w.orch
        .broken
        .lock()
        .unwrap()
        .insert("api-canary".into(), "No such image: api:v2".into());
    let out = Rollout::new(spec(ONE_APP), w.deps(), opts("h/1"))
        .unwrap()
        .run()
        .await
        .unwrap();
    let Outcome::RolledBack { cause } = out else {
        panic!()
    };
    assert!(cause.contains("No such image: api:v2"), "{cause}");
    assert_eq!(w.orch.get("api-canary").unwrap().desired, 0);
}

#[tokio::test(start_paused = true)]
async fn failed_promotion_restores_stable() {
    let w = World::new(&["api"], FakeMetrics::success(1.0));
    w.orch
        .broken
        .lock()
        .unwrap()
        .insert("api".into(), "task exited with code 2".into());
    let out = Rollout::new(spec(ONE_APP), w.deps(), opts("h/1"))
        .unwrap()
        .run()
        .await
        .unwrap();
    let Outcome::RolledBack { cause } = out else {
        panic!()
    };
    assert!(cause.contains("exited with code 2"), "{cause}");
    // Stable got the new image, failed, and was put back.
    assert!(w.log.position(&format!("set_image api {PINNED}")).is_some());
    assert_eq!(w.orch.get("api").unwrap().image, "api:v1");
}

#[tokio::test(start_paused = true)]
async fn retryable_router_errors_are_retried() {
    let w = World::new(&["api"], FakeMetrics::success(1.0));
    let n = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let c = n.clone();
    *w.router.fault.lock().unwrap() = Some(Box::new(move |_| {
        (c.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < 2)
            .then(|| Error::unavailable("traefik restarting"))
    }));
    let r = Rollout::new(spec(ONE_APP), w.deps(), opts("h/1")).unwrap();
    let mut ev = r.subscribe();
    assert_eq!(r.run().await.unwrap(), Outcome::Promoted);
    let mut retries = 0;
    while let Ok(e) = ev.try_recv() {
        retries += usize::from(e.kind == EventKind::Retry);
    }
    assert_eq!(retries, 2);
}

#[tokio::test(start_paused = true)]
async fn a_call_that_hangs_times_out_and_rolls_back() {
    let w = World::new(&["api"], FakeMetrics::success(1.0));
    w.orch.hang.lock().unwrap().push("set_image api".into());
    let s = spec(&format!("{ONE_APP}timeouts:\n  call: 2s\n"));
    let out = Rollout::new(s, w.deps(), opts("h/1").retries(1))
        .unwrap()
        .run()
        .await
        .unwrap();
    let Outcome::RolledBack { cause } = out else {
        panic!()
    };
    assert!(
        cause.contains("timed out") && cause.contains("update stable"),
        "{cause}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_rollback_that_fails_is_tried_again_and_can_be_driven_on() {
    let w = World::new(&["api"], FakeMetrics::success(0.1));
    let broken = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let b = broken.clone();
    *w.orch.fault.lock().unwrap() = Some(Box::new(move |op| {
        (op == "scale api-canary" && b.load(std::sync::atomic::Ordering::SeqCst))
            .then(|| Error::rejected("docker", "nope"))
    }));
    // Past `timeouts.rollback` (10m) the run stops and says so; the rollout stays rolling back.
    let e = Rollout::new(spec(ONE_APP), w.deps(), opts("h/1"))
        .unwrap()
        .run()
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("nope") && e.to_string().contains("did not finish"),
        "{e}"
    );
    let st = saved(&w, "shop").await;
    assert_eq!(st.phase, Phase::RollingBack);
    assert!(st.lease.is_none(), "handed back");
    // The canary was out of the routing all the same.
    assert!(!w.router.last().unwrap().canary_routed);
    let retries = st
        .history
        .iter()
        .filter(|e| e.kind == EventKind::Retry && e.message.contains("rollback not finished"))
        .count();
    assert!(retries >= 5, "{retries} retries");
    // Docker works again: `canary rollback` (a command with nobody driving) finishes it.
    broken.store(false, std::sync::atomic::Ordering::SeqCst);
    let out = Rollout::new(spec(ONE_APP), w.deps(), opts("h/2"))
        .unwrap()
        .command(Command::Abort)
        .await
        .unwrap();
    assert_eq!(
        out,
        CommandOutcome::Applied {
            phase: Phase::RolledBack
        }
    );
    assert_eq!(w.orch.get("api-canary").unwrap().desired, 0);
}

#[tokio::test(start_paused = true)]
async fn a_failed_rollback_of_an_older_version_can_be_driven_on() {
    let w = World::new(&["api"], FakeMetrics::success(1.0));
    seed_state(&w, Phase::Failed, 1, 0).await;
    let r = Rollout::new(spec(ONE_APP), w.deps(), opts("h/1")).unwrap();
    let out = r.command(Command::Abort).await.unwrap();
    assert_eq!(
        out,
        CommandOutcome::Applied {
            phase: Phase::RolledBack
        }
    );
}

#[tokio::test(start_paused = true)]
async fn both_apps_of_a_group_move_together() {
    let w = World::new(
        &["neotix_neotix-api", "neotix_gcp-deployment-api"],
        FakeMetrics::success(1.0),
    );
    let r = Rollout::new(spec(NEOTIX), w.deps(), opts("h/1")).unwrap();
    assert_eq!(r.run().await.unwrap(), Outcome::Promoted);
    for app in ["neotix_neotix-api", "neotix_gcp-deployment-api"] {
        assert_eq!(w.orch.get(app).unwrap().image, PINNED);
        assert_eq!(w.orch.get(&format!("{app}-canary")).unwrap().desired, 0);
    }
    for c in w.router.applied.lock().unwrap().iter() {
        assert_eq!(c.apps.len(), 2, "one config moves both apps");
    }
    // One app failing rolls back both.
    let w = World::new(
        &["neotix_neotix-api", "neotix_gcp-deployment-api"],
        FakeMetrics::success(1.0),
    );
    w.metrics.set(|q| {
        Ok(match q.metric {
            MetricKind::RequestCount => Observation::Value(100.0),
            MetricKind::SuccessRate
                if q.track == Track::Canary && q.app.name.as_str() == "gcp-deployment-api" =>
            {
                Observation::Value(0.6)
            }
            _ => Observation::Value(1.0),
        })
    });
    let out = Rollout::new(spec(NEOTIX), w.deps(), opts("h/1"))
        .unwrap()
        .run()
        .await
        .unwrap();
    let Outcome::RolledBack { cause } = out else {
        panic!()
    };
    assert!(cause.contains("gcp-deployment-api"), "{cause}");
    for app in ["neotix_neotix-api", "neotix_gcp-deployment-api"] {
        assert_eq!(w.orch.get(app).unwrap().image, "api:v1");
        assert_eq!(w.orch.get(&format!("{app}-canary")).unwrap().desired, 0);
    }
}

#[tokio::test(start_paused = true)]
async fn replicas_mode_scales_to_the_weights() {
    let w = World::new(&["api"], FakeMetrics::success(1.0));
    // Replicas mode analyses through the apps' own per-task metrics (Traefik's cannot see the
    // canary there); the fake source answers the same either way.
    let s = spec(&format!(
        "{}analysis:\n  taskMetrics:\n    requests: http_requests_total\n",
        ONE_APP.replace(
            "steps: [10, 50]",
            "mode: replicas\n  totalReplicas: 4\n  steps: [25, 50]",
        )
    ));
    let r = Rollout::new(s, w.deps(), opts("h/1")).unwrap();
    let plan = r.status().await.unwrap().replica_plan.expect("a plan");
    let counts: Vec<_> = plan.iter().map(|p| (p.stable, p.canary, p.off)).collect();
    assert_eq!(counts, [(3, 1, 0.0), (2, 2, 0.0)]);
    let mut events = r.subscribe();
    assert_eq!(r.run().await.unwrap(), Outcome::Promoted);
    let mut said = Vec::new();
    while let Ok(e) = events.try_recv() {
        if e.kind == canary_core::EventKind::WeightSet {
            said.push(e.message);
        }
    }
    assert_eq!(
        said,
        [
            "step 1 of 2: canary weight 25% (replicas: 1 canary + 3 stable tasks: exactly 25%)",
            "step 2 of 2: canary weight 50% (replicas: 2 canary + 2 stable tasks: exactly 50%)",
        ]
    );
    let log = w.log.all();
    let at = |s: &str| {
        log.iter()
            .position(|l| l == s)
            .unwrap_or_else(|| panic!("{s} not in {log:?}"))
    };
    // 25 % of 4 = 1 canary + 3 stable; then 2 + 2; canary grows before stable shrinks.
    assert!(at("scale api-canary 1") < at("scale api 3"));
    assert!(at("scale api-canary 2") < at("scale api 2"));
    assert_eq!(w.orch.get("api").unwrap().desired, 4);
    assert_eq!(w.orch.get("api-canary").unwrap().desired, 0);
}

#[tokio::test(start_paused = true)]
async fn status_reports_state_split_and_services() {
    let w = World::new(&["api"], FakeMetrics::success(1.0));
    let r = Rollout::new(spec(ONE_APP), w.deps(), opts("h/1")).unwrap();
    let st = r.status().await.unwrap();
    assert!(st.state.is_none());
    r.step().await.unwrap();
    r.step().await.unwrap();
    let st = r.status().await.unwrap();
    let state = st.state.unwrap();
    assert_eq!(
        (state.phase, state.step, state.weight),
        (Phase::Progressing, 1, 10)
    );
    assert_eq!(st.steps, vec![10, 50]);
    assert_eq!(st.splits[0].canary, 10);
    assert_eq!(st.services.len(), 2);
    assert!(st.driven);
}

#[derive(Debug)]
struct HangingStore;

#[async_trait::async_trait]
impl StateStore for HangingStore {
    async fn load(
        &self,
        _: &ServiceName,
        _: &[canary_core::AppRef],
    ) -> canary_core::Result<Option<canary_core::Versioned>> {
        futures::future::pending().await
    }
    async fn save(
        &self,
        _: &ServiceName,
        _: &[canary_core::AppRef],
        _: &RolloutState,
        _: Option<u64>,
    ) -> canary_core::Result<u64> {
        futures::future::pending().await
    }
    async fn clear(&self, _: &ServiceName, _: &[canary_core::AppRef]) -> canary_core::Result<()> {
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn a_state_store_that_hangs_times_out_before_anything_changes() {
    let w = World::new(&["api"], FakeMetrics::success(1.0));
    let mut deps = w.deps();
    deps.store = Arc::new(HangingStore);
    let s = spec(&format!("{ONE_APP}timeouts:\n  call: 3s\n"));
    let e = Rollout::new(s, deps, opts("h/1"))
        .unwrap()
        .run()
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::Timeout { what, .. } if what == "load state"),
        "{e}"
    );
    assert!(
        w.log.all().is_empty(),
        "nothing was touched: {:?}",
        w.log.all()
    );
}
