//! The JSON Schema of a compose file's `x-canary` blocks: checked in as generated, accepting the
//! fixtures' blocks and rejecting what the reader rejects for a field's shape or name.

use std::path::PathBuf;

use serde_json::{json, Value};

const SEED: &str = include_str!("fixtures/compose/seed/docker-compose.canary.yml");
const SDK: &str = include_str!("fixtures/compose/sdk/docker-compose.yml");

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn errors(doc: &Value) -> Vec<String> {
    let schema = canary_core::compose::json_schema();
    let validator = jsonschema::validator_for(&schema).expect("a valid JSON Schema");
    validator.iter_errors(doc).map(|e| e.to_string()).collect()
}

fn yaml(text: &str) -> Value {
    canary_core::yaml::to_value(text).unwrap()
}

#[test]
fn checked_in_compose_schema_is_the_generated_one() {
    let path = root().join("schema/compose-x-canary.schema.json");
    let generated =
        serde_json::to_string_pretty(&canary_core::compose::json_schema()).unwrap() + "\n";
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == generated,
        "schema/compose-x-canary.schema.json is stale: run `cargo run -q -p canary-core --bin canary-spec-schema -- --compose > schema/compose-x-canary.schema.json`"
    );
}

#[test]
fn the_fixtures_are_valid() {
    // The SDK fixture's `!latency 0.95` is a tag editors do not read as the mapping form.
    let sdk = SDK.replace("metric: !latency 0.95", "metric: {latency: 0.95}");
    for (name, text) in [("seed", SEED), ("sdk", sdk.as_str())] {
        let doc = yaml(text);
        assert!(doc.get("x-canary").is_some(), "{name}");
        let e = errors(&doc);
        assert!(e.is_empty(), "{name}: {e:?}");
    }
}

#[test]
fn the_rest_of_the_compose_file_is_not_checked() {
    let doc = json!({
        "version": "3.8",
        "x-whatever": [1, 2],
        "services": {"web": {"image": "nginx", "deploy": {"replicas": "${N}"}, "anything": true}},
        "networks": {"n": null}
    });
    assert!(errors(&doc).is_empty());
}

#[test]
fn bad_blocks_are_rejected() {
    let service = |x: Value| json!({"services": {"api": {"image": "a:1", "x-canary": x}}});
    let top = |x: Value| json!({"x-canary": x, "services": {"api": {"image": "a:1"}}});
    // Null and empty blocks are fine (every field derived).
    assert!(errors(&service(Value::Null)).is_empty());
    assert!(errors(&top(Value::Null)).is_empty());
    assert!(errors(&service(json!({"image": "a:2", "port": 8080}))).is_empty());
    assert!(errors(&top(json!({"apps": ["api", {"name": "api", "port": 80}]}))).is_empty());
    for (doc, what) in [
        // The app's name is the service's.
        (service(json!({"name": "other"})), "name on a service"),
        (service(json!({"colour": "blue"})), "an unknown app field"),
        (
            service(json!({"port": "eighty"})),
            "a port that is no number",
        ),
        (service(json!({"canaryReplicas": -1})), "negative replicas"),
        (service(json!(["image"])), "a list"),
        (
            top(json!({"traffic": {"steps": [20, 120]}})),
            "a weight above 100",
        ),
        (
            top(json!({"traffic": {"colour": 1}})),
            "an unknown traffic field",
        ),
        (
            top(json!({"apps": [{"port": 80}]})),
            "an apps item without a name",
        ),
        (top(json!({"apps": "api"})), "apps that is no list"),
        (top(json!({"colour": "blue"})), "an unknown group field"),
    ] {
        assert!(!errors(&doc).is_empty(), "{what} was accepted: {doc}");
    }
}

#[test]
fn compose_defaults_are_described() {
    let schema = canary_core::compose::json_schema();
    let port = &schema["$defs"]["ComposeApp"]["anyOf"][0]["properties"]["port"]["description"];
    assert!(
        port.as_str()
            .is_some_and(|d| d.contains("traefik.http.services")),
        "{port}"
    );
    assert!(schema["$defs"]["ComposeApp"]["anyOf"][0]["properties"]
        .get("name")
        .is_none());
}

/// The README's compose example: the yaml block that starts with the schema line.
fn readme_example() -> String {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let start = readme
        .find("```yaml\n# yaml-language-server")
        .expect("the README shows a compose file")
        + "```yaml\n".len();
    let end = start + readme[start..].find("```").unwrap();
    readme[start..end].to_string()
}

#[test]
fn the_readme_and_the_example_stack_files_are_valid_specs() {
    let example =
        std::fs::read_to_string(root().join("examples/neotix/docker-compose.canary.yml")).unwrap();
    for (name, text) in [("example", example.clone()), ("README", readme_example())] {
        assert!(
            text.starts_with(
                "# yaml-language-server: $schema=../../schema/compose-x-canary.schema.json\n"
            ),
            "{name}"
        );
        let e = errors(&yaml(&text));
        assert!(e.is_empty(), "{name}: {e:?}");
        let (spec, compose) = canary_core::Spec::from_text(&text, &[]).unwrap();
        assert!(compose, "{name}");
        assert_eq!(spec.group.as_str(), "neotix", "{name}");
        assert_eq!(spec.apps[0].name.as_str(), "neotix-api", "{name}");
        assert_eq!(spec.apps[0].image.as_str(), "neotix-api:v2", "{name}");
        assert_eq!(spec.apps[0].stable_replicas, 4, "{name}");
    }
    // The stack file carries the same rollout as the plain spec of the demo.
    let (from_compose, _) = canary_core::Spec::from_text(&example, &[]).unwrap();
    let plain = std::fs::read_to_string(root().join("examples/neotix/canary.yaml")).unwrap();
    let (spec, _) = canary_core::Spec::from_text(&plain, &[]).unwrap();
    assert_eq!(from_compose.stack, spec.stack);
    assert_eq!(from_compose.traffic, spec.traffic);
    assert_eq!(from_compose.analysis, spec.analysis);
    assert_eq!(from_compose.timeouts, spec.timeouts);
    assert_eq!(from_compose.apps.len(), spec.apps.len());
    for (a, b) in from_compose.apps.iter().zip(&spec.apps) {
        assert_eq!(
            (
                &a.name,
                &a.image,
                &a.stable_image,
                a.port,
                &a.rule,
                &a.health_path,
                a.canary_replicas
            ),
            (
                &b.name,
                &b.image,
                &b.stable_image,
                b.port,
                &b.rule,
                &b.health_path,
                b.canary_replicas
            )
        );
        assert_eq!(
            a.stable.as_ref().map(|s| s.as_str()),
            Some(format!("neotix_{}", a.name).as_str())
        );
    }
    // A rejection names the compose path and its line.
    let bad = readme_example().replace(
        "x-canary: {healthPath: /api/health}",
        "x-canary: {healthPath: /api/health, port: eighty}",
    );
    let e = canary_core::Spec::from_text(&bad, &[])
        .unwrap_err()
        .to_string();
    eprintln!("{e}");
    assert!(e.contains("services.neotix-api.x-canary.port"), "{e}");
}
