//! The node tree behind the index, the compose reader and the compose editor: saphyr-parser's
//! events folded into nodes that know their exact byte extent in the source (settled in
//! [`super::extent`]), with merge keys applied on request. Offsets are bytes into the text; lines
//! and columns are 1-based, columns counted in characters.

use std::borrow::Cow;
use std::panic::{catch_unwind, AssertUnwindSafe};

use saphyr_parser::{Event, Parser, ScalarStyle, Span, Tag};

use super::extent::{dash_before, scalar_extent, skip_props, trim_end, CharMap};
use super::{YamlError, MAX_BYTES, MAX_DEPTH, MAX_NODES};

/// Index of a node in [`Tree::nodes`].
pub(crate) type NodeId = usize;

/// How a scalar is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
    Folded,
}

/// What a node is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    Scalar {
        value: String,
        style: Style,
        tag: Option<String>,
    },
    Seq {
        items: Vec<NodeId>,
        tag: Option<String>,
    },
    Map {
        entries: Vec<(NodeId, NodeId)>,
        tag: Option<String>,
    },
    /// `*name`: the node stands for `target`, an anchored node written before it.
    Alias { target: NodeId },
}

/// A node and where it is written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub(crate) kind: Kind,
    /// Byte where the node's properties (`&anchor`, `!tag`) start; `start` when it has none.
    pub(crate) props: usize,
    /// Byte where the node's own text starts: a quote, `|`, `[`, `-` or the first key.
    pub(crate) start: usize,
    /// Byte just past the node's text (the closing quote, the last content line of a block).
    pub(crate) end: usize,
    /// The node's anchor name, without `&`.
    pub(crate) anchor: Option<String>,
    /// Written inside a flow collection (`[...]`, `{...}`), where `,[]{}` end a plain scalar.
    pub(crate) in_flow: bool,
}

/// A parsed YAML document.
#[derive(Debug, Clone)]
pub(crate) struct Tree<'t> {
    pub(crate) text: &'t str,
    pub(crate) nodes: Vec<Node>,
    pub(crate) root: NodeId,
    line_starts: Vec<usize>,
}

/// One collection being read, with the children seen so far.
enum Open {
    Seq(NodeId, Vec<NodeId>),
    Map(NodeId, Vec<(NodeId, NodeId)>, Option<NodeId>),
}

impl Open {
    fn id(&self) -> NodeId {
        match self {
            Open::Seq(id, _) | Open::Map(id, _, _) => *id,
        }
    }
}

impl<'t> Tree<'t> {
    /// Parses the single document of `text`.
    pub(crate) fn parse(text: &'t str) -> Result<Tree<'t>, YamlError> {
        if text.len() > MAX_BYTES {
            return Err(YamlError::TooLarge {
                len: text.len(),
                max: MAX_BYTES,
            });
        }
        let mut b = Builder::new(text);
        // saphyr-parser is fuzzed and meant not to panic; should it ever, the caller still gets an
        // error for that input instead of losing the process.
        let run = catch_unwind(AssertUnwindSafe(|| b.run()));
        match run {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(_) => {
                return Err(YamlError::Syntax {
                    line: 1,
                    column: 1,
                    message: "the YAML parser failed on this text".into(),
                    source: None,
                })
            }
        }
        let root = match b.root {
            Some(r) => r,
            None => b.push(
                Kind::Scalar {
                    value: String::new(),
                    style: Style::Plain,
                    tag: None,
                },
                0,
                0,
                0,
                None,
                false,
            )?,
        };
        Ok(Tree {
            text,
            nodes: b.nodes,
            root,
            line_starts: b.line_starts,
        })
    }

    pub(crate) fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id]
    }

    /// Follows aliases to the node they stand for.
    pub(crate) fn resolve(&self, mut id: NodeId) -> NodeId {
        // Aliases point backwards and never at an alias, so one step is enough; the loop bound
        // only guards against a tree built wrong.
        for _ in 0..2 {
            match self.nodes[id].kind {
                Kind::Alias { target } => id = target,
                _ => return id,
            }
        }
        id
    }

    /// The scalar text of a node (through an alias), if it is a scalar.
    pub(crate) fn scalar(&self, id: NodeId) -> Option<&str> {
        match &self.nodes[self.resolve(id)].kind {
            Kind::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    /// 1-based line and column (in characters) of byte `at`.
    pub(crate) fn line_col(&self, at: usize) -> (usize, usize) {
        line_col(self.text, &self.line_starts, at)
    }
}

fn line_col(text: &str, line_starts: &[usize], at: usize) -> (usize, usize) {
    let at = at.min(text.len());
    let line = line_starts.partition_point(|&s| s <= at).max(1);
    let start = line_starts.get(line - 1).copied().unwrap_or(0);
    let col = text
        .get(start..at)
        .map(|s| s.chars().filter(|&c| c != '\u{feff}').count())
        .unwrap_or(0);
    (line, col + 1)
}

/// Folds events into nodes.
struct Builder<'t> {
    text: &'t str,
    chars: CharMap,
    line_starts: Vec<usize>,
    nodes: Vec<Node>,
    stack: Vec<Open>,
    /// anchor id (saphyr's) → node
    anchors: std::collections::HashMap<usize, NodeId>,
    root: Option<NodeId>,
    /// End of the last token read: where the gap before the next node starts.
    prev_end: usize,
    docs: usize,
}

