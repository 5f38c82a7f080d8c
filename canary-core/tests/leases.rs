//! The engine resumed from every saved state, and its lease: handed back, watched, taken over only
//! when dead and allowed, never silently.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use canary_core::state::{Lease, RolloutState};
use canary_core::{Command, Error, EventKind, Outcome, Phase, Rollout, StateStore};
use support::*;

#[tokio::test(start_paused = true)]
async fn resumes_from_every_saved_state() {
    let cases = [
        (
            Phase::Pending,
            0,
            0,
            Outcome::Promoted,
            vec![0, 10, 50, 100, 0],
        ),
        (
            Phase::Progressing,
            0,
            10,
            Outcome::Promoted,
            vec![10, 50, 100, 0],
        ),
        (
            Phase::Progressing,
            1,
            50,
            Outcome::Promoted,
            vec![50, 100, 0],
        ),
        (Phase::Promoting, 1, 50, Outcome::Promoted, vec![100, 0]),
        (
            Phase::RollingBack,
            1,
            50,
            Outcome::RolledBack {
                cause: "rolled back".into(),
            },
            vec![0],
        ),
    ];
    for (phase, step, weight, outcome, weights) in cases {
        let w = World::new(&["api"], FakeMetrics::success(1.0));
        seed_state(&w, phase, step, weight).await;
        let r = Rollout::new(spec(ONE_APP), w.deps(), opts("h/1")).unwrap();
        let mut ev = r.subscribe();
        assert_eq!(r.run().await.unwrap(), outcome, "from {phase:?}");
        assert_eq!(w.router.weights(), weights, "from {phase:?} step {step}");
        // The dead controller's lease is watched for its length first (nothing moves), then taken.
        let mut first = ev.try_recv().unwrap();
        while first.kind == EventKind::Waiting {
            first = ev.try_recv().unwrap();
        }
        assert_eq!(first.kind, EventKind::Resumed, "from {phase:?}");
    }
    // Paused stays paused until told: resume it from another controller.
    let w = World::new(&["api"], FakeMetrics::success(1.0));
    seed_state(&w, Phase::Paused, 0, 10).await;
    let r = Arc::new(Rollout::new(spec(ONE_APP), w.deps(), opts("h/1")).unwrap());
    let r2 = r.clone();
    let run = tokio::spawn(async move { r2.run().await });
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(saved(&w, "shop").await.phase, Phase::Paused);
    Rollout::new(spec(ONE_APP), w.deps(), opts("h/2"))
        .unwrap()
        .command(Command::Resume)
        .await
        .unwrap();
    assert_eq!(run.await.unwrap().unwrap(), Outcome::Promoted);
}

#[tokio::test(start_paused = true)]
async fn a_stopped_run_hands_its_lease_back() {
    let w = World::new(&["api"], FakeMetrics::success(1.0));
    let r = Arc::new(Rollout::new(spec(ONE_APP), w.deps(), opts("h/1")).unwrap());
    let r2 = r.clone();
    let run = tokio::spawn(async move { r2.run().await });
    tokio::time::sleep(Duration::from_secs(3)).await;
    run.abort(); // what Ctrl-C does to a `canary run`
    let _ = run.await;
    let st = saved(&w, "shop").await;
    assert_eq!(
        st.lease.as_ref().unwrap().ttl_ms,
        Some(15_000),
        "the owner's lease length is saved"
    );
    r.release().await.unwrap();
    let st = saved(&w, "shop").await;
    assert!(st.lease.is_none());
    assert_eq!(
        st.phase,
        Phase::Progressing,
        "the state is kept for the next run"
    );
    // Another host can now pick it up at once, without takeover.
    let out = Rollout::new(spec(ONE_APP), w.deps(), opts("other/1"))
        .unwrap()
        .run()
        .await
        .unwrap();
    assert_eq!(out, Outcome::Promoted);
}

#[tokio::test(start_paused = true)]
async fn a_dead_lease_is_watched_for_its_owners_length_on_this_clock() {
    let w = World::new(&["api"], FakeMetrics::success(1.0));
    let s = spec(ONE_APP);
    let mut st = RolloutState::new(BTreeMap::from([("api".into(), "api:v2".into())]), 0);
    st.phase = Phase::Progressing;
    // Its heartbeat says "now" by that machine's clock (maybe skewed): not trusted. Its owner's
    // lease is 60 s: nobody takes it over before the saved state stood still that long.
    st.lease = Some(Lease {
        epoch: Some(7),
        owner: "other/1".into(),
        heartbeat_ms: canary_core::state::now_ms() + 3_600_000,
        ttl_ms: Some(60_000),
    });
    w.store
        .save(&group("shop"), &s.app_refs(), &st, None)
        .await
        .unwrap();
    let r = Arc::new(
        Rollout::new(
            spec(ONE_APP),
            w.deps(),
            opts("h/1").lease(Duration::from_secs(1)).takeover(true),
        )
        .unwrap(),
    );
    let r2 = r.clone();
    let run = tokio::spawn(async move { r2.run().await });
    tokio::time::sleep(Duration::from_secs(59)).await;
    let st = saved(&w, "shop").await;
    assert_eq!(st.lease.unwrap().owner, "other/1", "taken over too early");
    assert!(w.router.weights().is_empty());
    assert_eq!(run.await.unwrap().unwrap(), Outcome::Promoted);
}

