//! Replicas mode planning: when stable and canary tasks share one Traefik service, each task gets
//! an equal share, so a weight can only be approximated by replica counts. These pure functions
//! say which counts to run and how close they get.

use canary_core::{Error, ReplicaPlan, Result, Weight};

/// The replica counts out of `total` tasks closest to `weight` (at least one stable task below 100,
/// at least one canary task above 0); `effective` is the weight they really give.
pub fn plan_replicas(weight: Weight, total: u64) -> Result<ReplicaPlan> {
    ReplicaPlan::for_weight(weight, total)
}

/// How far a plan is from the weight asked for, in percentage points (always ≥ 0).
pub fn deviation(plan: &ReplicaPlan, weight: Weight) -> u8 {
    plan.effective.get().abs_diff(weight.get())
}

/// The plans of all steps. Steps whose counts come out equal to the step before do not move any
/// traffic; they are kept (the rollout still waits and analyses at each) but logged.
pub fn plan_steps(steps: &[Weight], total: u64) -> Result<Vec<ReplicaPlan>> {
    let mut out: Vec<ReplicaPlan> = Vec::with_capacity(steps.len());
    for (i, w) in steps.iter().enumerate() {
        let plan = plan_replicas(*w, total).map_err(|e| match e {
            Error::InvalidInput { reason, .. } => {
                Error::invalid(format!("traffic.steps[{i}]"), reason)
            }
            other => other,
        })?;
        if let Some(prev) = out.last() {
            if prev.canary == plan.canary {
                tracing::warn!(
                    step = i,
                    weight = w.get(),
                    total,
                    "this step runs the same replica counts as the one before; use more replicas or weighted mode"
                );
            }
        }
        out.push(plan);
    }
    Ok(out)
}

/// The fewest total replicas (2 to `max_total`) for which every step lands within
/// `max_deviation` points of its weight, or `None` when none does.
pub fn smallest_total(steps: &[Weight], max_deviation: u8, max_total: u64) -> Option<u64> {
    (2..=max_total).find(|&total| {
        steps.iter().all(|w| {
            ReplicaPlan::for_weight(*w, total)
                .map(|p| deviation(&p, *w) <= max_deviation)
                .unwrap_or(false)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(p: u64) -> Weight {
        Weight::new(p).unwrap()
    }

    #[test]
    fn plans_and_deviation() {
        let p = plan_replicas(w(20), 5).unwrap();
        assert_eq!((p.stable, p.canary, deviation(&p, w(20))), (4, 1, 0));
        let p = plan_replicas(w(10), 4).unwrap();
        assert_eq!(
            (p.stable, p.canary, p.effective.get(), deviation(&p, w(10))),
            (3, 1, 25, 15)
        );
        assert!(plan_replicas(w(50), 1).is_err());
    }

    #[test]
    fn steps_name_the_bad_step() {
        let plans = plan_steps(&[w(10), w(20), w(50)], 4).unwrap();
        let canaries: Vec<u64> = plans.iter().map(|p| p.canary).collect();
        assert_eq!(canaries, [1, 1, 2]);
        let e = plan_steps(&[w(10)], 1).unwrap_err();
        assert!(
            matches!(&e, Error::InvalidInput { field, .. } if field == "traffic.steps[0]"),
            "{e}"
        );
    }

    #[test]
    fn smallest_total_for_a_precision() {
        assert_eq!(smallest_total(&[w(50)], 0, 20), Some(2));
        assert_eq!(smallest_total(&[w(10), w(20), w(50)], 0, 20), Some(10));
        assert_eq!(smallest_total(&[w(25), w(50)], 0, 20), Some(4));
        assert_eq!(smallest_total(&[w(1)], 0, 20), None);
    }
}
