//! The addresses of a service's running tasks, read from the daemon's own JSON: bollard's task
//! model has no `NetworksAttachments`. This is the data Traefik's Swarm provider reads to build a
//! service's servers; canary reads it to route the canary's share itself (see canary-traefik).

use std::collections::BTreeMap;

use canary_core::traits::TaskEndpoint;
use serde_json::Value;

/// The running tasks (desired state and state `running`) of a task list, sorted by task id, each
/// with its address (without the prefix length) on every network it is attached to.
pub(crate) fn running_endpoints(tasks: &[Value]) -> Vec<TaskEndpoint> {
    let mut out: Vec<TaskEndpoint> = tasks
        .iter()
        .filter(|t| {
            t.get("DesiredState").and_then(Value::as_str) == Some("running")
                && t.pointer("/Status/State").and_then(Value::as_str) == Some("running")
        })
        .filter_map(|t| {
            let task = t.get("ID").and_then(Value::as_str)?.to_string();
            let node = t.get("NodeID").and_then(Value::as_str).map(String::from);
            let mut addresses = BTreeMap::new();
            for att in t
                .get("NetworksAttachments")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let Some(name) = att.pointer("/Network/Spec/Name").and_then(Value::as_str) else {
                    continue;
                };
                let ip = att
                    .get("Addresses")
                    .and_then(Value::as_array)
                    .and_then(|a| a.first())
                    .and_then(Value::as_str)
                    .map(|a| a.split('/').next().unwrap_or(a).to_string());
                if let Some(ip) = ip.filter(|ip| ip.parse::<std::net::IpAddr>().is_ok()) {
                    addresses.insert(name.to_string(), ip);
                }
            }
            Some(TaskEndpoint {
                task,
                node,
                addresses,
            })
        })
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixture_tasks_have_their_overlay_addresses() {
        // fixtures/docker/engine-20.10.24-api-1.41/tasks_list_demo_running.json: 2 running tasks
        // on the ingress network and canary-net.
        let tasks: Vec<Value> = serde_json::from_str(include_str!(
            "../tests/fixtures/tasks_list_demo_running.json"
        ))
        .unwrap();
        let eps = running_endpoints(&tasks);
        assert_eq!(eps.len(), 2);
        for e in &eps {
            assert!(e.addresses.contains_key("ingress"), "{e:?}");
            for ip in e.addresses.values() {
                assert!(ip.parse::<std::net::IpAddr>().is_ok(), "{ip}");
                assert!(!ip.contains('/'));
            }
        }
    }

    #[test]
    fn only_running_tasks_count_and_garbage_is_skipped() {
        let tasks = serde_json::json!([
            {"ID": "b", "DesiredState": "running", "Status": {"State": "running"},
             "NetworksAttachments": [{"Network": {"Spec": {"Name": "net"}}, "Addresses": ["10.0.1.5/24"]}]},
            {"ID": "a", "DesiredState": "running", "Status": {"State": "starting"}},
            {"ID": "c", "DesiredState": "shutdown", "Status": {"State": "running"}},
            {"ID": "d", "DesiredState": "running", "Status": {"State": "running"},
             "NetworksAttachments": [{"Network": {"Spec": {"Name": "net"}}, "Addresses": ["not an ip"]}, "junk"]},
            "junk"
        ]);
        let eps = running_endpoints(tasks.as_array().unwrap());
        assert_eq!(
            eps.iter().map(|e| e.task.as_str()).collect::<Vec<_>>(),
            ["b", "d"]
        );
        assert_eq!(eps[0].addresses["net"], "10.0.1.5");
        assert!(eps[1].addresses.is_empty());
    }
}
