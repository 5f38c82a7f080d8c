//! Service specs as raw JSON, over the same daemon connection settings as bollard.
//!
//! Why not bollard's typed `ServiceSpec` for reading and writing specs: a typed round trip
//! drops every field the model does not know or names differently, and the update then erases
//! it on the daemon. It already happens with Docker 20.10: the engine sends the health check as
//! `Healthcheck`, the model (from the API's swagger file) reads `HealthCheck`, so a typed
//! read-modify-write silently removes a service's health check. Newer engines add fields older
//! models lack. Spec reads and writes therefore go through this small client and change the JSON
//! in place; bollard serves everything else (tasks, logs, images, builds).

use std::path::PathBuf;
use std::time::Duration;

use bollard::errors::Error as BollardError;
use bytes::Bytes;
use canary_core::{Error, Result};
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::connect::ConnectOptions;

#[derive(Debug, Clone)]
enum Transport {
    Unix(Client<hyperlocal::UnixConnector, Full<Bytes>>, PathBuf),
    Http(Client<HttpConnector, Full<Bytes>>, String),
    #[cfg(feature = "tls")]
    Https(
        Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
        String,
    ),
}

/// A JSON client for the few endpoints whose bodies must not pass through typed models.
#[derive(Debug, Clone)]
pub(crate) struct RawClient {
    transport: Transport,
    timeout: Duration,
}

impl RawClient {
    /// A client for the daemon `options` name (checked already by [`ConnectOptions::client`]).
    pub(crate) fn new(options: &ConnectOptions) -> Result<Self> {
        let host = options.host.trim();
        let transport = if let Some(path) = host.strip_prefix("unix://") {
            let client = Client::builder(TokioExecutor::new()).build(hyperlocal::UnixConnector);
            Transport::Unix(client, PathBuf::from(path))
        } else if let Some(addr) = host.strip_prefix("tcp://") {
            let addr = addr.trim_end_matches('/');
            if options.tls {
                Self::https(options, addr)?
            } else {
                let client = Client::builder(TokioExecutor::new()).build(HttpConnector::new());
                Transport::Http(client, format!("http://{addr}"))
            }
        } else {
            return Err(Error::invalid(
                "DOCKER_HOST",
                format!("{host:?} is not supported"),
            ));
        };
        Ok(RawClient {
            transport,
            timeout: options.timeout,
        })
    }

    #[cfg(feature = "tls")]
    fn https(options: &ConnectOptions, addr: &str) -> Result<Transport> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};

        let dir = options.cert_dir()?;
        let bad = |f: &str, e: &dyn std::fmt::Display| {
            Error::invalid(
                "DOCKER_CERT_PATH",
                format!("cannot read {}: {e}", dir.join(f).display()),
            )
        };
        let mut roots = rustls::RootCertStore::empty();
        for cert in
            CertificateDer::pem_file_iter(dir.join("ca.pem")).map_err(|e| bad("ca.pem", &e))?
        {
            roots
                .add(cert.map_err(|e| bad("ca.pem", &e))?)
                .map_err(|e| bad("ca.pem", &e))?;
        }
        let certs = CertificateDer::pem_file_iter(dir.join("cert.pem"))
            .map_err(|e| bad("cert.pem", &e))?
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| bad("cert.pem", &e))?;
        let key =
            PrivateKeyDer::from_pem_file(dir.join("key.pem")).map_err(|e| bad("key.pem", &e))?;
        // An explicit provider: the process-wide default may be unset or ambiguous.
        let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::internal(format!("TLS setup: {e}")).with_source(e))?
        .with_root_certificates(roots)
        .with_client_auth_cert(certs, key)
        .map_err(|e| bad("key.pem", &e))?;
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        let connector = hyper_rustls::HttpsConnector::from((http, config));
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Ok(Transport::Https(client, format!("https://{addr}")))
    }

    #[cfg(not(feature = "tls"))]
    fn https(_options: &ConnectOptions, _addr: &str) -> Result<Transport> {
        Err(Error::invalid(
            "DOCKER_TLS_VERIFY",
            "TLS needs canary-swarm's `tls` feature, which this build left out",
        ))
    }

    /// Sends one request to `/v<api><path_and_query>` and returns the body of a 2xx answer.
    /// Errors are bollard's, so they are sorted by the same rules as every other call.
    pub(crate) async fn call(
        &self,
        api: &str,
        method: Method,
        path_and_query: &str,
        body: Option<Vec<u8>>,
    ) -> std::result::Result<Bytes, BollardError> {
        self.call_with_auth(api, method, path_and_query, body, None)
            .await
    }

    /// [`Self::call`] with an `X-Registry-Auth` header (service create and update: the daemon
    /// hands it to the nodes that pull the image). The header is never logged.
    pub(crate) async fn call_with_auth(
        &self,
        api: &str,
        method: Method,
        path_and_query: &str,
        body: Option<Vec<u8>>,
        registry_auth: Option<&str>,
    ) -> std::result::Result<Bytes, BollardError> {
        let path = format!("/v{api}{path_and_query}");
        let uri: hyper::Uri = match &self.transport {
            Transport::Unix(_, socket) => hyperlocal::Uri::new(socket, &path).into(),
            Transport::Http(_, base) => format!("{base}{path}").parse()?,
            #[cfg(feature = "tls")]
            Transport::Https(_, base) => format!("{base}{path}").parse()?,
        };
        let mut builder = Request::builder().method(method).uri(uri);
        if body.is_some() {
            builder = builder.header(http::header::CONTENT_TYPE, "application/json");
        }
        if let Some(auth) = registry_auth {
            builder = builder.header("X-Registry-Auth", auth);
        }
        let request = builder.body(Full::new(Bytes::from(body.unwrap_or_default())))?;
        let send = async {
            let response = match &self.transport {
                Transport::Unix(c, _) => c.request(request).await?,
                Transport::Http(c, _) => c.request(request).await?,
                #[cfg(feature = "tls")]
                Transport::Https(c, _) => c.request(request).await?,
            };
            let status = response.status();
            let bytes = response.into_body().collect().await?.to_bytes();
            Ok::<_, BollardError>((status, bytes))
        };
        let (status, bytes) = tokio::time::timeout(self.timeout, send)
            .await
            .map_err(|_| BollardError::RequestTimeoutError)??;
        if status.is_success() || status == StatusCode::NOT_MODIFIED {
            return Ok(bytes);
        }
        // Docker's error body is {"message": "..."}; keep anything else verbatim.
        let message = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(String::from))
            .unwrap_or_else(|| String::from_utf8_lossy(&bytes).trim().to_string());
        Err(BollardError::DockerResponseServerError {
            status_code: status.as_u16(),
            message,
        })
    }
}

/// Percent-encodes a query value (everything but RFC 3986's unreserved characters).
pub(crate) fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(
            encode(r#"{"name":["api"]}"#),
            "%7B%22name%22%3A%5B%22api%22%5D%7D"
        );
        assert_eq!(encode("a-b_c.d~e"), "a-b_c.d~e");
    }
}
