//! Where each value of a YAML text is written: a map from the paths the spec's errors use
//! (`traffic.steps[2]`, `apps[0].image`, `services.api.deploy.replicas`) to line, column and
//! byte span, so a rejection can say where to look.
//!
//! This module owns reading YAML *with positions* (saphyr-parser's events, settled against the
//! text) and the limits on it: a text over [`MAX_BYTES`], nesting deeper than [`MAX_DEPTH`] or
//! more than [`MAX_NODES`] nodes (each use of an alias counted again) is refused with a
//! [`YamlError`]; no input makes it panic. Typed deserialisation is not its trade.
//!
//! Paths follow `serde_path_to_error`: keys joined with `.`, sequence items as `[i]`, the root
//! as the empty path. A path reached through an alias (`image: *img`) or a merge key
//! (`<<: *defaults`) points at the anchored node, where the value is written, and its
//! [`Location::via`] says which alias led there. When two paths print the same (a key
//! containing a dot), the first one in the document is kept.
//!
//! ```
//! use canary_core::yaml_index::YamlIndex;
//! use canary_core::Error;
//!
//! let index = YamlIndex::parse("traffic:\n  steps: [20, 10]\n").unwrap();
//! let loc = index.get("traffic.steps[1]").unwrap();
//! assert_eq!((loc.line, loc.column), (2, 15));
//! let err = index.annotate(Error::invalid("traffic.steps[1]", "10 is not above 20"));
//! assert_eq!(err.to_string(), "traffic.steps[1]: 10 is not above 20 (line 2, column 15)");
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;

use crate::error::Error;

mod extent;
#[cfg(test)]
mod tests;
pub(crate) mod tree;
pub(crate) mod value;

use tree::{Kind, NodeId, Tree};

/// The largest text read: 4 MiB.
pub const MAX_BYTES: usize = 4 * 1024 * 1024;
/// The deepest nesting of collections (and of aliases and merges inside each other).
pub const MAX_DEPTH: usize = 64;
/// The most nodes in a text, and the most paths when aliases are expanded.
pub const MAX_NODES: usize = 200_000;

/// Why a YAML text could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum YamlError {
    /// The text is longer than [`MAX_BYTES`].
    #[error("the YAML text is {len} bytes, more than the {max} allowed")]
    TooLarge {
        /// The text's length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Collections (or aliases) nest deeper than [`MAX_DEPTH`].
    #[error("line {line}, column {column}: nesting is deeper than {max} levels")]
    TooDeep {
        /// 1-based line where the limit was passed.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The limit.
        max: usize,
    },
    /// More than [`MAX_NODES`] nodes, counting each use of an alias.
    #[error("the YAML text has more than {max} values (counting each use of an alias)")]
    TooManyNodes {
        /// The limit.
        max: usize,
    },
    /// The text is not YAML this reader accepts (or uses a merge key wrongly, or holds more
    /// than one document).
    #[error("line {line}, column {column}: {message}")]
    Syntax {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
        /// The parser's own error, when it found the fault (this reader's own checks have none).
        source: Option<saphyr_parser::ScanError>,
    },
    /// A mapping has the same key twice.
    #[error("line {line}, column {column}: the key {key:?} appears twice in the same mapping")]
    DuplicateKey {
        /// The key.
        key: String,
        /// 1-based line of the second occurrence.
        line: usize,
        /// 1-based column.
        column: usize,
    },
}

impl From<YamlError> for Error {
    fn from(e: YamlError) -> Self {
        Error::invalid("", e.to_string()).with_source(e)
    }
}

/// How a path reached a node written elsewhere.
///
/// Deliberately exhaustive: YAML reaches a node written elsewhere only by an alias or a merge key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViaKind {
    /// A value that is an alias: `image: *img`.
    Alias,
    /// A key merged in by `<<: *defaults`.
    Merge,
}

/// The alias through which a path reached an anchored node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Via {
    /// Alias or merge key.
    pub kind: ViaKind,
    /// 1-based line of the alias (`*name`).
    pub line: usize,
    /// 1-based column of the alias.
    pub column: usize,
}

/// Where a value is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// 1-based line of the value's first character (after any `&anchor` or `!tag`; the `|` or
    /// `>` of a block scalar; the `-` of a block sequence; the first key of a block mapping).
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// The value's bytes in the text: quotes included, properties excluded; a block scalar from
    /// its header to its last content line.
    pub span: Range<usize>,
    /// Set when the path reached the value through an alias: the value is written at the
    /// anchor, not under the path.
    pub via: Option<Via>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)?;
        match self.via {
            Some(Via {
                kind: ViaKind::Alias,
                line,
                column,
            }) => write!(
                f,
                ", reached through the alias at line {line}, column {column}"
            ),
            Some(Via {
                kind: ViaKind::Merge,
                line,
                column,
            }) => write!(f, ", merged in by `<<` at line {line}, column {column}"),
            None => Ok(()),
        }
    }
}

