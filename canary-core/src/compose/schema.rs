//! The JSON Schema of the `x-canary` blocks of a compose file, built from the spec's own schema
//! (so both stay one set of types): the top-level block takes the spec's group-level fields plus
//! `apps`, a service's block the app fields without `name`. Every other key of the compose file
//! is left to the compose schema of the editor, if any.

use serde_json::{json, Map, Value};

use crate::spec::Spec;

/// What the compose reader derives when a field is left out, by app field.
const DERIVED: &[(&str, &str)] = &[
    (
        "image",
        "In a compose file: defaults to the image: of the service <service>-canary (the seed's layout); without one, required.",
    ),
    (
        "stableImage",
        "In a compose file: defaults to the service's own image:.",
    ),
    (
        "stableReplicas",
        "In a compose file: defaults to the service's deploy.replicas.",
    ),
    (
        "canaryReplicas",
        "In a compose file: defaults to deploy.replicas of <service>-canary.",
    ),
    (
        "port",
        "In a compose file: defaults to the Traefik label traefik.http.services.<X>.loadbalancer.server.port of the service (or of <service>-canary).",
    ),
    (
        "rule",
        "In a compose file: defaults to the Traefik label traefik.http.routers.<X>.rule of the service.",
    ),
    (
        "stable",
        "In a compose file: defaults to <stack>_<service>, or the service's name without a stack.",
    ),
    (
        "canary",
        "In a compose file: defaults to <stack>_<service>-canary when that service exists.",
    ),
];

/// The JSON Schema of a compose file's canary settings (`schema/compose-x-canary.schema.json`).
/// Self-contained: the spec schema's definitions are copied in, so the file works alone.
pub fn json_schema() -> Value {
    let spec = Spec::json_schema();
    let mut defs = spec
        .get("$defs")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let app_props = defs
        .get("AppSpec")
        .and_then(|a| a.get("properties"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut app_props = with_notes(app_props);
    let mut item_props = app_props.clone();
    app_props.remove("name");
    if let Some(name) = item_props.get_mut("name").and_then(Value::as_object_mut) {
        name.insert(
            "description".into(),
            json!("The compose service that is the app."),
        );
    }

    let mut group_props = spec
        .get("properties")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    group_props.remove("apps");
    if let Some(g) = group_props.get_mut("group").and_then(Value::as_object_mut) {
        g.insert(
            "description".into(),
            json!("The group's name. In a compose file: defaults to the stack, else the compose file's name:."),
        );
    }
    group_props.insert(
        "apps".into(),
        json!({
            "description": "Services that are apps besides those with their own x-canary, in this order: a service name, or a mapping whose name is the service and whose other keys are app fields.",
            "type": "array",
            "items": {"$ref": "#/$defs/ComposeAppItem"}
        }),
    );

    defs.insert(
        "ComposeGroup".into(),
        json!({
            "description": "The group-level canary settings (x-canary at the top of the compose file); docker stack deploy ignores x- keys.",
            "anyOf": [
                {"type": "object", "additionalProperties": false, "properties": group_props},
                {"type": "null"}
            ]
        }),
    );
    defs.insert(
        "ComposeApp".into(),
        json!({
            "description": "The service is a canary app; these are its settings (the app's name is the service's). Empty: every field derived.",
            "anyOf": [
                {"type": "object", "additionalProperties": false, "properties": app_props},
                {"type": "null"}
            ]
        }),
    );
    defs.insert(
        "ComposeAppItem".into(),
        json!({
            "anyOf": [
                {"$ref": "#/$defs/ServiceName"},
                {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["name"],
                    "properties": item_props
                }
            ]
        }),
    );
    json!({
        "$schema": spec.get("$schema").cloned().unwrap_or(json!("https://json-schema.org/draft/2020-12/schema")),
        "title": "canary settings in a compose file",
        "description": "The x-canary blocks of a docker stack deploy compose file (top level: the group; per service: the app). Only x-canary is checked here.",
        "type": "object",
        "properties": {
            "x-canary": {"$ref": "#/$defs/ComposeGroup"},
            "services": {
                "type": "object",
                "additionalProperties": {
                    "properties": {"x-canary": {"$ref": "#/$defs/ComposeApp"}}
                }
            }
        },
        "$defs": defs
    })
}

/// The app fields with what the compose reader derives added to their descriptions.
fn with_notes(mut props: Map<String, Value>) -> Map<String, Value> {
    for (field, note) in DERIVED {
        if let Some(p) = props.get_mut(*field).and_then(Value::as_object_mut) {
            let text = match p.get("description").and_then(Value::as_str) {
                Some(d) => format!("{d} {note}"),
                None => (*note).to_string(),
            };
            p.insert("description".into(), Value::String(text));
        }
    }
    props
}
