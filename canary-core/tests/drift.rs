//! Drift between what stable runs, the last promotion and the compose file: images compared by
//! what they are (a tag and the ID it resolves to are one image), who won named, nothing said
//! during a rollout.

use std::collections::BTreeMap;
use std::sync::Arc;

use canary_core::ops::{drift, Drift, DriftAgainst, DriftCheck, DriftWinner};
use canary_core::{
    Error, ImageRef, MockOrchestrator, Phase, RolloutState, ServiceName, ServiceState, Spec, Status,
};

const ID1: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const ID2: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
const ID9: &str = "sha256:9999999999999999999999999999999999999999999999999999999999999999";

const COMPOSE: &str = "x-canary: {stack: shop}\nservices:\n  api:\n    # stable\n    image: api:v1\n    x-canary: {image: api:v2, port: 80, rule: 'Host(`a`)'}\n";

/// An orchestrator where `api:v1` is ID1, `api:v2` is ID2, `api:v9` is ID9, IDs are themselves,
/// and anything else is not on this node.
fn orchestrator() -> MockOrchestrator {
    let mut o = MockOrchestrator::new();
    o.expect_pin_image().returning(|i: &ImageRef| {
        let id = match i.as_str() {
            "api:v1" => ID1,
            "api:v2" => ID2,
            "api:v9" => ID9,
            s if s.starts_with("sha256:") => s,
            s => {
                return Err(Error::NotFound {
                    kind: "image".into(),
                    name: s.into(),
                    detail: None,
                    source: None,
                })
            }
        };
        ImageRef::parse(id)
    });
    o
}

fn spec() -> Spec {
    Spec::from_text(COMPOSE, &[]).unwrap().0
}

fn status(running: &str, promoted: Option<(&str, Phase)>, deployed: Option<&str>) -> Status {
    let mut labels = BTreeMap::new();
    if let Some(d) = deployed {
        labels.insert("com.docker.stack.image".to_string(), d.to_string());
    }
    let state = promoted.map(|(p, phase)| {
        let mut s = RolloutState::new(BTreeMap::from([("api".into(), "api:v2".into())]), 1);
        s.phase = phase;
        s.promoted_images.insert("api".into(), p.into());
        s
    });
    Status {
        group: "shop".into(),
        state,
        steps: vec![10],
        splits: Vec::new(),
        splits_error: None,
        services: vec![ServiceState {
            name: ServiceName::parse("shop_api").unwrap(),
            image: running.into(),
            desired: 2,
            running: 2,
            labels,
            converged: true,
        }],
        driven: false,
        drift: Vec::new(),
        replica_plan: None,
    }
}

