//! The generated mockall mocks (feature `mocks`) work as `Arc<dyn Trait>` in the engine: a router
//! that Traefik refuses makes the rollout roll back, with Traefik's words in the cause.

mod support;

use std::sync::Arc;

use canary_core::{Deps, Error, MemoryStateStore, MockRouter, Outcome, Rollout, RolloutOptions};
use support::*;

#[tokio::test(start_paused = true)]
async fn a_rejected_route_rolls_back_with_the_routers_words() {
    let w = World::new(&["api"], FakeMetrics::success(1.0));
    let mut router = MockRouter::new();
    router
        .expect_service_labels()
        .returning(|_, _| Default::default());
    // The first write (weight 0, canary routed) is refused; the rollback write (canary out) works.
    router
        .expect_apply()
        .withf(|c| c.canary_routed)
        .times(1)
        .returning(|_| {
            Err(Error::Rejected {
                by: "traefik".into(),
                message: "middleware \"nope@file\" does not exist".into(),
            })
        });
    router
        .expect_apply()
        .withf(|c| !c.canary_routed)
        .times(1)
        .returning(|_| Ok(()));
    let deps = Deps {
        orchestrator: w.orch.clone(),
        router: Arc::new(router),
        metrics: w.metrics.clone(),
        store: Arc::new(MemoryStateStore::new()),
        hooks: w.hooks.clone(),
    };
    let out = Rollout::new(spec(ONE_APP), deps, RolloutOptions::default().owner("h/1"))
        .run()
        .await
        .unwrap();
    let Outcome::RolledBack { cause } = out else {
        panic!("{out:?}")
    };
    assert!(
        cause.contains("rejected by traefik: middleware \"nope@file\" does not exist"),
        "{cause}"
    );
    assert_eq!(w.orch.get("api-canary").unwrap().desired, 0);
}
