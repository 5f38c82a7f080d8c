//! What the server read of one request, and the reading of it off a connection.

use std::io::Read;
use std::net::TcpStream;
use std::time::Instant;

/// The largest request the server reads (head and body); a larger one is dropped unanswered.
pub const MAX_REQUEST: usize = 16 << 20;

/// One request as the server read it.
#[derive(Debug, Clone)]
pub struct Request {
    /// The method, e.g. `POST`.
    pub method: String,
    /// The request target as sent: the path with its query, e.g. `/hook?token=x`.
    pub path: String,
    /// The request line and the header lines, each with its CRLF (the blank line that ends the
    /// head left out): `head.starts_with("GET /x HTTP/1.1\r\n")` and
    /// `head.contains("accept: application/json\r\n")` hold whatever the order of the headers.
    pub head: String,
    /// The body, `content-length` bytes of it, as text (invalid UTF-8 replaced).
    pub body: String,
    /// When the whole request had arrived.
    pub at: Instant,
}

impl Request {
    /// The value of the first header named `name` (any case), trimmed.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }

    /// The body as JSON.
    ///
    /// # Panics
    ///
    /// When the body is not JSON, with the body in the message: a test that expects JSON fails
    /// there.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| {
            panic!(
                "the body of {} {} is not JSON ({e}): {:?}",
                self.method, self.path, self.body
            )
        })
    }
}

/// Reads one request: the head, then as many body bytes as its `content-length` says. `None`
/// when the client closes, stalls past the stream's read timeout, or the request is larger than
/// [`MAX_REQUEST`] bytes.
pub(crate) fn read(stream: &mut TcpStream) -> Option<Request> {
    let mut bytes = Vec::new();
    let mut buf = [0u8; 8192];
    // The request's whole size, once its head is in.
    let mut size = None;
    loop {
        let n = stream.read(&mut buf).ok().filter(|&n| n > 0)?;
        bytes.extend_from_slice(&buf[..n]);
        if size.is_none() {
            size = framing(&bytes).map(|(end, length)| end + 4 + length);
        }
        if size.is_some_and(|size| bytes.len() >= size) {
            return complete(&bytes);
        }
        if bytes.len() > MAX_REQUEST || size.is_some_and(|size| size > MAX_REQUEST) {
            return None;
        }
    }
}

/// Where the head ends (the offset of its blank line) and the body's `content-length` (0 when
/// there is none or it is not a number), once the head is in.
fn framing(bytes: &[u8]) -> Option<(usize, usize)> {
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    let length = String::from_utf8_lossy(&bytes[..end])
        .lines()
        .find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())
                .flatten()
        })
        .unwrap_or(0);
    Some((end, length))
}

/// The request in `bytes` once its head and body are all there.
fn complete(bytes: &[u8]) -> Option<Request> {
    let (end, length) = framing(bytes)?;
    let body = bytes.get(end + 4..end + 4 + length)?;
    let head = String::from_utf8_lossy(&bytes[..end + 2]).into_owned();
    let mut words = head.split_whitespace();
    let method = words.next().unwrap_or_default().to_string();
    let path = words.next().unwrap_or_default().to_string();
    Some(Request {
        method,
        path,
        body: String::from_utf8_lossy(body).into_owned(),
        head,
        at: Instant::now(),
    })
}

#[cfg(test)]
mod tests {
    use super::complete;

    #[test]
    fn a_request_is_complete_once_its_body_is_in() {
        let head = "POST /hook?t=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\n\r\n";
        assert!(complete(head.as_bytes()).is_none());
        assert!(complete(format!("{head}{{\"a\":").as_bytes()).is_none());
        let r = complete(format!("{head}{{\"a\":1}}").as_bytes()).unwrap();
        assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/hook?t=1"));
        assert_eq!(
            r.head,
            "POST /hook?t=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\n"
        );
        assert_eq!(r.header("content-length"), Some("7"));
        assert_eq!(r.header("HOST"), Some("x"));
        assert_eq!(r.header("missing"), None);
        assert_eq!(r.json()["a"], 1);
        let get = complete(b"GET / HTTP/1.1\r\n\r\n").unwrap();
        assert_eq!((get.path.as_str(), get.body.as_str()), ("/", ""));
    }
}
