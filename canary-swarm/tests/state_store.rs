//! `SwarmStateStore` against the real local swarm (`scripts/stack/up.sh`).

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use canary_core::{
    AppRef, Error, ImageRef, Orchestrator, Phase, RolloutState, ServiceName, StateStore,
};
use canary_swarm::{
    SwarmOrchestrator, SwarmStateStore, UpdateHook, STATE_GROUP_LABEL, STATE_LABEL,
};
use common::{docker_ok, inspect_json, Cleanup};

fn apps(stable: &ServiceName) -> Vec<AppRef> {
    vec![AppRef {
        name: ServiceName::parse("api").unwrap(),
        stable: stable.clone(),
        canary: stable.with_suffix("-canary").unwrap(),
    }]
}

fn task_ids(service: &str) -> String {
    docker_ok(&[
        "service",
        "ps",
        service,
        "-q",
        "--filter",
        "desired-state=running",
    ])
}

#[tokio::test]
async fn state_survives_a_new_instance_and_conflicts_are_detected() {
    let swarm = swarm_or_skip!();
    let guard = Cleanup::new();
    let stable = guard.service("state");
    common::deploy(&swarm, &common::stable(&stable, common::V1, 1)).await;
    let group = guard.service("grp");
    let apps = apps(&stable);

    let store = swarm.state_store();
    assert_eq!(store.load(&group, &apps).await.unwrap(), None);
    let mut state = RolloutState::new(
        BTreeMap::from([("api".into(), "canary-demo:v2".into())]),
        1_000,
    );
    let v1 = store.save(&group, &apps, &state, None).await.unwrap();
    assert!(v1 > 1, "a first version starts at the clock: {v1}");
    let labels = &inspect_json(stable.as_str())["Spec"]["Labels"];
    assert_eq!(labels[STATE_GROUP_LABEL], group.as_str());
    let raw = labels[STATE_LABEL].as_str().unwrap();
    assert!(
        !raw.contains('\n') && !raw.contains(": "),
        "compact JSON: {raw}"
    );

    // A new connection and a new store find it.
    let other = SwarmStateStore::new(SwarmOrchestrator::connect().await.unwrap());
    let loaded = other.load(&group, &apps).await.unwrap().unwrap();
    assert_eq!(loaded.version, v1);
    assert_eq!(loaded.state, state);

    state.phase = Phase::Progressing;
    state.weight = 10;
    let v2 = other.save(&group, &apps, &state, Some(v1)).await.unwrap();
    assert_eq!(v2, v1 + 1);
    // The first store still thinks version 1: its write is a conflict, and changes nothing.
    let mut stale = state.clone();
    stale.phase = Phase::Paused;
    let e = store
        .save(&group, &apps, &stale, Some(v1))
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::Conflict { message: ref m, .. } if m.contains("someone else")),
        "{e}"
    );
    let e = store.save(&group, &apps, &stale, None).await.unwrap_err();
    assert!(matches!(e, Error::Conflict { .. }), "{e}");
    assert_eq!(
        store
            .load(&group, &apps)
            .await
            .unwrap()
            .unwrap()
            .state
            .phase,
        Phase::Progressing
    );

    // Our own other writes move Swarm's version index but not the state's version.
    swarm
        .update_labels(
            &stable,
            &BTreeMap::from([("router".to_string(), Some("x".to_string()))]),
        )
        .await
        .unwrap();
    let pinned = swarm
        .pin_image(&ImageRef::parse(common::V2).unwrap())
        .await
        .unwrap();
    swarm.set_image(&stable, &pinned).await.unwrap();
    state.weight = 20;
    let v3 = store.save(&group, &apps, &state, Some(v2)).await.unwrap();
    assert_eq!(v3, v2 + 1);
    swarm
        .wait_converged(&stable, Duration::from_secs(60))
        .await
        .unwrap();

    // Another group's state on the same service is not ours to read, overwrite or clear.
    let intruder = guard.service("grp2");
    assert_eq!(store.load(&intruder, &apps).await.unwrap(), None);
    let e = store
        .save(&intruder, &apps, &state, None)
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::Conflict { message: ref m, .. } if m.contains(group.as_str())),
        "{e}"
    );
    store.clear(&intruder, &apps).await.unwrap();
    assert_eq!(
        store.load(&group, &apps).await.unwrap().unwrap().version,
        v3
    );

    store.clear(&group, &apps).await.unwrap();
    assert_eq!(other.load(&group, &apps).await.unwrap(), None);
    let labels = &inspect_json(stable.as_str())["Spec"]["Labels"];
    assert!(labels.get(STATE_LABEL).is_none() && labels.get(STATE_GROUP_LABEL).is_none());
    assert_eq!(labels["router"], "x", "clear removes only the state labels");
    // Saving from scratch works again after a clear, with versions the cleared state never had:
    // a controller still holding one cannot write over the new state.
    let fresh = store.save(&group, &apps, &state, None).await.unwrap();
    assert!(fresh > v3, "{fresh} > {v3}");
    for old in [v1, v2, v3] {
        let e = other
            .save(&group, &apps, &stale, Some(old))
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Conflict { .. }), "{e}");
    }
    guard.finish();
}

