//! Reading `x-canary` from compose files: both layouts (the seed's `-canary` services and the
//! SDK's), what is derived from images, replicas and Traefik labels, and every rejection named at
//! its compose path and line.

use canary_core::compose::set_image;
use canary_core::compose::{is_compose, ComposeOptions, ComposeSpec};
use canary_core::{Error, ImageRef, Spec};
use proptest::prelude::*;
use serde_json::json;

const SEED: &str = include_str!("fixtures/compose/seed/docker-compose.canary.yml");
const SDK: &str = include_str!("fixtures/compose/sdk/docker-compose.yml");
const EXAMPLE: &str = include_str!("../../examples/neotix/canary.yaml");

fn read(text: &str) -> ComposeSpec {
    ComposeSpec::parse(text, &ComposeOptions::default()).unwrap()
}

fn reject(text: &str) -> (String, String) {
    match ComposeSpec::parse(text, &ComposeOptions::default()).and_then(|c| c.to_spec()) {
        Err(Error::InvalidInput { field, reason, .. }) => (field, reason),
        other => panic!("expected a rejection, got {other:?} for\n{text}"),
    }
}

/// 1-based line of the first line of `text` containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle} not in text"))
        + 1
}

#[test]
fn the_seed_layout_reads_as_the_example_spec() {
    let compose = read(SEED);
    let apps = &compose.value()["apps"];
    assert_eq!(
        apps,
        &json!([
            {
                "name": "gcp-deployment-api",
                "healthPath": "/gcp/api/health",
                "stable": "neotix_gcp-deployment-api",
                "canary": "neotix_gcp-deployment-api-canary",
                "image": "gcp-deployment-api:canary",
                "stableImage": "gcp-deployment-api:stable",
                "stableReplicas": 4,
                "canaryReplicas": 1,
                "port": 8080,
                "rule": "Host(`api.localhost`) && PathPrefix(`/gcp`)"
            },
            {
                "name": "neotix-api",
                "healthPath": "/api/health",
                "stable": "neotix_neotix-api",
                "canary": "neotix_neotix-api-canary",
                "image": "neotix-api:canary",
                "stableImage": "neotix-api:stable",
                "stableReplicas": 4,
                "canaryReplicas": 1,
                "port": 8080,
                "rule": "Host(`api.localhost`) && PathPrefix(`/api`)"
            }
        ])
    );
    let spec = compose.to_spec().unwrap();
    let example = Spec::from_yaml(EXAMPLE).unwrap();
    assert_eq!(spec.group, example.group);
    assert_eq!(spec.stack, example.stack);
    assert_eq!(spec.traffic, example.traffic);
    assert_eq!(spec.analysis, example.analysis);
    assert_eq!(spec.timeouts, example.timeouts);
    let refs = spec.app_refs();
    assert_eq!(refs[1].stable.as_str(), "neotix_neotix-api");
    assert_eq!(refs[1].canary.as_str(), "neotix_neotix-api-canary");
}

#[test]
fn the_sdk_layout_takes_the_canary_image_from_x_canary() {
    let compose = read(SDK);
    let v = compose.value();
    assert_eq!(v["group"], "shop", "the group defaults to the stack");
    assert_eq!(v["stack"], "shop");
    assert_eq!(
        v["apps"][0],
        json!({
            "name": "api",
            "image": "registry:5000/shop/api:1.5.0-rc1",
            "canaryReplicas": 2,
            "canaryEnv": {"FEATURE_NEW_CHECKOUT": "on"},
            "build": {"context": "./api", "args": {"GO_VERSION": "1.23"}},
            "stable": "shop_api",
            "stableImage": "registry:5000/shop/api:1.4.2",
            "stableReplicas": 3,
            "port": 8080,
            "rule": "Host(`shop.localhost`) && PathPrefix(`/api`)"
        })
    );
    assert_eq!(v["apps"][1]["port"], 3000);
    assert_eq!(
        v["apps"][1]["stableImage"],
        "registry:5000/shop/web@sha256:4f1c9a7e5b2d8c3f6a0e9d7b1c5a3f8e2d6b0c4a9e7f1d3b5c8a2e6f0d4b7c91"
    );
    assert_eq!(v["apps"].as_array().unwrap().len(), 2, "worker is no app");
    let spec = compose.to_spec().unwrap();
    assert_eq!(spec.app_refs()[0].canary.as_str(), "shop_api-canary");
    assert_eq!(spec.analysis.checks[1].metric.label(), "latency(p95)");
    assert!(spec.traffic.sticky);
}

