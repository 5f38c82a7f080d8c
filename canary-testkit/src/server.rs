//! The server: its bounds, its threads (one accepting, one timing its lifetime, one per
//! connection), the log of requests, and the waits on it from sync and async tests.

use std::future::Future;
use std::io::Write;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::Duration;

use crate::answer::Answer;
use crate::request::{self, Request};

/// How long a connection waits for its client to send the request, or to take the answer.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// How a [`Server`] is bounded. The defaults, 1000 connections and 60 seconds, outlast any one
/// test of the workspace.
#[derive(Debug, Clone)]
#[must_use]
pub struct Builder {
    connections: usize,
    lifetime: Duration,
}

impl Default for Builder {
    fn default() -> Builder {
        Builder {
            connections: 1000,
            lifetime: Duration::from_secs(60),
        }
    }
}

impl Builder {
    /// Accepts at most `n` connections, then closes the port (later clients are refused).
    pub fn connections(mut self, n: usize) -> Builder {
        self.connections = n;
        self
    }

    /// Stops after `lifetime`, whatever is left to serve.
    pub fn lifetime(mut self, lifetime: Duration) -> Builder {
        self.lifetime = lifetime;
        self
    }

    /// Starts serving: each request is recorded and answered with `answer(&request)`.
    ///
    /// # Panics
    ///
    /// When no port on 127.0.0.1 can be bound or no thread started: the test cannot run.
    pub fn start(self, answer: impl Fn(&Request) -> Answer + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port on 127.0.0.1");
        let addr = listener.local_addr().expect("the bound address");
        let shared = Arc::new(Shared::default());
        shared.lock().listening = true;
        let answer: Arc<dyn Fn(&Request) -> Answer + Send + Sync> = Arc::new(answer);
        let accepting = shared.clone();
        let connections = self.connections;
        let accepter = thread::Builder::new()
            .name(format!("testkit-accept-{}", addr.port()))
            .spawn(move || accept(listener, connections, &accepting, &answer))
            .expect("the accept thread");
        let timing = shared.clone();
        let lifetime = self.lifetime;
        thread::Builder::new()
            .name(format!("testkit-timer-{}", addr.port()))
            .spawn(move || time_out(addr, lifetime, &timing))
            .expect("the timer thread");
        Server {
            addr,
            base: format!("http://{addr}"),
            shared,
            accepter: Some(accepter),
        }
    }

    /// Starts serving `answers` in turn: the first request gets the first, and so on, one
    /// connection each; the port closes after the last.
    pub fn in_turn(self, answers: Vec<Answer>) -> Server {
        let next = AtomicUsize::new(0);
        self.connections(answers.len()).start(move |_| {
            let i = next.fetch_add(1, Ordering::SeqCst);
            // Unreachable while every connection carries at most one request; a 503 rather
            // than a panic on the server's thread if that ever changes.
            answers
                .get(i)
                .cloned()
                .unwrap_or_else(|| Answer::status(503))
        })
    }
}

/// An HTTP/1.1 server on 127.0.0.1 that records every request and answers each with a
/// closure's [`Answer`], one request per connection. Bounded by its [`Builder`]; stops when
/// dropped.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    base: String,
    shared: Arc<Shared>,
    accepter: Option<thread::JoinHandle<()>>,
}

impl Server {
    /// The bounds, to start a server from.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// A server with the default bounds answering `answer(&request)`.
    pub fn start(answer: impl Fn(&Request) -> Answer + Send + Sync + 'static) -> Server {
        Builder::default().start(answer)
    }

    /// A server answering `answers` in turn, one connection each (see [`Builder::in_turn`]).
    pub fn in_turn(answers: Vec<Answer>) -> Server {
        Builder::default().in_turn(answers)
    }

    /// Its address, `127.0.0.1:<port>`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its base URL, `http://127.0.0.1:<port>`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The URL of `path` (with its query, if any) on it.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The requests read so far, in the order they arrived.
    pub fn requests(&self) -> Vec<Request> {
        self.shared.lock().requests.clone()
    }

    /// Blocks until `n` requests have arrived, the server has stopped, or `timeout` has passed;
    /// then the requests so far. For plain `#[test]`s: an async test awaits [`Server::arrived`].
    pub fn wait(&self, n: usize, timeout: Duration) -> Vec<Request> {
        let state = self.shared.lock();
        let (state, _) = self
            .shared
            .changed
            .wait_timeout_while(state, timeout, |s| s.requests.len() < n && !s.done())
            .unwrap_or_else(PoisonError::into_inner);
        state.requests.clone()
    }

    /// Resolves to the requests once `n` have arrived or the server has stopped (served its
    /// connections, or run out of time); works on any async runtime. Put a timeout around it to
    /// show that a request did *not* come.
    pub fn arrived(&self, n: usize) -> Arrived {
        Arrived {
            shared: self.shared.clone(),
            n,
        }
    }
}

