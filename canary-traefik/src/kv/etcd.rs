//! [`EtcdStore`]: a canary group's Traefik config in etcd v3, through etcd's JSON gateway
//! (`POST /v3/kv/txn`, keys and values base64), written in one transaction per change.
//!
//! Each group owns the objects named `canary-<group>--…` (the renderer's names; group names
//! never contain `--`, so no other group's object matches) and one index key outside Traefik's
//! root, `canary/routes/<root>/<group>`, holding the group's config as YAML. A write:
//!
//! 1. reads, in one transaction (one revision), the index key and every key of the group's
//!    objects under `<root>/http/{routers,services,middlewares,serversTransports}/`;
//! 2. sends one transaction that, if the index key is still at the revision read (or still
//!    absent), deletes the keys the new config no longer has, puts the keys that are new or
//!    changed, and puts the index; otherwise nothing, and the write starts again from 1 (another
//!    writer got there first: its keys are read again, never half-overwritten).
//!
//! A put and a delete of one key in the same transaction is refused by etcd ("duplicate key
//! given in txn request"); the two sets are disjoint by construction. etcd refuses a transaction
//! with more operations than its `--max-txn-ops` (default 128): a group of many apps created in
//! one go may need it raised (about 30 keys per app, plus one per canary task).

use std::collections::BTreeMap;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use canary_core::{Error, Result, ServiceName};
use serde_json::{json, Value};

use super::flatten::{check_root, flatten};
use crate::dynamic::DynamicConfig;
use crate::http::{self, BaseUrl};
use crate::names::object_prefix;

/// Where the groups' index keys live: outside any Traefik root key, so Traefik never reads them.
pub(crate) const INDEX_PREFIX: &str = "canary/routes/";

/// The sections of Traefik's `http` config a group writes objects in.
const SECTIONS: [&str; 4] = ["routers", "services", "middlewares", "serversTransports"];

/// Compare-and-swap rounds lost to other writers before a write gives up.
const ATTEMPTS: u32 = 8;

/// A group's config in etcd v3 (see the module docs).
#[derive(Debug, Clone)]
pub(crate) struct EtcdStore {
    client: reqwest::Client,
    base: BaseUrl,
    root: String,
    timeout: Duration,
}

/// A key, its value and the revision it was last changed at.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Kv {
    key: String,
    value: String,
    mod_revision: i64,
}

/// What one read saw of a group, at one revision.
#[derive(Debug, Default)]
struct GroupKeys {
    /// The index: the group's config text and its revision.
    index: Option<(String, i64)>,
    /// Every key of the group's objects, with its value.
    keys: BTreeMap<String, String>,
}

impl EtcdStore {
    /// A store writing under Traefik's `root` key (its etcd provider's `rootKey`, default
    /// `traefik`) through the etcd endpoint `url` (`http://127.0.0.1:2379`); `timeout` bounds each
    /// request.
    pub(crate) fn new(url: &str, root: &str, timeout: Duration) -> Result<Self> {
        check_root(root)?;
        // Traefik lists its root as a prefix: a root that prefixes the index keys would read them.
        if INDEX_PREFIX.starts_with(root) || root.starts_with(INDEX_PREFIX.trim_end_matches('/')) {
            return Err(Error::invalid(
                "kvRootKey",
                format!("{root:?} overlaps the index keys under {INDEX_PREFIX}"),
            ));
        }
        if timeout.is_zero() {
            return Err(Error::invalid("requestTimeout", "must be above 0"));
        }
        Ok(EtcdStore {
            client: http::client()?,
            base: BaseUrl::parse(url, "kvUrl")?,
            root: root.to_string(),
            timeout,
        })
    }

    /// The endpoint.
    pub(crate) fn url(&self) -> &str {
        self.base.as_str()
    }

    /// The group's index key.
    pub(crate) fn index_key(&self, group: &ServiceName) -> String {
        format!("{INDEX_PREFIX}{}/{group}", self.root)
    }

    /// Whether etcd answers (`POST /v3/maintenance/status`).
    pub(crate) async fn reachable(&self) -> Result<()> {
        self.post("/v3/maintenance/status", json!({}))
            .await
            .map(|_| ())
    }

    /// The group's config text as last written, if any.
    #[cfg(test)]
    pub(crate) async fn read_group(&self, group: &ServiceName) -> Result<Option<String>> {
        Ok(self.read_keys(group).await?.index.map(|(text, _)| text))
    }

