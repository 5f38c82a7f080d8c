//! HTTP to 127.0.0.1 only: one request ([`http_get`]) and a steady background load ([`Load`])
//! that records every answer, so a test can say which version answered when, and what failed.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// An answer.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The `X-Version` header.
    pub version: Option<String>,
    /// The body.
    pub body: String,
}

/// `GET path` on `127.0.0.1:port` with a `Host` header and extra headers, one connection per
/// request.
pub fn http_get(
    port: u16,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
    timeout: Duration,
) -> std::io::Result<Answer> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    let mut req = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nUser-Agent: canary-e2e\r\n"
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())?;
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line)?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("bad status line {line:?}"),
            )
        })?;
    let mut version = None;
    let mut length: Option<usize> = None;
    let mut chunked = false;
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_string());
            if k == "x-version" {
                version = Some(v);
            } else if k == "content-length" {
                length = v.parse().ok();
            } else if k == "transfer-encoding" {
                chunked = v.eq_ignore_ascii_case("chunked");
            }
        }
    }
    let mut body = Vec::new();
    match length {
        _ if chunked => loop {
            line.clear();
            r.read_line(&mut line)?;
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("bad chunk size {line:?}"),
                    )
                })?;
            if size == 0 {
                break;
            }
            let start = body.len();
            body.resize(start + size, 0);
            r.read_exact(&mut body[start..])?;
            line.clear();
            r.read_line(&mut line)?;
        },
        Some(n) => {
            body.resize(n, 0);
            r.read_exact(&mut body)?;
        }
        None => {
            r.read_to_end(&mut body)?;
        }
    }
    Ok(Answer {
        status,
        version,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// One request of a load.
#[derive(Debug, Clone)]
pub struct Sample {
    /// When it was answered.
    pub at: Instant,
    /// The route's path.
    pub path: String,
    /// The status, or the error.
    pub result: Result<u16, String>,
    /// `X-Version`.
    pub version: Option<String>,
}

/// A steady load: one thread per path, each about `rps` requests a second, until stopped.
#[derive(Debug)]
pub struct Load {
    stop: Arc<AtomicBool>,
    samples: Arc<Mutex<Vec<Sample>>>,
    threads: Vec<JoinHandle<()>>,
}

/// What a load saw.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Every request.
    pub samples: Vec<Sample>,
}

impl Load {
    /// Starts `rps` requests a second to each of `paths` on `127.0.0.1:port` with `Host: host`.
    pub fn start(port: u16, host: &str, paths: &[&str], rps: u32) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let samples = Arc::new(Mutex::new(Vec::new()));
        let period = Duration::from_secs_f64(1.0 / rps.max(1) as f64);
        let threads = paths
            .iter()
            .map(|p| {
                let (stop, samples, host, path) = (
                    stop.clone(),
                    samples.clone(),
                    host.to_string(),
                    p.to_string(),
                );
                std::thread::spawn(move || {
                    let mut next = Instant::now();
                    while !stop.load(Ordering::Relaxed) {
                        let r = http_get(port, &host, &path, &[], Duration::from_secs(5));
                        let sample = match r {
                            Ok(a) => Sample {
                                at: Instant::now(),
                                path: path.clone(),
                                result: Ok(a.status),
                                version: a.version,
                            },
                            Err(e) => Sample {
                                at: Instant::now(),
                                path: path.clone(),
                                result: Err(e.to_string()),
                                version: None,
                            },
                        };
                        samples.lock().expect("samples").push(sample);
                        next += period;
                        let now = Instant::now();
                        if next > now {
                            std::thread::sleep(next - now);
                        } else {
                            next = now;
                        }
                    }
                })
            })
            .collect();
        Load {
            stop,
            samples,
            threads,
        }
    }

    /// Stops the load and returns what it saw.
    pub fn stop(mut self) -> Report {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        Report {
            samples: self.samples.lock().expect("samples").clone(),
        }
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl Report {
    /// Requests that got no answer or an answer other than 200, except those `allowed` says are
    /// expected.
    pub fn failures(&self, allowed: impl Fn(&Sample) -> bool) -> Vec<&Sample> {
        self.samples
            .iter()
            .filter(|s| s.result != Ok(200) && !allowed(s))
            .collect()
    }

    /// Answers by `path status version`.
    pub fn summary(&self) -> BTreeMap<String, u64> {
        let mut m = BTreeMap::new();
        for s in &self.samples {
            let what = match &s.result {
                Ok(code) => format!("{} {code} {}", s.path, s.version.as_deref().unwrap_or("-")),
                Err(e) => format!("{} error {e}", s.path),
            };
            *m.entry(what).or_default() += 1;
        }
        m
    }

    /// Answers from `version` after `t`.
    pub fn from_version_after(&self, version: &str, t: Instant) -> usize {
        self.samples
            .iter()
            .filter(|s| s.at > t && s.version.as_deref() == Some(version))
            .count()
    }
}