#[test]
fn the_stack_option_overrides_the_file() {
    let options = ComposeOptions::default().with_stack("prod");
    let v = ComposeSpec::parse(SEED, &options).unwrap().into_value();
    assert_eq!(v["stack"], "prod");
    assert_eq!(v["group"], "neotix");
    assert_eq!(v["apps"][1]["stable"], "prod_neotix-api");
    assert_eq!(v["apps"][1]["canary"], "prod_neotix-api-canary");
    // Without any stack, services keep their compose names.
    let bare = SDK
        .replace("  stack: shop\n", "")
        .replace("x-canary:\n  traffic", "name: shop\nx-canary:\n  traffic");
    let v = read(&bare).into_value();
    assert_eq!(
        v["group"], "shop",
        "the group falls back to the compose name"
    );
    assert!(v.get("stack").is_none());
    assert_eq!(v["apps"][0]["stable"], "api");
}

#[test]
fn spec_errors_are_reported_at_the_compose_path_and_line() {
    // A value derived from the canary service.
    let text = SEED.replacen("      replicas: 1\n", "      replicas: 0\n", 1);
    let (field, reason) = reject(&text);
    assert_eq!(field, "services.neotix-api-canary.deploy.replicas");
    let line = line_of(&text, "replicas: 0");
    assert_eq!(
        reason,
        format!("the canary needs at least 1 replica (line {line}, column 17)")
    );
    // A value derived from a Traefik label in list form.
    let text = SEED.replace(
        "\"traefik.http.services.neotix-api.loadbalancer.server.port=8080\"\n\n  neotix-api-canary",
        "\"traefik.http.services.neotix-api.loadbalancer.server.port=0\"\n\n  neotix-api-canary",
    );
    let (field, reason) = reject(&text);
    assert_eq!(field, "services.neotix-api.deploy.labels[4]");
    let line = line_of(&text, "server.port=0");
    assert!(
        reason.ends_with(&format!("(line {line}, column 11)")),
        "{reason}"
    );
    // A group-level value.
    let text = SEED.replace("steps: [20, 50, 80]", "steps: [20, 80, 50]");
    let (field, reason) = reject(&text);
    assert_eq!(field, "x-canary.traffic.steps[2]");
    assert!(
        reason.starts_with("50 is not above the step before (80) (line "),
        "{reason}"
    );
    // A field of a service's x-canary, and one of an x-canary.apps item.
    let text = SDK.replace("canaryReplicas: 2", "canaryReplicas: 0");
    let (field, reason) = reject(&text);
    assert_eq!(field, "services.api.x-canary.canaryReplicas");
    assert!(reason.contains(&format!("line {}", line_of(&text, "canaryReplicas: 0"))));
    let text = SEED.replace("healthPath: /gcp/api/health", "healthPath: gcp");
    let (field, _) = reject(&text);
    assert_eq!(field, "x-canary.apps[0].healthPath");
    // An unknown field is reported where it is written.
    let text = SDK.replace("      canaryReplicas: 2", "      canaryReplica: 2");
    let (field, reason) = reject(&text);
    assert_eq!(field, "services.api.x-canary.canaryReplica");
    assert!(
        reason.contains("canaryReplica") && reason.contains("(line "),
        "{reason}"
    );
    let text = SDK.replace("  promote:", "  promotion:");
    let (field, reason) = reject(&text);
    assert_eq!(field, "x-canary.promotion");
    assert!(
        reason.contains("promotion") && reason.contains("(line "),
        "{reason}"
    );
}

#[test]
fn compose_paths_of_spec_paths() {
    let c = read(SEED);
    assert_eq!(
        c.compose_path("apps[1].port"),
        "services.neotix-api.deploy.labels[4]"
    );
    assert_eq!(
        c.compose_path("apps[0].port"),
        "services.gcp-deployment-api.deploy.labels.traefik.http.services.gcp-deployment-api.loadbalancer.server.port"
    );
    assert_eq!(
        c.compose_path("apps[1].image"),
        "services.neotix-api-canary.image"
    );
    assert_eq!(
        c.compose_path("apps[1].stableImage"),
        "services.neotix-api.image"
    );
    assert_eq!(c.compose_path("apps[1]"), "services.neotix-api.x-canary");
    assert_eq!(
        c.compose_path("apps[1].healthPath"),
        "services.neotix-api.x-canary.healthPath"
    );
    assert_eq!(c.compose_path("apps[0]"), "x-canary.apps[0]");
    assert_eq!(c.compose_path("apps[10]"), "x-canary.apps[10]");
    assert_eq!(
        c.compose_path("analysis.checks[1].max"),
        "x-canary.analysis.checks[1].max"
    );
    assert_eq!(c.compose_path("promote"), "x-canary.promote");
    assert_eq!(c.compose_path(""), "x-canary");
    assert!(c
        .index()
        .get("services.neotix-api.deploy.labels[4]")
        .is_some());
    // Not mistaken for a prefix: apps[1] is not apps[10].
    assert_eq!(read(SDK).compose_path("apps[10]"), "services[10]");
}

