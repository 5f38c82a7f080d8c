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
use crate::yaml_index::{ViaKind, YamlIndex};

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
        unified_diff(
            file,
            &self.original,
            &[(self.range.clone(), self.replacement.as_str())],
        )
    }
}

/// Several images changed in one compose file: [`set_images`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct Edits {
    original: String,
    text: String,
    edits: Vec<Edit>,
}

impl Edits {
    /// The compose file with every new image.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Each image's change, in the order asked (each as if it were the only one).
    pub fn edits(&self) -> &[Edit] {
        &self.edits
    }

    /// True when the file already had every image.
    pub fn is_noop(&self) -> bool {
        self.text == self.original
    }

    /// All changes as one unified diff of `file`, hunks in file order (changes closer than
    /// twice the context share a hunk); empty when nothing changed.
    pub fn patch(&self, file: &str) -> String {
        if self.is_noop() {
            return String::new();
        }
        let mut changes: Vec<(Range<usize>, &str)> = self
            .edits
            .iter()
            .filter(|e| !e.is_noop())
            .map(|e| (e.range.clone(), e.replacement.as_str()))
            .collect();
        changes.sort_by_key(|(r, _)| r.start);
        unified_diff(file, &self.original, &changes)
    }
}

/// Sets the image of each `(service, image)` of compose file `text`, changing nothing else:
/// [`set_image`]'s rules for each, and a service named twice is an error. Either every image is
/// set or the text is left alone (the first refusal is the error).
pub fn set_images(text: &str, images: &[(&str, &ImageRef)]) -> Result<Edits> {
    let mut edits: Vec<Edit> = Vec::with_capacity(images.len());
    for (i, (service, image)) in images.iter().enumerate() {
        if images[..i].iter().any(|(s, _)| s == service) {
            return Err(Error::invalid(
                format!("services.{service}.image"),
                "the service is named twice",
            ));
        }
        edits.push(set_image(text, service, image)?);
    }
    let mut changes: Vec<&Edit> = edits.iter().filter(|e| !e.is_noop()).collect();
    changes.sort_by_key(|e| e.range.start);
    let mut updated = String::with_capacity(text.len() + 64 * changes.len());
    let mut at = 0;
    for e in &changes {
        if e.range.start < at {
            return Err(Error::internal(format!(
                "two images share the bytes at line {}",
                e.line
            )));
        }
        updated.push_str(&text[at..e.range.start]);
        updated.push_str(&e.replacement);
        at = e.range.end;
    }
    updated.push_str(&text[at..]);
    // Each image must read back where it was set, with the others' changes in place.
    let tree = Tree::parse(&updated)?;
    let index = YamlIndex::of_tree(&tree)?;
    for (service, image) in images {
        let path = format!("services.{service}.image");
        let got = index.node(&path).and_then(|n| tree.scalar(n));
        if got != Some(image.as_str()) {
            return Err(Error::internal(format!(
                "writing {image} at {path} did not read back (got {got:?})"
            )));
        }
    }
    Ok(Edits {
        original: text.to_string(),
        text: updated,
        edits,
    })
}

/// Lines of `s`, each with its `\n` (the last may have none).
fn split_lines(s: &str) -> Vec<&str> {
    s.split_inclusive('\n').collect()
}

/// The byte after the `\n` ending the line that holds byte `at` (or the text's end).
fn line_end(s: &str, at: usize) -> usize {
    s[at..].find('\n').map_or(s.len(), |i| at + i + 1)
}

/// The byte where the line holding byte `at` starts.
fn line_start(s: &str, at: usize) -> usize {
    s[..at].rfind('\n').map_or(0, |i| i + 1)
}

