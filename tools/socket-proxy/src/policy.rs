//! The allowlist: which requests reach Docker. It is exactly what Traefik 3.7's swarm provider
//! sends (pkg/provider/docker/pswarm.go at v3.7.9, through github.com/moby/moby/client v0.4.0):
//!
//! | endpoint | method | query | Traefik / moby client |
//! |---|---|---|---|
//! | `/_ping` | HEAD, then GET if HEAD fails | none | client/ping.go:112,129 (API-version negotiation before the first call) |
//! | `/v1.xx/version` | GET | none | pswarm.go:78,164 `ServerVersion` |
//! | `/v1.xx/services` | GET | `filters`, `status` | pswarm.go:159 `ServiceList` |
//! | `/v1.xx/networks` | GET | `filters` | pswarm.go:177 `NetworkList` (`scope=swarm`) |
//! | `/v1.xx/tasks` | GET | `filters` | pswarm.go:268 `TaskList` (`service`, `desired-state`) |
//! | `/v1.xx/nodes/{id}` | GET | none | pswarm.go:309 `NodeInspect` |
//!
//! The swarm provider polls; it never calls `/events` (pswarm.go:100) and never inspects a
//! container (config.go:390 only runs for the docker provider's `network_mode: container:`).
//! Everything else is refused: other methods, other paths (container inspect would show every
//! container's environment), other query keys, request bodies.

use crate::target::{self, Target};

/// An endpoint on the allowlist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// `/_ping`
    Ping,
    /// `/version`
    Version,
    /// `/services`
    Services,
    /// `/tasks`
    Tasks,
    /// `/networks`
    Networks,
    /// `/nodes/{id}`
    Node,
}

impl Endpoint {
    fn of(segments: &[&str]) -> Option<Endpoint> {
        Some(match segments {
            ["_ping"] => Endpoint::Ping,
            ["version"] => Endpoint::Version,
            ["services"] => Endpoint::Services,
            ["tasks"] => Endpoint::Tasks,
            ["networks"] => Endpoint::Networks,
            // The segment is already [A-Za-z0-9_.-] and not all dots; an ID or a name.
            ["nodes", id] if id.starts_with(|c: char| c.is_ascii_alphanumeric()) => Endpoint::Node,
            _ => return None,
        })
    }

    /// Docker answers HEAD only on `/_ping`; elsewhere HEAD would only earn a 405.
    fn allows_head(self) -> bool {
        self == Endpoint::Ping
    }

    fn query_keys(self) -> &'static [&'static str] {
        match self {
            Endpoint::Services => &["filters", "status"],
            Endpoint::Tasks | Endpoint::Networks => &["filters"],
            Endpoint::Ping | Endpoint::Version | Endpoint::Node => &[],
        }
    }
}

/// A request that may go to Docker, in the form it goes there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Allowed {
    /// Which endpoint it is.
    pub(crate) endpoint: Endpoint,
    /// `true` for HEAD, `false` for GET.
    pub(crate) head: bool,
    /// The canonical request target to send (see [`crate::target`]).
    pub(crate) target: String,
}

/// Why a request is refused; a fixed sentence that never quotes the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refusal(pub(crate) &'static str);

/// Decides about one request from its method and raw request target.
pub(crate) fn classify(method: &str, raw_target: &str) -> Result<Allowed, Refusal> {
    let head = match method {
        "GET" => false,
        "HEAD" => true,
        _ => {
            return Err(Refusal(
                "only GET and HEAD are allowed: this proxy is read-only",
            ))
        }
    };
    let t = target::parse(raw_target).map_err(Refusal)?;
    let endpoint = Endpoint::of(&t.segments).ok_or(Refusal("path is not on the allowlist"))?;
    if head && !endpoint.allows_head() {
        return Err(Refusal("HEAD is allowed on /_ping only"));
    }
    check_query(endpoint, &t)?;
    Ok(Allowed {
        endpoint,
        head,
        target: t.canonical(),
    })
}