impl Drop for Server {
    /// Stops, and returns once the port is closed: a test that connects after the drop is
    /// refused.
    fn drop(&mut self) {
        self.shared.stop();
        let Some(accepter) = self.accepter.take() else {
            return;
        };
        if accepter.is_finished() || wake(self.addr) {
            let _ = accepter.join();
        }
    }
}

/// The future of [`Server::arrived`].
#[derive(Debug)]
#[must_use = "a future does nothing unless awaited"]
pub struct Arrived {
    shared: Arc<Shared>,
    n: usize,
}

impl Future for Arrived {
    type Output = Vec<Request>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Vec<Request>> {
        let mut state = self.shared.lock();
        if state.requests.len() >= self.n || state.done() {
            return Poll::Ready(state.requests.clone());
        }
        if !state.wakers.iter().any(|w| w.will_wake(cx.waker())) {
            state.wakers.push(cx.waker().clone());
        }
        Poll::Pending
    }
}

/// What the test and the server's threads share.
#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    /// Notified on every change of `state`.
    changed: Condvar,
}

#[derive(Debug, Default)]
struct State {
    requests: Vec<Request>,
    wakers: Vec<Waker>,
    /// Dropped or out of time.
    stopped: bool,
    /// Still accepting connections.
    listening: bool,
    /// Connections being served.
    open: usize,
}

impl State {
    /// Nothing more will arrive.
    fn done(&self) -> bool {
        self.stopped || (!self.listening && self.open == 0)
    }
}

impl Shared {
    /// The state; a panic elsewhere while it was held leaves it usable (it is only appended to).
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Changes the state and tells every waiter.
    fn change(&self, f: impl FnOnce(&mut State)) {
        let mut state = self.lock();
        f(&mut state);
        let wakers = std::mem::take(&mut state.wakers);
        drop(state);
        self.changed.notify_all();
        wakers.into_iter().for_each(Waker::wake);
    }

    fn stop(&self) {
        self.change(|s| s.stopped = true);
    }

    fn stopped(&self) -> bool {
        self.lock().stopped
    }

    /// Sleeps `delay` unless the server stops first; whether it is still running.
    fn sleep(&self, delay: Duration) -> bool {
        let state = self.lock();
        let (state, _) = self
            .changed
            .wait_timeout_while(state, delay, |s| !s.stopped)
            .unwrap_or_else(PoisonError::into_inner);
        !state.stopped
    }
}

type AnswerFn = Arc<dyn Fn(&Request) -> Answer + Send + Sync>;

/// Accepts up to `connections` connections, each served on its own thread, until stopped.
fn accept(listener: TcpListener, connections: usize, shared: &Arc<Shared>, answer: &AnswerFn) {
    let mut accepted = 0;
    while accepted < connections {
        let conn = listener.accept();
        if shared.stopped() {
            break;
        }
        // A failed accept counts too, so that a persistent error cannot spin forever.
        accepted += 1;
        let Ok((stream, _)) = conn else { continue };
        let open = Open::new(shared);
        let answer = answer.clone();
        // Not spawned (out of threads): `open` is dropped with the closure, the client refused.
        let _ = thread::Builder::new()
            .name("testkit-conn".into())
            .spawn(move || serve(stream, &open, &answer));
    }
    shared.change(|s| s.listening = false);
}

/// A connection being served, counted in [`State::open`] from its accept to its end, even when
/// the answer closure panics: the waits for the server to be done rely on the count.
struct Open(Arc<Shared>);

impl Open {
    fn new(shared: &Arc<Shared>) -> Open {
        shared.change(|s| s.open += 1);
        Open(shared.clone())
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.change(|s| s.open -= 1);
    }
}

/// Reads one request, records it, waits its answer's delay, answers and closes.
fn serve(mut stream: TcpStream, open: &Open, answer: &AnswerFn) {
    let shared = &open.0;
    let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
    let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
    let Some(request) = request::read(&mut stream) else {
        return;
    };
    let reply = answer(&request);
    shared.change(|s| s.requests.push(request));
    if !shared.sleep(reply.wait()) {
        return;
    }
    let _ = stream.write_all(&reply.bytes());
    let _ = stream.flush();
    let _ = stream.shutdown(Shutdown::Write);
}

/// Stops the server after `lifetime` (or at once when it is dropped), and wakes the accepting
/// thread with a connection of its own so that it sees the stop.
fn time_out(addr: SocketAddr, lifetime: Duration, shared: &Shared) {
    let state = shared.lock();
    let state = shared
        .changed
        .wait_timeout_while(state, lifetime, |s| {
            !s.stopped && (s.listening || s.open > 0)
        })
        .unwrap_or_else(PoisonError::into_inner)
        .0;
    let listening = state.listening;
    drop(state);
    shared.stop();
    if listening {
        wake(addr);
    }
}

/// Wakes the accepting thread, blocked in `accept`, with a connection of its own so that it sees
/// the stop; whether that connection was made.
fn wake(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok()
}
