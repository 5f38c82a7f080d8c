//! The notifier against real HTTP servers on 127.0.0.1: what arrives, in which order, what a slow,
//! failing or redirecting endpoint does to the others, and what reaches the logs.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use canary_core::analysis::{AnalysisReport, CheckResult, Verdict};
use canary_core::{Event, EventKind, Phase, Spec};
use canary_testkit::{Answer, Server};
use serde_json::Value;
use tokio::sync::broadcast;

use super::Notifier;
use crate::testutil::fixture;

/// The secret part of every URL in these tests: it must never reach a log.
const SECRET: &str = "s3cr3t-T0KEN";

/// A server answering 200 "ok" to everything.
fn ok() -> Server {
    Server::start(|_| Answer::status(200).body("ok"))
}

/// The server's URL with the secret in its path and query, as Slack's and Discord's are.
fn secret_url(server: &Server) -> String {
    server.url(&format!("/services/T0/B0/{SECRET}?token={SECRET}"))
}

/// The `kind` of each body the server got, in order.
fn kinds(server: &Server) -> Vec<String> {
    server
        .requests()
        .iter()
        .map(|r| r.json()["kind"].as_str().unwrap_or("?").to_string())
        .collect()
}

fn spec(notifications: &str) -> Spec {
    Spec::from_yaml(&format!(
        r#"
group: shop
apps:
  - name: api
    image: api:v2
    port: 8080
    rule: "Host(`api.localhost`)"
traffic:
  steps: [10, 50]
analysis:
  checks:
    - name: errors
      metric: errorRate
      max: 0.01
notifications:
{notifications}"#
    ))
    .unwrap()
}

fn event(kind: EventKind, weight: u8) -> Event {
    let analysis = (kind == EventKind::Analysis).then(|| AnalysisReport {
        verdict: Verdict::Pass,
        critical_failure: false,
        checks: vec![CheckResult {
            dry_run: false,
            name: "errors".into(),
            app: "api".into(),
            metric: "errorRate".into(),
            canary: Some(0.002),
            stable: None,
            verdict: Verdict::Pass,
            critical: false,
            reason: String::new(),
        }],
        judges: vec![],
        summary: "errorRate 0.002".into(),
    });
    Event {
        at_ms: 1,
        group: "shop".into(),
        kind,
        phase: Phase::Progressing,
        step: 0,
        steps: 2,
        weight,
        message: format!("{kind:?} at {weight}"),
        analysis,
    }
}

/// A rollout's events, in the engine's order.
fn rollout_events() -> Vec<Event> {
    vec![
        event(EventKind::Started, 0),
        event(EventKind::WeightSet, 10),
        event(EventKind::Analysis, 10),
        event(EventKind::WeightSet, 50),
        event(EventKind::Analysis, 50),
        event(EventKind::Promoting, 50),
        event(EventKind::Promoted, 0),
    ]
}

/// Everything logged at any level while the guard lives (on this thread: the tests run on a
/// current-thread runtime, so the notifier's tasks log here too).
struct Logs {
    buf: Arc<Mutex<Vec<u8>>>,
    _guard: tracing::subscriber::DefaultGuard,
}

impl Logs {
    fn capture() -> Logs {
        #[derive(Clone)]
        struct W(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for W {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf: Arc<Mutex<Vec<u8>>> = Default::default();
        let w = W(buf.clone());
        let sub = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || w.clone())
            .finish();
        Logs {
            buf,
            _guard: tracing::subscriber::set_default(sub),
        }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.buf.lock().unwrap()).to_string()
    }
}

fn validator(name: &str) -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(&fixture(&format!("notify/{name}"))).unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