/// Longest `filters` value accepted (decoded), in bytes.
const MAX_FILTERS_LEN: usize = 2048;

fn check_query(endpoint: Endpoint, t: &Target<'_>) -> Result<(), Refusal> {
    let keys = endpoint.query_keys();
    for (key, value) in &t.query {
        if !keys.contains(key) {
            return Err(Refusal("query parameter not allowed on this endpoint"));
        }
        match *key {
            "status" if !matches!(value.as_str(), "true" | "false" | "1" | "0") => {
                return Err(Refusal("status must be true, false, 1 or 0"));
            }
            "filters" if !is_filters(value) => {
                return Err(Refusal(
                    "filters must be a JSON object of string lists or string-to-bool maps",
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Docker's filter JSON: `{"term": {"value": true}}`, or the older `{"term": ["value"]}`.
/// Checked so that what Docker parses is a filter and nothing else; a malformed one would only
/// earn a 400 from Docker, but the proxy has no reason to pass it on.
fn is_filters(value: &str) -> bool {
    use serde_json::Value;
    if value.len() > MAX_FILTERS_LEN {
        return false;
    }
    let Ok(Value::Object(terms)) = serde_json::from_str::<Value>(value) else {
        return false;
    };
    terms.values().all(|values| match values {
        Value::Object(set) => set.values().all(Value::is_boolean),
        Value::Array(list) => list.iter().all(Value::is_string),
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What Traefik 3.7.9 sends, as captured from its client code (moby client v0.4.0 encodes
    /// `filters` with Go's `url.Values.Encode`).
    const TRAEFIK: &[(&str, &str)] = &[
        ("HEAD", "/_ping"),
        ("GET", "/_ping"),
        ("GET", "/v1.41/version"),
        ("GET", "/v1.41/services"),
        (
            "GET",
            "/v1.41/networks?filters=%7B%22scope%22%3A%7B%22swarm%22%3Atrue%7D%7D",
        ),
        (
            "GET",
            "/v1.41/tasks?filters=%7B%22desired-state%22%3A%7B%22running%22%3Atrue%7D%2C%22service%22%3A%7B%22kqy3fjrxq2k0rz6jbb1ndw4c0%22%3Atrue%7D%7D",
        ),
        ("GET", "/v1.41/nodes/p4g6cwq8a5rkd0zqt7kgnkn3m"),
    ];

    #[test]
    fn everything_traefik_sends_is_allowed_and_unchanged() {
        for (method, target) in TRAEFIK {
            let a = classify(method, target)
                .unwrap_or_else(|r| panic!("{method} {target} refused: {}", r.0));
            assert_eq!(a.target, *target, "{method} {target}");
            assert_eq!(a.head, *method == "HEAD");
        }
    }

    /// (method, target, allowed?) — the table the allowlist is judged by.
    const TABLE: &[(&str, &str, bool)] = &[
        // the allowed set, with and without a version prefix
        ("GET", "/services", true),
        ("GET", "/v1.54/services?status=true", true),
        (
            "GET",
            "/v1.41/services?filters=%7B%22label%22%3A%5B%22a%3Db%22%5D%7D",
            true,
        ),
        ("GET", "/version", true),
        ("GET", "/v1.41/_ping", true),
        ("GET", "/nodes/self", true),
        ("GET", "/tasks", true),
        ("GET", "/tasks?", true),
        ("GET", "/networks", true),
        // writes, whatever the path
        ("POST", "/v1.41/services/create", false),
        ("POST", "/services", false),
        ("DELETE", "/v1.41/services/canary-traefik", false),
        ("POST", "/v1.41/containers/x/kill", false),
        ("PUT", "/v1.41/containers/x/archive", false),
        ("PATCH", "/services", false),
        ("POST", "/_ping", false),
        ("CONNECT", "/_ping", false),
        ("OPTIONS", "/_ping", false),
        ("TRACE", "/_ping", false),
        ("get", "/services", false),
        ("GET ", "/services", false),
        ("", "/services", false),
        // reads that are not on the list (secrets, streams, exec)
        ("GET", "/containers/json", false),
        ("GET", "/v1.41/containers/abc/json", false),
        ("GET", "/v1.41/containers/abc/logs?follow=1", false),
        ("GET", "/v1.41/containers/abc/attach/ws", false),
        ("GET", "/events", false),
        ("GET", "/info", false),
        ("GET", "/secrets", false),
        ("GET", "/configs", false),
        ("GET", "/swarm", false),
        ("GET", "/services/canary-traefik", false),
        ("GET", "/services/x/logs", false),
        ("GET", "/tasks/abc", false),
        ("GET", "/nodes", false),
        ("GET", "/nodes/a/b", false),
        ("GET", "/images/json", false),
        ("GET", "/exec/abc/json", false),
        ("GET", "/v1.41/plugins", false),
        ("GET", "/session", false),
        // HEAD only where Docker serves it
        ("HEAD", "/v1.41/_ping", true),
        ("HEAD", "/services", false),
        // path tricks
        ("GET", "/services/../containers/json", false),
        ("GET", "/services/..", false),
        ("GET", "/./services", false),
        ("GET", "/services/.", false),
        ("GET", "/v1.41/../services", false),
        ("GET", "//services", false),
        ("GET", "/services/", false),
        ("GET", "/", false),
        ("GET", "", false),
        ("GET", "services", false),
        ("GET", "*", false),
        ("GET", "http://docker/services", false),
        ("GET", "//docker/services", false),
        ("GET", "/%73ervices", false),
        ("GET", "/services%2F..%2Fcontainers%2Fjson", false),
        ("GET", "/nodes/%2e%2e", false),
        ("GET", "/nodes/..", false),
        ("GET", "/nodes/...", false),
        ("GET", "/nodes/.x", false),
        ("GET", "/nodes/-x", false),
        ("GET", "/services%00", false),
        ("GET", "/services\0", false),
        ("GET", "/services\\..\\containers", false),
        ("GET", "/services;x=1", false),
        ("GET", "/services#x", false),
        ("GET", "/services?x#y", false),
        ("GET", "/ser vices", false),
        ("GET", "/services\r\nX: y", false),
        ("GET", "/servicés", false),
        ("GET", "/v1.41/v1.41/services", false),
        ("GET", "/v1.41x/services", false),
        ("GET", "/v1/services", false),
        ("GET", "/V1.41/services", false),
        ("GET", "/Services", false),
        // query tricks
        ("GET", "/services?filters=%7B%7D&filters=%7B%7D", false),
        ("GET", "/services?status=true&status=false", false),
        ("GET", "/services?force=1", false),
        ("GET", "/services?insertDefaults=true", false),
        ("GET", "/services?status", false),
        ("GET", "/services?status=yes", false),
        ("GET", "/services?&status=true", false),
        ("GET", "/services?status=true&", false),
        ("GET", "/services?=x", false),
        ("GET", "/services?sta%74us=true", false),
        ("GET", "/services?filters=", false),
        ("GET", "/services?filters=%5B%5D", false),
        ("GET", "/services?filters=%7B%22a%22%3A1%7D", false),
        (
            "GET",
            "/services?filters=%7B%22a%22%3A%7B%22b%22%3A%22c%22%7D%7D",
            false,
        ),
        ("GET", "/services?filters=%7B", false),
        ("GET", "/services?filters=%zz", false),
        ("GET", "/version?x=1", false),
        ("GET", "/_ping?x=1", false),
        ("GET", "/nodes/self?x=1", false),
        ("GET", "/networks?status=true", false),
    ];

    #[test]
    fn the_allowlist_table() {
        let mut wrong = Vec::new();
        for (method, target, allowed) in TABLE {
            let got = classify(method, target);
            if got.is_ok() != *allowed {
                wrong.push(format!("{method:?} {target:?}: {got:?}"));
            }
        }
        assert!(wrong.is_empty(), "misclassified:\n{}", wrong.join("\n"));
    }

    #[test]
    fn a_refusal_names_the_rule() {
        assert_eq!(
            classify("POST", "/services/create").unwrap_err().0,
            "only GET and HEAD are allowed: this proxy is read-only"
        );
        assert_eq!(
            classify("GET", "/containers/json").unwrap_err().0,
            "path is not on the allowlist"
        );
        assert_eq!(
            classify("GET", "/services/../x").unwrap_err().0,
            "path has a dot segment"
        );
    }

    #[test]
    fn a_long_target_is_refused() {
        let long = format!("/services?filters={}", "a".repeat(target::MAX_TARGET_LEN));
        assert_eq!(
            classify("GET", &long).unwrap_err().0,
            "request target too long"
        );
    }

    #[test]
    fn the_canonical_target_re_encodes_the_query() {
        let a = classify("GET", "/services?filters={\"label\":[\"a=b\"]}").unwrap();
        assert_eq!(
            a.target,
            "/services?filters=%7B%22label%22%3A%5B%22a%3Db%22%5D%7D"
        );
    }

    /// Pieces that tend to break path handling, for the grammar-driven property below.
    const PIECES: &[&str] = &[
        "/",
        "//",
        ".",
        "..",
        "%2e",
        "%2E",
        "%2f",
        "%2F",
        "%00",
        "%",
        "v1.41",
        "v",
        "_ping",
        "version",
        "services",
        "tasks",
        "networks",
        "nodes",
        "containers",
        "json",
        "create",
        "self",
        "?",
        "&",
        "=",
        "#",
        ";",
        "\\",
        "+",
        " ",
        "\r\n",
        "filters",
        "status",
        "true",
        "%7B%7D",
        "{}",
        "é",
        "\0",
        "a",
    ];

    proptest! {
        #![proptest_config(ProptestConfig { cases: 4096, ..ProptestConfig::default() })]

        #[test]
        fn no_input_panics(method in ".{0,12}", target in ".{0,300}") {
            let _ = classify(&method, &target);
        }

        #[test]
        fn no_byte_string_panics(method in "(GET|HEAD|POST|[A-Z]{0,8})", raw in proptest::collection::vec(any::<u8>(), 0..300)) {
            let target = String::from_utf8_lossy(&raw);
            let _ = classify(&method, &target);
        }

        /// Whatever is allowed is a GET/HEAD of a clean path that classifies the same way again,
        /// and its path (without the version) is one of the six endpoints.
        #[test]
        fn what_is_allowed_is_canonical(method in "(GET|HEAD|POST)", parts in proptest::collection::vec(proptest::sample::select(PIECES), 0..12)) {
            let target = parts.concat();
            if let Ok(a) = classify(&method, &target) {
                prop_assert!(method == "GET" || (method == "HEAD" && a.endpoint == Endpoint::Ping));
                let path = a.target.split('?').next().unwrap_or_default();
                prop_assert!(!path.contains("..") && !path.contains("//") && !path.contains('%'), "{}", a.target);
                prop_assert!(!a.target.contains('#') && !a.target.contains(' '), "{}", a.target);
                let again = classify(&method, &a.target);
                prop_assert_eq!(again, Ok(a.clone()));
                let mut bare: Vec<&str> = path.strip_prefix('/').unwrap_or("!").split('/').collect();
                if bare.first().is_some_and(|s| s.len() > 1 && s.starts_with('v') && s.as_bytes()[1].is_ascii_digit()) {
                    bare.remove(0);
                }
                prop_assert!(
                    matches!(bare.as_slice(), ["_ping"] | ["version"] | ["services"] | ["tasks"] | ["networks"] | ["nodes", _]),
                    "{}", a.target
                );
            }
        }
    }
}
