//! Two controllers and one rollout: the lease is fenced (owner and epoch checked before every
//! change), renewed beside the step loop, judged on the saved state's version clock, and a stale
//! controller never overwrites another's state.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use canary_core::state::RolloutState;
use canary_core::{
    AppRef, Error, Outcome, Phase, Result, Rollout, RolloutOptions, ServiceName, StateStore,
    Versioned,
};
use support::*;

/// The shared store as one controller sees it: `cut` makes it unreachable for that controller
/// only (a network partition, a paused process).
/// With `freeze`, calls hang until the cut heals instead (a process stopped with SIGSTOP: it
/// cannot notice anything, and carries on where it was when it wakes).
#[derive(Debug)]
struct Partitioned {
    inner: Arc<canary_core::MemoryStateStore>,
    cut: Arc<AtomicBool>,
    freeze: bool,
}

impl Partitioned {
    async fn gate(&self) -> Result<()> {
        while self.cut.load(Ordering::SeqCst) {
            if !self.freeze {
                return Err(Error::unavailable("partitioned"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    }
}

#[async_trait]
impl StateStore for Partitioned {
    async fn load(&self, g: &ServiceName, apps: &[AppRef]) -> Result<Option<Versioned>> {
        self.gate().await?;
        self.inner.load(g, apps).await
    }
    async fn save(
        &self,
        g: &ServiceName,
        apps: &[AppRef],
        s: &RolloutState,
        expected: Option<u64>,
    ) -> Result<u64> {
        self.gate().await?;
        self.inner.save(g, apps, s, expected).await
    }
    async fn clear(&self, g: &ServiceName, apps: &[AppRef]) -> Result<()> {
        self.inner.clear(g, apps).await
    }
}

fn opts_with_lease(owner: &str) -> RolloutOptions {
    opts(owner).lease(Duration::from_secs(6))
}

#[tokio::test(start_paused = true)]
async fn a_cut_off_controller_stops_and_never_overwrites_the_one_that_took_over() {
    let w = World::new(&["api"], FakeMetrics::success(1.0));
    let cut = Arc::new(AtomicBool::new(false));
    let mut deps_a = w.deps();
    deps_a.store = Arc::new(Partitioned {
        inner: w.store.clone(),
        cut: cut.clone(),
        freeze: false,
    });
    let slow = spec(&ONE_APP.replace("interval: 10s", "interval: 30s"));
    let a = Arc::new(Rollout::new(slow.clone(), deps_a, opts_with_lease("a/1")).unwrap());
    let a2 = a.clone();
    let run_a = tokio::spawn(async move { a2.run().await });
    tokio::time::sleep(Duration::from_secs(5)).await;
    // A is cut off from the store (its process stalls, its network splits).
    cut.store(true, Ordering::SeqCst);
    // B watches the lease stand still for its length, takes over and finishes the rollout.
    let b = Rollout::new(slow, w.deps(), opts_with_lease("b/1").takeover(true)).unwrap();
    assert_eq!(b.run().await.unwrap(), Outcome::Promoted);
    let done = w
        .store
        .load(&group("shop"), &spec(ONE_APP).app_refs())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.state.phase, Phase::Promoted);
    assert!(done.state.lease.is_none(), "B handed its lease back");
    // A comes back: it must not write anything, not even over a finished state without a lease.
    cut.store(false, Ordering::SeqCst);
    let e = run_a.await.unwrap().unwrap_err();
    assert!(matches!(e, Error::Conflict { .. }), "{e}");
    let after = w
        .store
        .load(&group("shop"), &spec(ONE_APP).app_refs())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        after.version, done.version,
        "A wrote after losing the lease"
    );
    assert_eq!(after.state.phase, Phase::Promoted);
    // Exactly one controller changed the world after the takeover: every route write after B
    // started is B's (A's last write was its first step, before the cut).
    assert_eq!(w.router.weights().last(), Some(&0));
}

#[tokio::test(start_paused = true)]
async fn a_frozen_controller_that_wakes_after_the_end_writes_nothing() {
    let w = World::new(&["api"], FakeMetrics::success(1.0));
    let cut = Arc::new(AtomicBool::new(false));
    let mut deps_a = w.deps();
    deps_a.store = Arc::new(Partitioned {
        inner: w.store.clone(),
        cut: cut.clone(),
        freeze: true,
    });
    let slow = spec(&ONE_APP.replace("interval: 10s", "interval: 30s"));
    let a = Arc::new(Rollout::new(slow.clone(), deps_a, opts_with_lease("a/1")).unwrap());
    let a2 = a.clone();
    let run_a = tokio::spawn(async move { a2.run().await });
    tokio::time::sleep(Duration::from_secs(5)).await;
    cut.store(true, Ordering::SeqCst); // A freezes mid-step, holding its lease
    let b = Rollout::new(slow, w.deps(), opts_with_lease("b/1").takeover(true)).unwrap();
    assert_eq!(b.run().await.unwrap(), Outcome::Promoted);
    let done = w
        .store
        .load(&group("shop"), &spec(ONE_APP).app_refs())
        .await
        .unwrap()
        .unwrap();
    assert!(done.state.lease.is_none());
    // A wakes: whatever it was doing (a pending save that timed out, a heartbeat) meets a state
    // with no lease in it (B handed it back). The old engine took that for "nobody owns it"
    // and wrote over the finished rollout; now it stops without a write.
    cut.store(false, Ordering::SeqCst);
    let e = run_a.await.unwrap().unwrap_err();
    assert!(matches!(&e, Error::Conflict { .. }), "{e}");
    let after = w
        .store
        .load(&group("shop"), &spec(ONE_APP).app_refs())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        after.version, done.version,
        "A wrote after losing the lease"
    );
    assert_eq!(after.state.phase, Phase::Promoted);
}

#[tokio::test(start_paused = true)]
async fn the_lease_is_renewed_through_a_long_converge() {
    let w = World::new(&["api"], FakeMetrics::success(1.0));
    // The canary takes 60 s to converge: ten lease lengths without a step-loop save.
    w.orch
        .slow
        .lock()
        .unwrap()
        .insert("api-canary".into(), Duration::from_secs(60));
    let a = Arc::new(Rollout::new(spec(ONE_APP), w.deps(), opts_with_lease("a/1")).unwrap());
    let a2 = a.clone();
    let run_a = tokio::spawn(async move { a2.run().await });
    tokio::time::sleep(Duration::from_secs(2)).await;
    let start = saved_version(&w).await;
    tokio::time::sleep(Duration::from_secs(40)).await;
    assert!(
        saved_version(&w).await > start + 5,
        "the heartbeat did not move the saved version"
    );
    // A second controller sees it alive and does not take over, even with takeover.
    let e = Rollout::new(
        spec(ONE_APP),
        w.deps(),
        opts_with_lease("b/1").takeover(true),
    )
    .unwrap()
    .run()
    .await
    .unwrap_err();
    assert!(
        matches!(&e, Error::Conflict { message: m, .. } if m.contains("driven by a/1")),
        "{e}"
    );
    run_a.abort();
}

async fn saved_version(w: &World) -> u64 {
    w.store
        .load(&group("shop"), &spec(ONE_APP).app_refs())
        .await
        .unwrap()
        .unwrap()
        .version
}

#[tokio::test(start_paused = true)]
async fn two_controllers_of_one_host_and_pid_are_told_apart() {
    // Two containers whose controllers are both pid 1 on hosts named alike: the default owner
    // ids differ (a nonce), so one never mistakes the other's lease for its own.
    let a = RolloutOptions::default().owner;
    let b = RolloutOptions::default().owner;
    assert_ne!(a, b);
    assert_eq!(a.split('/').count(), 3, "{a}");
}
