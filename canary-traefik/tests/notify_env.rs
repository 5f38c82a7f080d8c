//! A notification's `urlFrom.env` is read at each post. Alone in its own test binary because it
//! sets an environment variable, which must not happen while other tests' threads read the
//! environment.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use canary_core::{Event, EventKind, Phase, Spec};
use canary_traefik::Notifier;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::broadcast;

/// A server on 127.0.0.1 answering 200 to every POST and keeping the JSON bodies.
async fn server() -> (String, Arc<Mutex<Vec<serde_json::Value>>>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let got: Arc<Mutex<Vec<serde_json::Value>>> = Default::default();
    let record = got.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let record = record.clone();
            tokio::spawn(async move {
                let mut req = Vec::new();
                let mut buf = [0u8; 8192];
                loop {
                    let n = match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    req.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&req).to_string();
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let len: usize = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse().unwrap())
                            })
                            .unwrap_or(0);
                        if body.len() >= len {
                            record
                                .lock()
                                .unwrap()
                                .push(serde_json::from_str(body).unwrap());
                            break;
                        }
                    }
                }
                let _ = s
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                    )
                    .await;
            });
        }
    });
    (url, got)
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
    let (first, first_got) = server().await;
    let (second, second_got) = server().await;
    std::env::set_var(var, format!("{first}/hook/secret-token"));
    let spec = Spec::from_yaml(&format!(
        "group: shop\napps:\n  - name: api\n    image: api:v2\n    port: 8080\n    rule: \"Host(`a`)\"\nnotifications:\n  - name: audit\n    kind: json\n    urlFrom: {{env: {var}}}\n"
    ))
    .unwrap();
    let notifier = Notifier::new(&spec).unwrap();
    let (tx, rx) = broadcast::channel(8);
    let mut task = notifier.start(rx);
    tx.send(event(EventKind::Started)).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while first_got.lock().unwrap().is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The secret moves (a rotated webhook): the next post goes to the new URL.
    std::env::set_var(var, format!("{second}/hook/other-token"));
    tx.send(event(EventKind::Promoted)).unwrap();
    drop(tx);
    assert!(task.finish(Duration::from_secs(5)).await);
    let kinds = |got: &Arc<Mutex<Vec<serde_json::Value>>>| -> Vec<String> {
        got.lock()
            .unwrap()
            .iter()
            .map(|b| b["kind"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(kinds(&first_got), vec!["started"]);
    assert_eq!(kinds(&second_got), vec!["promoted"]);
    std::env::remove_var(var);
}
