//! Traffic shares: [`Weight`] (0–100 %), [`TrafficSplit`], and [`ReplicaPlan`] and [`StepPlan`]
//! (the seed's split by replica counts, and how close it comes to each step's weight).

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

    /// How far these counts are from `weight`, in percentage points: the canary's exact share of
    /// the tasks (not the rounded `effective`) against the weight, so 1 task of 3 is 3.33 points
    /// off 30 %.
    pub fn off_by(&self, weight: Weight) -> f64 {
        let total = self.stable.saturating_add(self.canary);
        if total == 0 {
            return weight.get() as f64;
        }
        (self.canary as f64 * 100.0 / total as f64 - weight.get() as f64).abs()
    }

    /// The plan of each step over `total` tasks, with how close it comes.
    pub fn steps(steps: &[Weight], total: u64) -> Result<Vec<StepPlan>> {
        steps
            .iter()
            .map(|w| {
                let p = ReplicaPlan::for_weight(*w, total)?;
                Ok(StepPlan::new(*w, p))
            })
            .collect()
    }

    /// The fewest tasks (2 to `max_total`) over which every step lands within `tolerance`
    /// percentage points of its weight, or `None` when no count up to `max_total` does.
    pub fn smallest_total(steps: &[Weight], tolerance: f64, max_total: u64) -> Option<u64> {
        // Bounded by the caller's maximum: at most 10,000 tries of a few steps each.
        (2..=max_total.min(super::MAX_REPLICAS_CEILING)).find(|&total| {
            steps.iter().all(|w| {
                ReplicaPlan::for_weight(*w, total)
                    .map(|p| p.off_by(*w) <= tolerance + OFF_EPSILON)
                    .unwrap_or(false)
            })
        })
    }
}

/// Float noise allowed when a deviation is compared with a tolerance (1 task of 3 against 33 %).
const OFF_EPSILON: f64 = 1e-9;

/// One step of a replicas-mode rollout: the weight asked for, the replica counts that come
/// closest, and how close that is. Said in status and in each step's event.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StepPlan {
    /// The step's weight.
    pub weight: Weight,
    /// Stable tasks at this step.
    pub stable: u64,
    /// Canary tasks at this step.
    pub canary: u64,
    /// The canary's share of the tasks, rounded to a percent.
    pub effective: Weight,
    /// How far the counts are from the weight, in percentage points (two decimals).
    pub off: f64,
}

impl StepPlan {
    /// The step of `weight` run with `plan`.
    pub fn new(weight: Weight, plan: ReplicaPlan) -> Self {
        StepPlan {
            weight,
            stable: plan.stable,
            canary: plan.canary,
            effective: plan.effective,
            off: (plan.off_by(weight) * 100.0).round() / 100.0,
        }
    }

    /// Whether the counts give the weight exactly.
    pub fn exact(&self) -> bool {
        self.off < OFF_EPSILON
    }

    /// Whether the counts come within `tolerance` percentage points of the weight.
    pub fn within(&self, tolerance: f64) -> bool {
        self.off <= tolerance + OFF_EPSILON
    }

    /// In words: `1 canary + 4 stable tasks: exactly 20%`, or `1 canary + 3 stable tasks give
    /// 25%, 15 points off 10%`.
    pub fn describe(&self) -> String {
        let counts = format!(
            "{} canary + {} stable task{}",
            self.canary,
            self.stable,
            if self.stable == 1 { "" } else { "s" }
        );
        if self.exact() {
            format!("{counts}: exactly {}", self.weight)
        } else {
            format!(
                "{counts} give {}, {} points off {}",
                self.effective,
                fmt_points(self.off),
                self.weight
            )
        }
    }
}

/// `15`, `3.33`: percentage points without trailing zeros.
fn fmt_points(p: f64) -> String {
    let s = format!("{p:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
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

    fn w(p: u64) -> Weight {
        Weight::new(p).unwrap()
    }

    #[test]
    fn how_close_each_step_comes() {
        // The example: 20 % beside 4 stable tasks is 1 canary task, exactly; 10 % is not.
        let plans = ReplicaPlan::steps(&[w(10), w(20), w(50)], 5).unwrap();
        let p = plans[1];
        assert_eq!((p.stable, p.canary, p.off), (4, 1, 0.0));
        assert!(p.exact() && p.within(0.0));
        assert_eq!(p.describe(), "1 canary + 4 stable tasks: exactly 20%");
        let p = plans[0];
        assert_eq!(
            (p.stable, p.canary, p.effective.get(), p.off),
            (4, 1, 20, 10.0)
        );
        assert!(!p.exact() && p.within(10.0) && !p.within(9.0));
        assert_eq!(
            p.describe(),
            "1 canary + 4 stable tasks give 20%, 10 points off 10%"
        );
        // Half of 5 rounds up: 3 of 5 is 60 %.
        assert_eq!((plans[2].canary, plans[2].off), (3, 10.0));
        // The exact share counts, not the rounded one: 1 of 3 is 3.33 points off 30 %.
        let p = StepPlan::new(w(30), ReplicaPlan::for_weight(w(30), 3).unwrap());
        assert_eq!((p.canary, p.effective.get(), p.off), (1, 33, 3.33));
        assert_eq!(
            p.describe(),
            "1 canary + 2 stable tasks give 33%, 3.33 points off 30%"
        );
        assert!(ReplicaPlan::steps(&[w(10)], 1).is_err());
    }

    #[test]
    fn smallest_total_for_a_tolerance() {
        assert_eq!(ReplicaPlan::smallest_total(&[w(50)], 0.0, 20), Some(2));
        assert_eq!(
            ReplicaPlan::smallest_total(&[w(10), w(20), w(50)], 0.0, 20),
            Some(10)
        );
        assert_eq!(
            ReplicaPlan::smallest_total(&[w(25), w(50)], 0.0, 20),
            Some(4)
        );
        assert_eq!(ReplicaPlan::smallest_total(&[w(1)], 0.0, 20), None);
        assert_eq!(
            ReplicaPlan::smallest_total(&[w(20), w(50), w(80)], 5.0, 1000),
            Some(4)
        );
        // A huge maximum is cut to the replica ceiling, not looped to.
        assert_eq!(
            ReplicaPlan::smallest_total(&[w(1)], 0.0, u64::MAX),
            Some(100)
        );
    }
}
