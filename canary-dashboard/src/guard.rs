//! Who may do what: the rules a request passes before a handler sees it.
//!
//! - **Host** (every request, when bound to loopback): the `Host` header must name a loopback
//!   address or `localhost` with the dashboard's port. A page on another site that rebinds its
//!   own name to 127.0.0.1 (DNS rebinding) sends its own name, and is refused.
//! - **Actions** (`POST`): refused unless the dashboard was started with actions allowed; the
//!   request must carry `X-Canary-Dashboard: 1` (a custom header no cross-site form or simple
//!   request can send, and which makes a cross-site `fetch` ask a CORS preflight this server never
//!   grants), an `Origin`, when present, of the dashboard itself, and no `Sec-Fetch-Site` other
//!   than `same-origin` or `none`; and, when a token is set (required when bound to anything but
//!   loopback), `Authorization: Bearer <token>`, compared in constant time. The token is never
//!   logged, echoed or put in an event.

use std::net::SocketAddr;

use hyper::header::{HeaderMap, AUTHORIZATION, HOST, ORIGIN};

/// The header every action request carries.
pub const ACTION_HEADER: &str = "x-canary-dashboard";

/// A secret compared in constant time; its `Debug` shows no character of it.
#[derive(Clone)]
pub(crate) struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl Token {
    /// Accepts 16 to 512 visible ASCII characters (what fits an `Authorization` header).
    pub(crate) fn parse(s: &str) -> Result<Token, String> {
        if !(16..=512).contains(&s.len()) {
            return Err(format!(
                "must be 16 to 512 characters long, not {}",
                s.len()
            ));
        }
        if !s.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("must be visible ASCII characters, without spaces".into());
        }
        Ok(Token(s.to_string()))
    }

    /// Whether `given` is this token, in time that depends only on the token's length.
    pub(crate) fn matches(&self, given: &[u8]) -> bool {
        let want = self.0.as_bytes();
        let mut diff = u8::from(given.len() != want.len());
        for (i, w) in want.iter().enumerate() {
            diff |= w ^ given.get(i).copied().unwrap_or(0);
        }
        std::hint::black_box(diff) == 0
    }
}

/// Why a request was refused: the status and a message that names no secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) status: u16,
    pub(crate) message: String,
}

fn refuse(status: u16, message: impl Into<String>) -> Refusal {
    Refusal {
        status,
        message: message.into(),
    }
}

/// The rules of one dashboard.
#[derive(Debug, Clone)]
pub(crate) struct Access {
    /// The address the dashboard listens on.
    pub(crate) bound: SocketAddr,
    /// Whether actions are allowed at all.
    pub(crate) allow_actions: bool,
    /// The token actions need, if any.
    pub(crate) token: Option<Token>,
}

fn header(h: &HeaderMap, name: impl hyper::header::AsHeaderName) -> Option<&str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

impl Access {
    /// True when bound to a loopback address.
    pub(crate) fn loopback(&self) -> bool {
        self.bound.ip().is_loopback()
    }

    /// Whether actions need a token.
    pub(crate) fn token_required(&self) -> bool {
        self.token.is_some()
    }

    /// The origins a browser on this dashboard sends, for a loopback binding.
    fn loopback_hosts(&self) -> [String; 3] {
        let p = self.bound.port();
        [
            format!("127.0.0.1:{p}"),
            format!("localhost:{p}"),
            format!("[::1]:{p}"),
        ]
    }

    /// The `Host` rule (see the module docs).
    pub(crate) fn host(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        if !self.loopback() {
            return Ok(());
        }
        let host = header(headers, HOST).unwrap_or_default();
        let host = host.to_ascii_lowercase();
        if self.loopback_hosts().contains(&host) {
            Ok(())
        } else {
            Err(refuse(
                421,
                "this dashboard answers only to 127.0.0.1, localhost or [::1] with its port",
            ))
        }
    }

