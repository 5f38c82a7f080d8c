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
            Err(Error::rejected(
                "traefik",
                "middleware \"nope@file\" does not exist",
            ))
        });
    router
        .expect_apply()
        .withf(|c| !c.canary_routed)
        .times(1)
        .returning(|_| Ok(()));
    let deps = Deps::new(
        w.orch.clone(),
        Arc::new(router),
        w.metrics.clone(),
        Arc::new(MemoryStateStore::new()),
        w.hooks.clone(),
    );
    let out = Rollout::new(spec(ONE_APP), deps, RolloutOptions::default().owner("h/1"))
        .unwrap()
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

#[tokio::test(start_paused = true)]
async fn the_in_memory_world_runs_a_rollout() {
    use canary_core::memory::{MemoryOrchestrator, MemoryRouter, PINNED};
    use canary_core::{ImageRef, ServiceName};
    let orch = Arc::new(MemoryOrchestrator::new());
    orch.add_service(
        ServiceName::parse("api").unwrap(),
        &ImageRef::parse("api:v1").unwrap(),
        2,
    );
    let router = Arc::new(MemoryRouter::new());
    let deps = Deps::new(
        orch.clone(),
        router.clone(),
        Arc::new(FakeMetrics::success(1.0)),
        Arc::new(MemoryStateStore::new()),
        Arc::new(FakeHooks::ok()),
    );
    let out = Rollout::new(spec(ONE_APP), deps, RolloutOptions::default().owner("h/1"))
        .unwrap()
        .run()
        .await
        .unwrap();
    assert_eq!(out, Outcome::Promoted);
    // The promotion's handover: the canary grew to stable's 2 tasks and served everything.
    assert_eq!(router.weights(), vec![0, 10, 50, 100, 0]);
    assert!(orch
        .operations()
        .contains(&"scale api-canary 2".to_string()));
    assert_eq!(orch.service("api").unwrap().image, PINNED);
    assert!(orch
        .operations()
        .contains(&"scale api-canary 0".to_string()));
    // A canary that does not start is rolled back.
    let orch = Arc::new(MemoryOrchestrator::new());
    orch.add_service(
        ServiceName::parse("api").unwrap(),
        &ImageRef::parse("api:v1").unwrap(),
        2,
    );
    orch.fail_to_start(&ServiceName::parse("api-canary").unwrap(), "No such image");
    let deps = Deps::new(
        orch.clone(),
        Arc::new(MemoryRouter::new()),
        Arc::new(FakeMetrics::success(1.0)),
        Arc::new(MemoryStateStore::new()),
        Arc::new(FakeHooks::ok()),
    );
    let out = Rollout::new(spec(ONE_APP), deps, RolloutOptions::default().owner("h/1"))
        .unwrap()
        .run()
        .await
        .unwrap();
    assert!(matches!(out, Outcome::RolledBack { cause } if cause.contains("No such image")));
}
