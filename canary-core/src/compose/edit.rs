//! Format-preserving write-back of a promotion: `services.<service>.image` gets the new image and
//! every other byte of the compose file stays as it was (comments, order, anchors, indentation,
//! CRLF, the trailing newline).
//!
//! The rules are on [`set_image`].

use std::ops::Range;

use crate::error::{Error, Result};
use crate::model::ImageRef;
use crate::yaml_index::tree::{Kind, Style, Tree};
use crate::yaml_index::value::plain;
use crate::yaml_index::YamlIndex;

/// Lines of context around a change in [`Edit::patch`].
const CONTEXT: usize = 3;

/// How [`set_image_with`] treats the current value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SetImageOptions {
    /// Replace an image that uses compose variables (they are lost). Default false: refuse.
    pub replace_variables: bool,
}

impl SetImageOptions {
    /// These options, replacing an image that uses compose variables.
    #[must_use]
    pub fn replacing_variables(mut self) -> Self {
        self.replace_variables = true;
        self
    }
}

/// One changed image: the new text and what changed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct Edit {
    original: String,
    text: String,
    /// The bytes of `original` that were replaced.
    range: Range<usize>,
    replacement: String,
    old_image: String,
    new_image: String,
    line: usize,
}

impl Edit {
    /// The compose file with the new image.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The compose file with the new image.
    pub fn into_text(self) -> String {
        self.text
    }

    /// The image the file had.
    pub fn old_image(&self) -> &str {
        &self.old_image
    }

    /// The image it has now.
    pub fn new_image(&self) -> &str {
        &self.new_image
    }

    /// The 1-based line of the changed value (the anchor's line when it came through one).
    pub fn line(&self) -> usize {
        self.line
    }

    /// True when the file already had this image (and the text is unchanged).
    pub fn is_noop(&self) -> bool {
        self.text == self.original
    }

    /// The change as a unified diff of `file` (`--- a/<file>`, `+++ b/<file>`, one hunk with
    /// three lines of context), for `git apply` or `patch -p1`; empty when nothing changed.
    pub fn patch(&self, file: &str) -> String {
        if self.is_noop() {
            return String::new();
        }
        let old = &self.original;
        // The changed lines: from the start of the first touched line to the end of the last.
        let first = old[..self.range.start].rfind('\n').map_or(0, |i| i + 1);
        let last_old = line_end(old, self.range.end);
        let delta = self.replacement.len() as isize - self.range.len() as isize;
        let last_new = (last_old as isize + delta) as usize;
        let before: Vec<&str> = split_lines(&old[..first]);
        let after: Vec<&str> = split_lines(&old[last_old..]);
        let lead = &before[before.len().saturating_sub(CONTEXT)..];
        let trail = &after[..after.len().min(CONTEXT)];
        let removed = split_lines(&old[first..last_old]);
        let added = split_lines(&self.text[first..last_new]);
        let start = before.len() - lead.len() + 1;
        let mut out = format!("--- a/{file}\n+++ b/{file}\n");
        out.push_str(&format!(
            "@@ -{start},{} +{start},{} @@\n",
            lead.len() + removed.len() + trail.len(),
            lead.len() + added.len() + trail.len()
        ));
        let mut push = |sign: char, line: &str| {
            out.push(sign);
            out.push_str(line);
            if !line.ends_with('\n') {
                out.push_str("\n\\ No newline at end of file\n");
            }
        };
        for l in lead {
            push(' ', l);
        }
        for l in &removed {
            push('-', l);
        }
        for l in &added {
            push('+', l);
        }
        for l in trail {
            push(' ', l);
        }
        out
    }
}

/// Lines of `s`, each with its `\n` (the last may have none).
fn split_lines(s: &str) -> Vec<&str> {
    s.split_inclusive('\n').collect()
}

/// The byte after the `\n` ending the line that holds byte `at` (or the text's end).
fn line_end(s: &str, at: usize) -> usize {
    s[at..].find('\n').map_or(s.len(), |i| at + i + 1)
}

/// Sets `services.<service>.image` of compose file `text` to `image`, changing nothing else.
///
/// Rules:
/// - The scalar keeps its style: plain stays plain when the new value is safe unquoted (and
///   cannot be read as a number, a boolean (YAML 1.1's `yes`/`on` included) or null, nor holds
///   a `:` inside a flow mapping), else it is double-quoted; quoted stays quoted the same way;
///   a block scalar (`|`, `>`) becomes a one-line scalar.
/// - An image written through an anchor (`image: *img`, or a `<<: *defaults` merge) is edited
///   at the anchor only when nothing else uses that value: no other service, no other key. The
///   anchor may sit under a top-level `x-` key. Otherwise the edit is refused, naming the other
///   user and its line.
/// - An image with compose variables (`"${REGISTRY}/api:${TAG:-v1}"`) is refused unless
///   [`SetImageOptions::replace_variables`] is set: replacing it would silently stop the file
///   from following those variables, and a pinned digest cannot be split back into them.
/// - After the change the text is read again and must give the new image at the path.
///
/// A service the file does not have is [`Error::NotFound`]; one without an `image:` key (or
/// with a list there), a shared anchor and variables are [`Error::InvalidInput`] at
/// `services.<service>.image`, with the line.
pub fn set_image(text: &str, service: &str, image: &ImageRef) -> Result<Edit> {
    set_image_with(text, service, image, &SetImageOptions::default())
}

