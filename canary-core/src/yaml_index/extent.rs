//! Where a node's text starts and ends in the source.
//!
//! saphyr-parser's spans are close but not exact for editing: a quoted scalar's span runs on
//! over trailing spaces and a comment, a block scalar's starts at its content rather than at
//! `|`, an anchored node's starts at `&`. These functions settle each extent against the text.
//! All offsets are bytes; every function clamps to the text, so no input makes one panic.

use super::tree::Style;

/// Where a scalar's text starts and ends, settled against the source.
pub(super) fn scalar_extent(
    text: &str,
    style: Style,
    has_props: bool,
    from: usize,
    to: usize,
    prev_end: usize,
) -> (usize, usize) {
    let start = if has_props {
        skip_props(text, from)
    } else {
        from
    };
    let bytes = text.as_bytes();
    let fallback = (start.min(to), trim_end(text, start.min(to), to));
    match style {
        Style::Plain => fallback,
        Style::SingleQuoted | Style::DoubleQuoted => {
            let quote = if style == Style::SingleQuoted {
                b'\''
            } else {
                b'"'
            };
            if bytes.get(start) != Some(&quote) {
                return fallback;
            }
            match closing_quote(bytes, start, quote) {
                Some(end) => (start, end),
                None => fallback,
            }
        }
        Style::Literal | Style::Folded => {
            let Some(header) = find_block_header(text, prev_end.min(from), to.max(from)) else {
                return fallback;
            };
            let mut header_end = header + 1;
            while header_end < header + 3
                && matches!(bytes.get(header_end), Some(b'0'..=b'9' | b'+' | b'-'))
            {
                header_end += 1;
            }
            // The content starts on the line after the header; none may follow at all.
            let body = bytes[header_end..]
                .iter()
                .position(|&b| b == b'\n' || b == b'\r')
                .map(|i| header_end + i + 1)
                .unwrap_or(text.len());
            let end = trim_end(text, body.min(to.max(body)), to.max(body));
            let end = if end <= body { header_end } else { end };
            (header, end)
        }
    }
}

/// Byte just past the closing quote of the quoted scalar opening at `start`.
fn closing_quote(bytes: &[u8], start: usize, quote: u8) -> Option<usize> {
    let mut i = start + 1;
    while i < bytes.len() {
        let b = bytes[i];
        if quote == b'"' && b == b'\\' {
            i += 2;
            continue;
        }
        if b == quote {
            if quote == b'\'' && bytes.get(i + 1) == Some(&b'\'') {
                i += 2;
                continue;
            }
            return Some(i + 1);
        }
        i += 1;
    }
    None
}

/// The `|` or `>` of a block scalar, looked for in the gap after the previous token: only
/// indicators, properties, spaces and comments may stand between them.
fn find_block_header(text: &str, from: usize, limit: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut p = from;
    while p < limit.min(bytes.len()) {
        match bytes[p] {
            b' ' | b'\t' | b'\r' | b'\n' | b':' | b'-' | b'?' | b',' => p += 1,
            b'#' => p = line_end(bytes, p),
            b'&' | b'!' => p = token_end(bytes, p),
            b'|' | b'>' => return Some(p),
            0xEF if text.get(p..p + 3) == Some("\u{feff}") => p += 3,
            _ => return None,
        }
    }
    None
}

fn line_end(bytes: &[u8], mut p: usize) -> usize {
    while p < bytes.len() && bytes[p] != b'\n' && bytes[p] != b'\r' {
        p += 1;
    }
    p
}

fn token_end(bytes: &[u8], mut p: usize) -> usize {
    if bytes.get(p..p + 2) == Some(b"!<") {
        while p < bytes.len() && bytes[p] != b'>' {
            p += 1;
        }
        return (p + 1).min(bytes.len());
    }
    while p < bytes.len()
        && !matches!(
            bytes[p],
            b' ' | b'\t' | b'\r' | b'\n' | b',' | b'[' | b']' | b'{' | b'}'
        )
    {
        p += 1;
    }
    p
}

/// Skips a node's anchor and tag (and the spaces and comments around them).
pub(super) fn skip_props(text: &str, from: usize) -> usize {
    let bytes = text.as_bytes();
    let mut p = from;
    for _ in 0..2 {
        p = skip_blank(bytes, p);
        if matches!(bytes.get(p), Some(b'&' | b'!')) {
            p = token_end(bytes, p);
        } else {
            break;
        }
    }
    skip_blank(bytes, p)
}

fn skip_blank(bytes: &[u8], mut p: usize) -> usize {
    while p < bytes.len() {
        match bytes[p] {
            b' ' | b'\t' | b'\r' | b'\n' => p += 1,
            b'#' => p = line_end(bytes, p),
            _ => break,
        }
    }
    p
}

/// A block sequence's first item event starts after `- `; the sequence starts at the dash.
pub(super) fn dash_before(text: &str, start: usize) -> usize {
    let bytes = text.as_bytes();
    let mut p = start.min(bytes.len());
    while p > 0 && matches!(bytes[p - 1], b' ' | b'\t') {
        p -= 1;
    }
    if p > 0 && bytes[p - 1] == b'-' {
        p - 1
    } else {
        start
    }
}

pub(super) fn trim_end(text: &str, start: usize, end: usize) -> usize {
    let bytes = text.as_bytes();
    let mut e = end.min(bytes.len());
    while e > start && matches!(bytes[e - 1], b' ' | b'\t' | b'\r' | b'\n') {
        e -= 1;
    }
    e.max(start.min(bytes.len()))
}

/// saphyr-parser counts characters; the tree counts bytes.
pub(super) struct CharMap {
    ascii: bool,
    /// Byte offset of every `STEP`th character.
    marks: Vec<usize>,
}

impl CharMap {
    const STEP: usize = 64;

    pub(super) fn new(text: &str) -> Self {
        if text.is_ascii() {
            return CharMap {
                ascii: true,
                marks: Vec::new(),
            };
        }
        let marks = text
            .char_indices()
            .step_by(Self::STEP)
            .map(|(i, _)| i)
            .collect();
        CharMap {
            ascii: false,
            marks,
        }
    }

    pub(super) fn byte(&self, text: &str, char_index: usize) -> usize {
        if self.ascii {
            return char_index.min(text.len());
        }
        let Some(&base) = self.marks.get(char_index / Self::STEP) else {
            return text.len();
        };
        text[base..]
            .char_indices()
            .nth(char_index % Self::STEP)
            .map(|(i, _)| base + i)
            .unwrap_or(text.len())
    }
}