    /// The action rules (see the module docs).
    pub(crate) fn action(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        if !self.allow_actions {
            return Err(refuse(
                403,
                "this dashboard is read-only: start it with --allow-actions (allow_actions) to pause, resume, promote or roll back from it",
            ));
        }
        if header(headers, ACTION_HEADER) != Some("1") {
            return Err(refuse(
                403,
                "an action needs the header X-Canary-Dashboard: 1 (cross-site requests are refused)",
            ));
        }
        if let Some(origin) = headers.get(ORIGIN) {
            let origin = origin.to_str().unwrap_or("").to_ascii_lowercase();
            let ok = match origin.strip_prefix("http://") {
                Some(host) if self.loopback() => self.loopback_hosts().iter().any(|h| h == host),
                // Not on loopback: same origin as the address the browser asked for.
                Some(host) => header(headers, HOST)
                    .is_some_and(|h| h.eq_ignore_ascii_case(host) && !host.is_empty()),
                None => false,
            };
            if !ok {
                return Err(refuse(
                    403,
                    "an action must come from the dashboard's own page (Origin does not match)",
                ));
            }
        }
        if let Some(site) = header(headers, "sec-fetch-site") {
            if site != "same-origin" && site != "none" {
                return Err(refuse(
                    403,
                    "an action must come from the dashboard's own page (Sec-Fetch-Site)",
                ));
            }
        }
        if let Some(token) = &self.token {
            let given = headers
                .get(AUTHORIZATION)
                .map(|v| v.as_bytes())
                .and_then(|v| v.strip_prefix(b"Bearer "))
                .unwrap_or_default();
            if !token.matches(given) {
                return Err(refuse(
                    401,
                    "an action needs the dashboard's token: Authorization: Bearer <token>",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    const TOKEN: &str = "0123456789abcdef-token";

    fn access(bound: &str, allow: bool, token: Option<&str>) -> Access {
        Access {
            bound: bound.parse().unwrap(),
            allow_actions: allow,
            token: token.map(|t| Token::parse(t).unwrap()),
        }
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn tokens_are_bounded_compared_whole_and_never_shown() {
        assert!(Token::parse("short").is_err());
        assert!(Token::parse(&"x".repeat(513)).is_err());
        assert!(Token::parse("sixteen chars ok").is_err(), "spaces");
        let t = Token::parse(TOKEN).unwrap();
        assert!(t.matches(TOKEN.as_bytes()));
        assert!(!t.matches(b""));
        assert!(!t.matches(&TOKEN.as_bytes()[..TOKEN.len() - 1]));
        assert!(!t.matches(format!("{TOKEN}x").as_bytes()));
        assert!(!t.matches(TOKEN.to_uppercase().as_bytes()));
        assert!(!format!("{t:?}").contains("0123"));
    }

    #[test]
    fn on_loopback_only_loopback_host_names_with_the_port_are_answered() {
        let a = access("127.0.0.1:8000", false, None);
        for ok in [
            "127.0.0.1:8000",
            "localhost:8000",
            "LOCALHOST:8000",
            "[::1]:8000",
        ] {
            assert!(a.host(&headers(&[("host", ok)])).is_ok(), "{ok}");
        }
        for bad in ["evil.example:8000", "127.0.0.1:8001", "127.0.0.1", ""] {
            let e = a.host(&headers(&[("host", bad)])).unwrap_err();
            assert_eq!(e.status, 421, "{bad}");
        }
        assert!(a.host(&HeaderMap::new()).is_err());
        // Bound to every address: any name the machine has is fine.
        let a = access("0.0.0.0:8000", false, None);
        assert!(a.host(&headers(&[("host", "dash.example:8000")])).is_ok());
    }

    #[test]
    fn actions_need_allow_actions_the_header_and_a_same_origin() {
        let good = [("host", "127.0.0.1:8000"), (ACTION_HEADER, "1")];
        let e = access("127.0.0.1:8000", false, None)
            .action(&headers(&good))
            .unwrap_err();
        assert_eq!(e.status, 403);
        assert!(e.message.contains("--allow-actions"), "{}", e.message);

        let a = access("127.0.0.1:8000", true, None);
        assert!(a.action(&headers(&good)).is_ok(), "curl: no Origin");
        let e = a
            .action(&headers(&[("host", "127.0.0.1:8000")]))
            .unwrap_err();
        assert!(e.message.contains("X-Canary-Dashboard"), "{}", e.message);
        assert!(a.action(&headers(&[(ACTION_HEADER, "yes")])).is_err());
        for origin in ["http://127.0.0.1:8000", "http://localhost:8000"] {
            let mut h = headers(&good);
            h.insert(ORIGIN, HeaderValue::from_str(origin).unwrap());
            h.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
            assert!(a.action(&h).is_ok(), "{origin}");
        }
        for origin in [
            "http://evil.example",
            "http://127.0.0.1:8001",
            "https://127.0.0.1:8000",
            "null",
        ] {
            let mut h = headers(&good);
            h.insert(ORIGIN, HeaderValue::from_str(origin).unwrap());
            assert_eq!(a.action(&h).unwrap_err().status, 403, "{origin}");
        }
        let mut h = headers(&good);
        h.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert_eq!(a.action(&h).unwrap_err().status, 403);
    }

    #[test]
    fn a_token_is_checked_when_set() {
        let a = access("0.0.0.0:8000", true, Some(TOKEN));
        assert!(a.token_required());
        let base = [("host", "dash.example:8000"), (ACTION_HEADER, "1")];
        let e = a.action(&headers(&base)).unwrap_err();
        assert_eq!(e.status, 401);
        assert!(!e.message.contains(TOKEN));
        for bad in [
            "Bearer nope-nope-nope-nope",
            TOKEN,
            "bearer 0123456789abcdef-token",
        ] {
            let mut h = headers(&base);
            h.insert(AUTHORIZATION, HeaderValue::from_str(bad).unwrap());
            assert_eq!(a.action(&h).unwrap_err().status, 401, "{bad}");
        }
        let mut h = headers(&base);
        h.insert(
            AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {TOKEN}")).unwrap(),
        );
        assert!(a.action(&h).is_ok());
        // Same origin off loopback: the Origin names the Host the browser asked for.
        h.insert(ORIGIN, HeaderValue::from_static("http://dash.example:8000"));
        assert!(a.action(&h).is_ok());
        h.insert(
            ORIGIN,
            HeaderValue::from_static("http://other.example:8000"),
        );
        assert_eq!(a.action(&h).unwrap_err().status, 403);
    }
}
