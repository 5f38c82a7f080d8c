//! Image builds and tags against the real local Docker daemon.

mod common;

use std::collections::BTreeMap;

use canary_core::traits::{BuildEvent, BuildRequest};
use canary_core::{Error, ImageRef, Orchestrator};
use common::{docker_ok, Cleanup};
use futures::StreamExt;

#[tokio::test]
async fn builds_from_a_context_dir_and_tags() {
    let swarm = swarm_or_skip!();
    let mut guard = Cleanup::new();
    let dir = guard.dir("ctx");
    std::fs::write(
        dir.join("Dockerfile"),
        "FROM scratch\nARG GREETING=hi\nLABEL io.canary.test=1 greeting=$GREETING\nCOPY files/hello.txt /hello.txt\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("files")).unwrap();
    std::fs::write(dir.join("files/hello.txt"), "hello from the context\n").unwrap();

    let tag = ImageRef::parse(&format!("{}-img:built", guard.prefix)).unwrap();
    let request = BuildRequest::new(dir.clone(), tag.clone())
        .args(BTreeMap::from([("GREETING".into(), "hello".into())]));
    let events: Vec<BuildEvent> = swarm
        .build_image(&request)
        .await
        .unwrap()
        .map(|e| e.unwrap())
        .collect()
        .await;
    let Some(BuildEvent::Built(id)) = events.last() else {
        panic!("the stream ends with Built: {events:?}");
    };
    assert!(id.starts_with("sha256:"), "{id}");
    assert!(
        events
            .iter()
            .any(|e| matches!(e, BuildEvent::Output(l) if l.contains("COPY"))),
        "{events:?}"
    );
    assert_eq!(
        docker_ok(&["image", "inspect", tag.as_str(), "--format", "{{.Id}}"]),
        *id
    );
    assert_eq!(
        docker_ok(&[
            "image",
            "inspect",
            tag.as_str(),
            "--format",
            "{{index .Config.Labels \"greeting\"}}"
        ]),
        "hello",
        "build args are passed"
    );
    assert_eq!(swarm.pin_image(&tag).await.unwrap().as_str(), id);

    let stable = ImageRef::parse(&format!("{}-img:stable", guard.prefix)).unwrap();
    swarm.tag_image(&tag, &stable).await.unwrap();
    assert_eq!(
        docker_ok(&["image", "inspect", stable.as_str(), "--format", "{{.Id}}"]),
        *id
    );
    let e = swarm
        .tag_image(
            &ImageRef::parse(&format!("{}-img:absent", guard.prefix)).unwrap(),
            &stable,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::NotFound { ref kind, .. } if kind == "image"),
        "{e}"
    );

    guard.finish();
}

#[tokio::test]
async fn a_failing_build_is_rejected_with_dockers_words() {
    let swarm = swarm_or_skip!();
    let mut guard = Cleanup::new();
    let dir = guard.dir("badctx");
    std::fs::write(dir.join("Dockerfile"), "FROM scratch\nCOPY missing.txt /\n").unwrap();
    let request = BuildRequest::new(
        dir.clone(),
        ImageRef::parse(&format!("{}-img:bad", guard.prefix)).unwrap(),
    );
    let events: Vec<_> = swarm.build_image(&request).await.unwrap().collect().await;
    match events.last() {
        Some(Err(Error::Rejected { by, message, .. })) => {
            assert_eq!(by, "docker");
            assert!(message.contains("missing.txt"), "{message}");
        }
        other => panic!("expected a rejection, got {other:?} after {events:?}"),
    }
    let e = swarm
        .build_image(&request.dockerfile("Nope.Dockerfile"))
        .await
        .err()
        .unwrap();
    assert!(
        matches!(e, Error::InvalidInput { ref field, .. } if field == "dockerfile"),
        "{e}"
    );
    guard.finish();
}
