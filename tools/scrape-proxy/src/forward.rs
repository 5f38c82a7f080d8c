//! One scrape: the request head read (bounded in size and time), judged, and the target's
//! answer copied back as it comes.

use std::io::{self, Read, Write};
use std::net::{SocketAddrV4, TcpStream};
use std::time::Duration;

use crate::request::{Policy, MAX_HEAD};

/// Time allowed for each read and write, on both sides, and for the connection to the target.
const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest answer copied back (a text exposition of a few hundred series is tens of KiB).
const MAX_ANSWER: u64 = 16 * 1024 * 1024;

/// Serves one client connection: one request, then close.
pub(crate) fn serve(mut client: TcpStream, policy: &Policy) -> io::Result<()> {
    client.set_read_timeout(Some(IO_TIMEOUT))?;
    client.set_write_timeout(Some(IO_TIMEOUT))?;
    let head = read_head(&mut client)?;
    match policy.judge(&head) {
        Ok(target) => match scrape(target, &policy.path) {
            Ok(mut upstream) => {
                io::copy(&mut (&mut upstream).take(MAX_ANSWER), &mut client)?;
                Ok(())
            }
            Err(e) => answer(&mut client, 502, &format!("{target}: {e}")),
        },
        Err((status, reason)) => {
            eprintln!("canary-scrape-proxy: refused ({status}): {reason}");
            answer(&mut client, status, &reason)
        }
    }
}

/// Reads until the blank line ending the head, at most [`MAX_HEAD`] bytes.
fn read_head(client: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        if head.len() >= MAX_HEAD {
            break; // judged as it is: a request line longer than this is refused anyway
        }
        let n = client.read(&mut buf)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    Ok(head)
}

/// Opens the scrape: HTTP/1.0 with `Connection: close`, so the answer ends when the target
/// closes and is copied back as it is, framing included.
fn scrape(target: SocketAddrV4, path: &str) -> io::Result<TcpStream> {
    let mut s = TcpStream::connect_timeout(&target.into(), IO_TIMEOUT)?;
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    s.set_write_timeout(Some(IO_TIMEOUT))?;
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: {target}\r\nAccept: text/plain\r\nConnection: close\r\n\r\n"
    )?;
    Ok(s)
}

/// A short plain-text answer of the proxy's own.
fn answer(client: &mut TcpStream, status: u16, reason: &str) -> io::Result<()> {
    let text = match status {
        400 => "Bad Request",
        403 => "Forbidden",
        405 => "Method Not Allowed",
        502 => "Bad Gateway",
        _ => "Service Unavailable",
    };
    let body = format!("{reason}\n");
    write!(
        client,
        "HTTP/1.1 {status} {text}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}
