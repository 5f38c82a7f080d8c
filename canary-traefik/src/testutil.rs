//! Test helpers: the captured fixtures in `tests/fixtures` (Traefik and Prometheus answers,
//! Traefik's JSON Schemas; their provenance is in `tests/fixtures/README.md`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

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

/// A fake HTTP server on loopback answering from a table of path → (status, body); other paths
/// are 404 with Traefik's `{"message": ...}`. The table can be changed while it runs.
pub(crate) struct FakeHttp {
    pub(crate) url: String,
    routes: Arc<Mutex<BTreeMap<String, (u16, String)>>>,
    _server: canary_testkit::Server,
}

impl FakeHttp {
    pub(crate) fn start() -> FakeHttp {
        let routes: Arc<Mutex<BTreeMap<String, (u16, String)>>> = Default::default();
        let table = routes.clone();
        // The router polls every object every 50 ms until it shows as written: a test that
        // waits out a dozen confirmation timeouts makes about a thousand requests.
        let server = canary_testkit::Server::builder()
            .connections(10_000)
            .lifetime(Duration::from_secs(120))
            .start(move |req| {
                let (status, body) = table
                    .lock()
                    .unwrap()
                    .get(&req.path)
                    .cloned()
                    .unwrap_or_else(|| {
                        (404, format!("{{\"message\":\"not found: {}\"}}", req.path))
                    });
                canary_testkit::Answer::status(status)
                    .header("content-type", "application/json")
                    .body(body)
            });
        FakeHttp {
            url: server.base().to_string(),
            routes,
            _server: server,
        }
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
