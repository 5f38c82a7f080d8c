//! What a scrape may ask for: the request head Prometheus sends a forward proxy
//! (`GET http://10.0.1.7:8080/metrics HTTP/1.1`), parsed and judged. Pure, so every refusal is
//! tested without a socket.

use std::net::{Ipv4Addr, SocketAddrV4};

/// Longest request head read (Prometheus sends a few hundred bytes).
pub(crate) const MAX_HEAD: usize = 8 * 1024;

/// An IPv4 network, `10.0.0.0/8`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Net {
    addr: u32,
    prefix: u8,
}

impl Net {
    /// `a.b.c.d/n`.
    pub(crate) fn parse(s: &str) -> Result<Net, String> {
        let (a, p) = s
            .split_once('/')
            .ok_or_else(|| format!("{s:?}: want a.b.c.d/prefix"))?;
        let addr: Ipv4Addr = a
            .parse()
            .map_err(|_| format!("{a:?} is not an IPv4 address"))?;
        let prefix: u8 = p
            .parse()
            .ok()
            .filter(|p| *p <= 32)
            .ok_or_else(|| format!("{p:?} is not a prefix length (0-32)"))?;
        Ok(Net {
            addr: u32::from(addr),
            prefix,
        })
    }

    fn mask(&self) -> u32 {
        u32::MAX
            .checked_shl(32 - u32::from(self.prefix))
            .unwrap_or(0)
    }

    /// Whether `ip` is in this network.
    pub(crate) fn contains(&self, ip: Ipv4Addr) -> bool {
        (u32::from(ip) & self.mask()) == (self.addr & self.mask())
    }
}

impl std::fmt::Display for Net {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", Ipv4Addr::from(self.addr), self.prefix)
    }
}

/// What a client may scrape.
#[derive(Debug, Clone)]
pub(crate) struct Policy {
    /// Networks a target may be in.
    pub(crate) nets: Vec<Net>,
    /// The one path a target may be asked for.
    pub(crate) path: String,
}

/// Why a request is refused: the status and a one-line reason.
pub(crate) type Refusal = (u16, String);

impl Policy {
    /// The target of a request head, or why not. Only the request line is read: no header of
    /// the client's is sent on (Prometheus' `Accept` does not matter to a text exposition).
    pub(crate) fn judge(&self, head: &[u8]) -> Result<SocketAddrV4, Refusal> {
        let line_end = head
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or((400, "no request line".to_string()))?;
        let line = std::str::from_utf8(&head[..line_end])
            .map_err(|_| (400, "request line is not UTF-8".to_string()))?;
        let mut parts = line.split(' ');
        let (Some(method), Some(target), Some(version), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err((400, "malformed request line".into()));
        };
        if !version.starts_with("HTTP/1.") {
            return Err((400, "not HTTP/1".into()));
        }
        if method != "GET" {
            return Err((405, format!("{method} is not allowed; GET only")));
        }
        let rest = target.strip_prefix("http://").ok_or((
            403,
            "only absolute http:// targets (a forward-proxy request)".to_string(),
        ))?;
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        if path != self.path {
            return Err((403, format!("only {} may be scraped", self.path)));
        }
        let addr: SocketAddrV4 = authority.parse().map_err(|_| {
            (
                403,
                "the target must be an IPv4 address and port".to_string(),
            )
        })?;
        if addr.port() == 0 || !self.nets.iter().any(|n| n.contains(*addr.ip())) {
            return Err((403, format!("{addr} is outside the allowed networks")));
        }
        Ok(addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy {
            nets: vec![Net::parse("10.0.0.0/8").unwrap()],
            path: "/metrics".into(),
        }
    }

    #[test]
    fn networks() {
        let n = Net::parse("10.0.1.0/24").unwrap();
        assert_eq!(n.to_string(), "10.0.1.0/24");
        assert!(n.contains("10.0.1.255".parse().unwrap()));
        assert!(!n.contains("10.0.2.1".parse().unwrap()));
        assert!(Net::parse("0.0.0.0/0")
            .unwrap()
            .contains("1.2.3.4".parse().unwrap()));
        for bad in ["10.0.0.0", "10.0.0/8", "10.0.0.0/33", "10.0.0.0/x"] {
            assert!(Net::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_get_metrics_on_the_overlay() {
        let p = policy();
        let ok = p.judge(b"GET http://10.0.1.7:8080/metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(ok.unwrap(), "10.0.1.7:8080".parse().unwrap());
        for (head, status) in [
            (
                &b"POST http://10.0.1.7:8080/metrics HTTP/1.1\r\n\r\n"[..],
                405,
            ),
            (b"GET http://127.0.0.1:39090/metrics HTTP/1.1\r\n\r\n", 403),
            (
                b"GET http://10.0.1.7:8080/metrics?x=1 HTTP/1.1\r\n\r\n",
                403,
            ),
            (b"GET http://10.0.1.7:8080/api HTTP/1.1\r\n\r\n", 403),
            (b"GET http://example.com:80/metrics HTTP/1.1\r\n\r\n", 403),
            (b"GET http://10.0.1.7:0/metrics HTTP/1.1\r\n\r\n", 403),
            (b"GET /metrics HTTP/1.1\r\n\r\n", 403),
            (b"CONNECT 10.0.1.7:8080 HTTP/1.1\r\n\r\n", 405),
            (b"GET http://10.0.1.7:8080/metrics  HTTP/1.1\r\n\r\n", 400),
            (b"GET http://10.0.1.7:8080/metrics SPDY\r\n\r\n", 400),
            (b"\xff\xfe\r\n", 400),
            (b"GET http://10.0.1.7:8080/metrics HTTP/1.1", 400),
        ] {
            let e = p.judge(head).unwrap_err();
            assert_eq!(e.0, status, "{:?}: {}", String::from_utf8_lossy(head), e.1);
        }
    }
}
