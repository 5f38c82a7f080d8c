//! Traffic shares: [`Weight`] (0–100 %), [`TrafficSplit`], and [`ReplicaPlan`] (the seed's split by
//! replica counts).

use std::borrow::Cow;
use std::fmt;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};

use super::reason_of;
use crate::error::{Error, Result};

/// The share of an app's traffic sent to the canary, in percent: 0–100.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Weight(u8);

impl Weight {
    /// No traffic.
    pub const ZERO: Weight = Weight(0);
    /// All traffic.
    pub const FULL: Weight = Weight(100);

    /// A weight from a percentage; above 100 is rejected.
    pub fn new(percent: u64) -> Result<Self> {
        if percent > 100 {
            Err(Error::invalid("", format!("{percent} is above 100")))
        } else {
            Ok(Weight(percent as u8))
        }
    }

    /// The percentage.
    pub fn get(self) -> u8 {
        self.0
    }

    /// The complementary weight (stable's share when `self` is canary's).
    pub fn complement(self) -> Weight {
        Weight(100 - self.0)
    }
}

impl fmt::Display for Weight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", self.0)
    }
}

impl Serialize for Weight {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(self.0)
    }
}

impl<'de> Deserialize<'de> for Weight {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = i64::deserialize(d)?;
        if n < 0 {
            return Err(serde::de::Error::custom(format!("{n} is below 0")));
        }
        Weight::new(n as u64).map_err(|e| serde::de::Error::custom(reason_of(&e)))
    }
}

impl JsonSchema for Weight {
    fn schema_name() -> Cow<'static, str> {
        "Weight".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "integer", "minimum": 0, "maximum": 100, "description": "Percent of traffic, 0-100."})
    }
}

/// How traffic is divided between stable and canary: the canary's weight; stable has the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct TrafficSplit {
    /// Canary's share.
    pub canary: Weight,
}

impl TrafficSplit {
    /// A split with `canary` percent on the canary.
    pub fn canary(canary: Weight) -> Self {
        TrafficSplit { canary }
    }
    /// Stable's share.
    pub fn stable(self) -> Weight {
        self.canary.complement()
    }
}

/// Replica counts that approximate a weight when traffic follows replica counts (the seed's way).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplicaPlan {
    /// Stable replicas.
    pub stable: u64,
    /// Canary replicas.
    pub canary: u64,
    /// The canary weight these counts really give: `canary / (stable + canary)`, rounded.
    pub effective: Weight,
}

impl ReplicaPlan {
    /// The replica counts out of `total` tasks closest to `weight`, keeping at least one stable
    /// task while the weight is below 100 and at least one canary task while it is above 0.
    pub fn for_weight(weight: Weight, total: u64) -> Result<Self> {
        if total == 0 {
            return Err(Error::invalid(
                "replicas",
                "total replicas must be at least 1",
            ));
        }
        let w = weight.get() as u64;
        let mut canary = (w * total + 50) / 100;
        if w > 0 && canary == 0 {
            canary = 1;
        }
        if w < 100 && canary == total {
            if total == 1 {
                return Err(Error::invalid(
                    "replicas",
                    format!(
                        "{weight} cannot be split over 1 replica; use at least 2 or weighted mode"
                    ),
                ));
            }
            canary = total - 1;
        }
        let effective = Weight::new((canary * 100 + total / 2) / total)?;
        Ok(ReplicaPlan {
            stable: total - canary,
            canary,
            effective,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights() {
        assert_eq!(Weight::new(20).unwrap().complement().get(), 80);
        assert_eq!(
            Weight::new(101).unwrap_err().to_string(),
            "101 is above 100"
        );
        let w: Weight = serde_json::from_str("100").unwrap();
        assert_eq!(w, Weight::FULL);
        assert!(serde_json::from_str::<Weight>("-1").is_err());
        assert!(serde_json::from_str::<Weight>("120")
            .unwrap_err()
            .to_string()
            .contains("120 is above 100"));
    }

    #[test]
    fn replica_plans() {
        let p = ReplicaPlan::for_weight(Weight::new(20).unwrap(), 5).unwrap();
        assert_eq!((p.stable, p.canary, p.effective.get()), (4, 1, 20));
        let p = ReplicaPlan::for_weight(Weight::new(5).unwrap(), 4).unwrap();
        assert_eq!((p.stable, p.canary, p.effective.get()), (3, 1, 25));
        let p = ReplicaPlan::for_weight(Weight::new(99).unwrap(), 4).unwrap();
        assert_eq!((p.stable, p.canary), (1, 3));
        let p = ReplicaPlan::for_weight(Weight::FULL, 4).unwrap();
        assert_eq!((p.stable, p.canary), (0, 4));
        let p = ReplicaPlan::for_weight(Weight::ZERO, 4).unwrap();
        assert_eq!((p.stable, p.canary), (4, 0));
        assert!(ReplicaPlan::for_weight(Weight::new(50).unwrap(), 1).is_err());
        assert!(ReplicaPlan::for_weight(Weight::new(50).unwrap(), 0).is_err());
    }
}
