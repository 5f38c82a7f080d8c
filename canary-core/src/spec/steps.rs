//! The steps of a rollout: a weight each, and the gates a person or a hook opens (Argo Rollouts'
//! `pause` steps, Flagger's confirm-traffic-increase hooks).

use std::borrow::Cow;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, IntoDeserializer, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::HookSpec;
use crate::model::{HumanDuration, Weight};

/// One step: the canary's weight, and optionally a gate. Written as a bare weight (`25`) or as
/// `{weight: 25, pause: true, confirm: [...]}`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StepSpec {
    /// The canary's weight at this step.
    pub weight: Weight,
    /// After the step's analysis passes, hold at this weight: until `canary resume` (or
    /// `promote`), or for a while.
    pub pause: Option<Pause>,
    /// Hooks asked before this step's weight is put in force; while one says no, the rollout
    /// stays at the weight before (and says so).
    pub confirm: Vec<HookSpec>,
}

impl StepSpec {
    /// A step of `weight` with no gate.
    pub fn of(weight: Weight) -> Self {
        StepSpec {
            weight,
            ..Default::default()
        }
    }
}

/// How long a gate step holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Pause {
    /// Until `canary resume` or `canary promote` (`pause: true`).
    UntilResumed,
    /// For this long, then on (`pause: 30s`); `resume` opens it early.
    For(HumanDuration),
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct StepFields {
    weight: Weight,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pause: Option<PauseField>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    confirm: Vec<HookSpec>,
}

#[derive(Serialize, Deserialize)]
#[serde(untagged, expecting = "true, false or a duration such as 30s")]
enum PauseField {
    Flag(bool),
    For(HumanDuration),
}

const STEP_EXPECTING: &str =
    "a weight (0 to 100) or {weight, pause: true | <duration>, confirm: [hooks]}";

/// A bare number is read as a [`Weight`] and a map as [`StepFields`], each with its own error
/// (`120 is above 100`), which an untagged enum would bury under one generic message.
struct StepVisitor;

impl<'de> Visitor<'de> for StepVisitor {
    type Value = StepSpec;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(STEP_EXPECTING)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<StepSpec, E> {
        Weight::deserialize(v.into_deserializer()).map(StepSpec::of)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<StepSpec, E> {
        Weight::deserialize(v.into_deserializer()).map(StepSpec::of)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<StepSpec, E> {
        Weight::deserialize(v.into_deserializer()).map(StepSpec::of)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<StepSpec, A::Error> {
        let f = StepFields::deserialize(de::value::MapAccessDeserializer::new(map))?;
        Ok(StepSpec {
            weight: f.weight,
            pause: match f.pause {
                None | Some(PauseField::Flag(false)) => None,
                Some(PauseField::Flag(true)) => Some(Pause::UntilResumed),
                Some(PauseField::For(d)) => Some(Pause::For(d)),
            },
            confirm: f.confirm,
        })
    }
}

impl<'de> Deserialize<'de> for StepSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StepVisitor)
    }
}

impl Serialize for StepSpec {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.pause.is_none() && self.confirm.is_empty() {
            return self.weight.serialize(s);
        }
        StepFields {
            weight: self.weight,
            pause: self.pause.map(|p| match p {
                Pause::UntilResumed => PauseField::Flag(true),
                Pause::For(d) => PauseField::For(d),
            }),
            confirm: self.confirm.clone(),
        }
        .serialize(s)
    }
}

impl JsonSchema for StepSpec {
    fn schema_name() -> Cow<'static, str> {
        "StepSpec".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let weight = generator.subschema_for::<Weight>();
        let hook = generator.subschema_for::<HookSpec>();
        let duration = generator.subschema_for::<HumanDuration>();
        json_schema!({
            "description": "A step: a canary weight, or {weight, pause, confirm} for a gate.",
            "oneOf": [
                weight,
                {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["weight"],
                    "properties": {
                        "weight": weight,
                        "pause": {
                            "description": "After the step's analysis passes, hold: `true` until `canary resume`, or a duration.",
                            "oneOf": [{"type": "boolean"}, duration]
                        },
                        "confirm": {
                            "description": "Hooks asked before this step's weight is set; while one says no, the rollout waits.",
                            "type": "array",
                            "items": hook
                        }
                    }
                }
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(yaml: &str) -> Result<Vec<StepSpec>, String> {
        crate::yaml::from_str::<Vec<StepSpec>>(yaml).map_err(|e| e.to_string())
    }

    #[test]
    fn weights_and_gates() {
        let steps = load(
            "[5, {weight: 25, pause: true}, {weight: 50, pause: 30s, confirm: [{name: qa, url: 'http://127.0.0.1:9/x'}]}, {weight: 60, pause: false}]",
        )
        .unwrap();
        assert_eq!(steps[0], StepSpec::of(Weight::new(5).unwrap()));
        assert_eq!(steps[1].pause, Some(Pause::UntilResumed));
        assert_eq!(
            steps[2].pause,
            Some(Pause::For(HumanDuration::parse("30s").unwrap()))
        );
        assert_eq!(steps[2].confirm.len(), 1);
        assert_eq!(steps[3].pause, None);
        let back: Vec<StepSpec> =
            serde_json::from_value(serde_json::to_value(&steps).unwrap()).unwrap();
        assert_eq!(back, steps);
        for bad in [
            "[101]",
            "[{pause: true}]",
            "[{weight: 5, pause: soon}]",
            "[{weight: 5, extra: 1}]",
            "[-1]",
        ] {
            assert!(load(bad).is_err(), "{bad}");
        }
    }
}