#[test]
fn what_is_refused_and_where() {
    let cases: Vec<(String, &str, &str)> = vec![
        (
            SEED.replace("    - name: gcp-deployment-api", "    - name: gcp-api"),
            "x-canary.apps[0]",
            "no service \"gcp-api\"",
        ),
        (
            SDK.replace("x-canary:\n  stack: shop", "x-canary: [shop]\nx-other:\n  stack: shop"),
            "x-canary",
            "must be a mapping",
        ),
        (
            SDK.replace("    x-canary:\n      image: registry:5000/shop/web:2.0.0\n", "    x-canary: true\n    x-old:\n      image: registry:5000/shop/web:2.0.0\n"),
            "services.web.x-canary",
            "must be a mapping",
        ),
        (
            SDK.replace("      image: registry:5000/shop/web:2.0.0\n", ""),
            "services.web.x-canary",
            "no canary image",
        ),
        (
            SEED.replace("  gcp-deployment-api-canary:\n    image: \"gcp-deployment-api:canary\"\n", "  gcp-deployment-api-canary:\n"),
            "x-canary.apps[0]",
            "no canary image",
        ),
        (
            SEED.replace("    - name: gcp-deployment-api\n", "    - name: gcp-deployment-api-canary\n"),
            "x-canary.apps[0]",
            "is the canary of gcp-deployment-api",
        ),
        (
            SDK.replace("      port: 3000\n", "      port: 3000\n      name: web2\n"),
            "services.web.x-canary.name",
            "remove it",
        ),
        (
            SEED.replace("healthPath: /gcp/api/health", "healthPath: /gcp/api/health\n    - gcp-deployment-api"),
            "x-canary.apps[1]",
            "listed twice",
        ),
        (
            SEED.replace("    - name: gcp-deployment-api\n      healthPath: /gcp/api/health", "    - name: neotix-api\n      healthPath: /x"),
            "services.neotix-api.x-canary.healthPath",
            "also given at x-canary.apps[0].healthPath",
        ),
        (
            SEED.replace("  apps:\n    - name: gcp-deployment-api\n      healthPath: /gcp/api/health\n", "  apps:\n    - healthPath: /gcp/api/health\n"),
            "x-canary.apps[0]",
            "needs name",
        ),
        (
            SEED.replace("  apps:\n    - name", "  apps: gcp\n  old:\n    - name"),
            "x-canary.apps",
            "must be a list",
        ),
        (
            SDK.replace("services:", "servicez:"),
            "services",
            "needs a services mapping",
        ),
        (
            SDK.replace("    x-canary:\n      image: registry:5000/shop/api", "    x-cannary:\n      image: registry:5000/shop/api")
                .replace("    x-canary:\n      image: registry:5000/shop/web", "    x-cannary:\n      image: registry:5000/shop/web"),
            "services",
            "no service is a canary app",
        ),
        (
            SDK.replace("traefik.http.routers.web.rule=Host(`shop.localhost`)", "traefik.http.services.web.loadbalancer.server.port=80\n        - traefik.http.services.web2.loadbalancer.server.port=81")
                .replace("      port: 3000\n", ""),
            "services.web.deploy.labels",
            "several values for the port (80, 81)",
        ),
        (
            SDK.replace("      port: 3000\n", ""),
            "services.web.x-canary",
            "no port",
        ),
        (
            SEED.replace("    image: neotix-api:canary", "    image: \"neotix-api:${TAG}\""),
            "services.neotix-api-canary.image",
            "compose variables",
        ),
        (
            SDK.replace("traefik.http.services.api.loadbalancer.server.port: \"8080\"", "traefik.http.services.api.loadbalancer.server.port: http"),
            "services.api.deploy.labels.traefik.http.services.api.loadbalancer.server.port",
            "not a port number",
        ),
        (
            SDK.replace("    deploy:\n      replicas: 2\n      labels:\n        - traefik.enable=true", "    deploy:\n      replicas: 2\n      labels: 5\n      old:\n        - traefik.enable=true"),
            "services.web.deploy.labels",
            "list or a mapping",
        ),
        (
            SDK.replace("  stack: shop\n", ""),
            "x-canary",
            "no group",
        ),
        (
            SDK.replace("services:\n  api:", "services:\n  api:\n    image: again"),
            "",
            "appears twice",
        ),
    ];
    for (text, field, needle) in cases {
        let (f, reason) = reject(&text);
        assert_eq!(f, field, "{reason}\n{text}");
        assert!(reason.contains(needle), "{f}: {reason}");
        if !field.is_empty() && field != "services" {
            assert!(reason.contains("(line "), "{f}: {reason}");
        }
    }
}

