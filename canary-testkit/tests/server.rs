//! The server through raw std clients on 127.0.0.1: what it records and answers, its bounds,
//! its stop on drop, and both ways of waiting for requests.

use std::future::Future;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use canary_testkit::{Answer, Server};

/// Sends `raw` and reads the answer until the server closes.
fn exchange(server: &Server, raw: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect(server.addr())?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.write_all(raw.as_bytes())?;
    let mut out = Vec::new();
    s.read_to_end(&mut out)?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Whether the server's port refuses connections within 5 seconds (it closes on its own thread).
fn closes_soon(server: &Server) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(server.addr()).is_ok() {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

/// Runs a future on this thread (the kit needs no runtime).
fn block_on<F: Future>(f: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park_timeout(Duration::from_millis(100));
    }
}

#[test]
fn records_each_request_and_answers_from_it() {
    let server = Server::start(|r| {
        Answer::status(201)
            .header("x-path", &r.path)
            .body(format!("got {}", r.body))
    });
    assert!(server.base().starts_with("http://127.0.0.1:"));
    // The body arrives in two writes: the server waits for all of it.
    let mut s = TcpStream::connect(server.addr()).unwrap();
    s.write_all(b"POST /hook?token=t HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\n\r\n{\"a\":")
        .unwrap();
    std::thread::sleep(Duration::from_millis(50));
    s.write_all(b"12}").unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert_eq!(
        answer,
        "HTTP/1.1 201 Status\r\nx-path: /hook?token=t\r\ncontent-length: 12\r\nconnection: close\r\n\r\ngot {\"a\":12}"
    );
    let got = server.wait(1, Duration::from_secs(5));
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].method.as_str(), got[0].path.as_str()),
        ("POST", "/hook?token=t")
    );
    assert_eq!(got[0].json()["a"], 12);
    assert_eq!(got[0].header("host"), Some("x"));
}

#[test]
fn answers_in_turn_then_refuses_connections() {
    let server = Server::in_turn(vec![Answer::json("[1]"), Answer::raw("\x00garbage")]);
    let first = exchange(&server, "GET /a HTTP/1.1\r\n\r\n").unwrap();
    assert!(first.ends_with("\r\n\r\n[1]"), "{first}");
    assert_eq!(
        exchange(&server, "GET /b HTTP/1.1\r\n\r\n").unwrap(),
        "\x00garbage"
    );
    let paths: Vec<String> = block_on(server.arrived(2))
        .into_iter()
        .map(|r| r.path)
        .collect();
    assert_eq!(paths, ["/a", "/b"]);
    // The port closed after the last answer.
    assert!(
        closes_soon(&server),
        "still accepting after its last answer"
    );
    // Served out: waiting for more returns what came instead of blocking.
    assert_eq!(block_on(server.arrived(3)).len(), 2);
}

#[test]
fn a_delayed_answer_comes_late_and_a_dropped_server_sends_none() {
    let server = Server::start(|_| Answer::status(200).delay(Duration::from_millis(400)));
    let started = Instant::now();
    let answer = exchange(&server, "GET / HTTP/1.1\r\n\r\n").unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(started.elapsed() >= Duration::from_millis(400));
    let got = server.requests();
    assert!(
        got[0].at - started < Duration::from_millis(300),
        "recorded on arrival"
    );

    let slow = Server::start(|_| Answer::status(200).delay(Duration::from_secs(30)));
    let addr = slow.addr();
    let client = std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        out
    });
    assert_eq!(slow.wait(1, Duration::from_secs(5)).len(), 1);
    let dropped = Instant::now();
    drop(slow);
    assert!(
        client.join().unwrap().is_empty(),
        "no answer after the drop"
    );
    assert!(dropped.elapsed() < Duration::from_secs(5));
    assert!(
        TcpStream::connect(addr).is_err(),
        "still listening after the drop"
    );
}

#[test]
fn a_server_stops_after_its_lifetime() {
    let server = Server::builder()
        .lifetime(Duration::from_millis(300))
        .start(|_| Answer::status(200));
    let started = Instant::now();
    // Nothing comes: the wait ends with the server, not with its own timeout.
    assert!(server.wait(1, Duration::from_secs(10)).is_empty());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(block_on(server.arrived(1)).is_empty());
    assert!(closes_soon(&server), "still accepting after its lifetime");
}

#[test]
fn a_panicking_answer_closes_its_connection_and_the_server_still_finishes() {
    let server = Server::builder()
        .connections(1)
        .start(|_| panic!("an answer closure that fails"));
    assert_eq!(exchange(&server, "GET / HTTP/1.1\r\n\r\n").unwrap(), "");
    let started = Instant::now();
    // Its one connection is over: the wait ends there, not at the server's 60-second lifetime.
    assert!(block_on(server.arrived(1)).is_empty());
    assert!(started.elapsed() < Duration::from_secs(5));
}
