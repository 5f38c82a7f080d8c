//! Routing and the per-connection loop.

use std::io::Write;
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::fault::{is_exempt, Faults};
use crate::http::{self, Conn, ReadError, Request, Response};
use crate::metrics::Metrics;

/// Shared state of the running app.
#[derive(Debug)]
pub(crate) struct App {
    /// Validated configuration.
    pub(crate) cfg: Config,
    /// Container hostname (the `host` field of the body).
    pub(crate) hostname: String,
    /// Request metrics.
    pub(crate) metrics: Metrics,
    /// Fault injection.
    pub(crate) faults: Faults,
    /// Set once SIGTERM/SIGINT arrived.
    pub(crate) draining: AtomicBool,
    /// Process start, seconds since the epoch.
    pub(crate) start_unix: f64,
}

impl App {
    /// Builds the app state.
    pub(crate) fn new(cfg: Config, hostname: String, seed: u64) -> Self {
        let faults = Faults::new(cfg.error_rate, seed);
        let start_unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        Self {
            cfg,
            hostname,
            metrics: Metrics::default(),
            faults,
            draining: AtomicBool::new(false),
            start_unix,
        }
    }

    fn body(&self, path: &str, error: Option<&str>) -> Vec<u8> {
        let mut s = String::with_capacity(96);
        s.push_str("{\"version\":");
        http::json_str(&mut s, &self.cfg.version);
        s.push_str(",\"path\":");
        http::json_str(&mut s, path);
        s.push_str(",\"host\":");
        http::json_str(&mut s, &self.hostname);
        if let Some(e) = error {
            s.push_str(",\"error\":");
            http::json_str(&mut s, e);
        }
        s.push_str("}\n");
        s.into_bytes()
    }

    fn json(&self, status: u16, path: &str, error: Option<&str>) -> Response {
        Response {
            status,
            content_type: "application/json",
            headers: vec![("X-Version", self.cfg.version.clone())],
            body: self.body(path, error),
        }
    }

    /// Answers one request (sleeps for the added latency where it applies).
    pub(crate) fn route(&self, req: &Request) -> Response {
        if req.path == "/metrics" {
            let draining = self.draining.load(Ordering::Relaxed);
            return Response {
                status: 200,
                content_type: "text/plain; version=0.0.4; charset=utf-8",
                headers: vec![("X-Version", self.cfg.version.clone())],
                body: self
                    .metrics
                    .render(&self.cfg.version, draining, self.start_unix)
                    .into_bytes(),
            };
        }
        if is_exempt(&req.path) {
            return self.json(200, &req.path, None);
        }
        if !self.cfg.latency.is_zero() {
            std::thread::sleep(self.cfg.latency);
        }
        if self.faults.should_fail() {
            return self.json(500, &req.path, Some("injected fault (ERROR_RATE)"));
        }
        self.json(200, &req.path, None)
    }

