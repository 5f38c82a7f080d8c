//! The routing put in force: route configs for the router, and weights (by replica counts in
//! replicas mode).

use std::collections::BTreeMap;

use super::Rollout;
use crate::error::Result;
use crate::model::{AppRef, ReplicaPlan, ServiceName, StepPlan, Weight};
use crate::routes;
use crate::spec::TrafficMode;
use crate::traits::{AppRoute, RouteConfig};

impl Rollout {
    /// Puts `weight` in force; returns the weight really in force (replicas mode may round).
    pub(super) async fn set_weight(&self, weight: Weight) -> Result<Weight> {
        let stable_labels = self.stable_labels().await?;
        let mut effective = weight;
        if self.spec.traffic.mode == TrafficMode::Replicas {
            let total = self.total_replicas().await?;
            let plan = ReplicaPlan::for_weight(weight, total)?;
            effective = plan.effective;
            let mut touched = Vec::new();
            // Grow before shrinking, so capacity never dips.
            for app in &self.apps {
                self.effect("scale canary", || {
                    self.deps.orchestrator.scale(&app.canary, plan.canary)
                })
                .await?;
                touched.push(app.canary.clone());
            }
            for app in &self.apps {
                self.effect("scale stable", || {
                    self.deps.orchestrator.scale(&app.stable, plan.stable)
                })
                .await?;
                touched.push(app.stable.clone());
            }
            self.wait_all(&touched, self.spec.timeouts.converge.get())
                .await?;
        }
        // The canary's tasks as they are now (new replicas, a restarted task).
        self.refresh_endpoints().await?;
        let config = self.route_config_with(weight, true, &stable_labels);
        self.effect("route", || self.deps.router.apply(&config))
            .await?;
        Ok(effective)
    }

    pub(super) async fn total_replicas(&self) -> Result<u64> {
        Ok(self.spec.replica_total())
    }

    /// Replicas mode: what a step's event says of its counts (`: 1 canary + 4 stable tasks,
    /// exactly 20%`); nothing in weighted mode.
    pub(super) fn replica_note(&self, weight: Weight) -> String {
        if self.spec.traffic.mode != TrafficMode::Replicas {
            return String::new();
        }
        match ReplicaPlan::for_weight(weight, self.spec.replica_total()) {
            Ok(p) => format!(" (replicas: {})", StepPlan::new(weight, p).describe()),
            Err(_) => String::new(),
        }
    }

    pub(super) async fn stable_labels(
        &self,
    ) -> Result<BTreeMap<ServiceName, BTreeMap<String, String>>> {
        let mut out = BTreeMap::new();
        for app in &self.apps {
            let s = self
                .call("inspect stable", || {
                    self.deps.orchestrator.inspect(&app.stable)
                })
                .await?;
            out.insert(app.name.clone(), s.labels);
        }
        Ok(out)
    }

    pub(super) fn app_route(
        &self,
        app: &AppRef,
        spec_app: &crate::spec::AppSpec,
        stable_labels: &BTreeMap<ServiceName, BTreeMap<String, String>>,
    ) -> AppRoute {
        let mut route = routes::app_route(
            &self.spec,
            app,
            spec_app,
            stable_labels.get(&app.name).cloned().unwrap_or_default(),
        );
        route.canary_endpoints = self.endpoints_of(&app.name);
        route
    }

    pub(super) fn route_config_with(
        &self,
        weight: Weight,
        canary_routed: bool,
        stable_labels: &BTreeMap<ServiceName, BTreeMap<String, String>>,
    ) -> RouteConfig {
        let apps = self
            .apps
            .iter()
            .zip(&self.spec.apps)
            .map(|(a, s)| self.app_route(a, s, stable_labels))
            .collect();
        routes::route_config(&self.spec, apps, weight, canary_routed)
    }
}
