//! What the server sends back to one request.

use std::time::Duration;

/// An answer: a status with headers and a body (sent with `content-length` and
/// `connection: close`), or raw bytes sent as they are; either after an optional delay.
#[derive(Debug, Clone)]
#[must_use]
pub struct Answer {
    reply: Reply,
    delay: Duration,
}

#[derive(Debug, Clone)]
enum Reply {
    Http {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    Raw(Vec<u8>),
}

impl Answer {
    /// `status` with an empty body.
    pub fn status(status: u16) -> Answer {
        Answer {
            reply: Reply::Http {
                status,
                headers: Vec::new(),
                body: Vec::new(),
            },
            delay: Duration::ZERO,
        }
    }

    /// 200 with `body` as `application/json`.
    pub fn json(body: &str) -> Answer {
        Answer::status(200)
            .header("content-type", "application/json")
            .body(body)
    }

    /// `bytes` as they are, for answers no well-behaved server sends (garbage, a wrong length,
    /// no length at all).
    pub fn raw(bytes: impl Into<Vec<u8>>) -> Answer {
        Answer {
            reply: Reply::Raw(bytes.into()),
            delay: Duration::ZERO,
        }
    }

    /// Adds a header line (before `content-length` and `connection`, which are always sent).
    ///
    /// # Panics
    ///
    /// On a raw answer: its bytes are sent as given.
    pub fn header(mut self, name: &str, value: &str) -> Answer {
        match &mut self.reply {
            Reply::Http { headers, .. } => headers.push((name.to_string(), value.to_string())),
            Reply::Raw(_) => panic!("a raw answer has no headers to add"),
        }
        self
    }

    /// Sets the body.
    ///
    /// # Panics
    ///
    /// On a raw answer: its bytes are sent as given.
    pub fn body(mut self, bytes: impl Into<Vec<u8>>) -> Answer {
        match &mut self.reply {
            Reply::Http { body, .. } => *body = bytes.into(),
            Reply::Raw(_) => panic!("a raw answer has no body to set"),
        }
        self
    }

    /// Waits `delay` after the request has arrived before answering (a slow server).
    pub fn delay(mut self, delay: Duration) -> Answer {
        self.delay = delay;
        self
    }

    pub(crate) fn wait(&self) -> Duration {
        self.delay
    }

    /// The bytes on the wire.
    pub(crate) fn bytes(&self) -> Vec<u8> {
        match &self.reply {
            Reply::Raw(bytes) => bytes.clone(),
            Reply::Http {
                status,
                headers,
                body,
            } => {
                let mut out = format!("HTTP/1.1 {status} {}\r\n", reason(*status));
                for (name, value) in headers {
                    out.push_str(&format!("{name}: {value}\r\n"));
                }
                out.push_str(&format!(
                    "content-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                ));
                let mut out = out.into_bytes();
                out.extend_from_slice(body);
                out
            }
        }
    }
}

/// A reason phrase; clients read only the code, so any phrase will do for the rest.
fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        302 => "Found",
        404 => "Not Found",
        500 => "Internal Server Error",
        _ => "Status",
    }
}

#[cfg(test)]
mod tests {
    use super::Answer;

    #[test]
    fn an_answer_says_its_length_and_closes() {
        let bytes = Answer::status(302)
            .header("location", "http://127.0.0.1:1/x")
            .bytes();
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            "HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:1/x\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        );
        let json = String::from_utf8(Answer::json("{}").bytes()).unwrap();
        assert!(json.starts_with(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n"
        ));
        assert!(json.ends_with("\r\n\r\n{}"));
        assert_eq!(Answer::raw(&b"\x00garbage"[..]).bytes(), b"\x00garbage");
    }
}
