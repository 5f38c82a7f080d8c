//! How Docker's answers become [`canary_core::Error`].
//!
//! bollard reports every non-2xx answer as one variant carrying the status code and the server's
//! message. [`DockerFailure`] sorts them by what a caller can do about it, keeps the server's own
//! words, and is converted into the core error at the edge of each public call, with the kind
//! and name of the object the call was about and bollard's error as its
//! [`source`](std::error::Error::source).

use canary_core::Error;

/// The swarmkit message when an update carried a stale version index.
const OUT_OF_SEQUENCE: &str = "update out of sequence";

/// What kind of object a call was about, for [`Error::NotFound`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum Object<'a> {
    /// A Swarm service.
    Service(&'a str),
    /// An image.
    Image(&'a str),
    /// No particular object (listing, building).
    None,
}

/// A failed Docker call, sorted by what to do next.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum DockerFailure {
    /// 404.
    #[error("{0}")]
    NotFound(String),
    /// HTTP 500 "update out of sequence": someone else updated the object since we read it.
    #[error("{0}")]
    OutOfSequence(String),
    /// 409: a name clash or an object in use.
    #[error("{0}")]
    Conflict(String),
    /// 400 and other refusals of a request Docker understood.
    #[error("{0}")]
    Rejected(String),
    /// The daemon is unreachable, not a swarm manager (503), or a call timed out.
    #[error("{0}")]
    Unavailable(String),
    /// Anything else (an answer we could not decode).
    #[error("{0}")]
    Internal(String),
}

impl DockerFailure {
    /// Sorts a bollard error.
    pub(crate) fn classify(e: &bollard::errors::Error) -> Self {
        use bollard::errors::Error as B;
        match e {
            B::DockerResponseServerError {
                status_code,
                message,
            } => {
                let message = message.trim().to_string();
                match *status_code {
                    404 => DockerFailure::NotFound(message),
                    409 => DockerFailure::Conflict(message),
                    500 if message.contains(OUT_OF_SEQUENCE) => {
                        DockerFailure::OutOfSequence(message)
                    }
                    // swarmkit forwards a lost raft quorum or a leader election as gRPC Unavailable
                    // or DeadlineExceeded behind a 500; both pass when retried later.
                    500 if message.contains("code = Unavailable")
                        || message.contains("code = DeadlineExceeded") =>
                    {
                        DockerFailure::Unavailable(message)
                    }
                    502..=504 => DockerFailure::Unavailable(format!(
                        "Docker answered {status_code}: {message}"
                    )),
                    _ => DockerFailure::Rejected(message),
                }
            }
            B::DockerStreamError { error } => DockerFailure::Rejected(error.clone()),
            B::RequestTimeoutError => {
                DockerFailure::Unavailable("the Docker API did not answer in time".into())
            }
            B::SocketNotFoundError(path) => {
                DockerFailure::Unavailable(format!("no Docker socket at {path}"))
            }
            B::IOError { err } => DockerFailure::Unavailable(format!("cannot reach Docker: {err}")),
            B::HyperResponseError { err } => {
                DockerFailure::Unavailable(format!("cannot reach Docker: {err}"))
            }
            B::HyperLegacyError { err } => {
                DockerFailure::Unavailable(format!("cannot reach Docker: {}", chain(err)))
            }
            B::JsonDataError { message, .. } => {
                DockerFailure::Internal(format!("cannot decode Docker's answer: {message}"))
            }
            other => DockerFailure::Internal(other.to_string()),
        }
    }

    /// The core error for this failure of a call about `object`.
    pub(crate) fn into_error(self, object: Object<'_>) -> Error {
        match self {
            DockerFailure::NotFound(detail) => match object {
                Object::Service(name) => Error::not_found_because("service", name, detail),
                Object::Image(name) => Error::not_found_because("image", name, detail),
                Object::None => Error::not_found_because("object", "", detail),
            },
            DockerFailure::OutOfSequence(m) | DockerFailure::Conflict(m) => Error::conflict(m),
            DockerFailure::Rejected(message) => Error::rejected("docker", message),
            DockerFailure::Unavailable(m) => Error::unavailable(m),
            DockerFailure::Internal(m) => Error::internal(m),
        }
    }
}

