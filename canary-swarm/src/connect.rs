//! Finding the Docker daemon the way the Docker CLI does.
//!
//! `DOCKER_HOST` names the daemon (`unix:///path`, `tcp://host:port`); unset, the local socket
//! `/var/run/docker.sock` is used. `DOCKER_TLS_VERIFY` (any non-empty value) turns on TLS for a
//! `tcp://` host, with `ca.pem`, `cert.pem` and `key.pem` from `DOCKER_CERT_PATH` (default
//! `~/.docker`). Docker contexts (`docker context use`) and `ssh://` hosts are not read: export
//! `DOCKER_HOST` instead.

use std::path::PathBuf;
use std::time::Duration;

use bollard::{Docker, API_DEFAULT_VERSION};
use canary_core::{Error, Result};

use crate::error::DockerFailure;

/// The socket the Docker CLI uses when `DOCKER_HOST` is unset.
pub const DEFAULT_DOCKER_HOST: &str = "unix:///var/run/docker.sock";

/// Where the daemon is and how to talk to it. Built with [`ConnectOptions::from_env`] (like the
/// Docker CLI), [`ConnectOptions::host`] or [`ConnectOptions::default`] (the local socket), then
/// the chained setters:
///
/// ```
/// use std::time::Duration;
///
/// use canary_swarm::ConnectOptions;
///
/// let options = ConnectOptions::host("tcp://127.0.0.1:2376")
///     .tls(true)
///     .cert_path("/etc/docker/certs")
///     .timeout(Duration::from_secs(30));
/// assert_eq!(options.host, "tcp://127.0.0.1:2376");
/// assert!(options.tls);
/// assert_eq!(options.timeout, Duration::from_secs(30));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
#[non_exhaustive]
pub struct ConnectOptions {
    /// `unix:///path` or `tcp://host:port`.
    pub host: String,
    /// Use TLS (only with `tcp://`), verifying the daemon against `ca.pem` in `cert_path`.
    pub tls: bool,
    /// Directory holding `ca.pem`, `cert.pem` and `key.pem`.
    pub cert_path: Option<PathBuf>,
    /// Deadline for one API call (not for streams such as logs once they have started).
    pub timeout: Duration,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            host: DEFAULT_DOCKER_HOST.into(),
            tls: false,
            cert_path: None,
            timeout: Duration::from_secs(120),
        }
    }
}

