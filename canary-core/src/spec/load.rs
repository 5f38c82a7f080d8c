//! Text or a JSON value in, a validated [`Spec`] out.

use super::Spec;
use crate::error::{Error, Result};

impl Spec {
    /// Parses and validates a YAML spec (JSON is YAML too, so this reads both; a compose file
    /// with `x-canary` settings too). Rejections carry the line of the field.
    pub fn from_yaml(text: &str) -> Result<Self> {
        Spec::from_text(text, &[]).map(|(spec, _)| spec)
    }

    /// Parses and validates a JSON spec.
    pub fn from_json(text: &str) -> Result<Self> {
        let mut de = serde_json::Deserializer::from_str(text);
        let spec: Spec = serde_path_to_error::deserialize(&mut de).map_err(path_error)?;
        spec.validate()?;
        Ok(spec)
    }

    /// Validates a spec given as a JSON value (a Python dict or JS object, converted).
    pub fn from_value(value: serde_json::Value) -> Result<Self> {
        let spec: Spec = serde_path_to_error::deserialize(value).map_err(path_error)?;
        spec.validate()?;
        Ok(spec)
    }
}

fn path_error<E: std::fmt::Display>(e: serde_path_to_error::Error<E>) -> Error {
    let path = e.path().to_string();
    let field = if path == "." { String::new() } else { path };
    Error::invalid(field, e.into_inner().to_string())
}
