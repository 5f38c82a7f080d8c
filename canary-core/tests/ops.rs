//! Deploying and smoke-testing a group through the traits, on the in-memory world: what every
//! front end (CLI, Python, Node) gets from `canary_core::ops`.

use std::sync::Arc;

use canary_core::memory::{MemoryOrchestrator, MemoryRouter};
use canary_core::ops::{self, DeployOptions, SmokeOptions};
use canary_core::spec::overrides::Override;
use canary_core::{Deps, Error, ImageRef, MemoryStateStore, ServiceName, Spec};

const SPEC: &str = r#"
group: shop
stack: shop
apps:
  - name: api
    image: api:v2
    stableImage: api:v1
    stableReplicas: 3
    port: 8080
    rule: "Host(`api.localhost`) && PathPrefix(`/api`)"
  - name: web
    image: web:v2
    port: 8080
    rule: "Host(`web.localhost`)"
"#;

struct World {
    orch: Arc<MemoryOrchestrator>,
    router: Arc<MemoryRouter>,
    deps: Deps,
}

fn world() -> World {
    let orch = Arc::new(MemoryOrchestrator::new());
    let router = Arc::new(MemoryRouter::new());
    let deps = Deps::new(
        orch.clone(),
        router.clone(),
        Arc::new(NoMetrics),
        Arc::new(MemoryStateStore::new()),
        Arc::new(NoHooks),
    );
    World { orch, router, deps }
}

#[derive(Debug)]
struct NoMetrics;
#[async_trait::async_trait]
impl canary_core::MetricsSource for NoMetrics {
    async fn value(
        &self,
        _: &canary_core::MetricQuery,
    ) -> canary_core::Result<canary_core::Observation> {
        Ok(canary_core::Observation::NoData)
    }
    async fn samples(&self, _: &canary_core::MetricQuery) -> canary_core::Result<Vec<f64>> {
        Ok(Vec::new())
    }
}

#[derive(Debug)]
struct NoHooks;
#[async_trait::async_trait]
impl canary_core::HookRunner for NoHooks {
    async fn call(
        &self,
        _: &canary_core::spec::HookSpec,
        _: &canary_core::HookContext,
    ) -> canary_core::Result<canary_core::HookOutcome> {
        Ok(canary_core::HookOutcome {
            ok: true,
            message: String::new(),
        })
    }
}

#[tokio::test]
async fn deploy_creates_what_is_missing_adopts_the_rest_and_routes_to_stable() {
    let w = world();
    // `web` exists already (a stack deployed it); `api` does not.
    w.orch.add_service(
        ServiceName::parse("shop_web").unwrap(),
        &ImageRef::parse("web:v1").unwrap(),
        2,
    );
    let spec = Spec::from_yaml(SPEC).unwrap();
    let mut seen = Vec::new();
    let steps = ops::deploy(
        &spec,
        &w.deps,
        &DeployOptions::default().network("net"),
        &mut |s| seen.push(s.clone()),
    )
    .await
    .unwrap();
    assert_eq!(seen, steps);
    let actions: Vec<(String, String, String)> = steps
        .iter()
        .map(|s| (s.what.clone(), s.name.clone(), s.action.clone()))
        .collect();
    let has = |what: &str, name: &str, action: &str| {
        actions.contains(&(what.into(), name.into(), action.into()))
    };
    assert!(has("network", "net", "created"), "{actions:?}");
    assert!(has("stable", "shop_api", "created"), "{actions:?}");
    assert!(has("stable", "shop_web", "adopted"), "{actions:?}");
    assert!(has("routes", "shop", "applied"), "{actions:?}");
    let api = w.orch.service("shop_api").unwrap();
    assert_eq!((api.image.as_str(), api.desired), ("api:v1", 3));
    assert_eq!(
        api.labels
            .get("com.docker.stack.namespace")
            .map(String::as_str),
        Some("shop")
    );
    let last = w.router.last().unwrap();
    assert!(!last.canary_routed);
    assert_eq!(last.canary_weight.get(), 0);
    assert_eq!(last.apps.len(), 2);

    // Again: nothing is created twice.
    let again = ops::deploy(
        &spec,
        &w.deps,
        &DeployOptions::default().network("net"),
        &mut |_| {},
    )
    .await
    .unwrap();
    assert!(again.iter().all(|s| s.action != "created"), "{again:?}");
}

#[tokio::test]
async fn deploy_refuses_before_changing_anything() {
    let w = world();
    // No stableImage for `web`, which does not exist: nothing may be created at all.
    let spec = Spec::from_yaml(SPEC).unwrap();
    let e = ops::deploy(&spec, &w.deps, &DeployOptions::default(), &mut |_| {})
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::InvalidInput { ref field, .. } if field.contains("stableImage")),
        "{e}"
    );
    // A replica count Swarm would take and choke on never becomes a spec.
    let e = Spec::from_text(
        SPEC,
        &[Override::set("apps.api.stableReplicas", 4_000_000_000u64)],
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "apps[0].stableReplicas: 4000000000 replicas is above the limit of 1000"
    );
    assert!(w.orch.services().is_empty(), "{:?}", w.orch.services());
}

#[tokio::test]
async fn the_smoke_test_counts_answers_per_app_and_variant() {
    let w = world();
    let spec = Spec::from_yaml(SPEC).unwrap();
    let report = ops::smoke_test(&spec, &w.deps, &SmokeOptions::default().requests(3))
        .await
        .unwrap();
    assert!(report.ok);
    // Two apps, each with and without the default header route.
    assert_eq!(report.tallies.len(), 4);
    for t in &report.tallies {
        assert_eq!(t.requests, 3);
        assert_eq!(t.statuses.get("200"), Some(&3), "{t:?}");
    }
    let header = report
        .tallies
        .iter()
        .find(|t| t.variant == "header")
        .unwrap();
    assert_eq!(header.header.as_deref(), Some("X-Canary: true"));
    let e = ops::smoke_test(&spec, &w.deps, &SmokeOptions::default().requests(0))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("requests"), "{e}");
    let e = ops::smoke_test(&spec, &w.deps, &SmokeOptions::default().app("nope"))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no app named"), "{e}");
}
