//! Minimal HTTP/1.x request parsing and response writing (keep-alive, Content-Length,
//! chunked request bodies).

use std::fmt;
use std::io::{self, Read, Write};

/// Largest accepted request head (request line + headers).
pub(crate) const MAX_HEAD: usize = 16 * 1024;
/// Largest accepted chunk-size / trailer line in a chunked body.
const MAX_LINE: usize = 4096;

/// How the request body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Body {
    /// No body.
    None,
    /// `Content-Length: n`.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// A parsed request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Request {
    /// Method, e.g. `GET`.
    pub(crate) method: String,
    /// Request target as sent, e.g. `/a/b?x=1`.
    pub(crate) target: String,
    /// Path part of the target, without query or fragment.
    pub(crate) path: String,
    /// Minor HTTP version: 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub(crate) minor: u8,
    /// Headers with lower-cased names, in order.
    pub(crate) headers: Vec<(String, String)>,
    /// Body framing.
    pub(crate) body: Body,
    /// Whether the connection stays open after the response.
    pub(crate) keep_alive: bool,
}

impl Request {
    /// First value of header `name` (lower-case).
    #[cfg(test)]
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether the response must not carry a body.
    pub(crate) fn is_head(&self) -> bool {
        self.method == "HEAD"
    }
}

/// Why a request could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ParseError {
    /// The head is larger than [`MAX_HEAD`].
    HeadTooLarge,
    /// Not an HTTP/1.x request.
    BadVersion,
    /// Malformed request (reason given).
    Bad(&'static str),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::HeadTooLarge => f.write_str("request head too large"),
            Self::BadVersion => f.write_str("unsupported HTTP version"),
            Self::Bad(why) => write!(f, "bad request: {why}"),
        }
    }
}

/// Status code to answer a parse error with.
pub(crate) fn error_status(e: &ParseError) -> u16 {
    match e {
        ParseError::HeadTooLarge => 431,
        ParseError::BadVersion => 505,
        ParseError::Bad(_) => 400,
    }
}

/// Tries to parse a request head at the start of `buf`.
///
/// Returns `Ok(None)` when more bytes are needed, or the request and the number of bytes
/// the head used. Accepts bare `\n` line ends as well as `\r\n`.
pub(crate) fn parse_head(buf: &[u8]) -> Result<Option<(Request, usize)>, ParseError> {
    // RFC 9112 2.2: ignore at least one empty line before the request line.
    let mut start = 0;
    while buf[start..].starts_with(b"\r\n") || buf[start..].starts_with(b"\n") {
        start += if buf[start] == b'\r' { 2 } else { 1 };
    }
    let mut lines: Vec<&[u8]> = Vec::new();
    let mut pos = start;
    let end = loop {
        let Some(nl) = buf[pos..].iter().position(|&b| b == b'\n') else {
            if buf.len() > MAX_HEAD {
                return Err(ParseError::HeadTooLarge);
            }
            return Ok(None);
        };
        let line = &buf[pos..pos + nl];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        pos += nl + 1;
        if pos > MAX_HEAD {
            return Err(ParseError::HeadTooLarge);
        }
        if line.is_empty() {
            break pos;
        }
        lines.push(line);
    };

    let (request_line, header_lines) = lines.split_first().ok_or(ParseError::Bad("empty"))?;
    let request_line =
        std::str::from_utf8(request_line).map_err(|_| ParseError::Bad("request line not UTF-8"))?;
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ParseError::Bad(
            "request line must be METHOD SP TARGET SP VERSION",
        ));
    };
    if method.is_empty() || !method.bytes().all(is_tchar) {
        return Err(ParseError::Bad("invalid method"));
    }
    if target.is_empty() || target.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(ParseError::Bad("invalid request target"));
    }
    let minor = match version {
        "HTTP/1.1" => 1,
        "HTTP/1.0" => 0,
        v if v.starts_with("HTTP/") => return Err(ParseError::BadVersion),
        _ => return Err(ParseError::Bad("invalid HTTP version")),
    };

    let mut headers = Vec::with_capacity(header_lines.len());
    for line in header_lines {
        if line[0] == b' ' || line[0] == b'\t' {
            return Err(ParseError::Bad("obsolete header line folding"));
        }
        let colon = line
            .iter()
            .position(|&b| b == b':')
            .ok_or(ParseError::Bad("header line without ':'"))?;
        let name = &line[..colon];
        if name.is_empty() || !name.iter().copied().all(is_tchar) {
            return Err(ParseError::Bad("invalid header name"));
        }
        let value = String::from_utf8_lossy(&line[colon + 1..])
            .trim_matches([' ', '\t'])
            .to_owned();
        headers.push((String::from_utf8_lossy(name).to_ascii_lowercase(), value));
    }

    let body = body_framing(&headers)?;
    let conn_tokens: Vec<String> = headers
        .iter()
        .filter(|(k, _)| k == "connection")
        .flat_map(|(_, v)| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .collect();
    let keep_alive = if minor == 1 {
        !conn_tokens.iter().any(|t| t == "close")
    } else {
        conn_tokens.iter().any(|t| t == "keep-alive")
    };

    Ok(Some((
        Request {
            method: method.to_owned(),
            target: target.to_owned(),
            path: path_of(target),
            minor,
            headers,
            body,
            keep_alive,
        },
        end,
    )))
}

