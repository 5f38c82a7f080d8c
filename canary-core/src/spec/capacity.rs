//! How many tasks the canary runs: a fixed count, or a count that follows its weight.

use std::borrow::Cow;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::defaults::one;
use crate::model::Weight;

/// The canary's task count. Written `2`, `auto`, or `{min: 1, max: 6}` (auto within bounds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CanaryReplicas {
    /// This many tasks whatever the weight.
    Fixed(u64),
    /// Tasks in proportion to the weight, as Argo Rollouts' `setCanaryScale: {matchTrafficWeight:
    /// true}`: `ceil(stable × weight / 100)`, so each canary task carries no more than each stable
    /// task carried before the rollout, bounded by `min` and `max` (default: `limits.maxReplicas`).
    Auto {
        /// The fewest tasks (also at weight 0). At least 1.
        min: u64,
        /// The most tasks, if bounded below `limits.maxReplicas`.
        max: Option<u64>,
    },
}

impl Default for CanaryReplicas {
    /// One task.
    fn default() -> Self {
        CanaryReplicas::Fixed(1)
    }
}

impl CanaryReplicas {
    /// The tasks the canary runs at `weight` when stable has `stable` tasks; `ceiling` is
    /// `limits.maxReplicas`.
    pub fn at(self, weight: Weight, stable: u64, ceiling: u64) -> u64 {
        match self {
            CanaryReplicas::Fixed(n) => n,
            CanaryReplicas::Auto { min, max } => {
                let share = (stable.min(ceiling) * weight.get() as u64).div_ceil(100);
                share.max(min).min(max.unwrap_or(ceiling)).min(ceiling)
            }
        }
    }

    /// The task count the canary starts with (before any weight).
    pub fn initial(self) -> u64 {
        match self {
            CanaryReplicas::Fixed(n) => n,
            CanaryReplicas::Auto { min, .. } => min,
        }
    }

    /// The most tasks it may ever run, `ceiling` being `limits.maxReplicas`.
    pub fn most(self, ceiling: u64) -> u64 {
        match self {
            CanaryReplicas::Fixed(n) => n,
            CanaryReplicas::Auto { min, max } => max.unwrap_or(ceiling).max(min),
        }
    }

    /// True for `auto`.
    pub fn is_auto(self) -> bool {
        matches!(self, CanaryReplicas::Auto { .. })
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AutoFields {
    #[serde(default = "one")]
    min: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max: Option<u64>,
}

#[derive(Deserialize)]
#[serde(untagged, expecting = "a task count, `auto`, or {min, max}")]
enum Form {
    Count(u64),
    Word(String),
    Auto(AutoFields),
}

impl<'de> Deserialize<'de> for CanaryReplicas {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Form::deserialize(d)? {
            Form::Count(n) => Ok(CanaryReplicas::Fixed(n)),
            Form::Word(w) if w == "auto" => Ok(CanaryReplicas::Auto { min: 1, max: None }),
            Form::Word(w) => Err(serde::de::Error::custom(format!(
                "{w:?} is not a task count or `auto`"
            ))),
            Form::Auto(f) => Ok(CanaryReplicas::Auto {
                min: f.min,
                max: f.max,
            }),
        }
    }
}

impl Serialize for CanaryReplicas {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self {
            CanaryReplicas::Fixed(n) => s.serialize_u64(n),
            CanaryReplicas::Auto { min: 1, max: None } => s.serialize_str("auto"),
            CanaryReplicas::Auto { min, max } => AutoFields { min, max }.serialize(s),
        }
    }
}

impl JsonSchema for CanaryReplicas {
    fn schema_name() -> Cow<'static, str> {
        "CanaryReplicas".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "Canary tasks: a count, `auto` (follows the weight: ceil(stable × weight / 100)), or {min, max} (auto within bounds).",
            "oneOf": [
                {"type": "integer", "minimum": 1},
                {"const": "auto"},
                {
                    "type": "object",
                    "additionalProperties": false,
                    "properties": {
                        "min": {"type": "integer", "minimum": 1, "default": 1},
                        "max": {"type": "integer", "minimum": 1}
                    }
                }
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(n: u8) -> Weight {
        Weight::new(n as u64).unwrap()
    }

    #[test]
    fn auto_follows_the_weight_within_bounds() {
        let auto = CanaryReplicas::Auto { min: 1, max: None };
        let counts: Vec<u64> = [0, 10, 25, 50, 80, 100]
            .iter()
            .map(|&x| auto.at(w(x), 4, 1000))
            .collect();
        assert_eq!(counts, [1, 1, 1, 2, 4, 4]);
        let bounded = CanaryReplicas::Auto {
            min: 2,
            max: Some(3),
        };
        assert_eq!(bounded.at(w(0), 10, 1000), 2);
        assert_eq!(bounded.at(w(100), 10, 1000), 3);
        assert_eq!(
            auto.at(w(100), u64::MAX, 1000),
            1000,
            "no overflow, ceiling"
        );
        assert_eq!(CanaryReplicas::Fixed(3).at(w(90), 10, 1000), 3);
    }

    #[test]
    fn written_three_ways() {
        let load = |y: &str| crate::yaml::from_str::<CanaryReplicas>(y);
        assert_eq!(load("2").unwrap(), CanaryReplicas::Fixed(2));
        assert_eq!(
            load("auto").unwrap(),
            CanaryReplicas::Auto { min: 1, max: None }
        );
        assert_eq!(
            load("{min: 2, max: 5}").unwrap(),
            CanaryReplicas::Auto {
                min: 2,
                max: Some(5)
            }
        );
        for bad in ["often", "{min: 1, most: 2}", "-1", "1.5"] {
            assert!(load(bad).is_err(), "{bad}");
        }
        for v in [
            CanaryReplicas::Fixed(2),
            CanaryReplicas::Auto { min: 1, max: None },
            CanaryReplicas::Auto {
                min: 2,
                max: Some(4),
            },
        ] {
            let back: CanaryReplicas =
                serde_json::from_value(serde_json::to_value(v).unwrap()).unwrap();
            assert_eq!(back, v);
        }
    }
}