/// [`set_image`] with options.
pub fn set_image_with(
    text: &str,
    service: &str,
    image: &ImageRef,
    options: &SetImageOptions,
) -> Result<Edit> {
    let tree = Tree::parse(text)?;
    let index = YamlIndex::of_tree(&tree)?;
    let svc_path = format!("services.{service}");
    let path = format!("{svc_path}.image");
    let service_node = index
        .node(&svc_path)
        .filter(|_| matches!(index.node("services"), Some(s) if is_map(&tree, s)))
        .ok_or_else(|| Error::NotFound {
            kind: "compose service".into(),
            name: service.to_string(),
            detail: Some(format!("the compose file has no {svc_path}")),
        })?;
    if !is_map(&tree, service_node) {
        return Err(index.annotate(Error::invalid(svc_path, "a service must be a mapping")));
    }
    let Some(target) = index.node(&path) else {
        return Err(index.annotate(Error::invalid(
            path,
            "the service has no image: key to update; add one",
        )));
    };
    let node = tree.node(target);
    let Kind::Scalar {
        value: old, style, ..
    } = &node.kind
    else {
        return Err(index.annotate(Error::invalid(path, "the image must be a single value")));
    };
    check_shared(&tree, &index, target, &path)?;
    if old.contains('$') && !options.replace_variables {
        return Err(index.annotate(Error::invalid(
            path,
            format!(
                "{old:?} uses compose variables; replacing it would stop the file from following \
                 them, so set the variables where the stack is deployed, or ask to replace them"
            ),
        )));
    }
    let new = image.as_str();
    let replacement = render(new, *style, node.in_flow);
    let range = node.start..node.end;
    let (Some(head), Some(tail)) = (text.get(..range.start), text.get(range.end..)) else {
        return Err(Error::Internal(format!(
            "the image at {path} is not on character boundaries"
        )));
    };
    let updated = if old == new {
        text.to_string()
    } else {
        format!("{head}{replacement}{tail}")
    };
    // The written text must read back with the new image where the old one was.
    let check = Tree::parse(&updated)
        .ok()
        .and_then(|t| YamlIndex::of_tree(&t).ok().map(|i| (t, i)))
        .and_then(|(t, i)| i.node(&path).and_then(|n| t.scalar(n).map(str::to_string)));
    if check.as_deref() != Some(new) {
        return Err(Error::Internal(format!(
            "writing {new:?} at {path} did not read back (got {check:?})"
        )));
    }
    Ok(Edit {
        original: text.to_string(),
        line: tree.line_col(node.start).0,
        old_image: old.clone(),
        new_image: new.to_string(),
        range,
        replacement,
        text: updated,
    })
}

fn is_map(tree: &Tree<'_>, id: usize) -> bool {
    matches!(tree.node(tree.resolve(id)).kind, Kind::Map { .. })
}

/// Refuses an image value that something other than `path` also uses (through its anchor).
fn check_shared(tree: &Tree<'_>, index: &YamlIndex, target: usize, path: &str) -> Result<()> {
    for (other, loc) in index.paths_to(target) {
        if other == path {
            continue;
        }
        // The anchor's own place is fine when it only holds values for others to use.
        let holder =
            loc.via.is_none() && other.split('.').next().is_some_and(|k| k.starts_with("x-"));
        if holder {
            continue;
        }
        let node = tree.node(target);
        let anchor = node
            .anchor
            .as_ref()
            .map(|a| format!("the anchor &{a}"))
            .unwrap_or_else(|| "a value".into());
        let (line, _) = tree.line_col(node.start);
        let user_line = loc.via.map_or(loc.line, |v| v.line);
        return Err(Error::invalid(
            path,
            format!(
                "the image is {anchor} at line {line}, which {other} (line {user_line}) also \
                 uses; give the service its own image: or edit the anchor by hand"
            ),
        ));
    }
    Ok(())
}

/// `value` written as a scalar of `style`'s kind.
fn render(value: &str, style: Style, in_flow: bool) -> String {
    match style {
        Style::SingleQuoted if value.chars().all(|c| !c.is_control()) => {
            format!("'{}'", value.replace('\'', "''"))
        }
        Style::Plain | Style::Literal | Style::Folded if plain_is_safe(value, in_flow) => {
            value.to_string()
        }
        _ => double_quoted(value),
    }
}

fn double_quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Whether `value` reads back as the same string unquoted, under YAML 1.2 and 1.1 readers
/// alike (Docker's compose loader is the latter).
fn plain_is_safe(value: &str, in_flow: bool) -> bool {
    const YAML11_WORDS: &[&str] = &["y", "n", "yes", "no", "on", "off", "true", "false", "null"];
    let mut chars = value.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._/:@+-".contains(c))
        && value.chars().any(|c| c.is_ascii_alphabetic())
        && !YAML11_WORDS.iter().any(|w| w.eq_ignore_ascii_case(value))
        && matches!(plain(value), serde_json::Value::String(_))
        && !(in_flow && value.contains(':'))
}
