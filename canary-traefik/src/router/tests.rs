//! Unit tests of the router against a fake Traefik API that answers what Traefik 3.7.9 answered
//! on the local stack for the same objects (`tests/fixtures/traefik/live-v3.7.9-routing/`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use canary_core::spec::{HeaderRoute, TrafficMode};
use canary_core::traits::TaskEndpoint;
use canary_core::{AppRef, AppRoute, Error, RouteConfig, Router, ServiceName, Track, Weight};
use serde_json::{json, Value};

use super::TraefikRouter;
use crate::testutil::{fixture, FakeHttp};

fn sn(s: &str) -> ServiceName {
    ServiceName::parse(s).unwrap()
}

/// A captured API answer of Traefik 3.7.9.
fn cap(name: &str) -> Value {
    serde_json::from_str(&fixture(&format!(
        "traefik/live-v3.7.9-routing/{name}.json"
    )))
    .unwrap()
}

const RULE: &str = "Host(`rt2.localhost`)";

/// The route of the captures: group rt2, app web, stable rt2-stable, one canary task.
fn config(weight: u64, tasks: bool) -> RouteConfig {
    let app = AppRef {
        name: sn("web"),
        stable: sn("rt2-stable"),
        canary: sn("rt2-stable-canary"),
    };
    let route = AppRoute::new(sn("rt2"), app, RULE, 8080)
        .health_path("/health")
        .entry_points(vec!["web".into()])
        .stable_labels(BTreeMap::from([(
            "traefik.http.services.rt2-stable.loadbalancer.server.port".to_string(),
            "8080".to_string(),
        )]))
        .canary_endpoints(if tasks {
            vec![TaskEndpoint {
                task: "t1".into(),
                node: None,
                addresses: BTreeMap::from([("canary-net".into(), "10.0.1.22".into())]),
            }]
        } else {
            Vec::new()
        });
    RouteConfig::new(sn("rt2"), TrafficMode::Weighted, vec![route])
        .canary_weight(Weight::new(weight).unwrap())
        .canary_routed(true)
        .header_route(HeaderRoute::default())
        .sticky(true)
        .mirror(Weight::new(10).unwrap())
}

fn unrouted() -> RouteConfig {
    let mut c = config(0, true);
    c.canary_routed = false;
    c.header_route = None;
    c.sticky = false;
    c.mirror = Weight::ZERO;
    c
}

