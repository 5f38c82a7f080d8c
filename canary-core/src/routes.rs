//! The routes of a group: what the router is told for each app. One place builds them, for the
//! engine and for deploying alike.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::model::{AppRef, Weight};
use crate::spec::{AppSpec, Spec};
use crate::traits::{AppRoute, Orchestrator, RouteConfig};

/// An app's route, from the spec and stable's current labels (the router finds stable's
/// backend in them).
pub fn app_route(
    spec: &Spec,
    app: &AppRef,
    spec_app: &AppSpec,
    stable_labels: BTreeMap<String, String>,
) -> AppRoute {
    AppRoute {
        group: spec.group.clone(),
        app: app.clone(),
        rule: spec_app.rule.clone(),
        port: spec_app.port,
        health_path: spec_app.health_path.clone(),
        entry_points: spec.traffic.entry_points.clone(),
        stable_labels,
        canary_endpoints: Vec::new(),
    }
}

/// The group's routing at `weight`. A canary that is not routed leaves the weights, the header
/// route and the mirror, so its service may then go away.
pub fn route_config(
    spec: &Spec,
    apps: Vec<AppRoute>,
    weight: Weight,
    canary_routed: bool,
) -> RouteConfig {
    RouteConfig {
        group: spec.group.clone(),
        mode: spec.traffic.mode,
        apps,
        canary_weight: if canary_routed { weight } else { Weight::ZERO },
        canary_routed,
        header_route: if canary_routed {
            spec.traffic.header_route.clone()
        } else {
            None
        },
        sticky: spec.traffic.sticky,
        mirror: if canary_routed {
            spec.traffic.mirror
        } else {
            Weight::ZERO
        },
        stable_detached: false,
    }
}

/// Every app's route with stable's labels as they are now (none where stable does not exist
/// yet).
pub async fn app_routes(spec: &Spec, orchestrator: &dyn Orchestrator) -> Result<Vec<AppRoute>> {
    let mut out = Vec::with_capacity(spec.apps.len());
    for (app, spec_app) in spec.app_refs().iter().zip(&spec.apps) {
        let labels = match orchestrator.inspect(&app.stable).await {
            Ok(s) => s.labels,
            Err(Error::NotFound { .. }) => BTreeMap::new(),
            Err(e) => return Err(e),
        };
        out.push(app_route(spec, app, spec_app, labels));
    }
    Ok(out)
}