fn body_framing(headers: &[(String, String)]) -> Result<Body, ParseError> {
    let te: Vec<&str> = headers
        .iter()
        .filter(|(k, _)| k == "transfer-encoding")
        .flat_map(|(_, v)| v.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect();
    let mut length: Option<u64> = None;
    for (_, v) in headers.iter().filter(|(k, _)| k == "content-length") {
        for part in v.split(',') {
            let part = part.trim();
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ParseError::Bad("invalid Content-Length"));
            }
            let n: u64 = part
                .parse()
                .map_err(|_| ParseError::Bad("invalid Content-Length"))?;
            if length.is_some_and(|l| l != n) {
                return Err(ParseError::Bad("conflicting Content-Length values"));
            }
            length = Some(n);
        }
    }
    match (te.is_empty(), length) {
        (true, None) | (true, Some(0)) => Ok(Body::None),
        (true, Some(n)) => Ok(Body::Length(n)),
        (false, Some(_)) => Err(ParseError::Bad("both Transfer-Encoding and Content-Length")),
        (false, None) => {
            if te.last().is_some_and(|t| t.eq_ignore_ascii_case("chunked")) {
                Ok(Body::Chunked)
            } else {
                Err(ParseError::Bad("unsupported Transfer-Encoding"))
            }
        }
    }
}

/// Path of a request target: origin-form `/p?q` gives `/p`; absolute-form
/// `http://h/p?q` gives `/p`; `*` stays `*`.
pub(crate) fn path_of(target: &str) -> String {
    let rest = match target.find("://") {
        Some(i) if !target.starts_with('/') => {
            let after = &target[i + 3..];
            match after.find('/') {
                Some(j) => &after[j..],
                None => "/",
            }
        }
        _ => target,
    };
    let end = rest.find(['?', '#']).unwrap_or(rest.len());
    let p = &rest[..end];
    if p.is_empty() {
        "/".to_owned()
    } else {
        p.to_owned()
    }
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Why reading from a connection stopped.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// Peer closed the connection cleanly between requests.
    Closed,
    /// The request is malformed.
    Parse(ParseError),
    /// I/O error, idle timeout, or EOF inside a request.
    Io,
}

impl From<io::Error> for ReadError {
    fn from(_: io::Error) -> Self {
        Self::Io
    }
}

/// A buffered reader over one connection that yields request heads and discards bodies.
pub(crate) struct Conn<R> {
    inner: R,
    buf: Vec<u8>,
}

