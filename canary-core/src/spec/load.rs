//! Text or a JSON value in, a validated [`Spec`] out.

use std::path::Path;

use super::Spec;
use crate::error::{Error, Result};

impl Spec {
    /// Parses and validates a YAML spec (JSON is YAML too, so this reads both).
    pub fn from_yaml(text: &str) -> Result<Self> {
        let spec: Spec = crate::yaml::from_str(text)?;
        spec.validate()?;
        Ok(spec)
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

    /// Reads a spec file: `.json` as JSON, anything else as YAML.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::invalid("", format!("cannot read spec file {}: {e}", path.display()))
        })?;
        if path.extension().is_some_and(|e| e == "json") {
            Self::from_json(&text)
        } else {
            Self::from_yaml(&text)
        }
    }
}

fn path_error<E: std::fmt::Display>(e: serde_path_to_error::Error<E>) -> Error {
    let path = e.path().to_string();
    let field = if path == "." { String::new() } else { path };
    Error::invalid(field, e.into_inner().to_string())
}
