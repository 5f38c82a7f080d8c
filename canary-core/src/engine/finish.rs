//! The two ends of a rollout: promotion (stable takes the canary's version, pinned) and rollback
//! (the canary leaves the routing first, then scales down).

use std::collections::BTreeMap;

use super::Rollout;
use crate::error::{Error, Result};
use crate::model::EventKind;
use crate::model::{ImageRef, ServiceName, Weight};
use crate::spec::{Strategy, TrafficMode};
use crate::state::Phase;
use crate::traits::HookPoint;

impl Rollout {
    pub(super) async fn promote(&self) -> Result<()> {
        let converge = self.spec.timeouts.converge.get();
        let stable_labels = self.stable_labels().await?;
        let st = self.state().await;
        // Remember stable's images once, so a failed promotion can put them back.
        if st.stable_images.is_empty() {
            let mut before = BTreeMap::new();
            for app in &self.apps {
                let s = self
                    .call("inspect stable", || {
                        self.deps.orchestrator.inspect(&app.stable)
                    })
                    .await?;
                before.insert(app.name.to_string(), s.image);
            }
            self.save(|s| s.stable_images = before.clone()).await?;
        }
        // Exactly the image the canary ran and analysis judged, resolved when the canary was
        // created (a rollout saved by an older controller has none: resolve it now).
        let tested = self.state().await.canary_pinned;
        let mut pinned = BTreeMap::new();
        for (app, spec_app) in self.apps.iter().zip(&self.spec.apps) {
            let p = match tested.get(app.name.as_str()) {
                Some(p) => ImageRef::parse(p)?,
                None => {
                    self.call("pin image", || {
                        self.deps.orchestrator.pin_image(&spec_app.image)
                    })
                    .await?
                }
            };
            pinned.insert(app.name.to_string(), p);
        }
        self.save(|s| {
            s.promoted_images = pinned
                .iter()
                .map(|(k, v)| (k.clone(), v.to_string()))
                .collect()
        })
        .await?;
        // Weighted mode: stable out of the routing while its tasks are replaced (see handover).
        // A canary that cannot serve everything (gone, no room to grow) leaves the update in
        // place, as `docker service update` would do it: never worse than no canary.
        let mut detach = self.spec.traffic.mode == TrafficMode::Weighted;
        if detach {
            if let Err(e) = self.detach_stable(&stable_labels).await {
                if matches!(e, Error::Conflict { .. }) {
                    // A lost lease: the controller that holds it now decides.
                    return Err(e);
                }
                detach = false;
                let st = self.state().await;
                self.emit(
                    EventKind::Handover,
                    &st,
                    format!("stable takes the new version in place, in the routing: {e}"),
                    None,
                );
            }
        }
        for app in &self.apps {
            let image = &pinned[app.name.as_str()];
            self.effect("update stable", || {
                self.deps.orchestrator.set_image(&app.stable, image)
            })
            .await?;
        }
        let stables: Vec<ServiceName> = self.apps.iter().map(|a| a.stable.clone()).collect();
        if self.spec.traffic.mode == TrafficMode::Replicas {
            let total = self.total_replicas().await?;
            for app in &self.apps {
                self.effect("scale stable", || {
                    self.deps.orchestrator.scale(&app.stable, total)
                })
                .await?;
            }
        }
        let converged = match self.wait_all(&stables, converge).await {
            Ok(()) if detach => self.await_stable(&stable_labels).await,
            other => other,
        };
        if let Err(e) = converged {
            return self
                .begin_rollback(format!("stable did not take the canary's version: {e}"))
                .await;
        }
        // All traffic to stable (now the new version), canary out of the routing, then down.
        let config = self.route_config_with(Weight::ZERO, false, &stable_labels);
        self.effect("route", || self.deps.router.apply(&config))
            .await?;
        self.save(|s| s.weight = 0).await?;
        for app in &self.apps {
            self.scale_down_canary(&app.canary).await?;
        }
        let st = self.state().await;
        for hook in &self.spec.hooks.post_rollout {
            self.call_hook(hook, HookPoint::PostRollout, &st).await;
        }
        self.save(|s| s.phase = Phase::Promoted).await?;
        let st = self.state().await;
        let images: Vec<String> = st
            .promoted_images
            .iter()
            .map(|(a, i)| format!("{a}={i}"))
            .collect();
        self.emit(
            EventKind::Promoted,
            &st,
            format!("promoted: stable runs {}", images.join(", ")),
            None,
        );
        Ok(())
    }

    pub(super) async fn rollback(&self) -> Result<()> {
        let st = self.state().await;
        for hook in &self.spec.hooks.rollback {
            self.call_hook(hook, HookPoint::Rollback, &st).await;
        }
        let stable_labels = self.stable_labels().await?;
        // First out of the routing: a weighted child that disappears fails every request.
        let config = self.route_config_with(Weight::ZERO, false, &stable_labels);
        self.put_routes(&config).await?;
        self.save(|s| s.weight = 0).await?;
        let converge = self.spec.timeouts.converge.get();
        if self.spec.traffic.mode == TrafficMode::Replicas {
            let total = self.total_replicas().await?;
            for app in &self.apps {
                self.effect("scale stable", || {
                    self.deps.orchestrator.scale(&app.stable, total)
                })
                .await?;
            }
        }
        // A promotion that failed half-way left stable on the new image: put the old one back.
        let mut restored = Vec::new();
        for app in &self.apps {
            if let Some(before) = st.stable_images.get(app.name.as_str()) {
                let now = self
                    .call("inspect stable", || {
                        self.deps.orchestrator.inspect(&app.stable)
                    })
                    .await?;
                if &now.image != before {
                    let image = ImageRef::parse(before)?;
                    self.effect("restore stable", || {
                        self.deps.orchestrator.set_image(&app.stable, &image)
                    })
                    .await?;
                    restored.push(app.stable.clone());
                }
            }
        }
        if !restored.is_empty() {
            self.wait_all(&restored, converge).await?;
        }
        let keep = self.spec.blue_green.abort_scale_down_delay.get();
        if self.spec.strategy == Strategy::BlueGreen && !keep.is_zero() {
            // Out of the routing but still running, to look at (Argo's abortScaleDownDelay).
            let st = self.state().await;
            self.emit(
                EventKind::Waiting,
                &st,
                format!(
                    "the new version stays up out of the routing for {} (blueGreen.abortScaleDownDelay)",
                    self.spec.blue_green.abort_scale_down_delay
                ),
                None,
            );
            tokio::time::sleep(keep).await;
        }
        for app in &self.apps {
            self.scale_down_canary(&app.canary).await?;
        }
        self.save(|s| s.phase = Phase::RolledBack).await?;
        let st = self.state().await;
        let cause = st.cause.clone().unwrap_or_default();
        self.emit(
            EventKind::RolledBack,
            &st,
            format!("rolled back: {cause}"),
            None,
        );
        Ok(())
    }

    pub(super) async fn scale_down_canary(&self, canary: &ServiceName) -> Result<()> {
        match self
            .call("scale canary", || self.deps.orchestrator.scale(canary, 0))
            .await
        {
            Ok(()) | Err(Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }
}
