//! Replicas mode planning: when stable and canary tasks share one Traefik service, each task gets
//! an equal share, so a weight can only be approximated by replica counts. The plan itself, how
//! close each step comes and the tolerance are the core's ([`ReplicaPlan`], `Spec::replica_plan`);
//! this is the router's name for it.

use canary_core::{ReplicaPlan, Result, Weight};

/// The replica counts out of `total` tasks closest to `weight` (at least one stable task below 100,
/// at least one canary task above 0); `effective` is the weight they really give.
pub fn plan_replicas(weight: Weight, total: u64) -> Result<ReplicaPlan> {
    ReplicaPlan::for_weight(weight, total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans() {
        let w = |p| Weight::new(p).unwrap();
        let p = plan_replicas(w(20), 5).unwrap();
        assert_eq!((p.stable, p.canary, p.off_by(w(20))), (4, 1, 0.0));
        let p = plan_replicas(w(10), 4).unwrap();
        assert_eq!(
            (p.stable, p.canary, p.effective.get(), p.off_by(w(10))),
            (3, 1, 25, 15.0)
        );
        assert!(plan_replicas(w(50), 1).is_err());
    }
}