impl<R: Read> Conn<R> {
    /// Wraps a reader.
    pub(crate) fn new(inner: R) -> Self {
        Self {
            inner,
            buf: Vec::with_capacity(1024),
        }
    }

    /// The wrapped reader.
    pub(crate) fn get_ref(&self) -> &R {
        &self.inner
    }

    /// Whether there are buffered bytes not yet consumed (pipelined requests).
    #[cfg(test)]
    pub(crate) fn has_buffered(&self) -> bool {
        !self.buf.is_empty()
    }

    fn fill(&mut self) -> io::Result<usize> {
        let mut chunk = [0u8; 4096];
        let n = self.inner.read(&mut chunk)?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// Reads the next request head.
    pub(crate) fn read_request(&mut self) -> Result<Request, ReadError> {
        loop {
            match parse_head(&self.buf) {
                Ok(Some((req, used))) => {
                    self.buf.drain(..used);
                    return Ok(req);
                }
                Ok(None) => {}
                Err(e) => return Err(ReadError::Parse(e)),
            }
            if self.fill()? == 0 {
                return Err(if self.buf.iter().all(|b| b.is_ascii_whitespace()) {
                    ReadError::Closed
                } else {
                    ReadError::Io
                });
            }
        }
    }

    /// Reads and throws away the body of `req`; returns its decoded length.
    pub(crate) fn discard_body(&mut self, req: &Request) -> Result<u64, ReadError> {
        match req.body {
            Body::None => Ok(0),
            Body::Length(n) => {
                self.skip(n)?;
                Ok(n)
            }
            Body::Chunked => {
                let mut total = 0u64;
                loop {
                    let line = self.read_line()?;
                    let size_str = line.split(';').next().unwrap_or("").trim();
                    let size = u64::from_str_radix(size_str, 16)
                        .map_err(|_| ReadError::Parse(ParseError::Bad("invalid chunk size")))?;
                    if size == 0 {
                        // Trailer section, ended by an empty line.
                        while !self.read_line()?.is_empty() {}
                        return Ok(total);
                    }
                    self.skip(size)?;
                    if !self.read_line()?.is_empty() {
                        return Err(ReadError::Parse(ParseError::Bad(
                            "missing CRLF after chunk",
                        )));
                    }
                    total = total.saturating_add(size);
                }
            }
        }
    }

    fn skip(&mut self, mut n: u64) -> Result<(), ReadError> {
        loop {
            let take = usize::try_from(n).unwrap_or(usize::MAX).min(self.buf.len());
            self.buf.drain(..take);
            n -= take as u64;
            if n == 0 {
                return Ok(());
            }
            if self.fill()? == 0 {
                return Err(ReadError::Io);
            }
        }
    }

    fn read_line(&mut self) -> Result<String, ReadError> {
        loop {
            if let Some(nl) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=nl).collect();
                let line = &line[..line.len() - 1];
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                return Ok(String::from_utf8_lossy(line).into_owned());
            }
            if self.buf.len() > MAX_LINE {
                return Err(ReadError::Parse(ParseError::Bad("line too long")));
            }
            if self.fill()? == 0 {
                return Err(ReadError::Io);
            }
        }
    }
}

/// A response to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Response {
    /// Status code.
    pub(crate) status: u16,
    /// `Content-Type` value.
    pub(crate) content_type: &'static str,
    /// Extra headers.
    pub(crate) headers: Vec<(&'static str, String)>,
    /// Body bytes.
    pub(crate) body: Vec<u8>,
}