    /// Serves one connection until it closes, errors, idles out, or a response closes it.
    pub(crate) fn serve(&self, stream: TcpStream) {
        let _ = stream.set_nodelay(true);
        let _ = stream.set_read_timeout(Some(self.cfg.idle_timeout));
        let _ = stream.set_write_timeout(Some(Duration::from_secs(30)));
        let mut writer = match stream.try_clone() {
            Ok(w) => w,
            Err(_) => return,
        };
        let mut conn = Conn::new(stream);
        loop {
            let req = match conn.read_request() {
                Ok(r) => r,
                Err(ReadError::Parse(e)) => {
                    let status = http::error_status(&e);
                    let resp = Response {
                        status,
                        content_type: "text/plain; charset=utf-8",
                        headers: vec![("X-Version", self.cfg.version.clone())],
                        body: format!("{e}\n").into_bytes(),
                    };
                    self.metrics.observe(status, Duration::ZERO);
                    let _ = writer.write_all(&http::encode_response(&resp, 1, false, false));
                    break;
                }
                Err(ReadError::Closed | ReadError::Io) => break,
            };
            let started = Instant::now();
            let body_ok = conn.discard_body(&req).is_ok();
            let resp = if body_ok {
                self.route(&req)
            } else {
                Response {
                    status: 400,
                    content_type: "text/plain; charset=utf-8",
                    headers: vec![("X-Version", self.cfg.version.clone())],
                    body: b"bad request body\n".to_vec(),
                }
            };
            // While draining, ask the client (Traefik) to move on to another backend.
            let keep_alive = body_ok && req.keep_alive && !self.draining.load(Ordering::Relaxed);
            let bytes = http::encode_response(&resp, req.minor, keep_alive, req.is_head());
            let wrote = writer.write_all(&bytes).and_then(|()| writer.flush());
            // Probes and scrapes are not the app's traffic: counted, Traefik's health checks
            // (4/s per task) and the scrapes would dilute a canary's error rate read from these
            // counters (canary analysis.taskMetrics).
            if !is_exempt(&req.path) {
                self.metrics.observe(resp.status, started.elapsed());
            }
            if wrote.is_err() || !keep_alive {
                break;
            }
        }
        let _ = conn.get_ref().shutdown(Shutdown::Both);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::parse_head;

    fn app(rate: f64) -> App {
        let cfg = Config {
            version: "v9".to_owned(),
            error_rate: rate,
            ..Config::default()
        };
        App::new(cfg, "box-1".to_owned(), 5)
    }

    fn req(s: &str) -> Request {
        parse_head(s.as_bytes()).unwrap().unwrap().0
    }

    #[test]
    fn every_path_is_200_json() {
        let a = app(0.0);
        let r = a.route(&req(
            "GET /some/where?q=1 HTTP/1.1\r\nHost: demo.localhost\r\n\r\n",
        ));
        assert_eq!(r.status, 200);
        assert_eq!(r.content_type, "application/json");
        assert_eq!(r.headers, vec![("X-Version", "v9".to_owned())]);
        assert_eq!(
            String::from_utf8(r.body).unwrap(),
            "{\"version\":\"v9\",\"path\":\"/some/where\",\"host\":\"box-1\"}\n"
        );
    }

    #[test]
    fn health_and_metrics_never_fail() {
        let a = app(1.0);
        for p in ["/health", "/api/health", "/gcp/api/health", "/metrics"] {
            for _ in 0..50 {
                assert_eq!(
                    a.route(&req(&format!("GET {p} HTTP/1.1\r\n\r\n"))).status,
                    200,
                    "{p}"
                );
            }
        }
        let r = a.route(&req("GET / HTTP/1.1\r\n\r\n"));
        assert_eq!(r.status, 500);
        assert!(String::from_utf8(r.body).unwrap().contains("\"error\""));
    }

    #[test]
    fn error_rate_share_on_routes() {
        let a = app(0.2);
        let fails = (0..20_000)
            .filter(|_| a.route(&req("POST /orders HTTP/1.1\r\n\r\n")).status == 500)
            .count();
        assert!((3600..4400).contains(&fails), "{fails}");
    }

    #[test]
    fn probes_and_scrapes_are_not_counted() {
        use std::io::{Read, Write};
        let a = std::sync::Arc::new(app(0.0));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::sync::Arc::clone(&a);
        let t = std::thread::spawn(move || {
            let (s, _) = listener.accept().unwrap();
            server.serve(s);
        });
        let mut c = std::net::TcpStream::connect(addr).unwrap();
        c.write_all(
            b"GET /health HTTP/1.1\r\n\r\nGET /metrics HTTP/1.1\r\n\r\nGET /x HTTP/1.1\r\n\r\n\
              GET /api/health HTTP/1.1\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
        let mut answers = String::new();
        c.read_to_string(&mut answers).unwrap();
        t.join().unwrap();
        assert_eq!(answers.matches("HTTP/1.1 200").count(), 4, "{answers}");
        let body = a.metrics.render("v9", false, 0.0);
        assert!(
            body.contains("demo_http_requests_total{version=\"v9\",code=\"200\"} 1\n"),
            "{body}"
        );
    }

    #[test]
    fn metrics_body() {
        let a = app(0.0);
        a.metrics.observe(200, Duration::from_millis(2));
        let r = a.route(&req("GET /metrics HTTP/1.1\r\n\r\n"));
        let s = String::from_utf8(r.body).unwrap();
        assert!(s.contains("demo_http_requests_total{version=\"v9\",code=\"200\"} 1"));
        assert!(r.content_type.starts_with("text/plain; version=0.0.4"));
    }
}
