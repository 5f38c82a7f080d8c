//! Traefik's KV key layout: a rendered dynamic config as `key = value` pairs under a root key, the
//! way Traefik's KV providers decode them (`<root>/http/routers/<name>/entryPoints/0 = web`: a map
//! key or a list index per path segment, scalars as text).

use std::collections::BTreeMap;

use canary_core::{Error, Result};
use serde_json::Value;

use crate::dynamic::DynamicConfig;

/// Every key of `config` under `root` (e.g. `traefik`), with its value. Nothing of the config is
/// left out: a map or list without entries writes no key, which is what Traefik reads for an
/// absent one (the model never holds an empty one Traefik needs; see [`check_complete`]).
pub(crate) fn flatten(root: &str, config: &DynamicConfig) -> Result<BTreeMap<String, String>> {
    check_root(root)?;
    let value = serde_json::to_value(config).map_err(|e| {
        Error::internal(format!("the dynamic config does not serialize: {e}")).with_source(e)
    })?;
    let mut out = BTreeMap::new();
    walk(root.trim_end_matches('/'), &value, &mut out)?;
    check_complete(root, config, &out)?;
    Ok(out)
}

/// A root key Traefik's `rootKey` can be: letters, digits, `-`, `_` and inner `/`.
pub(crate) fn check_root(root: &str) -> Result<()> {
    let ok = !root.is_empty()
        && root.len() <= 200
        && !root.starts_with('/')
        && !root.ends_with('/')
        && !root.contains("//")
        && root
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '/'));
    if !ok {
        return Err(Error::invalid(
            "kvRootKey",
            format!("{root:?} is not a root key (letters, digits, '-', '_', inner '/')"),
        ));
    }
    Ok(())
}

fn walk(prefix: &str, v: &Value, out: &mut BTreeMap<String, String>) -> Result<()> {
    match v {
        Value::Null => {}
        Value::Bool(b) => {
            out.insert(prefix.to_string(), b.to_string());
        }
        Value::Number(n) => {
            out.insert(prefix.to_string(), n.to_string());
        }
        Value::String(s) => {
            out.insert(prefix.to_string(), s.clone());
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk(&format!("{prefix}/{i}"), item, out)?;
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                // Object names come from the renderer (checked names); a `/` in one would move
                // its keys elsewhere in the tree.
                if k.is_empty() || k.contains('/') {
                    return Err(Error::internal(format!(
                        "{k:?} under {prefix} cannot be a KV path segment"
                    )));
                }
                walk(&format!("{prefix}/{k}"), item, out)?;
            }
        }
    }
    Ok(())
}

/// Checks that the keys hold what Traefik needs to load every object of `config` whole: each
/// router its rule and service, each weighted service at least one child with a name, each
/// failover both ends, each load balancer at least one server. A key set that broke one of these
/// would load as a disabled service (a weighted service without children takes its router down,
/// and every request of the app 404s), so such a set is never written.
pub(crate) fn check_complete(
    root: &str,
    config: &DynamicConfig,
    keys: &BTreeMap<String, String>,
) -> Result<()> {
    let has = |k: String| -> Result<()> {
        if keys.get(&k).is_some_and(|v| !v.is_empty()) {
            Ok(())
        } else {
            Err(Error::internal(format!("the KV config lacks {k}")))
        }
    };
    let http = format!("{root}/http");
    for name in config.http.routers.keys() {
        has(format!("{http}/routers/{name}/rule"))?;
        has(format!("{http}/routers/{name}/service"))?;
    }
    for (name, s) in &config.http.services {
        let base = format!("{http}/services/{name}");
        if let Some(w) = &s.weighted {
            if w.services.is_empty() {
                return Err(Error::internal(format!(
                    "weighted service {name} has no child"
                )));
            }
            for i in 0..w.services.len() {
                has(format!("{base}/weighted/services/{i}/name"))?;
            }
        }
        if s.failover.is_some() {
            has(format!("{base}/failover/service"))?;
            has(format!("{base}/failover/fallback"))?;
        }
        if s.mirroring.is_some() {
            has(format!("{base}/mirroring/service"))?;
        }
        if let Some(lb) = &s.load_balancer {
            if lb.servers.is_empty() {
                return Err(Error::internal(format!(
                    "load balancer {name} has no server"
                )));
            }
            for i in 0..lb.servers.len() {
                has(format!("{base}/loadBalancer/servers/{i}/url"))?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamic::{
        HttpConfig, LoadBalancerConfig, RouterConfig, ServiceConfig, Sticky, StickyCookie,
        WeightedChild,
    };

    fn config() -> DynamicConfig {
        let mut http = HttpConfig::default();
        let mut r = RouterConfig::new("Host(`a`)", vec!["web".into()], "w", 7);
        r.middlewares = vec!["m".into()];
        http.routers.insert("r".into(), r);
        http.services.insert(
            "w".into(),
            ServiceConfig::weighted(
                vec![
                    WeightedChild {
                        name: "api@swarm".into(),
                        weight: 80,
                    },
                    WeightedChild {
                        name: "c".into(),
                        weight: 20,
                    },
                ],
                Some(Sticky {
                    cookie: StickyCookie {
                        name: "w".into(),
                        http_only: true,
                    },
                }),
            ),
        );
        http.services.insert(
            "c".into(),
            ServiceConfig::load_balancer(LoadBalancerConfig::new(["http://10.0.0.2:80".into()])),
        );
        DynamicConfig { http }
    }

    #[test]
    fn keys_follow_traefiks_layout() {
        let k = flatten("traefik", &config()).unwrap();
        let get = |key: &str| k.get(key).map(String::as_str);
        assert_eq!(get("traefik/http/routers/r/rule"), Some("Host(`a`)"));
        assert_eq!(get("traefik/http/routers/r/entryPoints/0"), Some("web"));
        assert_eq!(get("traefik/http/routers/r/middlewares/0"), Some("m"));
        assert_eq!(get("traefik/http/routers/r/priority"), Some("7"));
        assert_eq!(
            get("traefik/http/services/w/weighted/services/0/name"),
            Some("api@swarm")
        );
        assert_eq!(
            get("traefik/http/services/w/weighted/services/1/weight"),
            Some("20")
        );
        assert_eq!(
            get("traefik/http/services/w/weighted/sticky/cookie/httpOnly"),
            Some("true")
        );
        assert_eq!(
            get("traefik/http/services/c/loadBalancer/servers/0/url"),
            Some("http://10.0.0.2:80")
        );
        assert_eq!(k.len(), 12, "{k:#?}");
        assert!(k.keys().all(|key| key.starts_with("traefik/http/")));
    }

    #[test]
    fn incomplete_key_sets_are_refused() {
        let c = config();
        let mut k = flatten("traefik", &c).unwrap();
        k.remove("traefik/http/services/w/weighted/services/1/name");
        assert!(check_complete("traefik", &c, &k).is_err());
        let mut empty = c.clone();
        empty
            .http
            .services
            .get_mut("w")
            .unwrap()
            .weighted
            .as_mut()
            .unwrap()
            .services
            .clear();
        assert!(flatten("traefik", &empty).is_err());
    }

    #[test]
    fn root_keys_are_checked() {
        for bad in ["", "/traefik", "traefik/", "a//b", "a b", "tr@efik"] {
            assert!(flatten(bad, &config()).is_err(), "{bad:?}");
        }
        assert!(flatten("team/traefik", &config()).is_ok());
    }
}