#[test]
fn anchors_and_merges_in_x_canary() {
    let text = r#"
x-common: &common
  healthPath: /health
  canaryReplicas: 2
x-steps: &steps [10, 20]
x-canary:
  group: g
  traffic: {steps: *steps}
services:
  a:
    image: a:1
    x-canary:
      <<: *common
      image: a:2
      port: 80
      rule: Host(`a`)
  b:
    image: b:1
    x-canary: {<<: *common, image: "b:2", port: 81, rule: "Host(`b`)", canaryReplicas: 3}
"#;
    let c = read(text);
    let v = c.value();
    assert_eq!(v["traffic"]["steps"], json!([10, 20]));
    assert_eq!(v["apps"][0]["canaryReplicas"], 2);
    assert_eq!(v["apps"][1]["canaryReplicas"], 3);
    assert_eq!(v["apps"][1]["healthPath"], "/health");
    c.to_spec().unwrap();
    // An error in a merged value points at the anchor, and says it was merged in.
    let bad = text.replace("healthPath: /health", "healthPath: health");
    let (field, reason) = reject(&bad);
    assert_eq!(field, "services.a.x-canary.healthPath");
    assert!(
        reason.ends_with("(line 3, column 15, merged in by `<<` at line 13, column 11)"),
        "{reason}"
    );
}

#[test]
fn compose_or_spec() {
    assert!(is_compose(SEED));
    assert!(is_compose(SDK));
    assert!(!is_compose(EXAMPLE));
    assert!(!is_compose("services:\n  api:\n    image: a\n"));
    assert!(is_compose(
        "services:\n  api:\n    image: a\n    x-canary: {}\n"
    ));
    assert!(!is_compose("services: [a]\nx-canary: {}\n"));
    assert!(!is_compose("services: {a: [\n"));
    assert!(!is_compose(""));
    assert!(!is_compose("- services"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// No text makes the compose reader, the detector or the editor panic; an edit that succeeds
    /// reads back with its image.
    #[test]
    fn no_text_panics(text in ".{0,300}") {
        let _ = is_compose(&text);
        let _ = ComposeSpec::parse(&text, &ComposeOptions::default()).and_then(|c| c.to_spec());
        let _ = set_image(&text, "a", &ImageRef::parse("a:1").unwrap());
    }

    #[test]
    fn no_compose_ish_text_panics(
        parts in proptest::collection::vec(
            prop_oneof![
                Just("services:\n"), Just("  a:\n"), Just("    image: "), Just("x-canary:"),
                Just("    x-canary:\n"), Just("      port: 80\n"), Just("a:1"), Just("\"a:1\""),
                Just("'a'"), Just("&i "), Just("*i"), Just("<<: "), Just("{"), Just("}"),
                Just("["), Just("]"), Just(", "), Just("\n"), Just("\r\n"), Just("  "),
                Just("- "), Just("|\n"), Just(">-\n"), Just("# c\n"), Just("a-canary:\n"),
                Just("deploy:\n"), Just("labels:\n"), Just("replicas: 2\n"), Just("é"),
                Just("traefik.http.routers.a.rule=Host(`a`)"), Just("${X}"), Just("apps: "),
            ],
            0..40,
        ),
        image in "[a-z]{1,5}(:[a-z0-9]{1,4})?",
    ) {
        let text: String = parts.concat();
        let _ = is_compose(&text);
        if let Ok(c) = ComposeSpec::parse(&text, &ComposeOptions::default()) {
            let _ = c.to_spec();
            let _ = c.compose_path("apps[0].port");
        }
        let image = ImageRef::parse(&image).unwrap();
        if let Ok(edit) = set_image(&text, "a", &image) {
            let again = set_image(edit.text(), "a", &image).unwrap();
            prop_assert!(again.is_noop());
            prop_assert_eq!(edit.new_image(), image.as_str());
            let _ = edit.patch("f");
        }
    }
}