async fn check(st: &Status, file: Option<&str>) -> Vec<Drift> {
    drift(
        &spec(),
        &orchestrator(),
        st,
        file.map(|t| ("docker-compose.yml", t)),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn the_same_image_written_two_ways_is_no_drift() {
    // Promoted by ID, the file names the tag of that ID.
    let v2 = COMPOSE.replace("image: api:v1\n", "image: api:v2\n");
    assert!(
        check(&status(ID2, Some((ID2, Phase::Promoted)), None), Some(&v2))
            .await
            .is_empty()
    );
    // After a `docker stack deploy` of that file: the tag runs, the state is gone.
    assert!(check(&status("api:v2", None, Some("api:v2")), Some(&v2))
        .await
        .is_empty());
    // A digest appended by `docker stack deploy` for an image not on this node.
    let far = COMPOSE.replace("image: api:v1\n", "image: reg/api:v3\n");
    let running =
        "reg/api:v3@sha256:3333333333333333333333333333333333333333333333333333333333333333";
    assert!(check(&status(running, None, None), Some(&far))
        .await
        .is_empty());
    // Nothing to compare with.
    assert!(check(&status(ID9, None, None), None).await.is_empty());
}

#[tokio::test]
async fn a_file_behind_the_promotion_is_reported_with_its_line() {
    let d = check(
        &status(ID2, Some((ID2, Phase::Promoted)), Some("api:v1")),
        Some(COMPOSE),
    )
    .await;
    assert_eq!(d.len(), 1, "{d:?}");
    let d = &d[0];
    assert_eq!(d.app, "api");
    assert_eq!(d.service, "shop_api");
    assert_eq!(d.running, ID2);
    assert_eq!(d.promoted.as_deref(), Some(ID2));
    assert_eq!(d.declared.as_deref(), Some("api:v1"));
    assert_eq!(d.declared_line, Some(5));
    assert_eq!(d.deployed.as_deref(), Some("api:v1"));
    assert_eq!(d.against, vec![DriftAgainst::File]);
    assert_eq!(d.won, DriftWinner::Promotion);
    assert!(
        d.message
            .contains("docker-compose.yml names api:v1 (line 5); the promotion won"),
        "{}",
        d.message
    );
}

#[tokio::test]
async fn a_redeploy_that_undid_the_promotion_is_the_file_winning() {
    let d = check(
        &status("api:v1", Some((ID2, Phase::Promoted)), Some("api:v1")),
        Some(COMPOSE),
    )
    .await;
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].against, vec![DriftAgainst::Promotion]);
    assert_eq!(d[0].won, DriftWinner::File);
    // Without the file: still the promotion's drift, nobody known to have won.
    let d = check(&status("api:v1", Some((ID2, Phase::Promoted)), None), None).await;
    assert_eq!(d[0].won, DriftWinner::Other);
    assert!(d[0].declared.is_none());
}

#[tokio::test]
async fn an_edited_file_and_someone_elses_update() {
    // The state is gone (a redeploy), the file was edited back to v1 since: the last deploy won.
    let d = check(&status("api:v2", None, Some("api:v2")), Some(COMPOSE)).await;
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].against, vec![DriftAgainst::File]);
    assert_eq!(d[0].won, DriftWinner::LastDeploy);
    assert!(
        d[0].message.contains("the last `docker stack deploy` won"),
        "{}",
        d[0].message
    );
    // `docker service update --image api:v9`: neither.
    let d = check(
        &status("api:v9", Some((ID2, Phase::Promoted)), Some("api:v1")),
        Some(COMPOSE),
    )
    .await;
    assert_eq!(
        d[0].against,
        vec![DriftAgainst::Promotion, DriftAgainst::File]
    );
    assert_eq!(d[0].won, DriftWinner::Other);
}

#[tokio::test]
async fn nothing_during_a_rollout_or_for_variables() {
    for phase in [
        Phase::Progressing,
        Phase::Promoting,
        Phase::RollingBack,
        Phase::Paused,
    ] {
        assert!(
            check(&status(ID9, Some((ID2, phase)), None), Some(COMPOSE))
                .await
                .is_empty(),
            "{phase}"
        );
    }
    // A rolled-back rollout's promoted images (a promotion that failed) are not the truth.
    let d = check(
        &status(ID1, Some((ID2, Phase::RolledBack)), None),
        Some(COMPOSE),
    )
    .await;
    assert!(d.is_empty(), "{d:?}");
    let vars = COMPOSE.replace("image: api:v1\n", "image: \"api:${TAG}\"\n");
    assert!(check(&status(ID9, None, None), Some(&vars))
        .await
        .is_empty());
}

#[tokio::test]
async fn the_check_reads_the_file_each_time() {
    let dir = std::env::temp_dir().join(format!("canary-drift-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("docker-compose.yml");
    std::fs::write(&file, COMPOSE.replace("image: api:v1\n", "image: api:v2\n")).unwrap();
    let check = DriftCheck::new(spec(), Arc::new(orchestrator())).compose_file(&file);
    assert_eq!(check.group(), "shop");
    let st = status(ID2, Some((ID2, Phase::Promoted)), None);
    assert!(check.check(&st).await.unwrap().is_empty());
    std::fs::write(&file, COMPOSE).unwrap();
    assert_eq!(check.check(&st).await.unwrap().len(), 1);
    std::fs::remove_file(&file).unwrap();
    assert!(check.check(&st).await.is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}
