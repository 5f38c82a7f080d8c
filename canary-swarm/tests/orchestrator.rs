//! `SwarmOrchestrator` against the real local swarm (`scripts/stack/up.sh`).

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use canary_core::traits::LogOptions;
use canary_core::{CanaryService, Error, ImageRef, Orchestrator, ServiceName};
use canary_swarm::{
    RetryPolicy, SwarmOrchestrator, UpdateHook, MANAGED_LABEL, STACK_NAMESPACE_LABEL,
};
use common::{docker_ok, inspect_json, version_index, Cleanup};
use futures::StreamExt;

const WAIT: Duration = Duration::from_secs(60);

fn canary_of(stable: &ServiceName, image: &str) -> CanaryService {
    CanaryService::new(
        stable.clone(),
        stable.with_suffix("-canary").unwrap(),
        ImageRef::parse(image).unwrap(),
        1,
    )
    .env(BTreeMap::from([("VERSION".into(), "v2".into())]))
    .labels(common::test_labels())
}

fn env_of(spec: &serde_json::Value) -> Vec<String> {
    spec["Spec"]["TaskTemplate"]["ContainerSpec"]["Env"]
        .as_array()
        .map(|a| a.iter().map(|v| v.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn adopts_a_stack_and_copies_its_stable_into_a_canary() {
    let swarm = swarm_or_skip!();
    let mut guard = Cleanup::new();
    let stack = guard.name("stk");
    guard.stack(&stack);
    let dir = guard.dir("compose");
    let compose = r#"version: "3.8"
services:
  web:
    image: canary-demo:v1
    init: false
    environment:
      VERSION: v1
      DRAIN_SECONDS: "0"
      DB_URL: postgres://db/app
    healthcheck:
      test: ["CMD", "/canary-demo-app", "healthcheck"]
      interval: 1s
      timeout: 2s
      retries: 3
    deploy:
      replicas: 2
      endpoint_mode: dnsrr
      labels:
        io.canary.test: "1"
        team: shop
        traefik.enable: "true"
        traefik.http.routers.web.rule: Host(`web.localhost`)
networks:
  default:
    labels:
      io.canary.test: "1"
"#;
    std::fs::write(dir.join("compose.yml"), compose).unwrap();
    let file = dir.join("compose.yml");
    docker_ok(&[
        "stack",
        "deploy",
        "--resolve-image",
        "never",
        "-c",
        file.to_str().unwrap(),
        &stack,
    ]);
    let stack_name = ServiceName::parse(&stack).unwrap();
    let web = ServiceName::parse("web")
        .unwrap()
        .in_stack(&stack_name)
        .unwrap();
    swarm.wait_converged(&web, WAIT).await.unwrap();

    // Adopting reads only.
    let before = version_index(web.as_str());
    let found = swarm.stack_services(&stack_name).await.unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].name, web);
    assert_eq!(
        (found[0].desired, found[0].running, found[0].converged),
        (2, 2, true)
    );
    assert_eq!(found[0].labels.get(STACK_NAMESPACE_LABEL), Some(&stack));
    assert_eq!(found[0].image, "canary-demo:v1");

    let req = canary_of(&web, "canary-demo:v2");
    let created = swarm.ensure_canary(&req).await.unwrap();
    assert_eq!(created.name, req.name);
    let canary = swarm.wait_converged(&req.name, WAIT).await.unwrap();
    assert_eq!((canary.desired, canary.running), (1, 1));
    assert_eq!(
        version_index(web.as_str()),
        before,
        "stable was not touched"
    );

    let stable_json = inspect_json(web.as_str());
    let c = inspect_json(req.name.as_str());
    let env = env_of(&c);
    assert!(
        env.contains(&"DB_URL=postgres://db/app".to_string()),
        "{env:?}"
    );
    assert!(env.contains(&"VERSION=v2".to_string()), "{env:?}");
    assert!(!env.contains(&"VERSION=v1".to_string()), "{env:?}");
    let labels = c["Spec"]["Labels"].as_object().unwrap();
    assert_eq!(labels["team"], "shop");
    assert_eq!(labels[MANAGED_LABEL], "true");
    assert_eq!(labels["io.canary.test"], "1");
    assert_eq!(labels[STACK_NAMESPACE_LABEL], stack.as_str());
    assert!(
        labels.keys().all(|k| !k.starts_with("traefik.")),
        "{labels:?}"
    );
    let cs = &c["Spec"]["TaskTemplate"]["ContainerSpec"];
    assert_eq!(cs["Init"], true);
    assert_eq!(cs["Image"], "canary-demo:v2");
    assert_eq!(
        cs["Healthcheck"],
        stable_json["Spec"]["TaskTemplate"]["ContainerSpec"]["Healthcheck"]
    );
    let nets = c["Spec"]["TaskTemplate"]["Networks"].as_array().unwrap();
    let stable_nets = stable_json["Spec"]["TaskTemplate"]["Networks"]
        .as_array()
        .unwrap();
    assert_eq!(nets.len(), 1);
    assert_eq!(nets[0]["Target"], stable_nets[0]["Target"]);
    assert!(
        stable_nets[0]["Aliases"].is_array(),
        "the stack gave stable an alias"
    );
    assert!(
        nets[0].get("Aliases").is_none(),
        "the canary must not answer to stable's alias"
    );
    assert_eq!(c["Spec"]["EndpointSpec"]["Mode"], "dnsrr");
    assert_eq!(c["Spec"]["UpdateConfig"]["Order"], "start-first");

    // Idempotent: the same request again sends no update.
    let v = version_index(req.name.as_str());
    swarm.ensure_canary(&req).await.unwrap();
    assert_eq!(
        version_index(req.name.as_str()),
        v,
        "an unchanged canary is not updated"
    );

    // Promoting the stack's stable keeps every field we do not own, the health check included
    // (a typed round trip through bollard's model would drop it: Docker spells it Healthcheck).
    let pinned = swarm
        .pin_image(&ImageRef::parse(common::V2).unwrap())
        .await
        .unwrap();
    swarm.set_image(&web, &pinned).await.unwrap();
    let s = swarm.wait_converged(&web, WAIT).await.unwrap();
    assert_eq!((s.image.as_str(), s.running), (pinned.as_str(), 2));
    let after = inspect_json(web.as_str());
    let (old_spec, new_spec) = (&stable_json["Spec"], &after["Spec"]);
    assert_eq!(
        new_spec["TaskTemplate"]["ContainerSpec"]["Healthcheck"],
        old_spec["TaskTemplate"]["ContainerSpec"]["Healthcheck"]
    );
    assert_eq!(
        new_spec["TaskTemplate"]["ContainerSpec"]["Env"],
        old_spec["TaskTemplate"]["ContainerSpec"]["Env"]
    );
    assert_eq!(
        new_spec["TaskTemplate"]["Networks"],
        old_spec["TaskTemplate"]["Networks"]
    );
    assert_eq!(new_spec["Labels"], old_spec["Labels"]);
    assert_eq!(new_spec["UpdateConfig"]["Order"], "start-first");

    guard.finish();
}

#[tokio::test]
async fn creates_the_canary_without_ports_and_reads_logs_of_both_tracks() {
    let swarm = swarm_or_skip!();
    let guard = Cleanup::new();
    let name = guard.service("api");
    let mut stable = common::stable(&name, common::V1, 1);
    stable.labels.insert("traefik.enable".into(), "true".into());
    stable.labels.insert(
        "traefik.http.services.api.loadbalancer.server.port".into(),
        "8080".into(),
    );
    stable
        .labels
        .insert("io.canary.state".into(), "{\"version\":1}".into());
    // A random high port in host mode: the canary must not try to publish it too.
    let random = u32::from_str_radix(guard.prefix.rsplit('-').next().unwrap(), 16).unwrap();
    let port = 40000 + (random % 20000) as u16;
    stable
        .ports
        .push(canary_core::model::HostPort::new(port, 8080));
    common::deploy(&swarm, &stable).await;

    let req = canary_of(&name, common::V2);
    swarm.ensure_canary(&req).await.unwrap();
    swarm.wait_converged(&req.name, WAIT).await.unwrap();
    let c = inspect_json(req.name.as_str());
    assert!(
        c["Spec"]["EndpointSpec"].get("Ports").is_none(),
        "{}",
        c["Spec"]["EndpointSpec"]
    );
    let labels = c["Spec"]["Labels"].as_object().unwrap();
    assert!(
        labels.keys().all(|k| !k.starts_with("traefik.")),
        "{labels:?}"
    );
    assert!(!labels.contains_key("io.canary.state"));
    assert_eq!(c["Spec"]["TaskTemplate"]["ContainerSpec"]["Init"], true);

    // Scaling the canary through ensure_canary updates it in place.
    let mut two = req.clone();
    two.replicas = 2;
    let s = swarm.ensure_canary(&two).await.unwrap();
    assert_eq!(s.desired, 2);
    let s = swarm.wait_converged(&req.name, WAIT).await.unwrap();
    assert_eq!(s.running, 2);

    // Logs of each track, with timestamps.
    for (service, version) in [(&name, "version=v1"), (&req.name, "version=v2")] {
        let mut lines = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline
            && !lines
                .iter()
                .any(|l: &canary_core::LogLine| l.line.contains(version))
        {
            let stream = swarm.logs(service, &LogOptions::default()).await.unwrap();
            lines = tokio::time::timeout(Duration::from_secs(10), stream.collect::<Vec<_>>())
                .await
                .expect("non-follow logs end")
                .into_iter()
                .map(|l| l.unwrap())
                .collect();
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let line = lines
            .iter()
            .find(|l| l.line.contains(version))
            .unwrap_or_else(|| panic!("no {version} line in {lines:?}"));
        assert_eq!(line.service, service.as_str());
        assert_eq!(line.stream, "stderr");
        assert!(
            line.timestamp
                .as_deref()
                .is_some_and(|t| t.starts_with("20")),
            "{line:?}"
        );
    }
    // Following: the first line comes, and the stream stays open.
    let options = LogOptions::default().follow(true).tail(1);
    let mut follow = swarm.logs(&name, &options).await.unwrap();
    let first = tokio::time::timeout(Duration::from_secs(10), follow.next())
        .await
        .unwrap();
    assert!(first.unwrap().is_ok());
    drop(follow);

    guard.finish();
}

#[tokio::test]
async fn scales_and_sets_a_pinned_image() {
    let swarm = swarm_or_skip!();
    let guard = Cleanup::new();
    let name = guard.service("scale");
    common::deploy(&swarm, &common::stable(&name, common::V1, 1)).await;

    swarm.scale(&name, 3).await.unwrap();
    let s = swarm.wait_converged(&name, WAIT).await.unwrap();
    assert_eq!((s.desired, s.running, s.converged), (3, 3, true));

    let pinned = swarm
        .pin_image(&ImageRef::parse(common::V2).unwrap())
        .await
        .unwrap();
    let id = docker_ok(&["image", "inspect", common::V2, "--format", "{{.Id}}"]);
    // Pushed once (scripts/cluster/up.sh pushes the demo images), it has a registry digest.
    let digests = docker_ok(&[
        "image",
        "inspect",
        common::V2,
        "--format",
        "{{range .RepoDigests}}{{.}} {{end}}",
    ]);
    if digests.is_empty() {
        assert_eq!(
            pinned.as_str(),
            id,
            "a local image without repo digests pins to its ID"
        );
    } else {
        assert!(
            digests.split_whitespace().any(|d| d == pinned.as_str()),
            "an image with repo digests pins to one of them: {pinned} not in {digests}"
        );
    }
    assert!(pinned.is_pinned());

    let t = Instant::now();
    swarm.set_image(&name, &pinned).await.unwrap();
    let s = swarm.wait_converged(&name, WAIT).await.unwrap();
    assert_eq!(s.image, pinned.as_str());
    assert_eq!((s.running, s.converged), (3, true));
    eprintln!("rolling 3 tasks to the pinned image took {:?}", t.elapsed());
    let j = inspect_json(name.as_str());
    assert_eq!(j["Spec"]["UpdateConfig"]["Order"], "start-first");
    assert_eq!(
        j["Spec"]["UpdateConfig"]["Parallelism"], 1,
        "the user's parallelism is kept"
    );

    // Setting the same image again changes nothing.
    let v = version_index(name.as_str());
    swarm.set_image(&name, &pinned).await.unwrap();
    assert_eq!(version_index(name.as_str()), v);

    let missing = swarm
        .pin_image(&ImageRef::parse(&format!("{}-img:nope", guard.prefix)).unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(missing, Error::NotFound { ref kind, .. } if kind == "image"),
        "{missing}"
    );
    let no_service = swarm.scale(&guard.service("absent"), 1).await.unwrap_err();
    assert!(
        matches!(no_service, Error::NotFound { ref kind, .. } if kind == "service"),
        "{no_service}"
    );

    guard.finish();
}

#[tokio::test]
async fn inspect_matches_names_exactly() {
    let swarm = swarm_or_skip!();
    let guard = Cleanup::new();
    let long = guard.service("exact-name");
    swarm
        .create_service(&common::stable(&long, common::V1, 1))
        .await
        .unwrap();
    // `exact` is a prefix of `exact-name`; the API's name filter would match it.
    let short = guard.service("exact");
    let e = swarm.inspect(&short).await.unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }), "{e}");
    assert_eq!(swarm.inspect(&long).await.unwrap().name, long);
    assert!(swarm.remove_service(&long).await.unwrap());
    assert!(!swarm.remove_service(&long).await.unwrap());
    guard.finish();
}