impl<'t> Builder<'t> {
    fn new(text: &'t str) -> Self {
        let mut line_starts = vec![0];
        let bytes = text.as_bytes();
        for (i, &b) in bytes.iter().enumerate() {
            if b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n')) {
                line_starts.push(i + 1);
            }
        }
        Builder {
            text,
            chars: CharMap::new(text),
            line_starts,
            nodes: Vec::new(),
            stack: Vec::new(),
            anchors: std::collections::HashMap::new(),
            root: None,
            prev_end: 0,
            docs: 0,
        }
    }

    fn err_at(&self, at: usize, message: impl Into<String>) -> YamlError {
        let (line, column) = line_col(self.text, &self.line_starts, at);
        YamlError::Syntax {
            line,
            column,
            message: message.into(),
            source: None,
        }
    }

    fn run(&mut self) -> Result<(), YamlError> {
        let mut parser = Parser::new_from_str(self.text);
        while let Some(next) = parser.next_event() {
            let (event, span) = next.map_err(|e| {
                let m = e.marker();
                YamlError::Syntax {
                    line: m.line(),
                    column: m.col() + 1,
                    message: e.info().to_string(),
                    source: Some(e),
                }
            })?;
            self.event(event, span)?;
        }
        Ok(())
    }

    fn event(&mut self, event: Event<'_>, span: Span) -> Result<(), YamlError> {
        let from = self.chars.byte(self.text, span.start.index());
        let to = self.chars.byte(self.text, span.end.index()).max(from);
        match event {
            Event::DocumentStart(_) => {
                self.docs += 1;
                if self.docs > 1 {
                    return Err(self.err_at(from, "only one YAML document is allowed here"));
                }
            }
            Event::Scalar(value, style, anchor, tag) => {
                let style = match style {
                    ScalarStyle::Plain => Style::Plain,
                    ScalarStyle::SingleQuoted => Style::SingleQuoted,
                    ScalarStyle::DoubleQuoted => Style::DoubleQuoted,
                    ScalarStyle::Literal => Style::Literal,
                    ScalarStyle::Folded => Style::Folded,
                };
                let has_props = anchor != 0 || tag.is_some();
                let (start, end) =
                    scalar_extent(self.text, style, has_props, from, to, self.prev_end);
                let props = if has_props { from.min(start) } else { start };
                let name = self.anchor_name(anchor, props, start);
                let id = self.push(
                    Kind::Scalar {
                        value: value.into_owned(),
                        style,
                        tag: tag_text(tag),
                    },
                    props,
                    start,
                    end,
                    name,
                    self.in_flow(),
                )?;
                self.register(anchor, id);
                self.prev_end = end;
                self.attach(id)?;
            }
            Event::Alias(anchor) => {
                let Some(&target) = self.anchors.get(&anchor) else {
                    return Err(self.err_at(from, "an alias refers to an unknown anchor"));
                };
                if self.stack.iter().any(|o| o.id() == target) {
                    return Err(self.err_at(from, "an alias refers to a node that contains it"));
                }
                let end = trim_end(self.text, from, to);
                let id = self.push(
                    Kind::Alias { target },
                    from,
                    from,
                    end,
                    None,
                    self.in_flow(),
                )?;
                self.prev_end = end;
                self.attach(id)?;
            }
            Event::SequenceStart(anchor, tag) => self.open(true, anchor, tag, from)?,
            Event::MappingStart(anchor, tag) => self.open(false, anchor, tag, from)?,
            Event::SequenceEnd | Event::MappingEnd => self.close(to)?,
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => {}
        }
        Ok(())
    }
}