#[tokio::test]
async fn saving_restarts_no_task_and_keeps_a_racing_change() {
    let swarm = swarm_or_skip!();
    let guard = Cleanup::new();
    let stable = guard.service("stlabels");
    common::deploy(&swarm, &common::stable(&stable, common::V1, 2)).await;
    let group = guard.service("grp");
    let apps = apps(&stable);
    let before = task_ids(stable.as_str());

    // A person adds a label between the store's read and its write.
    let target = stable.to_string();
    let hook: UpdateHook = Arc::new(move |name: String, attempt: u32| {
        let target = target.clone();
        Box::pin(async move {
            if name == target && attempt == 0 {
                let out = tokio::process::Command::new("docker")
                    .args([
                        "service",
                        "update",
                        "--detach",
                        "--label-add",
                        "ops=paged",
                        &target,
                    ])
                    .output()
                    .await
                    .unwrap();
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        })
    });
    let store = SwarmStateStore::new(swarm.clone().with_update_hook(hook));
    let state = RolloutState::new(BTreeMap::from([("api".into(), "canary-demo:v2".into())]), 1);
    store.save(&group, &apps, &state, None).await.unwrap();
    let labels = &inspect_json(stable.as_str())["Spec"]["Labels"];
    assert_eq!(labels["ops"], "paged", "the racing label survived");
    assert!(labels.get(STATE_LABEL).is_some());
    assert_eq!(task_ids(stable.as_str()), before, "labels restart no task");
    assert!(swarm.inspect(&stable).await.unwrap().converged);
    guard.finish();
}

#[tokio::test]
async fn a_group_without_a_service_has_no_state() {
    let swarm = swarm_or_skip!();
    let guard = Cleanup::new();
    let store = swarm.state_store();
    let apps = apps(&guard.service("absent"));
    let group = guard.service("grp");
    assert_eq!(store.load(&group, &apps).await.unwrap(), None);
    store.clear(&group, &apps).await.unwrap();
    let state = RolloutState::new(BTreeMap::new(), 1);
    let e = store.save(&group, &apps, &state, None).await.unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }), "{e}");
    let e = store.save(&group, &[], &state, None).await.unwrap_err();
    assert!(matches!(e, Error::InvalidInput { .. }), "{e}");
    guard.finish();
}

#[tokio::test]
async fn groups_lists_every_saved_state_with_what_loads_it() {
    let swarm = swarm_or_skip!();
    let guard = Cleanup::new();
    let (first, second) = (guard.service("lista"), guard.service("listb"));
    for s in [&first, &second] {
        common::deploy(&swarm, &common::stable(s, common::V1, 1)).await;
    }
    let store = swarm.state_store();
    let (g1, g2) = (guard.service("grpa"), guard.service("grpb"));
    let mut state = RolloutState::new(BTreeMap::from([("api".into(), "canary-demo:v2".into())]), 1);
    state.weight = 30;
    store.save(&g1, &apps(&first), &state, None).await.unwrap();
    store.save(&g2, &apps(&second), &state, None).await.unwrap();

    // Other tests' groups may be listed too: look at ours.
    let ours: Vec<_> = store
        .groups()
        .await
        .unwrap()
        .into_iter()
        .filter(|g| g.group.as_str().starts_with(&guard.name("")))
        .collect();
    let names: Vec<_> = ours.iter().map(|g| g.group.as_str()).collect();
    assert_eq!(names, [g1.as_str(), g2.as_str()]);
    for (g, holder) in ours.iter().zip([&first, &second]) {
        assert_eq!(g.apps.len(), 1);
        assert_eq!(&g.apps[0].stable, holder);
        // A new store (another process) loads each group from what `groups` returned.
        let other = SwarmStateStore::new(SwarmOrchestrator::connect().await.unwrap());
        let loaded = other.load(&g.group, &g.apps).await.unwrap().unwrap();
        assert_eq!(loaded.state.weight, 30);
    }
    store.clear(&g1, &apps(&first)).await.unwrap();
    assert!(!store.groups().await.unwrap().iter().any(|g| g.group == g1));
    guard.finish();
}