    /// Makes the group's keys exactly those of `config` (whose YAML text is `text`), atomically;
    /// `None` removes them all. Returns the config text written before, if any. An unchanged
    /// config (same text, every key in place) writes nothing.
    pub(crate) async fn write_group(
        &self,
        group: &ServiceName,
        config: Option<(&DynamicConfig, &str)>,
    ) -> Result<Option<String>> {
        let want = match config {
            Some((c, _)) => flatten(&self.root, c)?,
            None => BTreeMap::new(),
        };
        let prefixes = self.group_prefixes(group)?;
        if let Some(stray) = want
            .keys()
            .find(|k| !prefixes.iter().any(|p| k.starts_with(p.as_str())))
        {
            return Err(Error::internal(format!(
                "{stray} is not a key of group {group}"
            )));
        }
        let index = self.index_key(group);
        for _ in 0..ATTEMPTS {
            let seen = self.read_keys(group).await?;
            let previous = seen.index.as_ref().map(|(t, _)| t.clone());
            let text = config.map(|(_, t)| t);
            if previous.as_deref() == text && seen.keys == want {
                return Ok(previous);
            }
            let mut ops = Vec::new();
            for k in seen.keys.keys().filter(|k| !want.contains_key(*k)) {
                ops.push(json!({"request_delete_range": {"key": b64(k)}}));
            }
            for (k, v) in want.iter().filter(|(k, v)| seen.keys.get(*k) != Some(v)) {
                ops.push(json!({"request_put": {"key": b64(k), "value": b64(v)}}));
            }
            match text {
                Some(t) => ops.push(json!({"request_put": {"key": b64(&index), "value": b64(t)}})),
                None if seen.index.is_some() => {
                    ops.push(json!({"request_delete_range": {"key": b64(&index)}}))
                }
                None => {}
            }
            let compare = match &seen.index {
                Some((_, rev)) => json!({
                    "target": "MOD", "key": b64(&index), "mod_revision": rev.to_string(), "result": "EQUAL"
                }),
                None => json!({
                    "target": "CREATE", "key": b64(&index), "create_revision": "0", "result": "EQUAL"
                }),
            };
            let answer = self
                .post(
                    "/v3/kv/txn",
                    json!({"compare": [compare], "success": ops, "failure": []}),
                )
                .await?;
            // The gateway leaves `succeeded` out when it is false (proto3 JSON).
            if answer.get("succeeded").and_then(Value::as_bool) == Some(true) {
                tracing::debug!(%group, ops = ops.len(), "etcd transaction committed");
                return Ok(previous);
            }
            tracing::debug!(%group, "the group's index changed under us; reading again");
        }
        Err(Error::conflict(format!(
            "the Traefik config of group {group} in etcd kept changing: {ATTEMPTS} transactions lost the race"
        )))
    }

    /// `<root>/http/<section>/canary-<group>--` for each section.
    fn group_prefixes(&self, group: &ServiceName) -> Result<Vec<String>> {
        let prefix = object_prefix(group)?;
        Ok(SECTIONS
            .iter()
            .map(|s| format!("{}/http/{s}/{prefix}--", self.root))
            .collect())
    }

    /// The index and the group's keys, read in one transaction (one revision).
    async fn read_keys(&self, group: &ServiceName) -> Result<GroupKeys> {
        let index = self.index_key(group);
        let mut ops = vec![json!({"request_range": {"key": b64(&index)}})];
        for p in self.group_prefixes(group)? {
            ops.push(json!({"request_range": {"key": b64(&p), "range_end": b64_prefix_end(&p)}}));
        }
        let answer = self
            .post(
                "/v3/kv/txn",
                json!({"compare": [], "success": ops, "failure": []}),
            )
            .await?;
        let responses = answer
            .get("responses")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut out = GroupKeys::default();
        for (i, r) in responses.iter().enumerate() {
            let kvs = r
                .pointer("/response_range/kvs")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for kv in kvs {
                let kv = parse_kv(&kv)?;
                if i == 0 {
                    out.index = Some((kv.value, kv.mod_revision));
                } else {
                    out.keys.insert(kv.key, kv.value);
                }
            }
        }
        Ok(out)
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value> {
        let what = format!("etcd {}", self.base.join(path));
        let resp = self
            .client
            .post(self.base.join(path))
            .timeout(self.timeout)
            .json(&body)
            .send()
            .await
            .map_err(|e| http::send_error(e, &what, self.timeout))?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| http::send_error(e, &what, self.timeout))?;
        let v: Value = serde_json::from_slice(&bytes).map_err(|_| {
            Error::unavailable(format!(
                "{what} answered {status}: {}",
                http::snippet(&bytes, 300)
            ))
        })?;
        if let Some(message) = v
            .get("message")
            .or_else(|| v.get("error"))
            .and_then(Value::as_str)
        {
            return Err(etcd_error(
                v.get("code").and_then(Value::as_i64).unwrap_or(2),
                message,
                &what,
            ));
        }
        if !status.is_success() {
            return Err(Error::unavailable(format!(
                "{what} answered {status}: {}",
                http::snippet(&bytes, 300)
            )));
        }
        Ok(v)
    }
}