/// Every path of a YAML document with the place its value is written.
#[derive(Debug, Clone, Default)]
pub struct YamlIndex {
    entries: BTreeMap<String, (Location, NodeId)>,
}

impl YamlIndex {
    /// Reads `text` (one YAML document) and indexes every value in it.
    pub fn parse(text: &str) -> Result<YamlIndex, YamlError> {
        let tree = Tree::parse(text)?;
        Self::of_tree(&tree)
    }

    pub(crate) fn of_tree(tree: &Tree<'_>) -> Result<YamlIndex, YamlError> {
        let mut index = YamlIndex::default();
        index.walk(tree, tree.root, String::new(), None, 0)?;
        Ok(index)
    }

    /// Where the value at `path` is written.
    pub fn get(&self, path: &str) -> Option<&Location> {
        self.entries.get(path).map(|(l, _)| l)
    }

    /// Where `path` is written, or else its nearest enclosing value other than the root (a
    /// field the text leaves to its default is reported at the mapping that would hold it).
    pub fn locate(&self, path: &str) -> Option<&Location> {
        let mut p = path;
        while !p.is_empty() {
            if let Some(l) = self.get(p) {
                return Some(l);
            }
            p = parent_path(p);
        }
        None
    }

    /// Every path and its location, in path order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Location)> {
        self.entries.iter().map(|(p, (l, _))| (p.as_str(), l))
    }

    /// How many paths the document has (the root included).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True for no paths at all (never after a successful parse: the root is always there).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// `err` with ` (line L, column C)` added to its reason when it is an
    /// [`Error::InvalidInput`] whose field [`locate`](Self::locate) finds; any other error
    /// unchanged. The same validation message, with the file's position.
    pub fn annotate(&self, err: Error) -> Error {
        match err {
            // Already placed (by the reader, or an earlier annotate): once is enough.
            Error::InvalidInput {
                field,
                reason,
                source,
            } => match self.locate(&field) {
                Some(loc) if !reason.contains("(line ") => Error::InvalidInput {
                    reason: format!("{reason} ({loc})"),
                    field,
                    source,
                },
                _ => Error::InvalidInput {
                    field,
                    reason,
                    source,
                },
            },
            other => other,
        }
    }

    pub(crate) fn node(&self, path: &str) -> Option<NodeId> {
        self.entries.get(path).map(|(_, n)| *n)
    }

    /// The paths that reach node `id`.
    pub(crate) fn paths_to(&self, id: NodeId) -> impl Iterator<Item = (&str, &Location)> {
        self.entries
            .iter()
            .filter(move |(_, (_, n))| *n == id)
            .map(|(p, (l, _))| (p.as_str(), l))
    }

    fn walk(
        &mut self,
        tree: &Tree<'_>,
        id: NodeId,
        path: String,
        via: Option<Via>,
        depth: usize,
    ) -> Result<(), YamlError> {
        if depth > MAX_DEPTH {
            return Err(tree.too_deep(id));
        }
        if self.entries.len() >= MAX_NODES {
            return Err(YamlError::TooManyNodes { max: MAX_NODES });
        }
        let (id, via) = match tree.node(id).kind {
            Kind::Alias { target } => (
                target,
                via.or_else(|| Some(via_at(tree, id, ViaKind::Alias))),
            ),
            _ => (id, via),
        };
        let node = tree.node(id);
        let (line, column) = tree.line_col(node.start);
        let location = Location {
            line,
            column,
            span: node.start..node.end,
            via,
        };
        if self.entries.contains_key(&path) {
            return Ok(());
        }
        self.entries.insert(path.clone(), (location, id));
        match &node.kind {
            Kind::Seq { items, .. } => {
                for (i, &item) in items.iter().enumerate() {
                    self.walk(tree, item, format!("{path}[{i}]"), via, depth + 1)?;
                }
            }
            Kind::Map { .. } => {
                for e in tree.entries(id)? {
                    let via = via.or_else(|| e.merged_via.map(|a| via_at(tree, a, ViaKind::Merge)));
                    self.walk(tree, e.value, join(&path, &e.key), via, depth + 1)?;
                }
            }
            Kind::Scalar { .. } | Kind::Alias { .. } => {}
        }
        Ok(())
    }
}

fn via_at(tree: &Tree<'_>, alias: NodeId, kind: ViaKind) -> Via {
    let (line, column) = tree.line_col(tree.node(alias).start);
    Via { kind, line, column }
}

/// `parent.key`, or `key` at the root.
pub(crate) fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// The path one level up: `a.b[2]` → `a.b` → `a` → ``.
pub(crate) fn parent_path(path: &str) -> &str {
    if path.ends_with(']') {
        if let Some(i) = path.rfind('[') {
            return &path[..i];
        }
    }
    match path.rfind('.') {
        Some(i) => &path[..i],
        None => "",
    }
}