impl Builder<'_> {
    fn open(
        &mut self,
        seq: bool,
        anchor: usize,
        tag: Option<Cow<'_, Tag>>,
        from: usize,
    ) -> Result<(), YamlError> {
        let has_props = anchor != 0 || tag.is_some();
        let mut start = if has_props {
            skip_props(self.text, from)
        } else {
            from
        };
        let flow = matches!(self.text.as_bytes().get(start), Some(b'[' | b'{'));
        if seq && !flow {
            start = dash_before(self.text, start);
        }
        let props = from.min(start);
        let name = self.anchor_name(anchor, props, start);
        let tag = tag_text(tag);
        let kind = if seq {
            Kind::Seq {
                items: Vec::new(),
                tag,
            }
        } else {
            Kind::Map {
                entries: Vec::new(),
                tag,
            }
        };
        let in_flow = self.in_flow();
        let id = self.push(kind, props, start, start, name, in_flow)?;
        self.register(anchor, id);
        if self.stack.len() >= MAX_DEPTH {
            let (line, column) = line_col(self.text, &self.line_starts, start);
            return Err(YamlError::TooDeep {
                line,
                column,
                max: MAX_DEPTH,
            });
        }
        self.stack.push(if seq {
            Open::Seq(id, Vec::new())
        } else {
            Open::Map(id, Vec::new(), None)
        });
        self.prev_end = if flow { start + 1 } else { start };
        Ok(())
    }

    fn close(&mut self, to: usize) -> Result<(), YamlError> {
        let Some(open) = self.stack.pop() else {
            return Err(self.err_at(to, "a collection ends that never started"));
        };
        let id = open.id();
        let start = self.nodes[id].start;
        let flow = matches!(self.text.as_bytes().get(start), Some(b'[' | b'{'));
        // A block collection ends with its last child; its end event sits at the next token,
        // past any comments in between.
        let end = if flow { to } else { self.prev_end.max(start) };
        match open {
            Open::Seq(_, items) => {
                if let Kind::Seq { items: slot, .. } = &mut self.nodes[id].kind {
                    *slot = items;
                }
            }
            Open::Map(_, entries, pending) => {
                if pending.is_some() {
                    return Err(self.err_at(end, "a mapping key has no value"));
                }
                self.check_duplicates(&entries)?;
                if let Kind::Map { entries: slot, .. } = &mut self.nodes[id].kind {
                    *slot = entries;
                }
            }
        }
        self.nodes[id].end = end;
        self.prev_end = end;
        self.attach(id)
    }

    // YAML forbids duplicate keys and so does Docker; refusing them here means every later
    // lookup has one answer.
    fn check_duplicates(&self, entries: &[(NodeId, NodeId)]) -> Result<(), YamlError> {
        let mut seen = std::collections::HashSet::new();
        for &(k, _) in entries {
            let key = match self.nodes.get(k).map(|n| &n.kind) {
                Some(Kind::Scalar { value, .. }) => value.as_str(),
                Some(Kind::Alias { target }) => match self.nodes.get(*target).map(|n| &n.kind) {
                    Some(Kind::Scalar { value, .. }) => value.as_str(),
                    _ => continue,
                },
                _ => continue,
            };
            if !seen.insert(key) {
                let (line, column) = line_col(self.text, &self.line_starts, self.nodes[k].start);
                return Err(YamlError::DuplicateKey {
                    key: key.to_string(),
                    line,
                    column,
                });
            }
        }
        Ok(())
    }

    fn push(
        &mut self,
        kind: Kind,
        props: usize,
        start: usize,
        end: usize,
        anchor: Option<String>,
        in_flow: bool,
    ) -> Result<NodeId, YamlError> {
        if self.nodes.len() >= MAX_NODES {
            return Err(YamlError::TooManyNodes { max: MAX_NODES });
        }
        self.nodes.push(Node {
            kind,
            props,
            start,
            end,
            anchor,
            in_flow,
        });
        Ok(self.nodes.len() - 1)
    }

    fn register(&mut self, anchor: usize, id: NodeId) {
        if anchor != 0 {
            self.anchors.insert(anchor, id);
        }
    }

    fn anchor_name(&self, anchor: usize, props: usize, start: usize) -> Option<String> {
        if anchor == 0 {
            return None;
        }
        let head = self.text.get(props..start)?;
        let at = head.find('&')?;
        let name: String = head[at + 1..]
            .chars()
            .take_while(|c| !c.is_whitespace() && !",[]{}".contains(*c))
            .collect();
        Some(name)
    }

    fn in_flow(&self) -> bool {
        self.stack.last().is_some_and(|o| {
            matches!(
                self.text.as_bytes().get(self.nodes[o.id()].start),
                Some(b'[' | b'{')
            )
        })
    }

    fn attach(&mut self, id: NodeId) -> Result<(), YamlError> {
        match self.stack.last_mut() {
            None => {
                if self.root.is_some() {
                    return Err(self.err_at(self.nodes[id].start, "a second root node"));
                }
                self.root = Some(id);
            }
            Some(Open::Seq(_, items)) => items.push(id),
            Some(Open::Map(_, entries, pending)) => match pending.take() {
                None => *pending = Some(id),
                Some(key) => entries.push((key, id)),
            },
        }
        Ok(())
    }
}

