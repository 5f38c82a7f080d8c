//! The Docker side: one HTTP/1.1 connection to the daemon's unix socket per allowed request.
//!
//! A connection per request keeps this small (no pool to size or to clean) and costs little: a
//! unix-socket connect is microseconds, and Traefik sends a handful of requests per poll.

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Empty;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;

/// How long connecting to the socket and the HTTP handshake may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long Docker may take to send the response head. The body then streams without a
/// deadline: it ends when Docker ends it or the client goes away.
const RESPONSE_HEAD_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a request could not be forwarded. The messages go to the client (in a 502/504) and the
/// log; they name the socket, never the request.
#[derive(Debug)]
pub(crate) enum UpstreamError {
    /// The socket did not accept a connection in time, or refused it.
    Connect(String),
    /// Docker did not answer in time.
    Timeout,
    /// The connection broke before a response head arrived.
    Http(hyper::Error),
}

impl std::fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UpstreamError::Connect(e) => write!(f, "cannot connect to the Docker socket: {e}"),
            UpstreamError::Timeout => write!(
                f,
                "Docker sent no response head within {}s",
                RESPONSE_HEAD_TIMEOUT.as_secs()
            ),
            UpstreamError::Http(e) => write!(f, "Docker connection failed: {e}"),
        }
    }
}

/// The Docker daemon behind a unix socket.
#[derive(Debug, Clone)]
pub(crate) struct Docker {
    socket: PathBuf,
}

impl Docker {
    pub(crate) fn new(socket: PathBuf) -> Self {
        Docker { socket }
    }

    pub(crate) fn socket(&self) -> &std::path::Path {
        &self.socket
    }

    /// Sends `req` and returns Docker's response with its body still streaming.
    pub(crate) async fn send(
        &self,
        req: Request<Empty<Bytes>>,
    ) -> Result<Response<Incoming>, UpstreamError> {
        let connect = async {
            let stream = UnixStream::connect(&self.socket)
                .await
                .map_err(|e| UpstreamError::Connect(format!("{}: {e}", self.socket.display())))?;
            hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .map_err(UpstreamError::Http)
        };
        let (mut sender, conn) = tokio::time::timeout(CONNECT_TIMEOUT, connect)
            .await
            .map_err(|_| {
                UpstreamError::Connect(format!(
                    "{}: no connection within {}s",
                    self.socket.display(),
                    CONNECT_TIMEOUT.as_secs()
                ))
            })??;
        // The connection task lives until the response body is finished or dropped (the client
        // went away); then the socket closes.
        tokio::spawn(async move {
            let _ = conn.await;
        });
        tokio::time::timeout(RESPONSE_HEAD_TIMEOUT, sender.send_request(req))
            .await
            .map_err(|_| UpstreamError::Timeout)?
            .map_err(UpstreamError::Http)
    }
}
