//! The proxy binary between a raw TCP client on 127.0.0.1 and a fake Docker daemon on a unix
//! socket in a temporary directory: what reaches Docker, what is refused, what streams. No
//! Docker needed.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpStream, UnixListener};
use tokio::process::{Child, Command};

/// What the fake Docker saw.
#[derive(Debug, Default)]
struct Seen {
    /// Each request head, as received.
    heads: Vec<String>,
    /// Set when the streaming connection was closed by the proxy.
    stream_closed: bool,
}

struct Fixture {
    dir: PathBuf,
    proxy: Child,
    port: u16,
    seen: Arc<Mutex<Seen>>,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = self.proxy.start_kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The fake Docker's `/v1.41/services` answer: one service whose environment holds a secret.
const SERVICES: &str = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 112\r\n\r\n\
    [{\"ID\":\"abc\",\"Spec\":{\"Name\":\"app\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"app:v1\",\"Env\":[\"TOKEN=s3cret\"]}}}}]\n";
/// What the proxy passes back from it.
const SERVICES_REDACTED: &str =
    "[{\"ID\":\"abc\",\"Spec\":{\"Name\":\"app\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"app:v1\"}}}}]";

/// How long the fake Docker holds back the second chunk of `/v1.41/networks`.
const STREAM_PAUSE: Duration = Duration::from_secs(2);

async fn fake_docker(listener: UnixListener, seen: Arc<Mutex<Seen>>) {
    loop {
        let Ok((mut conn, _)) = listener.accept().await else {
            return;
        };
        let seen = seen.clone();
        tokio::spawn(async move {
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match conn.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let head = String::from_utf8_lossy(&head).to_string();
            let line = head.lines().next().unwrap_or_default().to_string();
            seen.lock().unwrap().heads.push(head);
            let path = line.split(' ').nth(1).unwrap_or_default();
            let reply: &[u8] = match path {
                "/_ping" => b"HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Length: 2\r\nX-Private: 1\r\nConnection: X-Private\r\n\r\n",
                "/v1.41/services" => SERVICES.as_bytes(),
                p if p.starts_with("/v1.41/tasks") => b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n[\r\n2\r\n{}\r\n2\r\n]\n\r\n0\r\n\r\n",
                "/v1.41/version" => {
                    // Head and body in two writes, as Docker's Go server may send them.
                    let _ = conn
                        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n")
                        .await;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    b"{\"Version\":\"x\"}"
                }
                "/v1.41/networks" => {
                    let _ = conn
                        .write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
                        .await;
                    // Hold the stream open; notice if the proxy closes it meanwhile.
                    if let Ok(Ok(0)) = tokio::time::timeout(STREAM_PAUSE, conn.read(&mut buf)).await {
                        seen.lock().unwrap().stream_closed = true;
                        return;
                    }
                    b"6\r\nsecond\r\n0\r\n\r\n"
                }
                _ => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
            };
            let _ = conn.write_all(reply).await;
            let _ = conn.shutdown().await;
        });
    }
}

async fn start(with_docker: bool) -> Fixture {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "canary-socket-proxy-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let socket = dir.join("docker.sock");
    let seen = Arc::new(Mutex::new(Seen::default()));
    if with_docker {
        tokio::spawn(fake_docker(
            UnixListener::bind(&socket).unwrap(),
            seen.clone(),
        ));
    }
    let mut proxy = Command::new(env!("CARGO_BIN_EXE_canary-socket-proxy"))
        .args(["--listen", "127.0.0.1:0", "--socket"])
        .arg(&socket)
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // The first log line names the bound address: "listening on 127.0.0.1:PORT for ...".
    let mut lines = BufReader::new(proxy.stderr.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .expect("the proxy logs within 10s")
        .unwrap()
        .expect("a log line");
    let port = first
        .split("listening on 127.0.0.1:")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {first:?}"));
    // Keep draining the log so the proxy never blocks on a full pipe; echo it for failures.
    tokio::spawn(async move {
        while let Ok(Some(l)) = lines.next_line().await {
            eprintln!("[proxy] {l}");
        }
    });
    Fixture {
        dir,
        proxy,
        port,
        seen,
    }
}

/// Sends raw bytes and reads the whole answer (the requests say `Connection: close`).
async fn exchange(port: u16, raw: &[u8]) -> String {
    let mut c = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    c.write_all(raw).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), c.read_to_end(&mut out))
        .await
        .expect("an answer within 10s")
        .unwrap();
    String::from_utf8_lossy(&out).to_string()
}

fn status(resp: &str) -> &str {
    resp.split(' ').nth(1).unwrap_or_default()
}

fn request(method: &str, target: &str, extra: &str) -> Vec<u8> {
    format!("{method} {target} HTTP/1.1\r\nHost: proxy\r\n{extra}Connection: close\r\n\r\n")
        .into_bytes()
}

#[tokio::test]
async fn an_allowed_get_reaches_docker_rebuilt_and_its_answer_comes_back() {
    let f = start(true).await;
    let resp = exchange(
        f.port,
        &request(
            "GET",
            "/v1.41/services",
            "User-Agent: Traefik 3.7.9\r\nAuthorization: Basic c2VjcmV0\r\nX-Evil: 1\r\nUpgrade: websocket\r\n",
        ),
    )
    .await;
    assert_eq!(status(&resp), "200", "{resp}");
    // Docker's answer minus the container's environment, with a matching length.
    assert!(resp.ends_with(SERVICES_REDACTED), "{resp}");
    assert!(!resp.contains("s3cret"), "{resp}");
    let length = format!("content-length: {}\r\n", SERVICES_REDACTED.len());
    assert!(resp.to_ascii_lowercase().contains(&length), "{resp}");
    let seen = f.seen.lock().unwrap();
    assert_eq!(seen.heads.len(), 1);
    let head = seen.heads[0].to_ascii_lowercase();
    assert!(
        head.starts_with("get /v1.41/services http/1.1\r\n"),
        "{head}"
    );
    assert!(head.contains("host: docker\r\n"), "{head}");
    assert!(head.contains("user-agent: traefik 3.7.9\r\n"), "{head}");
    for dropped in ["authorization", "x-evil", "upgrade", "proxy"] {
        assert!(!head.contains(dropped), "{dropped} reached Docker: {head}");
    }
}

#[tokio::test]
async fn head_ping_passes_with_dockers_headers_minus_hop_by_hop_ones() {
    let f = start(true).await;
    let resp = exchange(f.port, &request("HEAD", "/_ping", "")).await;
    assert_eq!(status(&resp), "200", "{resp}");
    let lower = resp.to_ascii_lowercase();
    assert!(lower.contains("api-version: 1.41\r\n"), "{resp}");
    assert!(!lower.contains("x-private"), "{resp}");
    assert!(f.seen.lock().unwrap().heads[0].starts_with("HEAD /_ping HTTP/1.1\r\n"));
}

#[tokio::test]
async fn writes_and_reads_off_the_list_are_refused_before_docker() {
    let f = start(true).await;
    let refused: &[(&str, &str, &str)] = &[
        (
            "POST",
            "/v1.41/services/create",
            "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
        ),
        ("DELETE", "/v1.41/services/canary-traefik", ""),
        ("POST", "/v1.41/containers/x/kill", "Content-Length: 0\r\n"),
        ("GET", "/v1.41/containers/json", ""),
        ("GET", "/v1.41/containers/x/json", ""),
        ("GET", "/v1.41/events", ""),
        ("GET", "/v1.41/services/../containers/json", ""),
        ("GET", "/v1.41/services%2F..%2Fsecrets", ""),
        ("GET", "http://docker/v1.41/services", ""),
        ("GET", "/v1.41/services?insertDefaults=true", ""),
        ("HEAD", "/v1.41/services", ""),
        // A body on a GET: refused even on an allowed path.
        ("GET", "/v1.41/services", "Content-Length: 4\r\n\r\nabcd"),
        (
            "GET",
            "/v1.41/services",
            "Transfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n",
        ),
    ];
    for (method, target, extra) in refused {
        // `extra` either adds headers or ends the head and carries a body.
        let raw = if extra.contains("\r\n\r\n") {
            format!("{method} {target} HTTP/1.1\r\nHost: proxy\r\nConnection: close\r\n{extra}")
        } else {
            format!("{method} {target} HTTP/1.1\r\nHost: proxy\r\n{extra}Connection: close\r\n\r\n")
        };
        let resp = exchange(f.port, raw.as_bytes()).await;
        assert_eq!(status(&resp), "403", "{method} {target}: {resp}");
        if *method != "HEAD" {
            assert!(
                resp.contains("{\"message\":\"canary-socket-proxy: "),
                "{method} {target}: {resp}"
            );
            assert!(resp
                .to_ascii_lowercase()
                .contains("content-type: application/json"));
        }
    }
    assert!(
        f.seen.lock().unwrap().heads.is_empty(),
        "{:?}",
        f.seen.lock().unwrap().heads
    );
}

#[tokio::test]
async fn the_query_reaches_docker_in_its_canonical_encoding() {
    let f = start(true).await;
    let resp = exchange(
        f.port,
        // Lower-case escapes and a raw `:`; hyper itself refuses a raw `{` or `"` with a 400.
        &request(
            "GET",
            "/v1.41/tasks?filters=%7b%22service%22:%7b%22x%22:true%7d%7d",
            "",
        ),
    )
    .await;
    assert_eq!(status(&resp), "200", "{resp}");
    // Docker's chunked body arrives whole (hyper re-frames it).
    assert!(resp.contains('['), "{resp}");
    let head = f.seen.lock().unwrap().heads[0].clone();
    assert!(
        head.starts_with(
            "GET /v1.41/tasks?filters=%7B%22service%22%3A%7B%22x%22%3Atrue%7D%7D HTTP/1.1\r\n"
        ),
        "{head}"
    );
}

#[tokio::test]
async fn a_long_answer_streams_and_a_departed_client_closes_it_upstream() {
    let f = start(true).await;
    // Streams: the first chunk arrives while Docker still holds back the rest.
    let t0 = Instant::now();
    let mut c = TcpStream::connect(("127.0.0.1", f.port)).await.unwrap();
    c.write_all(&request("GET", "/v1.41/networks", ""))
        .await
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 512];
    while !String::from_utf8_lossy(&got).contains("first") {
        let n = tokio::time::timeout(Duration::from_secs(5), c.read(&mut buf))
            .await
            .expect("first chunk within 5s")
            .unwrap();
        assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    assert!(
        t0.elapsed() < STREAM_PAUSE,
        "first chunk only after {:?}: buffered, not streamed",
        t0.elapsed()
    );
    // ... and the rest follows.
    tokio::time::timeout(Duration::from_secs(10), c.read_to_end(&mut got))
        .await
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&got).contains("second"));

