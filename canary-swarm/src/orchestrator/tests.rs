//! Unit tests of the orchestrator's pure parts: service specs, image references, retries.

use super::*;

#[test]
fn tags_split_after_the_last_slash() {
    assert_eq!(split_tag("api:v2"), ("api", Some("v2")));
    assert_eq!(
        split_tag("localhost:5000/team/api"),
        ("localhost:5000/team/api", None)
    );
    assert_eq!(
        split_tag("localhost:5000/team/api:1.2"),
        ("localhost:5000/team/api", Some("1.2"))
    );
}

#[test]
fn names_match_exactly_not_by_prefix() {
    // fixtures/docker/engine-20.10.24-api-1.41/services_list_status_true.json: the `name`
    // filter `demo` returned demo and demo2.
    let list: Vec<Value> = serde_json::from_str(include_str!(
        "../../tests/fixtures/services_list_status_true.json"
    ))
    .unwrap();
    assert_eq!(list.len(), 2);
    let demo = exact(list.clone(), "demo").unwrap();
    assert_eq!(demo["ServiceStatus"]["DesiredTasks"], 2);
    assert_eq!(
        exact(list.clone(), "demo2").unwrap()["Spec"]["Name"],
        "demo2"
    );
    assert!(exact(list, "dem").is_none());
}

#[test]
fn ingress_ports_are_not_host_ports() {
    // fixtures/.../service_inspect_demo.json publishes 18080 through the routing mesh.
    let demo: Value = serde_json::from_str(include_str!(
        "../../tests/fixtures/service_inspect_demo.json"
    ))
    .unwrap();
    assert!(!spec::publishes_host_ports(&demo["Spec"]));
    let mut spec = demo["Spec"].clone();
    spec::prefer_start_first(&mut spec);
    assert_eq!(spec["UpdateConfig"]["Order"], "start-first");
}

#[test]
fn backoff_grows_to_its_cap() {
    let r = RetryPolicy::default();
    assert!(r.backoff(1) >= Duration::from_millis(50) && r.backoff(1) < Duration::from_millis(63));
    assert!(r.backoff(3) >= Duration::from_millis(200));
    assert!(r.backoff(30) <= Duration::from_millis(2500));
}

#[test]
fn new_services_look_like_cli_ones() {
    let mut s = NewService::new(
        ServiceName::parse("web").unwrap(),
        ImageRef::parse("canary-demo:v1").unwrap(),
        2,
    );
    s.ports.push(canary_core::model::HostPort::new(18080, 8080));
    s.env.insert("VERSION".into(), "v1".into());
    let spec = serde_json::to_value(new_service_spec(&s)).unwrap();
    assert!(spec::publishes_host_ports(&spec));
    assert_eq!(spec::replicas(&spec), Some(2));
    let cs = &spec["TaskTemplate"]["ContainerSpec"];
    assert_eq!(cs["Init"], true);
    assert_eq!(cs["Env"], serde_json::json!(["VERSION=v1"]));
    let defaults = spec::cli_default_update_config();
    for k in ["Parallelism", "FailureAction", "Monitor", "Order"] {
        assert_eq!(spec["UpdateConfig"][k], defaults[k], "{k}");
    }
}