#[tokio::test]
async fn events_are_filtered_by_kind_and_posted_in_order() {
    let json = ok();
    let slack = ok();
    let spec = spec(&format!(
        "  - name: audit\n    kind: json\n    url: {}\n    events: [started, weightSet, promoted]\n  - name: team\n    kind: slack\n    url: {}\n",
        secret_url(&json),
        secret_url(&slack)
    ));
    let notifier = Notifier::new(&spec).unwrap();
    let (tx, rx) = broadcast::channel(64);
    let mut task = notifier.start(rx);
    for e in rollout_events() {
        tx.send(e).unwrap();
    }
    drop(tx);
    assert!(task.finish(Duration::from_secs(10)).await, "not done");
    assert!(task.is_finished());

    assert_eq!(
        kinds(&json),
        vec!["started", "weightSet", "weightSet", "promoted"]
    );
    let bodies: Vec<Value> = json.requests().iter().map(|g| g.json()).collect();
    assert_eq!(
        bodies
            .iter()
            .map(|b| b["weight"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        vec![0, 10, 50, 0]
    );
    assert!(bodies
        .iter()
        .all(|b| b["notification"] == "audit" && b["group"] == "shop"));
    assert_eq!(
        json.requests()[0].path,
        format!("/services/T0/B0/{SECRET}?token={SECRET}")
    );
    // The promotion carries the last analysis (at 50%) with its figure.
    assert_eq!(bodies[3]["lastAnalysis"]["weight"], 50);
    assert_eq!(
        bodies[3]["lastAnalysis"]["report"]["checks"][0]["canary"],
        0.002
    );

    // Slack: the default kinds only, each a valid Slack message.
    let got: Vec<Value> = slack.requests().iter().map(|g| g.json()).collect();
    let v = validator("slack-webhook.schema.json");
    let titles: Vec<String> = got
        .iter()
        .map(|body| {
            assert!(v.is_valid(body), "{body:#}");
            body["blocks"][0]["text"]["text"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        titles,
        vec![
            "canary shop: started",
            "canary shop: promoting",
            "canary shop: promoted"
        ]
    );
    let promoted = got[2].to_string();
    assert!(
        promoted.contains("errors api: canary 0.002 vs max 0.010 (pass)"),
        "{promoted}"
    );
}

#[tokio::test]
async fn a_slow_or_failing_endpoint_does_not_hold_up_the_others() {
    let fast = ok();
    let slow = Server::start(|_| Answer::status(200).body("ok").delay(Duration::from_secs(3)));
    let failing = Server::start(|_| Answer::status(500).body("boom"));
    let spec = spec(&format!(
        "  - name: fast\n    kind: discord\n    url: {}\n  - name: slow\n    kind: teams\n    url: {}\n    timeout: 1s\n  - name: failing\n    kind: json\n    url: {}\n",
        secret_url(&fast),
        secret_url(&slow),
        secret_url(&failing)
    ));
    let notifier = Notifier::new(&spec).unwrap();
    let (tx, rx) = broadcast::channel(64);
    let mut task = notifier.start(rx);
    let sent = Instant::now();
    for kind in [EventKind::Started, EventKind::Paused, EventKind::Promoted] {
        tx.send(event(kind, 10)).unwrap();
    }
    // The fast endpoint has all three while the slow one still holds its first.
    let deadline = Instant::now() + Duration::from_secs(5);
    while fast.requests().len() < 3 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let fast_got = fast.requests();
    assert_eq!(fast_got.len(), 3);
    let last_fast = fast_got[2].at.duration_since(sent);
    assert!(last_fast < Duration::from_millis(900), "{last_fast:?}");
    assert_eq!(
        slow.requests().len(),
        1,
        "the slow endpoint is still on its first post"
    );
    let v = validator("discord-webhook.schema.json");
    assert!(fast_got.iter().all(|g| v.is_valid(&g.json())));
    assert_eq!(
        fast_got
            .iter()
            .map(|g| g.json()["embeds"][0]["title"].as_str().unwrap().to_string())
            .collect::<Vec<_>>(),
        vec![
            "canary shop: started",
            "canary shop: paused",
            "canary shop: promoted"
        ]
    );
    drop(tx);
    assert!(task.finish(Duration::from_secs(10)).await);
    // Every post was tried, in order, whatever the answers before it.
    assert_eq!(kinds(&failing), vec!["started", "paused", "promoted"]);
    let slow_got = slow.requests();
    assert_eq!(
        slow_got.len(),
        3,
        "each slow post timed out after 1s, then the next went"
    );
    let v = validator("teams-adaptive-card.schema.json");
    assert!(slow_got.iter().all(|g| v.is_valid(&g.json())));
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let target = ok();
    let to = target.url("/elsewhere");
    let redirect = Server::start(move |_| Answer::status(302).header("location", &to));
    let logs = Logs::capture();
    let spec = spec(&format!(
        "  - name: moved\n    kind: slack\n    url: {}\n",
        secret_url(&redirect)
    ));
    let notifier = Notifier::new(&spec).unwrap();
    let e = notifier.send(0, &notifier.test_note()).await.unwrap_err();
    assert!(
        e.to_string()
            .contains("HTTP 302: redirects are not followed"),
        "{e}"
    );
    let (tx, rx) = broadcast::channel(8);
    let mut task = notifier.start(rx);
    tx.send(event(EventKind::Started, 0)).unwrap();
    drop(tx);
    assert!(task.finish(Duration::from_secs(5)).await);
    assert_eq!(redirect.requests().len(), 2);
    assert!(target.requests().is_empty(), "the redirect was followed");
    let text = logs.text();
    assert!(
        text.contains("notification not sent") && text.contains("redirects are not followed"),
        "{text}"
    );
}

#[tokio::test]
async fn secrets_never_reach_the_logs_or_errors() {
    let logs = Logs::capture();
    // Answers with the request line in its body, as a careless endpoint might.
    let echo = Server::start(|r| Answer::status(500).body(format!("bad request to {}", r.path)));
    let slow = Server::start(|_| Answer::status(200).body("ok").delay(Duration::from_secs(3)));
    let teams = Server::start(|_| {
        Answer::status(200)
            .body("Microsoft Teams endpoint returned HTTP error 429 with ContextId x")
    });
    let ok = ok();
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/services/{SECRET}", l.local_addr().unwrap());
        drop(l);
        url
    };
    // Never set: the environment is not changed here, as other tests run beside this one
    // (tests/notify_env.rs reads a URL from a variable it sets, alone in its process).
    let unset = "CANARY_NOTIFY_TEST_NEVER_SET_7F3A";
    let spec = spec(&format!(
        "  - name: echo\n    kind: slack\n    url: {}\n\
         \x20 - name: closed\n    kind: discord\n    url: {closed}\n\
         \x20 - name: slow\n    kind: json\n    url: {}\n    timeout: 300ms\n\
         \x20 - name: teams\n    kind: teams\n    url: {}\n\
         \x20 - name: ok\n    kind: json\n    url: {}\n\
         \x20 - name: unset\n    kind: json\n    urlFrom: {{env: {unset}}}\n\
         \x20 - name: metadata\n    kind: json\n    url: http://169.254.169.254/latest/{SECRET}\n",
        secret_url(&echo),
        secret_url(&slow),
        secret_url(&teams),
        secret_url(&ok),
    ));
    let notifier = Notifier::new(&spec).unwrap();
    assert!(!format!("{notifier:?}").contains(SECRET));
    let (tx, rx) = broadcast::channel(8);
    let mut task = notifier.start(rx);
    tx.send(event(EventKind::Started, 0)).unwrap();
    drop(tx);
    assert!(task.finish(Duration::from_secs(10)).await);
    // The same failures through `send`, as errors.
    for i in 0..notifier.notifications().len() {
        let r = notifier.send(i, &notifier.test_note()).await;
        let name = &notifier.notifications()[i].name;
        match (name.as_str(), &r) {
            ("ok", Ok(d)) => assert_eq!(d.status, 200),
            (_, Err(e)) => assert!(!e.to_string().contains(SECRET), "{name}: {e}"),
            (_, Ok(d)) => panic!("{name} was sent: {d:?}"),
        }
    }
    assert_eq!(ok.requests().len(), 2);
    assert_eq!(ok.requests()[1].json()["test"], true);

    let text = logs.text();
    assert!(!text.contains(SECRET), "a secret in the logs:\n{text}");
    for (name, why) in [
        ("echo", "HTTP 500: bad request to /<redacted>"),
        ("closed", "unavailable"),
        ("slow", "timed out"),
        ("teams", "returned HTTP error 429"),
        ("unset", "is not set"),
        ("metadata", "link-local or metadata address"),
    ] {
        assert!(
            text.lines().any(|l| l.contains("notification not sent")
                && l.contains(&format!("notification={name}"))
                && l.contains(why)),
            "no failure logged for {name} ({why}):\n{text}"
        );
    }
    assert!(
        text.lines()
            .any(|l| l.contains("notification sent") && l.contains("notification=ok")),
        "{text}"
    );
    // Hosts are shown: a person can tell which endpoint failed.
    assert!(text.contains(echo.base()), "{text}");
}

#[tokio::test]
async fn a_full_queue_drops_new_events_with_a_warning() {
    let logs = Logs::capture();
    let stuck = Server::start(|_| {
        Answer::status(200)
            .body("ok")
            .delay(Duration::from_secs(30))
    });
    let spec = spec(&format!(
        "  - name: stuck\n    kind: json\n    url: {}\n    events: [weightSet]\n    timeout: 1m\n",
        secret_url(&stuck)
    ));
    let notifier = Notifier::new(&spec).unwrap();
    let (tx, rx) = broadcast::channel(256);
    let task = notifier.start(rx);
    let started = Instant::now();
    for _ in 0..(super::QUEUE + 10) {
        tx.send(event(EventKind::WeightSet, 10)).unwrap();
    }
    // Sending never waits for the notifier.
    assert!(started.elapsed() < Duration::from_millis(100));
    let deadline = Instant::now() + Duration::from_secs(5);
    while !logs.text().contains("notification dropped") && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let text = logs.text();
    // QUEUE waiting, the rest dropped (one fewer when the first post left the queue before the
    // last events came in).
    let dropped = text.matches("notification dropped").count();
    assert!((9..=10).contains(&dropped), "{dropped} dropped:\n{text}");
    assert!(!task.is_finished());
    drop(tx);
}