/// Reason phrase for the status codes this server uses.
pub(crate) fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// Serialises `resp`. `minor` is the request's HTTP minor version, `head` omits the body.
pub(crate) fn encode_response(resp: &Response, minor: u8, keep_alive: bool, head: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + resp.body.len());
    // Writing into a Vec cannot fail.
    let _ = write!(
        out,
        "HTTP/1.{minor} {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\n",
        resp.status,
        reason(resp.status),
        resp.content_type,
        resp.body.len()
    );
    for (k, v) in &resp.headers {
        let _ = write!(out, "{k}: {v}\r\n");
    }
    if !keep_alive {
        out.extend_from_slice(b"Connection: close\r\n");
    } else if minor == 0 {
        out.extend_from_slice(b"Connection: keep-alive\r\n");
    }
    out.extend_from_slice(b"\r\n");
    if !head {
        out.extend_from_slice(&resp.body);
    }
    out
}

/// Appends `s` to `out` as a JSON string literal.
pub(crate) fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = fmt::Write::write_fmt(out, format_args!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn parse(s: &str) -> Request {
        let (r, used) = parse_head(s.as_bytes()).unwrap().unwrap();
        assert!(used <= s.len());
        r
    }

    #[test]
    fn simple_get() {
        let r =
            parse("GET /api/health?x=1 HTTP/1.1\r\nHost: demo.localhost\r\nUser-Agent: t\r\n\r\n");
        assert_eq!(r.method, "GET");
        assert_eq!(r.target, "/api/health?x=1");
        assert_eq!(r.path, "/api/health");
        assert_eq!(r.minor, 1);
        assert_eq!(r.header("host"), Some("demo.localhost"));
        assert_eq!(r.body, Body::None);
        assert!(r.keep_alive);
        assert!(!r.is_head());
    }

    #[test]
    fn incomplete_needs_more() {
        assert_eq!(parse_head(b"GET / HTTP/1.1\r\nHost: a\r\n").unwrap(), None);
        assert_eq!(parse_head(b"").unwrap(), None);
        assert_eq!(parse_head(b"GET / HTT").unwrap(), None);
    }

    #[test]
    fn reports_bytes_used_for_pipelining() {
        let s = b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n";
        let (r, used) = parse_head(s).unwrap().unwrap();
        assert_eq!(r.path, "/a");
        let (r2, _) = parse_head(&s[used..]).unwrap().unwrap();
        assert_eq!(r2.path, "/b");
    }

    #[test]
    fn bare_lf_and_leading_empty_lines() {
        let r = parse("\r\n\nGET / HTTP/1.0\nConnection: Keep-Alive\n\n");
        assert_eq!(r.minor, 0);
        assert!(r.keep_alive);
    }

    #[test]
    fn keep_alive_rules() {
        assert!(!parse("GET / HTTP/1.1\r\nConnection: close\r\n\r\n").keep_alive);
        assert!(!parse("GET / HTTP/1.1\r\nConnection: foo, Close\r\n\r\n").keep_alive);
        assert!(!parse("GET / HTTP/1.0\r\n\r\n").keep_alive);
        assert!(parse("GET / HTTP/1.1\r\nConnection: keep-alive\r\n\r\n").keep_alive);
    }

    #[test]
    fn body_framing_rules() {
        assert_eq!(
            parse("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n").body,
            Body::Length(5)
        );
        assert_eq!(
            parse("POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n").body,
            Body::None
        );
        assert_eq!(
            parse("POST / HTTP/1.1\r\nContent-Length: 7, 7\r\n\r\n").body,
            Body::Length(7)
        );
        assert_eq!(
            parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n").body,
            Body::Chunked
        );
        for bad in [
            "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n",
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
            "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
        ] {
            assert!(
                matches!(parse_head(bad.as_bytes()), Err(ParseError::Bad(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn malformed_heads() {
        for bad in [
            "GET /\r\n\r\n",
            "GET  / HTTP/1.1\r\n\r\n",
            "GET / HTTP/1.1 extra\r\n\r\n",
            "G(T / HTTP/1.1\r\n\r\n",
            "GET / FTP/1.1\r\n\r\n",
            "GET / HTTP/1.1\r\nNoColon\r\n\r\n",
            "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
            "GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n",
        ] {
            assert!(
                matches!(parse_head(bad.as_bytes()), Err(ParseError::Bad(_))),
                "{bad:?}"
            );
        }
        assert_eq!(
            parse_head(b"GET / HTTP/2.0\r\n\r\n").unwrap_err(),
            ParseError::BadVersion
        );
        let huge = format!("GET / HTTP/1.1\r\nX: {}\r\n", "a".repeat(MAX_HEAD));
        assert_eq!(
            parse_head(huge.as_bytes()).unwrap_err(),
            ParseError::HeadTooLarge
        );
        assert_eq!(error_status(&ParseError::HeadTooLarge), 431);
    }

    #[test]
    fn paths() {
        assert_eq!(path_of("/"), "/");
        assert_eq!(path_of("/a/b?c=d#e"), "/a/b");
        assert_eq!(path_of("http://demo.localhost/x/y?z"), "/x/y");
        assert_eq!(path_of("http://demo.localhost"), "/");
        assert_eq!(path_of("*"), "*");
        assert_eq!(path_of("/gcp/api/health"), "/gcp/api/health");
        assert_eq!(path_of("/redirect?u=http://x/y"), "/redirect");
    }

    #[test]
    fn conn_reads_pipelined_requests_and_bodies() {
        let wire = "POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello\
                    POST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\
                    4;ext=1\r\nwiki\r\n5\r\npedia\r\n0\r\nX-Trailer: t\r\n\r\n\
                    GET /c HTTP/1.1\r\n\r\n";
        let mut c = Conn::new(Cursor::new(wire.as_bytes().to_vec()));
        let a = c.read_request().unwrap();
        assert_eq!(a.path, "/a");
        assert_eq!(c.discard_body(&a).unwrap(), 5);
        let b = c.read_request().unwrap();
        assert_eq!(b.path, "/b");
        assert_eq!(c.discard_body(&b).unwrap(), 9);
        let cc = c.read_request().unwrap();
        assert_eq!(cc.path, "/c");
        assert!(!c.has_buffered());
        assert!(matches!(c.read_request(), Err(ReadError::Closed)));
    }

    #[test]
    fn conn_eof_inside_request_is_an_error() {
        let mut c = Conn::new(Cursor::new(b"GET / HTTP/1.1\r\nHo".to_vec()));
        assert!(matches!(c.read_request(), Err(ReadError::Io)));
        let mut c = Conn::new(Cursor::new(
            b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc".to_vec(),
        ));
        let r = c.read_request().unwrap();
        assert!(matches!(c.discard_body(&r), Err(ReadError::Io)));
        let mut c = Conn::new(Cursor::new(
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".to_vec(),
        ));
        let r = c.read_request().unwrap();
        assert!(matches!(c.discard_body(&r), Err(ReadError::Parse(_))));
    }

    #[test]
    fn response_encoding() {
        let resp = Response {
            status: 200,
            content_type: "application/json",
            headers: vec![("X-Version", "v1".to_owned())],
            body: b"{}".to_vec(),
        };
        let s = String::from_utf8(encode_response(&resp, 1, true, false)).unwrap();
        assert!(s.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(s.contains("Content-Length: 2\r\n"));
        assert!(s.contains("X-Version: v1\r\n"));
        assert!(!s.contains("Connection:"));
        assert!(s.ends_with("\r\n\r\n{}"));
        let s = String::from_utf8(encode_response(&resp, 0, false, true)).unwrap();
        assert!(s.starts_with("HTTP/1.0 200 OK\r\n"));
        assert!(s.contains("Connection: close\r\n"));
        assert!(s.ends_with("\r\n\r\n"), "HEAD has no body");
    }

    #[test]
    fn json_escaping() {
        let mut s = String::new();
        json_str(&mut s, "a\"b\\c\nd\u{1}é");
        assert_eq!(s, r#""a\"b\\c\nd\u0001é""#);
    }
}