    // A client that goes away mid-stream: the proxy closes Docker's connection too.
    let mut c = TcpStream::connect(("127.0.0.1", f.port)).await.unwrap();
    c.write_all(&request("GET", "/v1.41/networks", ""))
        .await
        .unwrap();
    let mut first = [0u8; 64];
    let _ = tokio::time::timeout(Duration::from_secs(5), c.read(&mut first)).await;
    drop(c);
    tokio::time::sleep(STREAM_PAUSE + Duration::from_millis(500)).await;
    assert!(f.seen.lock().unwrap().stream_closed);
}

#[tokio::test]
async fn malformed_and_oversized_requests_get_4xx_and_the_proxy_lives_on() {
    let f = start(true).await;
    let big = format!("X-Big: {}\r\n", "a".repeat(9000));
    let resp = exchange(f.port, &request("GET", "/v1.41/services", &big)).await;
    assert_eq!(status(&resp), "431", "{resp}");
    let resp = exchange(
        f.port,
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03garbage\r\n\r\n",
    )
    .await;
    assert!(resp.is_empty() || status(&resp) == "400", "{resp}");
    let resp = exchange(
        f.port,
        b"GET /v1.41/services HTTP/1.1\r\nBad Header\r\n\r\n",
    )
    .await;
    assert_eq!(status(&resp), "400", "{resp}");
    let resp = exchange(f.port, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").await;
    assert!(resp.is_empty() || status(&resp).starts_with('4'), "{resp}");
    let resp = exchange(f.port, &request("GET", "/v1.41/services", "")).await;
    assert_eq!(status(&resp), "200", "still serving: {resp}");
}

#[tokio::test]
async fn keep_alive_requests_do_not_wait_for_delayed_acks() {
    let f = start(true).await;
    let mut c = TcpStream::connect(("127.0.0.1", f.port)).await.unwrap();
    const N: usize = 20;
    let body = "{\"Version\":\"x\"}";
    let t0 = Instant::now();
    let mut got = String::new();
    let mut buf = [0u8; 4096];
    for i in 1..=N {
        c.write_all(b"GET /v1.41/version HTTP/1.1\r\nHost: proxy\r\n\r\n")
            .await
            .unwrap();
        while got.matches(body).count() < i {
            let n = tokio::time::timeout(Duration::from_secs(5), c.read(&mut buf))
                .await
                .expect("an answer within 5s")
                .unwrap();
            assert!(n > 0, "closed after {} answers", i - 1);
            got.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    }
    // With Nagle on, each answer's body waits for the ACK of its head: ~40 ms each (800 ms);
    // without, 5 ms of fake-Docker pause each (100 ms).
    let took = t0.elapsed();
    assert!(
        took < Duration::from_millis(500),
        "{N} keep-alive requests took {took:?}"
    );
}

#[tokio::test]
async fn no_docker_is_a_502_that_names_the_socket() {
    let f = start(false).await;
    let resp = exchange(f.port, &request("GET", "/v1.41/version", "")).await;
    assert_eq!(status(&resp), "502", "{resp}");
    assert!(
        resp.contains("cannot connect to the Docker socket"),
        "{resp}"
    );
    assert!(resp.contains("docker.sock"), "{resp}");
}