#[tokio::test]
async fn a_missing_image_fails_at_once_with_the_task_message() {
    let swarm = swarm_or_skip!();
    let guard = Cleanup::new();
    let name = guard.service("noimg");
    common::deploy(&swarm, &common::stable(&name, common::V1, 1)).await;
    let missing = format!("{}-img:missing", guard.prefix);
    let req = canary_of(&name, &missing);
    swarm.ensure_canary(&req).await.unwrap();
    let t = Instant::now();
    let e = swarm.wait_converged(&req.name, WAIT).await.unwrap_err();
    assert!(
        t.elapsed() < Duration::from_secs(30),
        "failed only after {:?}",
        t.elapsed()
    );
    match e {
        Error::DeploymentFailed { service, message } => {
            assert_eq!(service, req.name.as_str());
            assert!(message.contains("No such image"), "{message}");
            assert!(message.contains(&missing), "{message}");
        }
        other => panic!("expected DeploymentFailed, got {other:?}"),
    }
    guard.finish();
}

#[tokio::test]
async fn a_crashing_task_fails_at_once_with_its_exit_and_output() {
    let swarm = swarm_or_skip!();
    let guard = Cleanup::new();
    let name = guard.service("crash");
    common::deploy(&swarm, &common::stable(&name, common::V1, 1)).await;
    let mut req = canary_of(&name, common::V2);
    // The demo app exits 2 on a bad setting.
    req.env.insert("LATENCY_MS".into(), "abc".into());
    swarm.ensure_canary(&req).await.unwrap();
    let t = Instant::now();
    let e = swarm.wait_converged(&req.name, WAIT).await.unwrap_err();
    assert!(
        t.elapsed() < Duration::from_secs(30),
        "failed only after {:?}",
        t.elapsed()
    );
    match e {
        Error::DeploymentFailed { message, .. } => {
            assert!(message.contains("non-zero exit (2)"), "{message}");
            assert!(
                message.contains("LATENCY_MS"),
                "the app's own words: {message}"
            );
        }
        other => panic!("expected DeploymentFailed, got {other:?}"),
    }
    guard.finish();
}

