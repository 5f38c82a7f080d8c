//! Service specs as the daemon sends them (raw JSON): deriving the canary from stable, and the
//! few fields this SDK writes on a service it did not create.
//!
//! Specs stay `serde_json::Value`s from read to write, so every field this crate does not touch,
//! known to it or not, goes back to the daemon exactly as it came (see `raw.rs` for why). The
//! functions are pure, so the rules (which labels are copied, which env wins, why ports and
//! aliases are dropped) are tested without a daemon.

use std::collections::BTreeMap;

use canary_core::CanaryService;
use serde_json::{json, Map, Value};

/// Set on every canary service this SDK creates.
pub const MANAGED_LABEL: &str = "io.canary.managed";
pub use canary_core::model::STACK_NAMESPACE_LABEL;
/// The label `docker stack deploy` sets to the image the compose file names: stable's, never the
/// canary's, so it is not copied.
const STACK_IMAGE_LABEL: &str = "com.docker.stack.image";

/// True for labels that are not copied from stable to the canary: the router's (`traefik.*`), the
/// SDK's own (`io.canary.*`, among them the saved rollout state) and the stack's image label.
pub(crate) fn is_owned_label(key: &str) -> bool {
    key.starts_with("traefik.") || key.starts_with("io.canary.") || key == STACK_IMAGE_LABEL
}

/// `v[key]` as an object, made one if it is missing or not an object.
pub(crate) fn object<'a>(v: &'a mut Value, key: &str) -> &'a mut Map<String, Value> {
    if !v.is_object() {
        *v = Value::Object(Map::new());
    }
    let map = v.as_object_mut().expect("made an object above");
    let entry = map
        .entry(key.to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    if !entry.is_object() {
        *entry = Value::Object(Map::new());
    }
    entry.as_object_mut().expect("made an object above")
}

