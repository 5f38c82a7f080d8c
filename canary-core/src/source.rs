//! A spec file as every front end reads it: a plain spec (YAML or JSON) or a compose file with
//! `x-canary` settings, with overrides applied on top, validated, and every rejection pointing at
//! the field and its line in the file.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::compose::{self, ComposeOptions, ComposeSpec};
use crate::error::{Error, Result};
use crate::spec::overrides::{self, Override};
use crate::spec::Spec;
use crate::yaml_index::YamlIndex;

/// A validated spec and where it came from.
#[derive(Debug, Clone)]
pub struct SpecFile {
    /// The spec, overrides applied.
    pub spec: Spec,
    /// The file.
    pub path: PathBuf,
    /// The file's directory (build contexts are relative to it).
    pub dir: PathBuf,
    /// True when the file is a compose file (promotions are written back to it).
    pub compose: bool,
}

impl SpecFile {
    /// Reads `path` and applies `overrides` (see [`crate::spec::overrides`]).
    pub fn load(path: impl AsRef<Path>, overrides: &[Override]) -> Result<SpecFile> {
        let path = path.as_ref();
        let cannot = |e: std::io::Error| {
            Error::invalid("", format!("cannot read spec file {}: {e}", path.display()))
                .with_source(e)
        };
        let meta = std::fs::metadata(path).map_err(cannot)?;
        if meta.len() > crate::yaml::MAX_TEXT as u64 {
            return Err(Error::invalid(
                "",
                format!(
                    "spec file {} is {} bytes; the limit is {}",
                    path.display(),
                    meta.len(),
                    crate::yaml::MAX_TEXT
                ),
            ));
        }
        let text = std::fs::read_to_string(path).map_err(cannot)?;
        let (spec, compose) = Spec::from_text(&text, overrides)?;
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        Ok(SpecFile {
            spec,
            path: path.to_path_buf(),
            dir,
            compose,
        })
    }
}

impl Spec {
    /// Reads a spec file: a plain spec (YAML or JSON) or a compose file with `x-canary`
    /// settings ([`SpecFile`] has the file's directory and overrides too).
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        SpecFile::load(path, &[]).map(|f| f.spec)
    }

    /// Reads a spec from `text`, a plain spec (YAML or JSON) or a compose file with `x-canary`
    /// settings, with `overrides` on top; `true` with it when the text was a compose file.
    /// Errors about the text carry its line numbers; errors about an override name its path.
    pub fn from_text(text: &str, overrides: &[Override]) -> Result<(Spec, bool)> {
        if compose::is_compose(text) {
            let stack = overrides
                .iter()
                .find(|o| o.path == "stack")
                .and_then(|o| o.value.as_str())
                .map(String::from);
            let mut options = ComposeOptions::default();
            if let Some(s) = stack {
                options = options.with_stack(s);
            }
            let cs = ComposeSpec::parse(text, &options)?;
            let mut tree = cs.value().clone();
            overrides::apply(&mut tree, overrides)?;
            let spec = Spec::from_value(tree.clone())
                .map_err(|e| explain_unless_overridden(e, cs.value(), &tree, |e| cs.explain(e)))?;
            return Ok((spec, true));
        }
        let at_line = |e: Error| match YamlIndex::parse(text) {
            Ok(index) => index.annotate(e),
            Err(_) => e,
        };
        if overrides.is_empty() {
            // Typed from the text: YAML's tag form (`!latency 0.99`) is read too.
            let spec: Spec = crate::yaml::from_str(text)?;
            spec.validate().map_err(at_line)?;
            return Ok((spec, false));
        }
        let original: Value = crate::yaml::to_value(text)?;
        let mut tree = original.clone();
        overrides::apply(&mut tree, overrides)?;
        let spec = Spec::from_value(tree.clone())
            .map_err(|e| explain_unless_overridden(e, &original, &tree, at_line))?;
        Ok((spec, false))
    }
}

/// Points an error at the file, unless an override changed the field it names (the file's line
/// would then be the wrong place to look).
fn explain_unless_overridden(
    e: Error,
    original: &Value,
    overridden: &Value,
    explain: impl FnOnce(Error) -> Error,
) -> Error {
    if let Error::InvalidInput { field, .. } = &e {
        if at(original, field) != at(overridden, field) {
            return e;
        }
    }
    explain(e)
}

/// The node at a path as errors write it (`apps[0].stableReplicas`).
fn at<'a>(tree: &'a Value, path: &str) -> Option<&'a Value> {
    let mut node = tree;
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let (key, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            node = node.get(key)?;
        }
        while let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            node = node.get(r[..end].parse::<usize>().ok()?)?;
            rest = &r[end + 1..];
        }
    }
    Some(node)
}