/// A unified diff of `file` from `old` to `old` with `changes` (sorted, disjoint byte ranges
/// and their replacements), with [`CONTEXT`] lines of context.
fn unified_diff(file: &str, old: &str, changes: &[(Range<usize>, &str)]) -> String {
    // Whole-line regions of the old text, each with its new text; changes on one line merge.
    struct Region {
        first: usize,
        last: usize,
        new: String,
    }
    type Change<'c> = &'c (Range<usize>, &'c str);
    let mut groups: Vec<(usize, usize, Vec<Change<'_>>)> = Vec::new();
    for change in changes {
        let first = line_start(old, change.0.start);
        let last = line_end(old, change.0.end);
        match groups.last_mut() {
            Some(g) if first < g.1 => {
                g.1 = g.1.max(last);
                g.2.push(change);
            }
            _ => groups.push((first, last, vec![change])),
        }
    }
    let regions: Vec<Region> = groups
        .into_iter()
        .map(|(first, last, inside)| {
            let mut new = String::new();
            let mut at = first;
            for (range, replacement) in inside {
                new.push_str(&old[at..range.start]);
                new.push_str(replacement);
                at = range.end;
            }
            new.push_str(&old[at..last]);
            Region { first, last, new }
        })
        .collect();
    let line_of = |byte: usize| old[..byte].matches('\n').count();
    let total = split_lines(old).len();
    let mut out = format!("--- a/{file}\n+++ b/{file}\n");
    let push = |out: &mut String, sign: char, line: &str| {
        out.push(sign);
        out.push_str(line);
        if !line.ends_with('\n') {
            out.push_str("\n\\ No newline at end of file\n");
        }
    };
    let old_lines = split_lines(old);
    // Lines added minus removed by the regions before the current hunk.
    let mut delta: isize = 0;
    let mut i = 0;
    while i < regions.len() {
        // Regions whose context touches go into one hunk.
        let mut j = i;
        while j + 1 < regions.len()
            && line_of(regions[j + 1].first) <= line_of(regions[j].last) + 2 * CONTEXT
        {
            j += 1;
        }
        let start = line_of(regions[i].first).saturating_sub(CONTEXT);
        let end = (line_of(regions[j].last) + CONTEXT).min(total);
        let mut body = String::new();
        let (mut removed, mut added, mut kept) = (0usize, 0usize, 0usize);
        let mut line = start;
        for r in &regions[i..=j] {
            for l in &old_lines[line..line_of(r.first)] {
                push(&mut body, ' ', l);
                kept += 1;
            }
            let gone = split_lines(&old[r.first..r.last]);
            let came = split_lines(&r.new);
            for l in &gone {
                push(&mut body, '-', l);
            }
            for l in &came {
                push(&mut body, '+', l);
            }
            removed += gone.len();
            added += came.len();
            line = line_of(r.first) + gone.len();
        }
        for l in &old_lines[line..end] {
            push(&mut body, ' ', l);
            kept += 1;
        }
        let new_start = (start as isize + delta) as usize;
        out.push_str(&format!(
            "@@ -{},{} +{},{} @@\n",
            start + 1,
            kept + removed,
            new_start + 1,
            kept + added
        ));
        out.push_str(&body);
        delta += added as isize - removed as isize;
        i = j + 1;
    }
    out
}

/// The `image:` of `services.<service>` in compose file `text` (merge keys and aliases
/// followed) with its 1-based line; `None` when the service has no image or it is not a single
/// value. A service the file does not have is [`Error::NotFound`].
pub fn image_of(text: &str, service: &str) -> Result<Option<(String, usize)>> {
    let tree = Tree::parse(text)?;
    let index = YamlIndex::of_tree(&tree)?;
    let svc_path = format!("services.{service}");
    if index.node(&svc_path).is_none() {
        return Err(Error::NotFound {
            kind: "compose service".into(),
            name: service.to_string(),
            detail: Some(format!("the compose file has no {svc_path}")),
            source: None,
        });
    }
    let Some(node) = index.node(&format!("{svc_path}.image")) else {
        return Ok(None);
    };
    Ok(tree.scalar(node).map(|v| {
        let start = tree.node(tree.resolve(node)).start;
        (v.to_string(), tree.line_col(start).0)
    }))
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
            source: None,
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
        return Err(Error::internal(format!(
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
        return Err(Error::internal(format!(
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
        let (line, _) = tree.line_col(node.start);
        // How this service reaches the shared value: its own alias or a `<<` merge.
        let own = index
            .paths_to(target)
            .into_iter()
            .find(|(p, _)| *p == path)
            .and_then(|(_, l)| l.via);
        let what = match (&node.anchor, own) {
            (Some(a), _) => format!("the anchor &{a} at line {line}"),
            (None, Some(v)) if v.kind == ViaKind::Merge => format!(
                "the value at line {line}, merged in by `<<` at line {}",
                v.line
            ),
            (None, Some(v)) => format!(
                "the value at line {line}, reached through the alias at line {}",
                v.line
            ),
            (None, None) => format!("a value at line {line}"),
        };
        let user_line = loc.via.map_or(loc.line, |v| v.line);
        return Err(Error::invalid(
            path,
            format!(
                "the image is {what}, which {other} (line {user_line}) also uses; give the \
                 service its own image: or edit the anchor by hand"
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