impl ConnectOptions {
    /// Reads `DOCKER_HOST`, `DOCKER_TLS_VERIFY` and `DOCKER_CERT_PATH` like the Docker CLI.
    pub fn from_env() -> Self {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Like [`ConnectOptions::from_env`], reading variables through `get` (for tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Self {
        // The CLI treats an empty variable like an unset one.
        let get = |k: &str| get(k).filter(|v| !v.is_empty());
        ConnectOptions {
            host: get("DOCKER_HOST").unwrap_or_else(|| DEFAULT_DOCKER_HOST.into()),
            tls: get("DOCKER_TLS_VERIFY").is_some(),
            cert_path: get("DOCKER_CERT_PATH").map(PathBuf::from),
            ..ConnectOptions::default()
        }
    }

    /// Connects to `host` over a unix socket or plain tcp.
    pub fn host(host: impl Into<String>) -> Self {
        ConnectOptions {
            host: host.into(),
            ..ConnectOptions::default()
        }
    }

    /// Uses TLS (only with `tcp://`), or not.
    pub fn tls(mut self, tls: bool) -> Self {
        self.tls = tls;
        self
    }

    /// Reads `ca.pem`, `cert.pem` and `key.pem` from `dir` (instead of `~/.docker`).
    pub fn cert_path(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cert_path = Some(dir.into());
        self
    }

    /// Sets the deadline for one API call.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The client for these options, before version negotiation.
    pub(crate) fn client(&self) -> Result<Docker> {
        let secs = self.timeout.as_secs().max(1);
        let host = self.host.trim();
        let refused = |e: bollard::errors::Error| {
            Error::unavailable(format!(
                "cannot use DOCKER_HOST {host}: {}",
                DockerFailure::classify(&e)
            ))
            .with_source(e)
        };
        if let Some(path) = host.strip_prefix("unix://") {
            if self.tls {
                return Err(Error::invalid(
                    "DOCKER_TLS_VERIFY",
                    "TLS applies to tcp:// hosts, not unix sockets",
                ));
            }
            // bollard checks the socket exists only when it first connects; say it here, clearly.
            if !std::path::Path::new(path).exists() {
                return Err(Error::unavailable(format!(
                    "no Docker socket at {path} (is dockerd running? set DOCKER_HOST to use another daemon)"
                )));
            }
            return Docker::connect_with_unix(host, secs, API_DEFAULT_VERSION).map_err(refused);
        }
        let Some(addr) = host.strip_prefix("tcp://") else {
            return Err(Error::invalid(
                "DOCKER_HOST",
                format!(
                    "{host:?} is not supported: use unix:///path/to/docker.sock or tcp://host:port"
                ),
            ));
        };
        if addr.is_empty() {
            return Err(Error::invalid(
                "DOCKER_HOST",
                "tcp:// needs a host and a port",
            ));
        }
        if self.tls {
            return self.tls_client(host, secs);
        }
        Docker::connect_with_http(host, secs, API_DEFAULT_VERSION).map_err(refused)
    }

    /// The directory with `ca.pem`, `cert.pem` and `key.pem`: `cert_path`, else `~/.docker`.
    #[cfg(feature = "tls")]
    pub(crate) fn cert_dir(&self) -> Result<PathBuf> {
        let dir = match &self.cert_path {
            Some(p) => p.clone(),
            None => std::env::var_os("HOME")
                .map(|h| PathBuf::from(h).join(".docker"))
                .ok_or_else(|| {
                    Error::invalid(
                        "DOCKER_CERT_PATH",
                        "unset, and there is no HOME to find ~/.docker",
                    )
                })?,
        };
        for f in ["ca.pem", "cert.pem", "key.pem"] {
            if !dir.join(f).is_file() {
                return Err(Error::invalid(
                    "DOCKER_CERT_PATH",
                    format!(
                        "{} has no {f} (TLS needs ca.pem, cert.pem and key.pem)",
                        dir.display()
                    ),
                ));
            }
        }
        Ok(dir)
    }

    #[cfg(feature = "tls")]
    fn tls_client(&self, host: &str, secs: u64) -> Result<Docker> {
        let dir = self.cert_dir()?;
        // rustls picks a crypto provider per process; when the dependency graph enables more than
        // one (e.g. aws-lc-rs through another crate) it will not choose, so install ring here.
        // An error only means one is installed already, which is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
        Docker::connect_with_ssl(
            host,
            &dir.join("key.pem"),
            &dir.join("cert.pem"),
            &dir.join("ca.pem"),
            secs,
            API_DEFAULT_VERSION,
        )
        .map_err(|e| {
            Error::unavailable(format!(
                "cannot set up TLS to {host}: {}",
                DockerFailure::classify(&e)
            ))
            .with_source(e)
        })
    }

    #[cfg(not(feature = "tls"))]
    fn tls_client(&self, _host: &str, _secs: u64) -> Result<Docker> {
        Err(Error::invalid(
            "DOCKER_TLS_VERIFY",
            "TLS needs canary-swarm's `tls` feature, which this build left out",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(vars: &[(&str, &str)]) -> ConnectOptions {
        let m: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ConnectOptions::from_lookup(|k| m.get(k).cloned())
    }

    #[test]
    fn reads_the_cli_variables() {
        let o = env(&[]);
        assert_eq!(o.host, DEFAULT_DOCKER_HOST);
        assert!(!o.tls);
        let o = env(&[
            ("DOCKER_HOST", "tcp://10.0.0.1:2376"),
            ("DOCKER_TLS_VERIFY", "1"),
            ("DOCKER_CERT_PATH", "/certs"),
        ]);
        assert_eq!(o.host, "tcp://10.0.0.1:2376");
        assert!(o.tls);
        assert_eq!(o.cert_path, Some(PathBuf::from("/certs")));
        // Empty means unset, as for the CLI.
        let o = env(&[("DOCKER_HOST", ""), ("DOCKER_TLS_VERIFY", "")]);
        assert_eq!(o.host, DEFAULT_DOCKER_HOST);
        assert!(!o.tls);
    }

    #[test]
    fn rejects_what_it_cannot_serve() {
        let e = ConnectOptions::host("ssh://me@host").client().unwrap_err();
        assert!(
            matches!(e, Error::InvalidInput { ref field, .. } if field == "DOCKER_HOST"),
            "{e}"
        );
        let e = ConnectOptions::host("unix:///nonexistent/docker.sock")
            .client()
            .unwrap_err();
        assert!(
            matches!(e, Error::Unavailable { message: ref m, .. } if m.contains("/nonexistent/docker.sock")),
            "{e}"
        );
        let mut o = ConnectOptions::host("tcp://127.0.0.1:1");
        o.tls = true;
        o.cert_path = Some(PathBuf::from("/nonexistent"));
        let e = o.client().unwrap_err();
        assert!(matches!(e, Error::InvalidInput { .. }), "{e}");
        // Plain tcp builds a client; nothing is contacted until the first call.
        assert!(ConnectOptions::host("tcp://127.0.0.1:1").client().is_ok());
    }
}
