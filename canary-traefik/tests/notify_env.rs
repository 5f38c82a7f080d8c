//! A notification's `urlFrom.env` is read at each post. Alone in its own test binary because it
//! sets an environment variable, which must not happen while other tests' threads read the
//! environment.

use std::time::Duration;

use canary_core::{Event, EventKind, Phase, Spec};
use canary_testkit::{Answer, Server};
use canary_traefik::Notifier;
use tokio::sync::broadcast;

/// A server on 127.0.0.1 answering 200 to every POST and keeping the bodies.
fn server() -> Server {
    Server::start(|_| Answer::status(200).body("ok"))
}

fn event(kind: EventKind) -> Event {
    Event {
        at_ms: 1,
        group: "shop".into(),
        kind,
        phase: Phase::Progressing,
        step: 0,
        steps: 1,
        weight: 0,
        message: "m".into(),
        analysis: None,
    }
}

#[tokio::test]
async fn the_url_is_read_from_the_environment_at_each_post() {
    let var = "CANARY_NOTIFY_ENV_TEST_URL";
    let (first, second) = (server(), server());
    std::env::set_var(var, first.url("/hook/secret-token"));
    let spec = Spec::from_yaml(&format!(
        "group: shop\napps:\n  - name: api\n    image: api:v2\n    port: 8080\n    rule: \"Host(`a`)\"\nnotifications:\n  - name: audit\n    kind: json\n    urlFrom: {{env: {var}}}\n"
    ))
    .unwrap();
    let notifier = Notifier::new(&spec).unwrap();
    let (tx, rx) = broadcast::channel(8);
    let mut task = notifier.start(rx);
    tx.send(event(EventKind::Started)).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while first.requests().is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The secret moves (a rotated webhook): the next post goes to the new URL.
    std::env::set_var(var, second.url("/hook/other-token"));
    tx.send(event(EventKind::Promoted)).unwrap();
    drop(tx);
    assert!(task.finish(Duration::from_secs(5)).await);
    let kinds = |server: &Server| -> Vec<String> {
        server
            .requests()
            .iter()
            .map(|r| r.json()["kind"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(kinds(&first), vec!["started"]);
    assert_eq!(kinds(&second), vec!["promoted"]);
    std::env::remove_var(var);
}