#[tokio::test]
async fn times_out_while_tasks_start() {
    let swarm = swarm_or_skip!();
    let guard = Cleanup::new();
    let name = guard.service("slow");
    swarm
        .create_service(&common::stable(&name, common::V1, 2))
        .await
        .unwrap();
    let e = swarm
        .wait_converged(&name, Duration::from_millis(1))
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::Timeout { ref what, .. } if what.contains(name.as_str())),
        "{e}"
    );
    guard.finish();
}

/// A hook that runs `docker service update --env-add` on `service` at the listed attempts, so
/// the CLI's write lands between our read and our write.
fn racing_cli(
    service: &ServiceName,
    env: &'static str,
    at: fn(u32) -> bool,
    seen: Arc<AtomicU32>,
) -> UpdateHook {
    let target = service.to_string();
    Arc::new(move |name: String, attempt: u32| {
        let target = target.clone();
        let seen = seen.clone();
        Box::pin(async move {
            if name != target {
                return;
            }
            seen.fetch_max(attempt + 1, Ordering::SeqCst);
            if at(attempt) {
                let out = tokio::process::Command::new("docker")
                    .args(["service", "update", "--detach", "--env-add", env, &target])
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
    })
}

#[tokio::test]
async fn a_concurrent_cli_update_is_retried_not_clobbered() {
    let swarm = swarm_or_skip!();
    let guard = Cleanup::new();
    let name = guard.service("race");
    common::deploy(&swarm, &common::stable(&name, common::V1, 1)).await;

    let attempts = Arc::new(AtomicU32::new(0));
    let racing =
        swarm
            .clone()
            .with_update_hook(racing_cli(&name, "RACE=1", |a| a == 0, attempts.clone()));
    let pinned = racing
        .pin_image(&ImageRef::parse(common::V2).unwrap())
        .await
        .unwrap();
    racing.set_image(&name, &pinned).await.unwrap();
    assert_eq!(
        attempts.load(Ordering::SeqCst),
        2,
        "the first write lost and was retried once"
    );
    let j = inspect_json(name.as_str());
    let env = env_of(&j);
    assert!(
        env.contains(&"RACE=1".to_string()),
        "the person's env survived: {env:?}"
    );
    assert!(env.contains(&"VERSION=v1".to_string()), "{env:?}");
    assert_eq!(
        j["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"],
        pinned.as_str(),
        "our change landed"
    );
    swarm.wait_converged(&name, WAIT).await.unwrap();

    // Labels too: a label update racing the CLI keeps both.
    let attempts = Arc::new(AtomicU32::new(0));
    let racing =
        swarm
            .clone()
            .with_update_hook(racing_cli(&name, "RACE2=1", |a| a == 0, attempts.clone()));
    racing
        .update_labels(
            &name,
            &BTreeMap::from([("owner".to_string(), Some("canary".to_string()))]),
        )
        .await
        .unwrap();
    let j = inspect_json(name.as_str());
    assert_eq!(j["Spec"]["Labels"]["owner"], "canary");
    assert!(env_of(&j).contains(&"RACE2=1".to_string()));

    // Someone who always wins: give up after the bound with a conflict.
    let attempts = Arc::new(AtomicU32::new(0));
    let losing = swarm
        .clone()
        .with_retry_policy(
            RetryPolicy::default()
                .attempts(3)
                .initial_backoff(Duration::from_millis(10))
                .max_backoff(Duration::from_millis(50)),
        )
        .with_update_hook(racing_cli(&name, "RACE3=1", |_| true, attempts.clone()));
    let e = losing.scale(&name, 2).await.unwrap_err();
    assert!(
        matches!(e, Error::Conflict { message: ref m, .. } if m.contains("out of sequence")),
        "{e}"
    );
    assert_eq!(attempts.load(Ordering::SeqCst), 3);
    assert_eq!(
        swarm.inspect(&name).await.unwrap().desired,
        1,
        "nothing of ours was half-written"
    );

    guard.finish();
}

#[tokio::test]
async fn a_second_connection_sees_the_same_services() {
    let swarm = swarm_or_skip!();
    let guard = Cleanup::new();
    let name = guard.service("seen");
    swarm
        .create_service(&common::stable(&name, common::V1, 1))
        .await
        .unwrap();
    let other = SwarmOrchestrator::connect().await.unwrap();
    assert!(other.api_version().starts_with("1."));
    let listed = other
        .services_with_label("io.canary.test", "1")
        .await
        .unwrap();
    assert!(listed.iter().any(|s| s.name == name));
    guard.finish();
}

#[tokio::test]
async fn an_unreachable_daemon_is_unavailable_in_plain_words() {
    // Needs no Docker: nothing listens on port 1.
    let e =
        SwarmOrchestrator::connect_with(&canary_swarm::ConnectOptions::host("tcp://127.0.0.1:1"))
            .await
            .unwrap_err();
    assert!(
        matches!(e, Error::Unavailable { message: ref m, .. } if m.contains("127.0.0.1:1")),
        "{e}"
    );
    eprintln!("{e}");
    assert!(e.is_retryable());
}
