//! What every HTTP client of this crate shares: credentials that are never logged, base URLs, the
//! client, and the mapping of transport failures onto [`canary_core::Error`].

use std::fmt;
use std::time::Duration;

use canary_core::{Error, Result};

/// Credentials for an HTTP API. `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Auth {
    /// No credentials.
    #[default]
    None,
    /// HTTP basic authentication.
    Basic {
        /// User name.
        user: String,
        /// Password.
        password: String,
    },
    /// `Authorization: Bearer <token>`.
    Bearer(String),
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::Basic { user, .. } => {
                write!(f, "Basic {{ user: {user:?}, password: <redacted> }}")
            }
            Auth::Bearer(_) => f.write_str("Bearer(<redacted>)"),
        }
    }
}

impl Auth {
    pub(crate) fn apply(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self {
            Auth::None => req,
            Auth::Basic { user, password } => req.basic_auth(user, Some(password)),
            Auth::Bearer(token) => req.bearer_auth(token),
        }
    }
}

/// A validated base URL (`http://host:port[/prefix]`, no trailing slash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BaseUrl(String);

impl BaseUrl {
    pub(crate) fn parse(url: &str, field: &str) -> Result<Self> {
        let parsed = reqwest::Url::parse(url).map_err(|e| {
            Error::invalid(field, format!("{url:?} is not a URL: {e}")).with_source(e)
        })?;
        match parsed.scheme() {
            "http" => {}
            "https" if cfg!(feature = "rustls") => {}
            "https" => {
                return Err(Error::invalid(
                    field,
                    format!(
                    "{url:?} is https, but canary-traefik was built without its `rustls` feature"
                ),
                ))
            }
            other => {
                return Err(Error::invalid(
                    field,
                    format!("{url:?} has scheme {other:?}; use http or https"),
                ))
            }
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(Error::invalid(
                field,
                "put credentials in the auth option, not in the URL (URLs end up in logs)",
            ));
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(Error::invalid(
                field,
                format!("{url:?} has a query or fragment"),
            ));
        }
        Ok(BaseUrl(url.trim_end_matches('/').to_string()))
    }

    /// `base + path` (path starts with `/`).
    pub(crate) fn join(&self, path: &str) -> String {
        format!("{}{path}", self.0)
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// A client builder with a connect timeout, its TLS provider installed; per-request deadlines
/// are set by the callers.
pub(crate) fn client_builder() -> reqwest::ClientBuilder {
    #[cfg(feature = "rustls")]
    {
        // reqwest is built without a provider of its own; install ring unless the host program
        // already chose one.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .user_agent(concat!("canary/", env!("CARGO_PKG_VERSION")))
}

/// A client with a connect timeout; per-request deadlines are set by the callers.
pub(crate) fn client() -> Result<reqwest::Client> {
    client_builder()
        .pool_idle_timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| Error::internal(format!("cannot build an HTTP client: {e}")).with_source(e))
}

/// The URL without user info or query (they may hold secrets), for messages.
pub(crate) fn shown_url(url: &reqwest::Url) -> String {
    format!(
        "{}://{}{}",
        url.scheme(),
        url.host_str().unwrap_or(""),
        url.port().map(|p| format!(":{p}")).unwrap_or_default()
    ) + url.path()
}

/// A failed send: a deadline becomes [`Error::Timeout`], anything else [`Error::Unavailable`]
/// caused by reqwest's error (without its URL).
pub(crate) fn send_error(e: reqwest::Error, what: &str, after: Duration) -> Error {
    // The URL may carry a token in its query; `what` names the endpoint without it.
    let e = e.without_url();
    if e.is_timeout() {
        Error::Timeout {
            what: what.to_string(),
            after,
        }
    } else {
        Error::unavailable(format!("{what}: {}", error_chain(&e))).with_source(e)
    }
}

/// The error and its sources, joined: reqwest's own message alone says only "error sending request".
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
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

/// At most `max` bytes of `body` as text, cut at a character boundary.
pub(crate) fn snippet(body: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_show_in_debug() {
        let a = Auth::Basic {
            user: "admin".into(),
            password: "hunter2".into(),
        };
        let d = format!("{a:?}");
        assert!(d.contains("admin") && !d.contains("hunter2"), "{d}");
        assert!(!format!("{:?}", Auth::Bearer("tok3n".into())).contains("tok3n"));
    }

    #[test]
    fn base_urls() {
        assert_eq!(
            BaseUrl::parse("http://127.0.0.1:9090/", "u")
                .unwrap()
                .join("/api"),
            "http://127.0.0.1:9090/api"
        );
        assert_eq!(
            BaseUrl::parse("http://h/prom", "u").unwrap().join("/api"),
            "http://h/prom/api"
        );
        assert!(BaseUrl::parse("ftp://h", "u").is_err());
        assert!(BaseUrl::parse("http://u:p@h", "u").is_err());
        assert!(BaseUrl::parse("nonsense", "u").is_err());
    }

    #[test]
    fn snippets_cut_on_char_boundaries() {
        assert_eq!(snippet(b"  short  ", 200), "short");
        let s = "é".repeat(150);
        let cut = snippet(s.as_bytes(), 200);
        assert_eq!(cut.len(), 200);
        assert_eq!(snippet("aé".as_bytes(), 2), "a");
    }

    /// A real failure: a request to a loopback port nobody listens on. It stays Unavailable with
    /// its words, reqwest's error (without the URL and its query) is the source, and the io error
    /// that refused the connection is further down the chain.
    #[tokio::test]
    async fn a_refused_connection_arrives_as_a_chain() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let url = format!("http://127.0.0.1:{port}/api/v1/query?token=s3cret");
        let e = client().unwrap().get(&url).send().await.unwrap_err();
        let e = send_error(e, "prometheus query", Duration::from_secs(5));
        assert_eq!(e.code(), "CANARY_UNAVAILABLE", "{e}");
        assert!(e.is_retryable());
        assert!(
            e.to_string().starts_with("unavailable: prometheus query: "),
            "{e}"
        );
        let source = std::error::Error::source(&e).expect("a source");
        let req = source.downcast_ref::<reqwest::Error>().expect("reqwest's");
        assert!(req.is_connect(), "{req:?}");
        assert!(req.url().is_none(), "the URL stays out: {req:?}");
        assert!(!format!("{e:?}").contains("s3cret"), "{e:?}");
        let mut refused = false;
        let mut at = source.source();
        while let Some(s) = at {
            refused |= s
                .downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused);
            at = s.source();
        }
        assert!(refused, "{source:?}");
    }
}