fn tag_text(tag: Option<Cow<'_, Tag>>) -> Option<String> {
    let tag = tag?;
    Some(match tag.handle.as_str() {
        "tag:yaml.org,2002:" => format!("!!{}", tag.suffix),
        "!" => format!("!{}", tag.suffix),
        h => format!("{h}{}", tag.suffix),
    })
}

/// One key of a mapping as YAML's merge key (`<<`) makes it: the mapping's own keys first, then
/// those merged in that it does not have.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub(crate) key: String,
    pub(crate) key_node: NodeId,
    pub(crate) value: NodeId,
    /// The alias (`<<: *defaults`) the entry was merged in through, if any.
    pub(crate) merged_via: Option<NodeId>,
}

impl Tree<'_> {
    /// The keys of mapping `map` (through an alias) with merge keys applied. Empty for a node
    /// that is not a mapping.
    pub(crate) fn entries(&self, map: NodeId) -> Result<Vec<Entry>, YamlError> {
        self.entries_at(map, 0)
    }

    fn entries_at(&self, map: NodeId, depth: usize) -> Result<Vec<Entry>, YamlError> {
        let map = self.resolve(map);
        if depth > MAX_DEPTH {
            return Err(self.too_deep(map));
        }
        let Kind::Map { entries, .. } = &self.nodes[map].kind else {
            return Ok(Vec::new());
        };
        let mut out = Vec::with_capacity(entries.len());
        let mut seen = std::collections::HashSet::new();
        let mut merges = Vec::new();
        for &(k, v) in entries {
            let key_node = self.resolve(k);
            let Kind::Scalar { value, style, tag } = &self.nodes[key_node].kind else {
                return Err(self.syntax_at(k, "a mapping key must be a scalar here"));
            };
            let merge_tag = tag.as_deref().is_none_or(|t| t == "!!merge");
            if value == "<<" && *style == Style::Plain && merge_tag {
                merges.push(v);
                continue;
            }
            seen.insert(value.clone());
            out.push(Entry {
                key: value.clone(),
                key_node: k,
                value: v,
                merged_via: None,
            });
        }
        for m in merges {
            let site = matches!(self.nodes[m].kind, Kind::Alias { .. }).then_some(m);
            let sources: Vec<(NodeId, Option<NodeId>)> = match &self.nodes[self.resolve(m)].kind {
                Kind::Map { .. } => vec![(m, site)],
                Kind::Seq { items, .. } => items
                    .iter()
                    .map(|&i| {
                        let s = matches!(self.nodes[i].kind, Kind::Alias { .. }).then_some(i);
                        (i, s.or(site))
                    })
                    .collect(),
                _ => {
                    return Err(
                        self.syntax_at(m, "`<<` merges a mapping or a list of mappings only")
                    )
                }
            };
            for (source, site) in sources {
                if !matches!(self.nodes[self.resolve(source)].kind, Kind::Map { .. }) {
                    return Err(self.syntax_at(source, "`<<` merges mappings only"));
                }
                for e in self.entries_at(source, depth + 1)? {
                    if seen.insert(e.key.clone()) {
                        out.push(Entry {
                            merged_via: site.or(e.merged_via),
                            ..e
                        });
                    }
                }
            }
        }
        Ok(out)
    }

    /// The value of `key` in mapping `map`, merge keys applied.
    pub(crate) fn get(&self, map: NodeId, key: &str) -> Result<Option<Entry>, YamlError> {
        Ok(self.entries(map)?.into_iter().find(|e| e.key == key))
    }

    pub(crate) fn syntax_at(&self, id: NodeId, message: &str) -> YamlError {
        let (line, column) = self.line_col(self.nodes[id].start);
        YamlError::Syntax {
            line,
            column,
            message: message.into(),
            source: None,
        }
    }

    pub(crate) fn too_deep(&self, id: NodeId) -> YamlError {
        let (line, column) = self.line_col(self.nodes[id].start);
        YamlError::TooDeep {
            line,
            column,
            max: MAX_DEPTH,
        }
    }
}