/// An error and its sources on one line: hyper's connection errors say "client error (Connect)"
/// and keep the useful part ("Connection refused") in their source.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// Converts a bollard error about `object` into the core error, caused by it.
pub(crate) fn docker_error(e: bollard::errors::Error, object: Object<'_>) -> Error {
    DockerFailure::classify(&e)
        .into_error(object)
        .with_source(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::errors::Error as B;

    fn server(status_code: u16, message: &str) -> B {
        B::DockerResponseServerError {
            status_code,
            message: message.into(),
        }
    }

    #[test]
    fn stale_version_is_out_of_sequence() {
        // The body of fixtures/docker/engine-20.10.24-api-1.41/service_update_stale_version.http.txt.
        let e = server(
            500,
            "rpc error: code = Unknown desc = update out of sequence",
        );
        assert!(matches!(
            DockerFailure::classify(&e),
            DockerFailure::OutOfSequence(_)
        ));
        let core = docker_error(e, Object::Service("api"));
        assert_eq!(
            core,
            Error::conflict("rpc error: code = Unknown desc = update out of sequence")
        );
    }

    #[test]
    fn statuses_map_to_what_the_caller_can_do() {
        let nf = docker_error(server(404, "service api not found"), Object::Service("api"));
        assert_eq!(
            nf,
            Error::not_found_because("service", "api", "service api not found")
        );
        let cause = std::error::Error::source(&nf).expect("bollard's error is the source");
        assert!(matches!(
            cause.downcast_ref::<B>(),
            Some(B::DockerResponseServerError {
                status_code: 404,
                ..
            })
        ));
        let img = docker_error(server(404, "No such image: x:1"), Object::Image("x:1"));
        assert!(matches!(img, Error::NotFound { ref kind, .. } if kind == "image"));
        assert!(matches!(
            docker_error(server(409, "name conflicts with an existing object"), Object::None),
            Error::Conflict { message: m, .. } if m.contains("name conflicts")
        ));
        let bad = docker_error(
            server(
                400,
                "invalid service version '': strconv.ParseUint: parsing \"\": invalid syntax",
            ),
            Object::None,
        );
        assert!(
            matches!(bad, Error::Rejected { ref by, ref message, .. } if by == "docker" && message.contains("invalid service version"))
        );
        assert!(matches!(
            docker_error(server(503, "This node is not a swarm manager."), Object::None),
            Error::Unavailable { message: m, .. } if m.contains("not a swarm manager")
        ));
        assert!(matches!(
            docker_error(B::RequestTimeoutError, Object::None),
            Error::Unavailable { .. }
        ));
    }

    /// Real failures: bollard calling through a socket nobody listens on, bollard refusing a
    /// socket path that does not exist, and the public connect on the first. Each core error keeps its
    /// code and words, and bollard's error (with the io error under it) is its source.
    #[tokio::test]
    async fn a_refused_connection_arrives_as_a_chain() {
        let dir = std::env::temp_dir().join(format!("canary-errsrc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let refusing = dir.join("docker.sock");
        // A socket file that exists and refuses: bound, then closed.
        drop(std::os::unix::net::UnixListener::bind(&refusing).unwrap());
        let missing = dir.join("missing").join("docker.sock");
        let unix = |p: &std::path::Path| {
            bollard::Docker::connect_with_unix(
                &format!("unix://{}", p.display()),
                5,
                bollard::API_DEFAULT_VERSION,
            )
        };
        // (the error, how deep its chain must go): bollard itself finds the path missing.
        let mut failures = Vec::new();
        let e = unix(&refusing).unwrap().ping().await.unwrap_err();
        failures.push((docker_error(e, Object::None), 2));
        let e = unix(&missing).expect_err("no socket there");
        failures.push((docker_error(e, Object::None), 1));
        let options = crate::ConnectOptions::host(format!("unix://{}", refusing.display()));
        let connect = crate::SwarmOrchestrator::connect_with(&options).await;
        failures.push((connect.expect_err("nothing listens"), 2));
        std::fs::remove_dir_all(&dir).unwrap();
        for (core, deep) in failures {
            assert_eq!(core.code(), "CANARY_UNAVAILABLE", "{core}");
            assert!(core.is_retryable());
            let source = std::error::Error::source(&core).expect("a source");
            assert!(source.downcast_ref::<B>().is_some(), "{source:?}");
            let mut depth = 0;
            let mut at = Some(source);
            while let Some(s) = at {
                depth += 1;
                at = s.source();
            }
            assert!(
                depth >= deep,
                "bollard's error keeps its own cause: {source:?}"
            );
        }
    }
}
