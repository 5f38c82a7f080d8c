//! Test helpers: the captured fixtures in `tests/fixtures` (Traefik and Prometheus answers,
//! Traefik's JSON Schemas; their provenance is in `tests/fixtures/README.md`).

use std::path::PathBuf;

/// The fixtures directory, in the crate.
pub(crate) fn fixtures_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    assert!(
        dir.join("README.md").is_file(),
        "fixtures not found at {}",
        dir.display()
    );
    dir
}

/// A fixture file's bytes; panics with the path when it is missing.
pub(crate) fn fixture_bytes(rel: &str) -> Vec<u8> {
    let path = fixtures_dir().join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()))
}

/// A fixture file's text.
pub(crate) fn fixture(rel: &str) -> String {
    String::from_utf8(fixture_bytes(rel)).expect("fixture is UTF-8")
}

/// Status and body of a raw `curl -i` response.
pub(crate) fn http_body(raw: &str) -> (u16, String) {
    let status: u16 = raw
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let body = raw
        .split_once("\r\n\r\n")
        .or_else(|| raw.split_once("\n\n"))
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// A fake HTTP server on loopback answering GETs from a table of path → (status, body); other
/// paths are 404 with Traefik's `{"message": ...}`. The table can be changed while it runs.
pub(crate) struct FakeHttp {
    pub(crate) url: String,
    pub(crate) routes:
        std::sync::Arc<std::sync::Mutex<std::collections::BTreeMap<String, (u16, String)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeHttp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeHttp {
    pub(crate) async fn start() -> FakeHttp {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let routes: std::sync::Arc<
            std::sync::Mutex<std::collections::BTreeMap<String, (u16, String)>>,
        > = Default::default();
        let table = routes.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut s, _)) = listener.accept().await else {
                    return;
                };
                let table = table.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 8192];
                    let mut n = 0;
                    while !buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
                        match s.read(&mut buf[n..]).await {
                            Ok(0) | Err(_) => return,
                            Ok(k) => n += k,
                        }
                    }
                    let head = String::from_utf8_lossy(&buf[..n]).to_string();
                    let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
                    let (status, body) = table
                        .lock()
                        .unwrap()
                        .get(&path)
                        .cloned()
                        .unwrap_or_else(|| (404, format!("{{\"message\":\"not found: {path}\"}}")));
                    let resp = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = s.write_all(resp.as_bytes()).await;
                });
            }
        });
        FakeHttp { url, routes, task }
    }

    pub(crate) fn set(&self, path: &str, status: u16, body: impl Into<String>) {
        self.routes
            .lock()
            .unwrap()
            .insert(path.to_string(), (status, body.into()));
    }

    pub(crate) fn unset(&self, path: &str) {
        self.routes.lock().unwrap().remove(path);
    }
}