/// A string map (labels) as sorted pairs; non-string values are skipped.
pub(crate) fn string_map(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// The service labels of a spec.
pub(crate) fn labels(spec: &Value) -> BTreeMap<String, String> {
    string_map(spec.get("Labels"))
}

/// The service labels of a spec, to change.
pub(crate) fn labels_mut(spec: &mut Value) -> &mut Map<String, Value> {
    object(spec, "Labels")
}

fn container_spec(spec: &Value) -> Option<&Value> {
    spec.get("TaskTemplate")?.get("ContainerSpec")
}

fn container_spec_mut(spec: &mut Value) -> &mut Map<String, Value> {
    let task = object(spec, "TaskTemplate");
    let cs = task
        .entry("ContainerSpec")
        .or_insert_with(|| Value::Object(Map::new()));
    if !cs.is_object() {
        *cs = Value::Object(Map::new());
    }
    cs.as_object_mut().expect("made an object above")
}

/// The image a spec runs.
pub(crate) fn image(spec: &Value) -> String {
    container_spec(spec)
        .and_then(|c| c.get("Image"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// Sets the image a spec runs.
pub(crate) fn set_image(spec: &mut Value, image: &str) {
    container_spec_mut(spec).insert("Image".into(), json!(image));
}

/// The desired replicas of a replicated service; `None` for global and job modes.
pub(crate) fn replicas(spec: &Value) -> Option<u64> {
    let mode = spec.get("Mode")?.as_object()?;
    if ["Global", "ReplicatedJob", "GlobalJob"]
        .iter()
        .any(|m| mode.contains_key(*m))
    {
        return None;
    }
    // The daemon writes `Replicated: {Replicas: n}`; a missing count means 1, as for the CLI.
    Some(
        mode.get("Replicated")
            .and_then(|r| r.get("Replicas"))
            .and_then(Value::as_u64)
            .unwrap_or(1),
    )
}

/// Sets the replicas of a replicated spec.
pub(crate) fn set_replicas(spec: &mut Value, replicas: u64) {
    object(object_value(spec, "Mode"), "Replicated").insert("Replicas".into(), json!(replicas));
}

fn object_value<'a>(v: &'a mut Value, key: &str) -> &'a mut Value {
    object(v, key);
    v.get_mut(key).expect("made above")
}

/// `env` (`KEY=value` entries) with `extra` on top: a key of `extra` replaces stable's entry in
/// place, new keys are appended in key order.
pub(crate) fn merge_env(env: &[String], extra: &BTreeMap<String, String>) -> Vec<String> {
    let key_of = |e: &str| {
        e.split_once('=')
            .map(|(k, _)| k.to_string())
            .unwrap_or_else(|| e.to_string())
    };
    let mut out: Vec<String> = env
        .iter()
        .map(|e| match extra.get(&key_of(e)) {
            Some(v) => format!("{}={v}", key_of(e)),
            None => e.clone(),
        })
        .collect();
    for (k, v) in extra {
        if !env.iter().any(|e| key_of(e) == *k) {
            out.push(format!("{k}={v}"));
        }
    }
    out
}

/// Removes the aliases of network attachments: a stack gives each service its short name as an
/// alias (`api` for `neotix_api`); on the canary that alias would let every other service of the
/// stack reach canary tasks through `http://api`, outside the router's weights.
fn strip_aliases(networks: &mut Value) {
    if let Some(list) = networks.as_array_mut() {
        for n in list.iter_mut().filter_map(Value::as_object_mut) {
            n.remove("Aliases");
        }
    }
}

/// The update config the Docker CLI gives a service created without update flags.
pub(crate) fn cli_default_update_config() -> Value {
    json!({
        "Parallelism": 1,
        "FailureAction": "pause",
        "Monitor": 5_000_000_000u64,
        "MaxFailureRatio": 0,
        "Order": "stop-first"
    })
}

/// True when the service publishes a port in host mode: a second task of it cannot start on a
/// node while the first still holds the port, so a start-first update would stall there.
pub(crate) fn publishes_host_ports(spec: &Value) -> bool {
    spec.get("EndpointSpec")
        .and_then(|e| e.get("Ports"))
        .and_then(Value::as_array)
        .is_some_and(|ports| {
            ports.iter().any(|p| {
                p.get("PublishMode").and_then(Value::as_str) == Some("host")
                    && p.get("PublishedPort")
                        .and_then(Value::as_u64)
                        .is_some_and(|n| n > 0)
            })
        })
}

/// Makes rolling updates of `spec` start each new task before stopping the old one, so the service
/// keeps its capacity while it is updated; left alone when host-mode ports make that impossible.
/// Parallelism, delay, monitor and failure action stay the user's.
pub(crate) fn prefer_start_first(spec: &mut Value) {
    if publishes_host_ports(spec) {
        return;
    }
    let map = spec.as_object_mut().expect("a spec is an object");
    let cfg = map
        .entry("UpdateConfig")
        .or_insert_with(cli_default_update_config);
    if !cfg.is_object() {
        *cfg = cli_default_update_config();
    }
    cfg["Order"] = json!("start-first");
}

/// The canary service's spec: stable's, with the canary's image, replicas, env and labels.
///
/// Copied from stable, as the daemon sent it: networks (without aliases), env, mounts,
/// placement, resources, restart policy, health check, log driver, secrets, configs, endpoint
/// mode, and any field this crate does not know. Not copied: published ports (they would clash
/// with stable's), `traefik.*` / `io.canary.*` labels (the router's and ours), stable's
/// force-update counter. Updates start each new canary task before stopping the old.
///
/// `current` is the canary's spec when it exists already: its force-update counter is kept, so
/// deriving again from an unchanged stable gives the same spec and no update is sent.
pub(crate) fn canary_spec(stable: &Value, current: Option<&Value>, req: &CanaryService) -> Value {
    let mut spec = if stable.is_object() {
        stable.clone()
    } else {
        json!({})
    };

    let mut labels: Map<String, Value> = labels(stable)
        .into_iter()
        .filter(|(k, _)| !is_owned_label(k))
        .map(|(k, v)| (k, json!(v)))
        .collect();
    labels.extend(req.labels.iter().map(|(k, v)| (k.clone(), json!(v))));
    labels.insert(MANAGED_LABEL.into(), json!("true"));
    spec["Name"] = json!(req.name.as_str());
    spec["Labels"] = Value::Object(labels);

    let cs = container_spec_mut(&mut spec);
    cs.insert("Image".into(), json!(req.image.as_str()));
    let env: Vec<String> = cs
        .get("Env")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    let env = merge_env(&env, &req.env);
    if env.is_empty() {
        cs.remove("Env");
    } else {
        cs.insert("Env".into(), json!(env));
    }
    cs.insert("Init".into(), json!(req.init));
    // Container labels are copied too (some Traefik providers read them): same filter.
    if let Some(l) = cs.get_mut("Labels").and_then(Value::as_object_mut) {
        l.retain(|k, _| !is_owned_label(k));
    }

    let task = object(&mut spec, "TaskTemplate");
    if let Some(n) = task.get_mut("Networks") {
        strip_aliases(n);
    }
    if let Some(p) = &req.placement {
        override_placement(task, p);
    }
    match current.and_then(|c| c.get("TaskTemplate")?.get("ForceUpdate")) {
        Some(n) => task.insert("ForceUpdate".into(), n.clone()),
        None => task.remove("ForceUpdate"),
    };

    spec["Mode"] = json!({"Replicated": {"Replicas": req.replicas}});
    let mut update = match stable.get("UpdateConfig") {
        Some(u) if u.is_object() => u.clone(),
        _ => cli_default_update_config(),
    };
    // The canary publishes no ports, so a new task can always start beside the old one.
    update["Order"] = json!("start-first");
    spec["UpdateConfig"] = update;
    if let Some(n) = spec.get_mut("Networks") {
        strip_aliases(n);
    }
    let map = spec.as_object_mut().expect("an object");
    match stable.get("EndpointSpec").and_then(|e| e.get("Mode")) {
        Some(mode) => map.insert("EndpointSpec".into(), json!({ "Mode": mode })),
        None => map.remove("EndpointSpec"),
    };
    spec
}

/// Replaces the fields of stable's placement (copied with its task template) that the spec's
/// override sets: constraints, spread preferences, the per-node limit. An empty list or a limit
/// of 0 removes the field, as `docker service update --constraint-rm` would.
fn override_placement(task: &mut Map<String, Value>, p: &canary_core::spec::PlacementSpec) {
    let mut placement = match task.remove("Placement") {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    if let Some(c) = &p.constraints {
        if c.is_empty() {
            placement.remove("Constraints");
        } else {
            placement.insert("Constraints".into(), json!(c));
        }
    }
    if let Some(prefs) = &p.preferences {
        if prefs.is_empty() {
            placement.remove("Preferences");
        } else {
            let prefs: Vec<Value> = prefs
                .iter()
                .map(|d| json!({"Spread": {"SpreadDescriptor": d}}))
                .collect();
            placement.insert("Preferences".into(), Value::Array(prefs));
        }
    }
    match p.max_replicas_per_node {
        Some(0) => {
            placement.remove("MaxReplicas");
        }
        Some(n) => {
            placement.insert("MaxReplicas".into(), json!(n));
        }
        None => {}
    }
    if !placement.is_empty() {
        task.insert("Placement".into(), Value::Object(placement));
    }
}

/// True when two specs say the same thing. The daemon drops empty maps and lists and adds a few
/// defaults when it stores a spec, so specs are compared with nulls and empty containers
/// removed: a spec derived again from unchanged inputs then equals the stored one.
pub(crate) fn same_spec(a: &Value, b: &Value) -> bool {
    fn prune(v: &Value) -> Option<Value> {
        match v {
            Value::Null => None,
            Value::Object(m) => {
                let m: Map<String, Value> = m
                    .iter()
                    .filter_map(|(k, v)| prune(v).map(|v| (k.clone(), v)))
                    .collect();
                (!m.is_empty()).then_some(Value::Object(m))
            }
            Value::Array(a) => {
                let a: Vec<Value> = a.iter().filter_map(prune).collect();
                (!a.is_empty()).then_some(Value::Array(a))
            }
            other => Some(other.clone()),
        }
    }
    prune(a) == prune(b)
}

/// The service named exactly `name` in a list the daemon filtered by name prefix.
pub(crate) fn exact(services: Vec<Value>, name: &str) -> Option<Value> {
    services
        .into_iter()
        .find(|s| s.pointer("/Spec/Name").and_then(Value::as_str) == Some(name))
}

/// A service's ID, from the daemon's JSON.
pub(crate) fn service_id(service: &Value) -> String {
    service
        .get("ID")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// Splits `repo:tag` (the tag being after the last `:` that follows the last `/`).
pub(crate) fn split_tag(image: &str) -> (&str, Option<&str>) {
    let slash = image.rfind('/').map(|i| i + 1).unwrap_or(0);
    match image[slash..].rfind(':') {
        Some(i) => (&image[..slash + i], Some(&image[slash + i + 1..])),
        None => (image, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use canary_core::{ImageRef, ServiceName};

    fn stack_service() -> Value {
        // fixtures/docker/engine-20.10.24-api-1.41/service_inspect_stack_service.json
        serde_json::from_str(include_str!(
            "../tests/fixtures/service_inspect_stack_service.json"
        ))
        .unwrap()
    }

    fn request() -> CanaryService {
        CanaryService::new(
            ServiceName::parse("neotix_neotix-api").unwrap(),
            ServiceName::parse("neotix_neotix-api-canary").unwrap(),
            ImageRef::parse("demo:v2").unwrap(),
            1,
        )
        .env(BTreeMap::from([
            ("FEATURE".into(), "on".into()),
            ("MODE".into(), "canary".into()),
        ]))
        .labels(BTreeMap::from([("traefik.enable".into(), "true".into())]))
    }

    fn rich_stable() -> Value {
        let mut spec = stack_service()["Spec"].clone();
        let labels = labels_mut(&mut spec);
        labels.insert("traefik.http.routers.api.rule".into(), json!("Host(`api`)"));
        labels.insert("io.canary.state".into(), json!("{}"));
        labels.insert("team".into(), json!("core"));
        labels.insert(STACK_IMAGE_LABEL.into(), json!("demo:promoted"));
        spec["TaskTemplate"]["Networks"] = json!([{"Target": "net1", "Aliases": ["neotix-api"]}]);
        let cs = &mut spec["TaskTemplate"]["ContainerSpec"];
        cs["Env"] = json!(["MODE=stable", "DB=postgres://db"]);
        // As Docker 20.10 spells it (the swagger file says HealthCheck).
        cs["Healthcheck"] =
            json!({"Test": ["CMD", "/app", "healthcheck"], "Interval": 1_000_000_000u64});
        cs["FutureField"] = json!({"kept": true});
        spec["EndpointSpec"] = json!({
            "Mode": "dnsrr",
            "Ports": [{"Protocol": "tcp", "TargetPort": 8080, "PublishedPort": 18080, "PublishMode": "host"}]
        });
        spec
    }

    #[test]
    fn env_merges_in_place() {
        let env = vec!["A=1".to_string(), "B=2".to_string(), "FLAG".to_string()];
        let extra = BTreeMap::from([
            ("B".to_string(), "x".to_string()),
            ("C".to_string(), "3".to_string()),
        ]);
        assert_eq!(merge_env(&env, &extra), vec!["A=1", "B=x", "FLAG", "C=3"]);
    }

    #[test]
    fn canary_is_stable_minus_what_would_clash() {
        let stable = rich_stable();
        let c = canary_spec(&stable, None, &request());
        assert_eq!(c["Name"], "neotix_neotix-api-canary");
        let l = labels(&c);
        assert_eq!(l.get("team").map(String::as_str), Some("core"));
        assert_eq!(
            l.get(STACK_NAMESPACE_LABEL).map(String::as_str),
            Some("neotix")
        );
        assert_eq!(l.get(MANAGED_LABEL).map(String::as_str), Some("true"));
        assert_eq!(l.get("traefik.enable").map(String::as_str), Some("true"));
        assert!(!l.contains_key("traefik.http.routers.api.rule"));
        assert!(!l.contains_key("io.canary.state"));
        assert!(!l.contains_key(STACK_IMAGE_LABEL));
        let cs = &c["TaskTemplate"]["ContainerSpec"];
        assert_eq!(image(&c), "demo:v2");
        assert_eq!(cs["Init"], true);
        assert_eq!(
            cs["Env"],
            json!(["MODE=canary", "DB=postgres://db", "FEATURE=on"])
        );
        assert_eq!(
            cs["Healthcheck"],
            stable["TaskTemplate"]["ContainerSpec"]["Healthcheck"]
        );
        assert_eq!(
            cs["FutureField"],
            json!({"kept": true}),
            "unknown fields are copied"
        );
        assert_eq!(c["TaskTemplate"]["Networks"], json!([{"Target": "net1"}]));
        assert!(
            c["TaskTemplate"].get("ForceUpdate").is_none(),
            "stable's counter is not copied"
        );
        assert_eq!(c["EndpointSpec"], json!({"Mode": "dnsrr"}));
        assert_eq!(replicas(&c), Some(1));
        assert_eq!(c["UpdateConfig"]["Order"], "start-first");
        let mut req = request();
        req.init = false;
        assert_eq!(
            canary_spec(&stable, None, &req)["TaskTemplate"]["ContainerSpec"]["Init"],
            false
        );
    }

    #[test]
    fn the_canary_follows_stables_placement_unless_overridden() {
        let mut stable = rich_stable();
        stable["TaskTemplate"]["Placement"] = json!({
            "Constraints": ["node.labels.tier==web", "node.role!=manager"],
            "Preferences": [{"Spread": {"SpreadDescriptor": "node.labels.zone"}}],
            "MaxReplicas": 2,
            "Platforms": [{"Architecture": "amd64", "OS": "linux"}]
        });
        let c = canary_spec(&stable, None, &request());
        assert_eq!(
            c["TaskTemplate"]["Placement"],
            stable["TaskTemplate"]["Placement"]
        );
        let mut req = request();
        req.placement = Some(canary_core::spec::PlacementSpec {
            constraints: Some(vec!["node.labels.io.canary.node==worker1".into()]),
            preferences: None,
            max_replicas_per_node: Some(0),
        });
        let c = canary_spec(&stable, None, &req);
        assert_eq!(
            c["TaskTemplate"]["Placement"],
            json!({
                "Constraints": ["node.labels.io.canary.node==worker1"],
                "Preferences": [{"Spread": {"SpreadDescriptor": "node.labels.zone"}}],
                "Platforms": [{"Architecture": "amd64", "OS": "linux"}]
            })
        );
        req.placement = Some(canary_core::spec::PlacementSpec {
            constraints: Some(Vec::new()),
            preferences: Some(vec!["node.labels.rack".into()]),
            max_replicas_per_node: Some(1),
        });
        let mut bare = rich_stable();
        bare["TaskTemplate"]
            .as_object_mut()
            .unwrap()
            .remove("Placement");
        let c = canary_spec(&bare, None, &req);
        assert_eq!(
            c["TaskTemplate"]["Placement"],
            json!({"Preferences": [{"Spread": {"SpreadDescriptor": "node.labels.rack"}}], "MaxReplicas": 1})
        );
        // Stable itself is never changed.
        assert!(bare["TaskTemplate"].get("Placement").is_none());
    }

    #[test]
    fn deriving_again_changes_nothing() {
        let stable = rich_stable();
        let mut stored = canary_spec(&stable, None, &request());
        // What the daemon does when it stores a spec: fills the counter.
        stored["TaskTemplate"]["ForceUpdate"] = json!(0);
        let again = canary_spec(&stable, Some(&stored), &request());
        assert!(same_spec(&stored, &again));
        let mut req = request();
        req.replicas = 2;
        assert!(!same_spec(
            &stored,
            &canary_spec(&stable, Some(&stored), &req)
        ));
    }

    #[test]
    fn empty_and_missing_compare_equal() {
        let a = json!({"Labels": {}, "TaskTemplate": {"ContainerSpec": {"Image": "x", "Env": []}}});
        let mut b = json!({"TaskTemplate": {"ContainerSpec": {"Image": "x"}}});
        assert!(same_spec(&a, &b));
        set_image(&mut b, "y");
        assert!(!same_spec(&a, &b));
    }

    #[test]
    fn replicas_and_modes() {
        let mut s = stack_service()["Spec"].clone();
        assert_eq!(replicas(&s), Some(4));
        set_replicas(&mut s, 2);
        assert_eq!(replicas(&s), Some(2));
        assert_eq!(replicas(&json!({"Mode": {"Global": {}}})), None);
        let mut empty = json!({});
        set_replicas(&mut empty, 3);
        assert_eq!(replicas(&empty), Some(3));
    }

    #[test]
    fn start_first_only_without_host_ports() {
        let mut s = rich_stable();
        assert!(publishes_host_ports(&s));
        prefer_start_first(&mut s);
        assert!(s.get("UpdateConfig").is_none());
        s.as_object_mut().unwrap().remove("EndpointSpec");
        prefer_start_first(&mut s);
        assert_eq!(s["UpdateConfig"]["Order"], "start-first");
        assert_eq!(s["UpdateConfig"]["Parallelism"], 1);
    }
}