#[tokio::test(start_paused = true)]
async fn a_live_controller_is_never_taken_over_even_with_takeover() {
    let w = World::new(&["api"], FakeMetrics::success(1.0));
    let long = spec(&ONE_APP.replace("interval: 10s", "interval: 1h"));
    let a = Arc::new(Rollout::new(long.clone(), w.deps(), opts("a/1")).unwrap());
    let a2 = a.clone();
    let run_a = tokio::spawn(async move { a2.run().await });
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Its heartbeat moves the saved version while the second controller watches.
    let e = Rollout::new(long, w.deps(), opts("b/1").takeover(true))
        .unwrap()
        .run()
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::Conflict { message: m, .. } if m.contains("driven by a/1")),
        "{e}"
    );
    assert_eq!(saved(&w, "shop").await.lease.unwrap().owner, "a/1");
    run_a.abort();
}

#[tokio::test(start_paused = true)]
async fn an_ended_rollout_is_not_run_again_unless_restarted() {
    let w = World::new(&["api"], FakeMetrics::success(1.0));
    assert_eq!(
        Rollout::new(spec(ONE_APP), w.deps(), opts("h/1"))
            .unwrap()
            .run()
            .await
            .unwrap(),
        Outcome::Promoted
    );
    let n = w.router.weights().len();
    assert_eq!(
        Rollout::new(spec(ONE_APP), w.deps(), opts("h/1"))
            .unwrap()
            .run()
            .await
            .unwrap(),
        Outcome::Promoted
    );
    assert_eq!(w.router.weights().len(), n, "nothing was done again");
    let again = Rollout::new(spec(ONE_APP), w.deps(), opts("h/1").restart(true)).unwrap();
    assert_eq!(again.run().await.unwrap(), Outcome::Promoted);
    assert!(w.router.weights().len() > n);
    // Another image is another rollout.
    let v3 = spec(&ONE_APP.replace("api:v2", "api:v3"));
    let n = w.router.weights().len();
    assert_eq!(
        Rollout::new(v3, w.deps(), opts("h/1"))
            .unwrap()
            .run()
            .await
            .unwrap(),
        Outcome::Promoted
    );
    assert!(w.router.weights().len() > n);
}

#[tokio::test(start_paused = true)]
async fn a_live_or_foreign_owner_is_not_taken_over_silently() {
    let w = World::new(&["api"], FakeMetrics::success(1.0));
    let s = spec(ONE_APP);
    let mut st = RolloutState::new(BTreeMap::from([("api".into(), "api:v2".into())]), 0);
    st.phase = Phase::Progressing;
    st.lease = Some(Lease {
        epoch: Some(7),
        owner: "other-host/1".into(),
        heartbeat_ms: canary_core::state::now_ms(),
        ttl_ms: None,
    });
    w.store
        .save(&group("shop"), &s.app_refs(), &st, None)
        .await
        .unwrap();
    let e = Rollout::new(spec(ONE_APP), w.deps(), opts("h/1"))
        .unwrap()
        .run()
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::Conflict { message: m, .. } if m.contains("driven by other-host/1")),
        "{e}"
    );

    // Expired, but another host's: only with takeover.
    let v = w.store.load(&group("shop"), &[]).await.unwrap().unwrap();
    st.lease = Some(Lease {
        epoch: Some(7),
        owner: "other-host/1".into(),
        heartbeat_ms: 0,
        ttl_ms: None,
    });
    w.store
        .save(&group("shop"), &s.app_refs(), &st, Some(v.version))
        .await
        .unwrap();
    let e = Rollout::new(spec(ONE_APP), w.deps(), opts("h/1"))
        .unwrap()
        .run()
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::Conflict { message: m, .. } if m.contains("take it over")),
        "{e}"
    );
    let out = Rollout::new(spec(ONE_APP), w.deps(), opts("h/1").takeover(true))
        .unwrap()
        .run()
        .await
        .unwrap();
    assert_eq!(out, Outcome::Promoted);
    // The canary of that promotion is gone: stable took the image in place, never detached.
    assert!(!w
        .router
        .applied
        .lock()
        .unwrap()
        .iter()
        .any(|c| c.stable_detached));
    assert_eq!(w.orch.get("api").unwrap().image, PINNED);
}
