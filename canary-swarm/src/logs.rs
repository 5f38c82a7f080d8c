//! Service log frames as [`LogLine`]s.
//!
//! Docker sends one frame per write of the container, with the timestamp first when asked for
//! (`2026-11-27T10:09:37.921096879Z listening on 0.0.0.0:8080`). A frame can hold several lines
//! and the last one ends with a newline; each line becomes one [`LogLine`]. The service logs
//! endpoint names no task unless asked for "details", which bollard's options cannot ask, so
//! [`LogLine::task`] stays `None`.

use bollard::container::LogOutput;
use canary_core::traits::LogLine;
use canary_core::Result;

/// True when `s` looks like an RFC 3339 timestamp Docker puts in front of a line.
fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && (s.ends_with('Z') || s.contains('+'))
}

/// The lines of one frame.
pub(crate) fn lines(service: &str, out: &LogOutput) -> Vec<Result<LogLine>> {
    let stream = match out {
        LogOutput::StdErr { .. } => "stderr",
        _ => "stdout",
    };
    let text = String::from_utf8_lossy(out.as_ref());
    text.split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (timestamp, line) = match l.split_once(' ') {
                Some((ts, rest)) if is_timestamp(ts) => (Some(ts.to_string()), rest.to_string()),
                _ if is_timestamp(l) => (Some(l.to_string()), String::new()),
                _ => (None, l.to_string()),
            };
            Ok(LogLine {
                service: service.to_string(),
                task: None,
                timestamp,
                stream: stream.into(),
                line,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn frames_split_into_timestamped_lines() {
        let out = LogOutput::StdErr {
            message: Bytes::from_static(
                b"2026-11-27T10:09:37.921096879Z invalid LATENCY_MS=\"abc\"\n2026-11-27T10:09:37.9Z second\r\n",
            ),
        };
        let got: Vec<LogLine> = lines("api", &out).into_iter().map(|l| l.unwrap()).collect();
        assert_eq!(got.len(), 2);
        assert_eq!(
            got[0].timestamp.as_deref(),
            Some("2026-11-27T10:09:37.921096879Z")
        );
        assert_eq!(got[0].line, "invalid LATENCY_MS=\"abc\"");
        assert_eq!(got[0].stream, "stderr");
        assert_eq!(got[1].line, "second");
        let plain = LogOutput::StdOut {
            message: Bytes::from_static(b"no timestamp here\n"),
        };
        let l = lines("api", &plain).pop().unwrap().unwrap();
        assert_eq!(
            (l.timestamp, l.line.as_str(), l.stream.as_str()),
            (None, "no timestamp here", "stdout")
        );
    }
}