fn router(dir: &Path, url: &str) -> TraefikRouter {
    TraefikRouter::builder(dir, url)
        .network("canary-net")
        .confirm_timeout(Duration::from_millis(800))
        .poll_interval(Duration::from_millis(50))
        .build()
        .unwrap()
}

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("canary-traefik-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

const SERVICES: &str = "/api/http/services/";

/// The API paths of the app's objects.
const WEIGHTED: &str = "/api/http/services/canary-rt2--web@file";
const SLOT: &str = "/api/http/services/canary-rt2--web--canary@file";
const TASKS: &str = "/api/http/services/canary-rt2--web--tasks@file";
const MIRROR: &str = "/api/http/services/canary-rt2--web--mirror@file";
const RETRY: &str = "/api/http/middlewares/canary-rt2--web--retry@file";
const APP_ROUTER: &str = "/api/http/routers/canary-rt2--web@file";
const HEADER_ROUTER: &str = "/api/http/routers/canary-rt2--web--header@file";

fn set(fake: &FakeHttp, path: &str, v: &Value) {
    fake.set(path, 200, v.to_string());
}

/// The routers as captured, with the priorities the renderer derives from the rule.
fn routers() -> (Value, Value) {
    let p = crate::rule::app_priority(RULE);
    let mut app = cap("routers_canary-rt2--web_file");
    app["priority"] = json!(p);
    let mut header = cap("routers_canary-rt2--web--header_file");
    header["priority"] = json!(p + 1);
    (app, header)
}

/// Traefik showing the whole shape with one running canary task at weight 20, as captured.
fn serve_loaded(fake: &FakeHttp) {
    set(
        fake,
        &format!("{SERVICES}rt2-stable@swarm"),
        &cap("services_rt2-stable_swarm"),
    );
    set(fake, WEIGHTED, &cap("services_canary-rt2--web_file"));
    set(fake, SLOT, &cap("services_canary-rt2--web--canary_file"));
    set(fake, TASKS, &cap("services_canary-rt2--web--tasks_file"));
    set(fake, MIRROR, &cap("services_canary-rt2--web--mirror_file"));
    set(fake, RETRY, &cap("middlewares_canary-rt2--web--retry_file"));
    let (app, header) = routers();
    set(fake, APP_ROUTER, &app);
    set(fake, HEADER_ROUTER, &header);
}

fn timeout_naming(e: &Error, words: &str) -> bool {
    matches!(e, Error::Timeout { what, .. } if what.contains(words))
}

#[tokio::test]
async fn confirms_every_object_of_the_shape() {
    let fake = FakeHttp::start();
    let dir = tempdir("confirm");
    std::fs::write(dir.join("other.yml"), "http: {}\n").unwrap();
    let r = router(&dir, &fake.url);
    serve_loaded(&fake);
    r.apply(&config(20, true)).await.unwrap();
    let text = std::fs::read_to_string(dir.join("canary-rt2.yml")).unwrap();
    assert!(text.contains("http://10.0.1.22:8080"), "{text}");
    assert_eq!(
        std::fs::read_to_string(dir.join("other.yml")).unwrap(),
        "http: {}\n",
        "other files untouched"
    );
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into())
        .collect();
    assert_eq!(names.len(), 2, "no dot-file left: {names:?}");
    let split = r.read(&config(20, true)).await.unwrap();
    assert_eq!(
        (
            split[0].stable,
            split[0].canary,
            split[0].header_route,
            split[0].healthy
        ),
        (80, 20, true, true)
    );

    // Each object Traefik does not show as written yet holds the confirmation, and the timeout
    // names it.
    let edit = |path: &'static str, base: Value, f: fn(&mut Value)| {
        let mut v = base;
        f(&mut v);
        (path, v)
    };
    let (app, header) = routers();
    let cases: Vec<(&str, (&str, Value))> = vec![
        (
            "weights",
            edit(WEIGHTED, cap("services_canary-rt2--web_file"), |v| {
                v["weighted"]["services"][1]["weight"] = json!(10)
            }),
        ),
        (
            "weights",
            edit(WEIGHTED, cap("services_canary-rt2--web_file"), |v| {
                v["weighted"]["sticky"] = Value::Null
            }),
        ),
        (
            "failover",
            edit(
                SLOT,
                cap("notask_services_canary-rt2--web--canary_file"),
                |_| {},
            ),
        ),
        (
            "failover",
            edit(SLOT, cap("services_canary-rt2--web--canary_file"), |v| {
                v["failover"]["fallback"] = json!("other@swarm")
            }),
        ),
        (
            "servers",
            edit(TASKS, cap("services_canary-rt2--web--tasks_file"), |v| {
                v["loadBalancer"]["servers"][0]["url"] = json!("http://10.0.1.21:8080")
            }),
        ),
        (
            "transport",
            edit(TASKS, cap("services_canary-rt2--web--tasks_file"), |v| {
                v["loadBalancer"]["serversTransport"] = Value::Null
            }),
        ),
        (
            "health",
            edit(TASKS, cap("services_canary-rt2--web--tasks_file"), |v| {
                v["loadBalancer"]["healthCheck"]["interval"] = json!("30s")
            }),
        ),
        (
            "load balancer",
            edit(
                TASKS,
                cap("notask_services_canary-rt2--web--tasks_file"),
                |_| {},
            ),
        ),
        (
            "mirror",
            edit(MIRROR, cap("services_canary-rt2--web--mirror_file"), |v| {
                v["mirroring"]["mirrors"][0]["name"] = json!("rt2-stable-canary@swarm")
            }),
        ),
        (
            "retries",
            edit(RETRY, cap("middlewares_canary-rt2--web--retry_file"), |v| {
                v["retry"]["attempts"] = json!(3)
            }),
        ),
        (
            "canary-rt2--web@file still targets",
            edit(APP_ROUTER, app.clone(), |v| v["middlewares"] = json!([])),
        ),
        (
            "canary-rt2--web--header@file still targets",
            edit(HEADER_ROUTER, header.clone(), |v| {
                v["service"] = json!("rt2-stable-canary@swarm")
            }),
        ),
    ];
    for (words, (path, shown)) in cases {
        serve_loaded(&fake);
        set(&fake, path, &shown);
        let e = r.apply(&config(20, true)).await.unwrap_err();
        assert!(timeout_naming(&e, words), "{path}: {words:?} not in {e}");
    }
    // Not loaded at all.
    for path in [SLOT, TASKS, MIRROR, RETRY, HEADER_ROUTER] {
        serve_loaded(&fake);
        fake.unset(path);
        let e = r.apply(&config(20, true)).await.unwrap_err();
        assert!(timeout_naming(&e, "not loaded yet"), "{path}: {e}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn without_a_canary_task_the_slot_and_tasks_are_stand_ins() {
    let fake = FakeHttp::start();
    let dir = tempdir("notask");
    let r = router(&dir, &fake.url);
    serve_loaded(&fake);
    // Traefik still has the failover and the task's server: not confirmed.
    let e = r.apply(&config(20, false)).await.unwrap_err();
    assert!(timeout_naming(&e, "canary-rt2--web--canary@file"), "{e}");
    set(
        &fake,
        SLOT,
        &cap("notask_services_canary-rt2--web--canary_file"),
    );
    set(
        &fake,
        TASKS,
        &cap("notask_services_canary-rt2--web--tasks_file"),
    );
    r.apply(&config(20, false)).await.unwrap();
    let split = r.read(&config(20, false)).await.unwrap();
    assert_eq!((split[0].stable, split[0].canary), (80, 20));
    let text = std::fs::read_to_string(dir.join("canary-rt2.yml")).unwrap();
    assert!(
        !text.contains("loadBalancer") && !text.contains("failover"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn objects_the_new_file_lacks_must_be_gone() {
    let fake = FakeHttp::start();
    let dir = tempdir("gone");
    let r = router(&dir, &fake.url);
    serve_loaded(&fake);
    set(
        &fake,
        WEIGHTED,
        &json!({"weighted": {"services": [{"name": "rt2-stable@swarm", "weight": 100}]},
                "status": "enabled", "name": "canary-rt2--web@file", "provider": "file"}),
    );
    let mut app = routers().0;
    app.as_object_mut().unwrap().remove("middlewares");
    set(&fake, APP_ROUTER, &app);
    // Everything of the canary is still loaded: the rollback is not confirmed.
    for path in [MIRROR, SLOT, TASKS, RETRY, HEADER_ROUTER] {
        let e = r.apply(&unrouted()).await.unwrap_err();
        assert!(timeout_naming(&e, "still loaded"), "{path}: {e}");
        fake.unset(path);
    }
    r.apply(&unrouted()).await.unwrap();
    let split = r.read(&unrouted()).await.unwrap();
    assert_eq!(
        (split[0].stable, split[0].canary, split[0].header_route),
        (100, 0, false)
    );
    // remove: the file goes, and Traefik (here already) drops the routers.
    fake.unset(APP_ROUTER);
    r.remove(&sn("rt2")).await.unwrap();
    assert!(!dir.join("canary-rt2.yml").exists());
    r.remove(&sn("rt2")).await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_config_traefik_disabled_is_rejected_and_the_previous_file_restored() {
    let fake = FakeHttp::start();
    let dir = tempdir("rejected");
    let r = router(&dir, &fake.url);
    serve_loaded(&fake);
    r.apply(&config(20, true)).await.unwrap();
    let before = std::fs::read_to_string(dir.join("canary-rt2.yml")).unwrap();
    // Captured: the servers transport is missing, Traefik disables the tasks load balancer.
    let broken = cap("missing_transport_services_canary-rt2--web--tasks_file");
    let words = broken["error"][0].as_str().unwrap().to_string();
    assert!(words.contains("servers transport not found"), "{words}");
    let mut c = config(20, true);
    c.sticky = false;
    let mut weighted = cap("services_canary-rt2--web_file");
    weighted["weighted"]["sticky"] = Value::Null;
    set(&fake, WEIGHTED, &weighted);
    set(&fake, TASKS, &broken);
    let e = r.apply(&c).await.unwrap_err();
    assert_eq!(
        e,
        Error::rejected(
            "traefik",
            format!("service canary-rt2--web--tasks@file: {words}")
        )
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("canary-rt2.yml")).unwrap(),
        before
    );
    // The captured error state of a weighted service naming a service Traefik lacks.
    let ghost: Value = serde_json::from_str(&fixture(
        "traefik/live-v3.7.9/api-error-state/http_service_ghost-weighted.json",
    ))
    .unwrap();
    serve_loaded(&fake);
    let mut disabled = cap("services_canary-rt2--web_file");
    disabled["weighted"]["services"][1]["weight"] = json!(30);
    disabled["weighted"]["services"][0]["weight"] = json!(70);
    disabled["status"] = json!("disabled");
    disabled["error"] = ghost["error"].clone();
    set(&fake, WEIGHTED, &disabled);
    let e = r.apply(&config(30, true)).await.unwrap_err();
    assert!(
        matches!(&e, Error::Rejected { message, .. } if message.contains("ghost@swarm")),
        "{e}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("canary-rt2.yml")).unwrap(),
        before
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn never_writes_a_file_naming_a_stable_traefik_lacks_and_needs_nothing_of_the_canary() {
    let fake = FakeHttp::start();
    let dir = tempdir("preflight");
    let r = router(&dir, &fake.url);
    serve_loaded(&fake);
    fake.unset(&format!("{SERVICES}rt2-stable@swarm"));
    let e = r.apply(&config(20, true)).await.unwrap_err();
    assert!(timeout_naming(&e, "rt2-stable@swarm"), "{e}");
    assert!(!dir.join("canary-rt2.yml").exists());
    // Stable known: nothing of the canary's Swarm service is asked for (Traefik has none).
    set(
        &fake,
        &format!("{SERVICES}rt2-stable@swarm"),
        &cap("services_rt2-stable_swarm"),
    );
    r.apply(&config(20, true)).await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn write_hands_the_file_over_without_the_api() {
    let dir = tempdir("write");
    // Nothing listens there: any API call would fail.
    let r = router(&dir, "http://127.0.0.1:1");
    r.write(&unrouted()).await.unwrap();
    let text = std::fs::read_to_string(dir.join("canary-rt2.yml")).unwrap();
    let expected = crate::dynamic::render(&unrouted(), crate::ProviderVersion::V3, "canary-net")
        .unwrap()
        .config
        .to_yaml()
        .unwrap();
    assert_eq!(text, expected);
    r.write(&config(20, true)).await.unwrap();
    let text = std::fs::read_to_string(dir.join("canary-rt2.yml")).unwrap();
    assert!(text.contains("failover"), "{text}");
    assert!(
        r.apply(&config(20, true)).await.is_err(),
        "apply needs the API"
    );
    // The same checks as apply: a config of the other mode, an invalid config.
    let mut c = config(20, true);
    c.mode = TrafficMode::Replicas;
    c.sticky = false;
    c.mirror = Weight::ZERO;
    assert!(r.write(&c).await.is_err());
    let mut c = config(20, true);
    c.apps[0].rule = "Host(`a".into();
    assert!(r.write(&c).await.is_err());
    assert_eq!(
        std::fs::read_to_string(dir.join("canary-rt2.yml")).unwrap(),
        text,
        "a refused config changes nothing"
    );
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into())
        .collect();
    assert_eq!(names, ["canary-rt2.yml"], "no dot-file left");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn replicas_split_counts_the_canarys_tasks_among_stables_servers() {
    let fake = FakeHttp::start();
    let dir = tempdir("replicas");
    let r = TraefikRouter::builder(&dir, &fake.url)
        .network("canary-net")
        .mode(TrafficMode::Replicas)
        .confirm_timeout(Duration::from_millis(800))
        .poll_interval(Duration::from_millis(50))
        .build()
        .unwrap();
    let mut c = config(25, true);
    c.mode = TrafficMode::Replicas;
    c.sticky = false;
    c.mirror = Weight::ZERO;
    let mut shared = cap("services_rt2-stable_swarm");
    shared["loadBalancer"]["servers"] = json!([
        {"url": "http://10.0.1.21:8080"}, {"url": "http://10.0.1.22:8080"},
        {"url": "http://10.0.1.30:8080"}, {"url": "http://10.0.1.31:8080"}
    ]);
    set(&fake, &format!("{SERVICES}rt2-stable@swarm"), &shared);
    let p = crate::rule::app_priority(RULE);
    let mut app = routers().0;
    app["service"] = json!("rt2-stable@swarm");
    app.as_object_mut().unwrap().remove("middlewares");
    set(&fake, APP_ROUTER, &app);
    let (_, mut header) = routers();
    header["priority"] = json!(p + 1);
    set(&fake, HEADER_ROUTER, &header);
    set(&fake, TASKS, &cap("services_canary-rt2--web--tasks_file"));
    r.apply(&c).await.unwrap();
    let split = r.read(&c).await.unwrap();
    assert_eq!(
        (
            split[0].stable,
            split[0].canary,
            split[0].header_route,
            split[0].healthy
        ),
        (3, 1, true, true)
    );
    // Replicas mode names the canary's tasks for the header route only: no weighted service.
    let text = std::fs::read_to_string(dir.join("canary-rt2.yml")).unwrap();
    assert!(
        !text.contains("weighted") && !text.contains("retry"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn debug_never_shows_the_password() {
    let r = TraefikRouter::builder("/tmp", "http://127.0.0.1:1")
        .network("n")
        .basic_auth("admin", "s3cret-pw")
        .build()
        .unwrap();
    let d = format!("{r:?}");
    assert!(d.contains("admin") && !d.contains("s3cret-pw"), "{d}");
}

#[tokio::test]
async fn a_config_of_the_other_mode_is_refused() {
    let r = router(Path::new("/nonexistent"), "http://127.0.0.1:1");
    let mut c = config(10, true);
    c.mode = TrafficMode::Replicas;
    let e = r.apply(&c).await.unwrap_err();
    assert!(
        matches!(&e, Error::InvalidInput { field, .. } if field == "traffic.mode"),
        "{e}"
    );
    // The labels follow the router's mode: a weighted canary is no Traefik service at all.
    let labels = r.service_labels(&c.apps[0], Track::Canary);
    assert_eq!(
        labels,
        BTreeMap::from([("traefik.enable".to_string(), "false".to_string())])
    );
}

#[test]
fn builder_checks_options() {
    assert!(
        TraefikRouter::builder("/tmp", "http://127.0.0.1:1")
            .build()
            .is_err(),
        "network required"
    );
    assert!(TraefikRouter::builder("/tmp", "not a url")
        .network("n")
        .build()
        .is_err());
    assert!(TraefikRouter::builder("/tmp", "http://u:p@127.0.0.1:1")
        .network("n")
        .build()
        .is_err());
    assert!(TraefikRouter::builder("/tmp", "http://127.0.0.1:1")
        .network("a b")
        .build()
        .is_err());
}

#[tokio::test]
async fn every_replica_must_show_the_weights_before_success() {
    let (a, b) = (FakeHttp::start(), FakeHttp::start());
    let dir = tempdir("replicas");
    let r = TraefikRouter::builder(&dir, &a.url)
        .api_urls([a.url.clone(), b.url.clone()])
        .network("canary-net")
        .confirm_timeout(Duration::from_millis(800))
        .poll_interval(Duration::from_millis(50))
        .build()
        .unwrap();
    assert_eq!(r.apis().len(), 2);
    serve_loaded(&a);
    // Replica b still shows the old weights (a lagging watch, a stuck provider).
    serve_loaded(&b);
    let mut stale = cap("services_canary-rt2--web_file");
    stale["weighted"]["services"][1]["weight"] = json!(10);
    set(&b, WEIGHTED, &stale);
    let e = r.apply(&config(20, true)).await.unwrap_err();
    assert!(
        matches!(&e, Error::Timeout { what, .. } if what.contains(&b.url) && what.contains("weights")),
        "{e}"
    );
    set(&b, WEIGHTED, &cap("services_canary-rt2--web_file"));
    r.apply(&config(20, true)).await.unwrap();
    // A replica that does not know stable's backend holds the write back.
    let dir2 = tempdir("replicas2");
    let c = FakeHttp::start();
    let r2 = TraefikRouter::builder(&dir2, &a.url)
        .api_urls([a.url.clone(), c.url.clone()])
        .network("canary-net")
        .confirm_timeout(Duration::from_millis(500))
        .poll_interval(Duration::from_millis(50))
        .build()
        .unwrap();
    let e = r2.apply(&config(20, true)).await.unwrap_err();
    assert!(timeout_naming(&e, "rt2-stable@swarm"), "{e}");
    assert!(!dir2.join("canary-rt2.yml").exists(), "nothing written");
    // Bounds and duplicates.
    assert!(TraefikRouter::builder(&dir, &a.url)
        .api_urls([a.url.clone(), a.url.clone()])
        .network("n")
        .build()
        .is_err());
    assert!(TraefikRouter::builder(&dir, &a.url)
        .api_urls(Vec::<String>::new())
        .network("n")
        .build()
        .is_err());
    assert!(TraefikRouter::builder(&dir, &a.url)
        .api_urls((0..17).map(|i| format!("http://127.0.0.1:{}", 1000 + i)))
        .network("n")
        .build()
        .is_err());
}
