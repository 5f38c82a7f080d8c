//! The split in force, read from Traefik's API: the weights of the weighted service (weighted
//! mode) or the canary's servers among stable's shared service (replicas mode).

use canary_core::spec::TrafficMode;
use canary_core::{AppSplit, Result};

use super::TraefikRouter;
use crate::api::{is_enabled, same_name};
use crate::dynamic::AppExpectation;

impl TraefikRouter {
    pub(super) async fn split_of(
        &self,
        want: &AppExpectation,
        mode: TrafficMode,
    ) -> Result<AppSplit> {
        let o = &want.objects;
        // The first Traefik's view: apply confirmed the same config through every one.
        let api = self.api();
        let file = self.provider().name();
        let router = api.router(&format!("{}@{file}", o.router)).await?;
        let header = api.router(&format!("{}@{file}", o.header_router)).await?;
        let header_route = header
            .as_ref()
            .is_some_and(|h| is_enabled(&h.status, &h.error));
        let router_ok = router
            .as_ref()
            .is_some_and(|r| is_enabled(&r.status, &r.error));
        let mut split = AppSplit {
            app: o.app.clone(),
            stable: 100,
            canary: 0,
            header_route,
            healthy: false,
        };
        match mode {
            TrafficMode::Weighted => {
                if let Some(r) = router
                    .as_ref()
                    .filter(|r| same_name(&o.tasks, &r.service, file))
                {
                    // Stable detached (a promotion's handover): the canary's tasks serve all.
                    split.stable = 0;
                    split.canary = 100;
                    split.healthy = is_enabled(&r.status, &r.error);
                    return Ok(split);
                }
                let Some(s) = api.service(&format!("{}@{file}", o.weighted)).await? else {
                    return Ok(split);
                };
                let (mut stable, mut canary) = (0u64, 0u64);
                for c in s.weighted.iter().flat_map(|w| &w.services) {
                    let weight = c.effective_weight().max(0) as u64;
                    if same_name(&o.stable_backend, &c.name, file)
                        || same_name(&o.mirror, &c.name, file)
                    {
                        stable += weight;
                    } else if same_name(&o.canary_slot, &c.name, file) {
                        canary += weight;
                    } else {
                        tracing::warn!(service = %s.name, child = %c.name, "weighted child is neither stable nor canary");
                    }
                }
                split.stable = stable;
                split.canary = canary;
                split.healthy = router_ok && is_enabled(&s.status, &s.error);
            }
            TrafficMode::Replicas => {
                // The split follows servers: count the canary's task addresses among the servers
                // of stable's shared service (the canary has no Traefik service of its own).
                let shared = api.service(&o.stable_backend).await?;
                let all: Vec<String> = shared
                    .iter()
                    .flat_map(|s| s.load_balancer.iter())
                    .flat_map(|lb| lb.servers.iter())
                    .filter_map(|sv| sv.url.clone())
                    .collect();
                let n_canary = all
                    .iter()
                    .filter(|u| want.canary_servers.contains(u))
                    .count() as u64;
                split.canary = n_canary;
                split.stable = all.len() as u64 - n_canary;
                split.healthy = router_ok
                    && shared
                        .as_ref()
                        .is_some_and(|s| is_enabled(&s.status, &s.error));
            }
            // A mode newer than this router: reported unhealthy with all traffic on stable,
            // never guessed.
            _ => {}
        }
        Ok(split)
    }
}
