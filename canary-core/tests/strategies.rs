//! The engine's ways to roll out beyond plain steps, on a paused clock: gate steps (a person or a
//! timer opens them), confirm hooks per step, canary capacity that follows the weight, a
//! header-only first step, and blue/green.

mod support;

use std::sync::Arc;
use std::time::Duration;

use canary_core::traits::{HookOutcome, StateStore};
use canary_core::{Command, CommandOutcome, Outcome, Phase, Rollout, ServiceName};
use support::*;

async fn phase(w: &World) -> (Phase, Option<String>) {
    let s = spec(ONE_APP);
    let st = w
        .store
        .load(&ServiceName::parse("shop").unwrap(), &s.app_refs())
        .await
        .unwrap()
        .unwrap()
        .state;
    (st.phase, st.cause)
}

fn stable_size(w: &World, n: u64) {
    let mut services = w.orch.services.lock().unwrap();
    let s = services.get_mut("api").unwrap();
    s.desired = n;
    s.running = n;
}

#[tokio::test(start_paused = true)]
async fn a_gate_step_holds_until_another_process_resumes_it() {
    let w = World::new(&["api"], FakeMetrics::success(1.0));
    let s = spec(&ONE_APP.replace("steps: [10, 50]", "steps: [{weight: 10, pause: true}, 50]"));
    let r = Arc::new(Rollout::new(s.clone(), w.deps(), opts("h/1")).unwrap());
    let r2 = r.clone();
    let run = tokio::spawn(async move { r2.run().await });
    // Analysis passed long ago; the gate holds at 10 however long it takes.
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert_eq!(w.router.weights(), vec![0, 10]);
    let (p, cause) = phase(&w).await;
    assert_eq!(p, Phase::Paused, "{cause:?}");
    assert!(cause.unwrap().contains("gate at step 1"));
    let ctl = Rollout::new(s, w.deps(), opts("h/2")).unwrap();
    assert!(matches!(
        ctl.command(Command::Resume).await.unwrap(),
        CommandOutcome::Delivered { .. }
    ));
    assert_eq!(run.await.unwrap().unwrap(), Outcome::Promoted);
    assert_eq!(w.router.weights(), vec![0, 10, 50, 100, 0]);
}

#[tokio::test(start_paused = true)]
async fn a_timed_gate_opens_by_itself() {
    let w = World::new(&["api"], FakeMetrics::success(1.0));
    let s = spec(&ONE_APP.replace("steps: [10, 50]", "steps: [{weight: 10, pause: 5m}, 50]"));
    let r = Arc::new(Rollout::new(s, w.deps(), opts("h/1")).unwrap());
    let r2 = r.clone();
    let run = tokio::spawn(async move { r2.run().await });
    tokio::time::sleep(Duration::from_secs(4 * 60)).await;
    assert_eq!(w.router.weights(), vec![0, 10], "opened before its time");
    tokio::time::sleep(Duration::from_secs(2 * 60)).await;
    assert!(w.router.weights().contains(&50), "{:?}", w.router.weights());
    assert_eq!(run.await.unwrap().unwrap(), Outcome::Promoted);
}

#[tokio::test(start_paused = true)]
async fn a_step_confirm_hook_keeps_the_weight_until_it_says_yes() {
    let w = World::new(&["api"], FakeMetrics::success(1.0));
    let asks = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let a = asks.clone();
    *w.hooks.f.lock().unwrap() = Box::new(move |name, ctx| {
        assert_eq!(name, "owner");
        let n = a.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        // Asked before the weight rises: the weight in force is still the one before.
        assert_eq!(ctx.weight, 10);
        Ok(HookOutcome {
            ok: n >= 3,
            message: format!("ask {n}"),
        })
    });
    let s = spec(&ONE_APP.replace(
        "steps: [10, 50]",
        "steps: [10, {weight: 50, confirm: [{name: owner, url: \"http://127.0.0.1:9/ok\"}]}]",
    ));
    let out = Rollout::new(s, w.deps(), opts("h/1"))
        .unwrap()
        .run()
        .await
        .unwrap();
    assert_eq!(out, Outcome::Promoted);
    assert_eq!(asks.load(std::sync::atomic::Ordering::SeqCst), 4);
    // 50 only once the hook said yes; 10 held meanwhile.
    let weights = w.router.weights();
    assert_eq!(
        weights.iter().filter(|&&x| x == 50).count(),
        1,
        "{weights:?}"
    );
    assert_eq!(weights.first(), Some(&0));
}

