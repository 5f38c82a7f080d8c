//! What the proxy keeps from Traefik even on allowed endpoints: the environments and command
//! lines of containers. `/services` and `/tasks` answers carry each task template whole, and
//! a canary's environment may hold tokens or passwords (this project treats it as a secret).
//! Traefik reads names, labels, endpoints, task states and network attachments, never a
//! container's `Env`, `Args` or `Command`.
//!
//! Those answers are read whole (bounded), stripped and re-serialised. An answer that is not
//! the JSON expected fails closed: the caller answers 502 instead of passing it on.

use serde_json::Value;

/// Largest `/services` or `/tasks` answer redacted, in bytes (a few KB per service or task).
pub(crate) const MAX_BODY: usize = 32 * 1024 * 1024;

/// The `ContainerSpec` fields removed.
const SECRET_FIELDS: &[&str] = &["Env", "Args", "Command"];

/// Which kind of list an answer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum List {
    /// `GET /services`: `[ {Spec: {TaskTemplate: {ContainerSpec}}, PreviousSpec: ...} ]`
    Services,
    /// `GET /tasks`: `[ {Spec: {ContainerSpec}} ]`
    Tasks,
}

/// Removes the secret fields from a `/services` or `/tasks` answer body.
pub(crate) fn redact(list: List, body: &[u8]) -> Result<Vec<u8>, &'static str> {
    let mut items: Value = serde_json::from_slice(body).map_err(|_| "answer is not JSON")?;
    let items_mut = items.as_array_mut().ok_or("answer is not a JSON list")?;
    for item in items_mut {
        match list {
            List::Services => {
                for spec in ["Spec", "PreviousSpec"] {
                    strip(item.pointer_mut(&format!("/{spec}/TaskTemplate/ContainerSpec")));
                }
            }
            List::Tasks => strip(item.pointer_mut("/Spec/ContainerSpec")),
        }
    }
    serde_json::to_vec(&items).map_err(|_| "answer cannot be re-serialised")
}

fn strip(container_spec: Option<&mut Value>) {
    if let Some(Value::Object(cs)) = container_spec {
        for field in SECRET_FIELDS {
            cs.remove(*field);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn services_lose_env_args_and_command_and_keep_what_traefik_reads() {
        let cs = json!({"Image": "app:v2", "Env": ["TOKEN=s3cret"], "Args": ["--password=x"],
                        "Command": ["/app"], "Labels": {"c": "1"}});
        let body = json!([{
            "ID": "svc1",
            "Spec": {"Name": "app", "Labels": {"traefik.enable": "true"},
                     "TaskTemplate": {"ContainerSpec": cs.clone()},
                     "EndpointSpec": {"Mode": "dnsrr"}},
            "PreviousSpec": {"TaskTemplate": {"ContainerSpec": cs}},
            "Endpoint": {"VirtualIPs": []}
        }]);
        let out: Value = serde_json::from_slice(
            &redact(List::Services, &serde_json::to_vec(&body).unwrap()).unwrap(),
        )
        .unwrap();
        let text = out.to_string();
        for secret in ["s3cret", "--password", "/app", "\"Env\""] {
            assert!(!text.contains(secret), "{secret} left in {text}");
        }
        assert_eq!(out[0]["Spec"]["Labels"]["traefik.enable"], "true");
        assert_eq!(
            out[0]["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"],
            "app:v2"
        );
        assert_eq!(out[0]["Spec"]["EndpointSpec"]["Mode"], "dnsrr");
        assert_eq!(out[0]["ID"], "svc1");
    }

    #[test]
    fn tasks_lose_env_and_keep_attachments() {
        let body = json!([{"ID": "t1", "Slot": 1, "NodeID": "n1", "Status": {"State": "running"},
            "Spec": {"ContainerSpec": {"Image": "x", "Env": ["A=b"]}},
            "NetworksAttachments": [{"Network": {"ID": "net"}, "Addresses": ["10.0.1.5/24"]}]}]);
        let out: Value = serde_json::from_slice(
            &redact(List::Tasks, &serde_json::to_vec(&body).unwrap()).unwrap(),
        )
        .unwrap();
        assert!(out[0]["Spec"]["ContainerSpec"].get("Env").is_none());
        assert_eq!(
            out[0]["NetworksAttachments"][0]["Addresses"][0],
            "10.0.1.5/24"
        );
        assert_eq!(out[0]["Status"]["State"], "running");
    }

    #[test]
    fn items_without_a_container_spec_pass_unchanged() {
        let body =
            br#"[{"ID":"a"},{"Spec":null},{"Spec":{"TaskTemplate":{"ContainerSpec":"odd"}}}]"#;
        let out: Value = serde_json::from_slice(&redact(List::Services, body).unwrap()).unwrap();
        assert_eq!(out, serde_json::from_slice::<Value>(body).unwrap());
        assert_eq!(redact(List::Tasks, b"[]").unwrap(), b"[]");
    }

    #[test]
    fn what_is_not_a_json_list_fails_closed() {
        assert!(redact(List::Services, b"{\"message\":\"x\"}").is_err());
        assert!(redact(List::Services, b"[{").is_err());
        assert!(redact(List::Tasks, b"").is_err());
    }
}