/// etcd's gRPC status code and message as canary's error.
fn etcd_error(code: i64, message: &str, what: &str) -> Error {
    match code {
        // Unavailable, DeadlineExceeded, ResourceExhausted, Aborted, Unknown (leader changes).
        14 | 4 | 8 | 10 | 2 => Error::unavailable(format!("{what}: {message}")),
        _ if message.contains("too many operations in txn request") => Error::rejected("etcd", format!(
                "{message} (the group's config is more keys than etcd's --max-txn-ops allows; raise it)"
            )),
        _ => Error::rejected("etcd", message.to_string()),
    }
}

fn b64(s: &str) -> String {
    B64.encode(s.as_bytes())
}

/// The end of the range of keys starting with `prefix` (its last byte plus one).
fn b64_prefix_end(prefix: &str) -> String {
    let mut end = prefix.as_bytes().to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return B64.encode(&end);
        }
    }
    // All 0xff (never for our prefixes): "\0" means every key from `prefix` on.
    B64.encode([0u8])
}

fn parse_kv(v: &Value) -> Result<Kv> {
    let text = |field: &str| -> Result<String> {
        let raw = v.get(field).and_then(Value::as_str).unwrap_or_default();
        let bytes = B64.decode(raw).map_err(|e| {
            Error::internal(format!("etcd sent a {field} that is not base64: {e}")).with_source(e)
        })?;
        String::from_utf8(bytes)
            .map_err(|_| Error::internal(format!("etcd sent a {field} that is not UTF-8")))
    };
    let mod_revision = match v.get("mod_revision") {
        Some(Value::String(s)) => s.parse().unwrap_or(0),
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
        _ => 0,
    };
    Ok(Kv {
        key: text("key")?,
        value: text("value")?,
        mod_revision,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_ends() {
        assert_eq!(
            B64.decode(b64_prefix_end("traefik/http/routers/canary-g--"))
                .unwrap(),
            b"traefik/http/routers/canary-g-."
        );
        assert_eq!(B64.decode(b64_prefix_end("a\u{7f}")).unwrap(), b"a\x80");
    }

    #[test]
    fn roots_must_not_overlap_the_index() {
        for bad in ["canary", "can", "canary/routes", "canary/routes/x"] {
            assert!(
                EtcdStore::new("http://127.0.0.1:2379", bad, Duration::from_secs(1)).is_err(),
                "{bad}"
            );
        }
        let s =
            EtcdStore::new("http://127.0.0.1:2379/", "traefik", Duration::from_secs(1)).unwrap();
        assert_eq!(
            s.index_key(&ServiceName::parse("neotix").unwrap()),
            "canary/routes/traefik/neotix"
        );
        assert_eq!(
            s.group_prefixes(&ServiceName::parse("neotix").unwrap())
                .unwrap()[1],
            "traefik/http/services/canary-neotix--"
        );
    }

    #[test]
    fn kvs_and_errors_parse() {
        let kv = parse_kv(&json!({"key": b64("a/b"), "value": b64("80"), "mod_revision": "12"}))
            .unwrap();
        assert_eq!(
            kv,
            Kv {
                key: "a/b".into(),
                value: "80".into(),
                mod_revision: 12
            }
        );
        assert!(parse_kv(&json!({"key": "!!", "value": ""})).is_err());
        assert!(matches!(
            etcd_error(3, "etcdserver: too many operations in txn request", "x"),
            Error::Rejected { .. }
        ));
        assert!(etcd_error(14, "etcdserver: no leader", "x").is_retryable());
    }
}
