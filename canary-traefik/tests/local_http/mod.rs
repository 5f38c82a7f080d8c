//! HTTP servers on 127.0.0.1 that answer canned bytes, for the web-metric tests: each serves a
//! bounded number of connections within a bounded time and hands back the requests it read.

#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A running server: its base URL (`http://127.0.0.1:<port>`) and the requests it read (request
/// line, headers and body as text), available once it has served its connections or given up.
pub struct Server {
    pub base: String,
    pub requests: JoinHandle<Vec<String>>,
}

/// An answer with a `Content-Length`.
pub fn answer(status: u16, content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

/// JSON with status 200.
pub fn json(body: &str) -> Vec<u8> {
    answer(200, "application/json", body.as_bytes())
}

/// Serves `answers` in turn, one connection each, after `delay`; stops after the last one or
/// after 20 seconds, whichever comes first.
pub async fn serve(answers: Vec<Vec<u8>>, delay: Duration) -> Server {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    let requests = tokio::spawn(async move {
        let mut seen = Vec::new();
        let work = async {
            for a in answers {
                let Ok((mut s, _)) = l.accept().await else {
                    break;
                };
                seen.push(read_request(&mut s).await);
                tokio::time::sleep(delay).await;
                let _ = s.write_all(&a).await;
                let _ = s.shutdown().await;
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(20), work).await;
        seen
    });
    Server { base, requests }
}

/// One request: head and, per its `Content-Length`, body.
async fn read_request(s: &mut tokio::net::TcpStream) -> String {
    let mut req = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = s.read(&mut buf).await {
        req.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&req);
        if let Some((head, rest)) = text.split_once("\r\n\r\n") {
            let len: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .and_then(|v| v.trim().parse().ok())
                })
                .unwrap_or(0);
            if rest.len() >= len {
                break;
            }
        }
        if n == 0 || req.len() > 1 << 20 {
            break;
        }
    }
    String::from_utf8_lossy(&req).to_string()
}
