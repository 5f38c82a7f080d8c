//! Where the canary's tasks may run. By default the canary follows stable's placement (its
//! constraints, preferences and per-node limit are copied with the rest of stable's spec), so a
//! canary of a service pinned to some nodes lands on the same kind of node. An app's `placement`
//! overrides what it sets, field by field, for the canary only.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The most constraints an override may list.
pub const MAX_CONSTRAINTS: usize = 32;
/// The most spread preferences an override may list.
pub const MAX_PREFERENCES: usize = 8;

/// The canary's placement, where it should differ from stable's. A field left out keeps stable's
/// value; an empty list clears it (e.g. `constraints: []` lets the canary run on any node).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlacementSpec {
    /// Swarm constraints, `<attribute>==<value>` or `<attribute>!=<value>` with attribute
    /// `node.id`, `node.hostname`, `node.role`, `node.platform.os`, `node.platform.arch`,
    /// `node.labels.<label>` or `engine.labels.<label>` (up to 32).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constraints: Option<Vec<String>>,
    /// Spread preferences, each a node attribute to spread tasks evenly over, e.g.
    /// `node.labels.zone` (up to 8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferences: Option<Vec<String>>,
    /// The most canary tasks on one node; 0 for no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_replicas_per_node: Option<u64>,
}

fn is_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 200
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/'))
}

fn is_attribute(a: &str) -> bool {
    matches!(
        a,
        "node.id" | "node.hostname" | "node.role" | "node.platform.os" | "node.platform.arch"
    ) || a.strip_prefix("node.labels.").is_some_and(is_label)
        || a.strip_prefix("engine.labels.").is_some_and(is_label)
}

/// Why `c` is not a Swarm constraint, if it is not.
fn check_constraint(c: &str) -> std::result::Result<(), String> {
    if c.chars().count() > 512 {
        return Err("is longer than 512 characters".into());
    }
    let (attr, value) = c
        .split_once("==")
        .or_else(|| c.split_once("!="))
        .ok_or_else(|| format!("{c:?} has neither == nor !="))?;
    let (attr, value) = (attr.trim(), value.trim());
    if !is_attribute(attr) {
        return Err(format!(
            "{attr:?} is not a node attribute (node.id, node.hostname, node.role, node.platform.os, \
             node.platform.arch, node.labels.<label>, engine.labels.<label>)"
        ));
    }
    if value.is_empty()
        || value
            .chars()
            .any(|ch| ch.is_control() || ch.is_whitespace() || ch == '=' || ch == '!')
    {
        return Err(format!("{value:?} is not a value to compare with"));
    }
    Ok(())
}

impl PlacementSpec {
    /// Checks every constraint, preference and bound; `field` is the path of the override
    /// (`apps[0].placement`) and `max_replicas` the spec's replica limit.
    pub fn validate(&self, field: &str, max_replicas: u64) -> Result<()> {
        if let Some(cs) = &self.constraints {
            if cs.len() > MAX_CONSTRAINTS {
                return Err(Error::invalid(
                    format!("{field}.constraints"),
                    format!(
                        "{} constraints is above the limit of {MAX_CONSTRAINTS}",
                        cs.len()
                    ),
                ));
            }
            for (i, c) in cs.iter().enumerate() {
                check_constraint(c)
                    .map_err(|why| Error::invalid(format!("{field}.constraints[{i}]"), why))?;
            }
        }
        if let Some(ps) = &self.preferences {
            if ps.len() > MAX_PREFERENCES {
                return Err(Error::invalid(
                    format!("{field}.preferences"),
                    format!(
                        "{} preferences is above the limit of {MAX_PREFERENCES}",
                        ps.len()
                    ),
                ));
            }
            for (i, p) in ps.iter().enumerate() {
                let ok = p
                    .strip_prefix("node.labels.")
                    .or_else(|| p.strip_prefix("engine.labels."))
                    .is_some_and(is_label);
                if !ok {
                    return Err(Error::invalid(
                        format!("{field}.preferences[{i}]"),
                        format!("{p:?} is not node.labels.<label> or engine.labels.<label>"),
                    ));
                }
            }
        }
        if let Some(n) = self.max_replicas_per_node {
            if n > max_replicas {
                return Err(Error::invalid(
                    format!("{field}.maxReplicasPerNode"),
                    format!("{n} replicas is above the limit of {max_replicas}"),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constraints_are_swarms() {
        for ok in [
            "node.role==manager",
            "node.role != manager",
            "node.labels.io.canary.node==worker1",
            "engine.labels.region==eu-1",
            "node.hostname!=vm",
        ] {
            assert!(check_constraint(ok).is_ok(), "{ok}");
        }
        for bad in [
            "node.role",
            "role==manager",
            "node.labels.==x",
            "node.labels.a b==x",
            "node.role==",
            "node.role==a b",
            "node.role===x",
        ] {
            assert!(check_constraint(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn overrides_are_bounded_and_name_the_field() {
        let p = PlacementSpec {
            constraints: Some(vec!["node.role==worker".into(), "x".into()]),
            ..Default::default()
        };
        let e = p.validate("apps[0].placement", 1000).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("apps[0].placement.constraints[1]: "),
            "{e}"
        );
        let p = PlacementSpec {
            constraints: Some(vec!["node.role==worker".into(); 33]),
            ..Default::default()
        };
        assert!(p.validate("p", 1000).is_err());
        let p = PlacementSpec {
            preferences: Some(vec!["node.role".into()]),
            ..Default::default()
        };
        assert!(p.validate("p", 1000).is_err());
        let p = PlacementSpec {
            max_replicas_per_node: Some(4_000_000_000),
            ..Default::default()
        };
        assert!(p.validate("p", 1000).is_err());
        let p = PlacementSpec {
            constraints: Some(Vec::new()),
            preferences: Some(vec!["node.labels.zone".into()]),
            max_replicas_per_node: Some(1),
        };
        assert!(p.validate("p", 1000).is_ok());
    }
}