#[tokio::test(start_paused = true)]
async fn auto_capacity_scales_the_canary_before_each_weight_rises() {
    let w = World::new(&["api"], FakeMetrics::success(1.0));
    stable_size(&w, 10);
    let s = spec(&ONE_APP.replace("port: 8080", "port: 8080\n    canaryReplicas: auto"));
    let out = Rollout::new(s, w.deps(), opts("h/1"))
        .unwrap()
        .run()
        .await
        .unwrap();
    assert_eq!(out, Outcome::Promoted);
    let log = &w.log;
    // 10% of 10 tasks: 1 task before weight 10; 50%: 5 before weight 50; all 10 for the
    // promotion's handover; 0 at the end.
    let at = |s: &str| {
        log.position(s)
            .unwrap_or_else(|| panic!("no {s:?} in {:?}", log.all()))
    };
    assert!(at("scale api-canary 5") < at("route 50"));
    assert!(at("route 10") < at("scale api-canary 5"));
    assert!(at("scale api-canary 10") < at("route detached"));
    assert_eq!(w.orch.get("api-canary").unwrap().desired, 0);
}

#[tokio::test(start_paused = true)]
async fn a_header_only_first_step_sends_no_weight_to_the_canary() {
    let w = World::new(&["api"], FakeMetrics::success(1.0));
    let s = spec(&ONE_APP.replace(
        "steps: [10, 50]",
        "steps: [0, 50]\n  headerRoute: {name: X-Canary, value: \"true\"}",
    ));
    let out = Rollout::new(s, w.deps(), opts("h/1"))
        .unwrap()
        .run()
        .await
        .unwrap();
    assert_eq!(out, Outcome::Promoted);
    let configs = w.router.applied.lock().unwrap().clone();
    // The first step: routed (header route in force) at weight 0.
    let first_step = configs
        .iter()
        .filter(|c| c.canary_routed && c.header_route.is_some())
        .map(|c| c.canary_weight.get())
        .collect::<Vec<_>>();
    assert!(first_step.starts_with(&[0, 0]), "{first_step:?}");
    assert!(first_step.contains(&50));
}

#[tokio::test(start_paused = true)]
async fn blue_green_switches_all_at_once_and_keeps_the_old_version_for_the_delay() {
    let w = World::new(&["api"], FakeMetrics::success(1.0));
    stable_size(&w, 3);
    let s = spec(&ONE_APP.replace(
        "traffic:\n  steps: [10, 50]\n",
        "strategy: blueGreen\nblueGreen: {scaleDownDelay: 30s}\ntraffic:\n",
    ));
    let r = Arc::new(Rollout::new(s, w.deps(), opts("h/1")).unwrap());
    let r2 = r.clone();
    let run = tokio::spawn(async move { r2.run().await });
    assert_eq!(run.await.unwrap().unwrap(), Outcome::Promoted);
    // The new version ran at stable's size from the start; traffic went 0 -> 100 at once.
    let created = w
        .log
        .all()
        .into_iter()
        .find(|l| l.starts_with("ensure_canary"));
    assert!(
        created.as_deref().is_some_and(|l| l.ends_with(" x3")),
        "{:?}",
        w.log.all()
    );
    let weights = w.router.weights();
    assert!(!weights.iter().any(|&x| x > 0 && x < 100), "{weights:?}");
    assert!(weights.contains(&100));
    assert_eq!(w.orch.get("api").unwrap().image, PINNED);
}

#[tokio::test(start_paused = true)]
async fn blue_green_without_auto_promotion_waits_for_a_person() {
    let w = World::new(&["api"], FakeMetrics::success(1.0));
    let yaml = ONE_APP.replace(
        "traffic:\n  steps: [10, 50]\n",
        "strategy: blueGreen\nblueGreen: {autoPromotion: false}\ntraffic:\n",
    );
    let s = spec(&yaml);
    let r = Arc::new(Rollout::new(s.clone(), w.deps(), opts("h/1")).unwrap());
    let r2 = r.clone();
    let run = tokio::spawn(async move { r2.run().await });
    tokio::time::sleep(Duration::from_secs(3600)).await;
    // The new version is up behind the preview header only.
    assert!(
        w.router.weights().iter().all(|&x| x == 0),
        "{:?}",
        w.router.weights()
    );
    assert_eq!(phase(&w).await.0, Phase::Paused);
    Rollout::new(s, w.deps(), opts("h/2"))
        .unwrap()
        .command(Command::Resume)
        .await
        .unwrap();
    assert_eq!(run.await.unwrap().unwrap(), Outcome::Promoted);
    assert!(w.router.weights().contains(&100));
}
