//! Spec loading: every kind of bad spec is rejected with its field and reason; good specs and the
//! shipped examples load; the checked-in JSON Schema is the generated one and accepts the examples.

use std::path::PathBuf;

use canary_core::spec::{MetricKind, TrafficMode};
use canary_core::{Error, Spec};

const BASE: &str = r#"
group: shop
apps:
  - name: api
    image: api:v2
    port: 8080
    rule: "Host(`api.localhost`)"
"#;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn reject(yaml: &str) -> (String, String) {
    match Spec::from_yaml(yaml) {
        Err(Error::InvalidInput { field, reason, .. }) => (field, reason),
        other => panic!("expected a rejection, got {other:?} for\n{yaml}"),
    }
}

#[test]
fn defaults_fill_in() {
    let s = Spec::from_yaml(BASE).unwrap();
    assert_eq!(s.traffic.mode, TrafficMode::Weighted);
    assert_eq!(
        s.steps().iter().map(|w| w.get()).collect::<Vec<_>>(),
        vec![10, 20, 30, 40, 50]
    );
    let h = s.traffic.header_route.as_ref().unwrap();
    assert_eq!(
        h.request_header(),
        Some(("X-Canary".to_string(), "true".to_string()))
    );
    let app = &s.app_refs()[0];
    assert_eq!(
        (app.stable.as_str(), app.canary.as_str()),
        ("api", "api-canary")
    );
    assert_eq!(s.window(), std::time::Duration::from_secs(30));
}

#[test]
fn stack_names_like_docker_stack_deploy() {
    let s = Spec::from_yaml(&format!("{BASE}stack: neotix\n")).unwrap();
    let app = &s.app_refs()[0];
    assert_eq!(
        (app.stable.as_str(), app.canary.as_str()),
        ("neotix_api", "neotix_api-canary")
    );
}

#[test]
fn metrics_read_as_names_maps_or_yaml_tags() {
    let with = |m: &str| {
        Spec::from_yaml(&format!(
            "{BASE}analysis:\n  checks:\n    - name: x\n      metric: {m}\n      max: 1\n"
        ))
        .map(|s| s.analysis.checks[0].metric.clone())
    };
    assert_eq!(with("errorRate").unwrap(), MetricKind::ErrorRate);
    assert_eq!(with("{latency: 0.95}").unwrap(), MetricKind::Latency(0.95));
    assert_eq!(with("!latency 0.95").unwrap(), MetricKind::Latency(0.95));
    assert_eq!(
        with("{query: 'up{job=\"x\"}'}").unwrap(),
        MetricKind::Query("up{job=\"x\"}".into())
    );
    assert_eq!(
        with("!query 'sum(up)'").unwrap(),
        MetricKind::Query("sum(up)".into())
    );
    assert_eq!(with("!errorRate").unwrap(), MetricKind::ErrorRate);
    assert!(with("latency")
        .unwrap_err()
        .to_string()
        .contains("latency needs a quantile"));
    assert!(
        with("{latency: 0.9, query: x}")
            .unwrap_err()
            .to_string()
            .contains("end of mapping"),
        "{:?}",
        with("{latency: 0.9, query: x}")
    );
    // An unknown tag names itself.
    assert!(with("!p99 1").unwrap_err().to_string().contains("`p99`"));
}

#[test]
fn step_weight_and_max_weight() {
    let s = Spec::from_yaml(&format!(
        "{BASE}traffic:\n  stepWeight: 15\n  maxWeight: 50\n"
    ))
    .unwrap();
    assert_eq!(
        s.steps().iter().map(|w| w.get()).collect::<Vec<_>>(),
        vec![15, 30, 45, 50]
    );
}

#[test]
fn json_and_values_load_too() {
    let json = r#"{"group":"shop","apps":[{"name":"api","image":"api:v2","port":8080,"rule":"Host(`a`)"}],
        "traffic":{"steps":[5,10,25,50]},"analysis":{"checks":[{"name":"p99","metric":{"latency":0.99},"max":0.5}]}}"#;
    let s = Spec::from_json(json).unwrap();
    assert_eq!(s.analysis.checks[0].metric, MetricKind::Latency(0.99));
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(Spec::from_value(v).unwrap(), s);
    let bad: serde_json::Value =
        serde_json::from_str(&json.replace("[5,10,25,50]", "[5,10,120]")).unwrap();
    let e = Spec::from_value(bad).unwrap_err();
    assert_eq!(e.to_string(), "traffic.steps[2]: 120 is above 100");
    // YAML reads JSON as well, with the same message.
    let e = Spec::from_yaml(&json.replace("[5,10,25,50]", "[5,10,120]")).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("traffic.steps[2]: 120 is above 100"),
        "{e}"
    );
}

#[test]
fn every_kind_of_bad_spec_names_field_and_reason() {
    let with = |extra: &str| format!("{BASE}{extra}");
    let app = |line: &str| BASE.replace("    port: 8080\n", &format!("    port: 8080\n{line}\n"));
    let cases: Vec<(String, &str, &str)> = vec![
        (with("traffic:\n  steps: [10, 50, 120]\n"), "traffic.steps[2]", "120 is above 100"),
        (with("traffic:\n  steps: [10, 5]\n"), "traffic.steps[1]", "5 is not above the step before (10)"),
        (with("traffic:\n  steps: [0, 0]\n"), "traffic.steps[1]", "only the first step can have weight 0"),
        (with("traffic:\n  steps: [0, 5]\n  headerRoute: null\n"), "traffic.steps[0]", "reaches the canary only through headerRoute"),
        (with("traffic:\n  steps: []\n"), "traffic.steps", "needs at least one step"),
        (with("traffic:\n  steps: [10]\n  stepWeight: 5\n"), "traffic.steps", "not both"),
        (with("traffic:\n  stepWeight: 30\n  maxWeight: 20\n"), "traffic.maxWeight", "20 is below stepWeight 30"),
        (with("traffic:\n  stepWeight: 0\n"), "traffic.stepWeight", "must be above 0"),
        (with("traffic:\n  steps: [-1]\n"), "traffic.steps[0]", "-1 is below 0"),
        (with("traffic:\n  interval: 10x\n"), "traffic.interval", "unknown unit"),
        (with("traffic:\n  interval: 10ms\n"), "traffic.interval", "at least 100ms"),
        (with("traffic:\n  mode: halfway\n"), "traffic.mode", "unknown variant"),
        (with("traffic:\n  mirror: 101\n"), "traffic.mirror", "101 is above 100"),
        (with("traffic:\n  mode: replicas\n  sticky: true\n"), "traffic.sticky", "weighted mode"),
        (with("traffic:\n  mode: replicas\n  totalReplicas: 1\n"), "traffic.totalReplicas", "at least 2"),
        (with("traffic:\n  totalReplicas: 4\n"), "traffic.totalReplicas", "only used in replicas mode"),
        (with("traffic:\n  headerRoute:\n    name: X-Canary\n    value: \"a`b\"\n"), "traffic.headerRoute.value", "backticks"),
        (with("traffic:\n  headerRoute:\n    name: \"X Canary\"\n    value: \"1\"\n"), "traffic.headerRoute.name", "only letters"),
        (with("traffic:\n  entryPoints: []\n"), "traffic.entryPoints", "at least one"),
        (with("traffic:\n  stepz: [1]\n"), "traffic.stepz", "unknown field `stepz`"),
        (with("colour: blue\n"), "colour", "unknown field `colour`"),
        (BASE.replace("group: shop", "group: \"-shop\""), "group", "must start and end with a letter or digit"),
        (BASE.replace("group: shop\n", ""), "", "missing field `group`"),
        ("group: shop\napps: []\n".into(), "apps", "at least one app"),
        (BASE.replace("api:v2", "Api:V2"), "apps[0].image", "invalid path component"),
        (BASE.replace("port: 8080", "port: 70000"), "apps[0].port", "70000 is not a port"),
        (BASE.replace("port: 8080", "port: 0"), "apps[0].port", "0 is not a port"),
        (BASE.replace("rule: \"Host(`api.localhost`)\"", "rule: \"Host(`api.localhost)\""), "apps[0].rule", "unbalanced backtick"),
        (BASE.replace("rule: \"Host(`api.localhost`)\"", "rule: \"Host(`a`\""), "apps[0].rule", "unbalanced parentheses"),
        (BASE.replace("rule: \"Host(`api.localhost`)\"", "rule: \"  \""), "apps[0].rule", "cannot be empty"),
        (app("    canaryReplicas: 0"), "apps[0].canaryReplicas", "at least 1 replica"),
        (app("    canary: api"), "apps[0].canary", "must differ"),
        (app("    stable: \"bad name\""), "apps[0].stable", "only letters"),
        (app("    canaryEnv:\n      \"A B\": x"), "apps[0].canaryEnv", "not a variable name"),
        (app("    healthPath: health"), "apps[0].healthPath", "must start with /"),
        (format!("{BASE}  - name: api\n    image: a:b\n    port: 1\n    rule: \"Host(`b`)\"\n"), "apps[1].name", "appears twice"),
        (format!("{BASE}  - name: api-canary\n    image: a:b\n    port: 1\n    rule: \"Host(`b`)\"\n"), "apps[1].name", "overlap"),
        (with("analysis:\n  checks:\n    - name: x\n      metric: successRate\n"), "analysis.checks[0].name", "needs min, max or relative"),
        (with("analysis:\n  checks:\n    - name: x\n      metric: {latency: 1.5}\n      max: 1\n"), "analysis.checks[0].metric", "not between 0 and 1"),
        (with("analysis:\n  checks:\n    - name: x\n      metric: {query: \"\"}\n      max: 1\n"), "analysis.checks[0].metric", "query is empty"),
        (with("analysis:\n  checks:\n    - name: x\n      metric: successRate\n      min: 0.9\n      max: 0.5\n"), "analysis.checks[0].min", "above max"),
        (with("analysis:\n  checks:\n    - name: x\n      metric: errorRate\n      relative: {tolerance: -1}\n"), "analysis.checks[0].relative.tolerance", "0 or more"),
        (with("analysis:\n  checks:\n    - name: x\n      metric: throughput\n      max: 1\n"), "analysis.checks[0].metric", "unknown variant"),
        (with("analysis:\n  judge:\n    metrics: []\n"), "analysis.judge.metrics", "at least one metric"),
        (with("analysis:\n  judge:\n    confidence: 1.5\n    metrics: [{name: e, metric: errorRate}]\n"), "analysis.judge.confidence", "not between"),
        (with("analysis:\n  judge:\n    marginalScore: 99\n    metrics: [{name: e, metric: errorRate}]\n"), "analysis.judge.marginalScore", "passScore"),
        (with("analysis:\n  judge:\n    metrics: [{name: e, metric: errorRate, weight: 0}]\n"), "analysis.judge.metrics[0].weight", "above 0"),
        (with("analysis:\n  onInconclusive: shrug\n"), "analysis.onInconclusive", "unknown variant"),
        (with("analysis:\n  window: 0s\n"), "analysis.window", "at least 1s"),
        (with("hooks:\n  preRollout:\n    - name: gate\n      url: ftp://x/y\n"), "hooks.preRollout[0].url", "not an http(s) URL"),
        (with("hooks:\n  step:\n    - name: \"\"\n      url: http://127.0.0.1/x\n"), "hooks.step[0].name", "cannot be empty"),
        (with("hooks:\n  rollback:\n    - name: n\n      url: http://127.0.0.1/x\n      timeout: 0s\n"), "hooks.rollback[0].timeout", "above 0"),
        (with("promote:\n  strategy: yolo\n"), "promote.strategy", "unknown variant"),
        (with("timeouts:\n  call: 1ms\n"), "timeouts.call", "at least 100ms"),
        ("group: \"shop\n".into(), "", "unclosed quote (line 1"),
    ];
    for (yaml, field, reason) in cases {
        let (f, r) = reject(&yaml);
        assert_eq!(f, field, "field for {reason:?} (got reason {r:?})");
        assert!(
            r.contains(reason),
            "reason for {field}: expected {reason:?} in {r:?}"
        );
    }
}

#[test]
fn notifications_load_with_defaults() {
    use canary_core::spec::NotificationKind;
    use canary_core::EventKind;
    let s = Spec::from_yaml(&format!(
        "{BASE}notifications:\n  - name: team\n    kind: slack\n    urlFrom: {{env: SLACK_URL}}\n  - name: audit\n    kind: json\n    url: https://audit.example/hook?token=s3cret\n    events: [weightSet, analysis]\n    timeout: 2s\n    allowLinkLocal: true\n"
    ))
    .unwrap();
    let [team, audit] = s.notifications.as_slice() else {
        panic!("{:?}", s.notifications)
    };
    assert_eq!(team.kind, NotificationKind::Slack);
    assert_eq!(team.timeout.get(), std::time::Duration::from_secs(5));
    assert!(!team.allow_link_local);
    assert_eq!(
        team.events,
        vec![
            EventKind::Started,
            EventKind::Paused,
            EventKind::Promoting,
            EventKind::Promoted,
            EventKind::RollingBack,
            EventKind::RolledBack,
            EventKind::CanaryLost,
            EventKind::Failed
        ]
    );
    assert_eq!(
        audit.events,
        vec![EventKind::WeightSet, EventKind::Analysis]
    );
    assert!(audit.allow_link_local);
    assert_eq!(
        audit.url.as_ref().unwrap().expose(),
        "https://audit.example/hook?token=s3cret"
    );
    // The spec's Debug (logged by callers) never shows the URL's secret part.
    let debug = format!("{s:?}");
    assert!(
        !debug.contains("s3cret") && debug.contains("https://audit.example"),
        "{debug}"
    );
    // A spec round-trips through JSON with its URL whole.
    let again = Spec::from_value(serde_json::to_value(&s).unwrap()).unwrap();
    assert_eq!(again, s);
    // No notifications: nothing in the serialized spec.
    let plain = serde_json::to_value(Spec::from_yaml(BASE).unwrap()).unwrap();
    assert!(plain.get("notifications").is_none());
}

#[test]
fn bad_notifications_name_the_field_and_never_quote_the_url() {
    let n = |body: &str| format!("{BASE}notifications:\n  - name: team\n{body}");
    let cases: Vec<(String, &str, &str)> = vec![
        (n("    kind: slack\n"), "notifications[0].url", "give url or urlFrom"),
        (
            n("    kind: slack\n    url: https://h/s3cret\n    urlFrom: {env: X}\n"),
            "notifications[0].url",
            "not both",
        ),
        (n("    kind: slack\n    url: ftp://h/s3cret\n"), "notifications[0].url", "not an http(s) URL"),
        (n("    kind: slack\n    url: \"https://h/s3 cret\"\n"), "notifications[0].url", "space"),
        (n("    kind: slack\n    url: https:///s3cret\n"), "notifications[0].url", "no host"),
        (n("    kind: email\n    url: https://h/s3cret\n"), "notifications[0].kind", "unknown variant"),
        (n("    kind: slack\n    urlFrom: {env: \"A-B\"}\n"), "notifications[0].urlFrom.env", "not an environment variable name"),
        (n("    kind: slack\n    url: https://h/s3cret\n    events: []\n"), "notifications[0].events", "at least one"),
        (n("    kind: slack\n    url: https://h/s3cret\n    events: [exploded]\n"), "notifications[0].events[0]", "unknown variant"),
        (n("    kind: slack\n    url: https://h/s3cret\n    timeout: 0s\n"), "notifications[0].timeout", "not between 100ms and 1m"),
        (n("    kind: slack\n    url: https://h/s3cret\n    timeout: 2m\n"), "notifications[0].timeout", "not between 100ms and 1m"),
        (n("    kind: slack\n    url: https://h/s3cret\n    colour: red\n"), "notifications[0].colour", "unknown field"),
        (
            n("    kind: slack\n    url: https://h/s3cret\n  - name: team\n    kind: json\n    url: https://h/x\n"),
            "notifications[1].name",
            "used by another notification",
        ),
        (
            format!("{BASE}notifications:\n  - name: \"\"\n    kind: json\n    url: https://h/x\n"),
            "notifications[0].name",
            "cannot be empty",
        ),
        (
            format!("{BASE}notifications:\n  - name: {}\n    kind: json\n    url: https://h/x\n", "n".repeat(65)),
            "notifications[0].name",
            "65 characters is above the limit of 64",
        ),
        (
            n(&format!("    kind: json\n    url: https://h/{}\n", "s3cret".repeat(400))),
            "notifications[0].url",
            "bytes is above the limit of 2048",
        ),
        (
            format!(
                "{BASE}notifications:\n{}",
                (0..17)
                    .map(|i| format!("  - name: n{i}\n    kind: json\n    url: https://h/x\n"))
                    .collect::<String>()
            ),
            "notifications",
            "17 notifications is above the limit of 16",
        ),
    ];
    for (yaml, field, reason) in cases {
        let (f, r) = reject(&yaml);
        assert_eq!(f, field, "field for {reason:?} (got reason {r:?})");
        assert!(
            r.contains(reason),
            "reason for {field}: expected {reason:?} in {r:?}"
        );
        assert!(!r.contains("s3cret"), "the URL leaked into {r:?}");
    }
}

#[test]
fn shipped_examples_load() {
    for f in [
        "examples/neotix/canary.yaml",
        "examples/neotix/canary-bad.yaml",
        "examples/neotix/canary-replicas.yaml",
    ] {
        let s = Spec::load(root().join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert_eq!(s.app_refs().len(), 2);
    }
    let e = Spec::load(root().join("no/such/file.yaml")).unwrap_err();
    assert!(e.to_string().contains("cannot read spec file"), "{e}");
}

#[test]
fn checked_in_schema_is_the_generated_one() {
    let path = root().join("schema/canary-spec.schema.json");
    let generated = serde_json::to_string_pretty(&Spec::json_schema()).unwrap() + "\n";
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == generated,
        "schema/canary-spec.schema.json is stale: run `cargo run -q -p canary-core --bin canary-spec-schema > schema/canary-spec.schema.json`"
    );
}

#[test]
fn schema_accepts_the_examples_and_rejects_bad_ones() {
    let schema = Spec::json_schema();
    let validator = jsonschema::validator_for(&schema).expect("a valid JSON Schema");
    for f in [
        "examples/neotix/canary.yaml",
        "examples/neotix/canary-bad.yaml",
        "examples/neotix/canary-replicas.yaml",
    ] {
        let text = std::fs::read_to_string(root().join(f)).unwrap();
        let value: serde_json::Value = canary_core::yaml::from_str(&text).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{f}: {errors:?}");
    }
    let bad: serde_json::Value =
        canary_core::yaml::from_str(&BASE.replace("port: 8080", "port: 8080\n    colour: blue"))
            .unwrap();
    assert!(!validator.is_valid(&bad));
    let bad: serde_json::Value =
        canary_core::yaml::from_str(&format!("{BASE}traffic:\n  steps: [120]\n")).unwrap();
    assert!(!validator.is_valid(&bad));
    let notify = |n: &str| -> serde_json::Value {
        canary_core::yaml::from_str(&format!("{BASE}notifications:\n  - name: t\n{n}")).unwrap()
    };
    assert!(validator.is_valid(&notify(
        "    kind: teams\n    urlFrom: {env: TEAMS_URL}\n    events: [promoted, rolledBack]\n"
    )));
    assert!(!validator.is_valid(&notify("    kind: pager\n    url: https://h/x\n")));
    assert!(!validator.is_valid(&notify(
        "    kind: json\n    url: https://h/x\n    events: [nope]\n"
    )));
}

#[test]
fn build_requests_per_track() {
    use canary_core::Track;
    let s = Spec::from_yaml(&BASE.replace(
        "    port: 8080\n",
        "    port: 8080\n    stableImage: registry.local:5000/api:v1\n    build:\n      context: app\n      args: {A: b}\n",
    ))
    .unwrap();
    let dir = std::path::Path::new("/specs");
    let canary = s.apps[0]
        .build_request(Track::Canary, dir)
        .unwrap()
        .unwrap();
    assert_eq!(canary.tag.as_str(), "api:v2");
    assert_eq!(canary.context, dir.join("app"));
    assert_eq!(canary.dockerfile, "Dockerfile");
    assert_eq!(canary.args["CANARY_TRACK"], "canary");
    assert_eq!(canary.args["CANARY_TAG"], "v2");
    assert_eq!(canary.args["A"], "b");
    let stable = s.apps[0]
        .build_request(Track::Stable, dir)
        .unwrap()
        .unwrap();
    assert_eq!(stable.args["CANARY_IMAGE"], "registry.local:5000/api:v1");
    assert_eq!(stable.args["CANARY_TAG"], "v1");
    // No build section: nothing to build; stable without stableImage: a clear error.
    let plain = Spec::from_yaml(BASE).unwrap();
    assert!(plain.apps[0]
        .build_request(Track::Canary, dir)
        .unwrap()
        .is_none());
    let no_stable = Spec::from_yaml(&BASE.replace(
        "    port: 8080\n",
        "    port: 8080\n    build: {context: app}\n",
    ))
    .unwrap();
    let e = no_stable.apps[0]
        .build_request(Track::Stable, dir)
        .unwrap_err();
    assert!(e.to_string().contains("needs stableImage"), "{e}");
}

/// A replicas-mode spec over 5 tasks whose analysis reads the apps' own per-task metrics.
fn replicas(traffic: &str, analysis: &str) -> String {
    format!("{BASE}traffic:\n  mode: replicas\n  totalReplicas: 5\n{traffic}analysis:\n{analysis}")
}

const TASKS: &str = "  taskMetrics:\n    requests: demo_http_requests_total\n";

#[test]
fn replica_plans_are_said_and_bounded_by_the_tolerance() {
    // 20 % beside 4 stable tasks is 1 canary task, exactly; 60 % is 3 of 5; 80 % 4 of 5.
    let s = Spec::from_yaml(&replicas("  steps: [20, 60, 80]\n", TASKS)).unwrap();
    let plan = s.replica_plan().unwrap();
    let got: Vec<_> = plan
        .iter()
        .map(|p| (p.stable, p.canary, p.exact()))
        .collect();
    assert_eq!(got, [(4, 1, true), (2, 3, true), (1, 4, true)]);
    assert!(Spec::from_yaml(BASE).unwrap().replica_plan().is_none());
    // 10 % over 5 tasks is 1 canary task, 20 %: 10 points off, the default tolerance.
    assert!(Spec::from_yaml(&replicas("  steps: [10, 20]\n", TASKS)).is_ok());
    let (f, r) = reject(&replicas(
        "  steps: [10, 20]\n  replicaTolerance: 5\n",
        TASKS,
    ));
    assert_eq!(f, "traffic.steps[0]");
    assert!(
        r.starts_with(
            "over 5 tasks, 1 canary + 4 stable tasks give 20%, 10 points off 10%: beyond \
             traffic.replicaTolerance (5 points); traffic.totalReplicas: 8 brings every step within it"
        ),
        "{r}"
    );
    // The default steps (10 to 50) over 2 tasks: 10 % is 1 of 2.
    let two = format!("{BASE}traffic:\n  mode: replicas\nanalysis:\n{TASKS}");
    let (f, r) = reject(&two);
    assert_eq!(f, "traffic.steps");
    assert!(
        r.starts_with("over 2 tasks, 1 canary + 1 stable task give 50%, 40 points off 10%"),
        "{r}"
    );
    let (f, _) = reject(&replicas(
        "  stepWeight: 7\n  maxWeight: 49\n  replicaTolerance: 0\n",
        TASKS,
    ));
    assert_eq!(f, "traffic.stepWeight");
    let (f, r) = reject(
        &replicas("  steps: [1]\n  replicaTolerance: 0\n", "  limits: {}\n").replace(
            "analysis:\n  limits: {}\n",
            &format!("limits:\n  maxReplicas: 50\nanalysis:\n{TASKS}"),
        ),
    );
    assert_eq!(f, "traffic.steps[0]");
    assert!(
        r.contains(
            "no total up to limits.maxReplicas (50) brings every step within it; use weighted mode"
        ),
        "{r}"
    );
    let (f, r) = reject(&replicas("  steps: [20]\n  replicaTolerance: 51\n", TASKS));
    assert_eq!(f, "traffic.replicaTolerance");
    assert!(r.starts_with("51 is above 50 percentage points"), "{r}");
    let (f, r) = reject(&format!("{BASE}traffic:\n  replicaTolerance: 5\n"));
    assert_eq!(f, "traffic.replicaTolerance");
    assert!(r.starts_with("only used in replicas mode"), "{r}");
}

#[test]
fn replicas_mode_refuses_checks_that_cannot_see_the_canary() {
    let steps = "  steps: [20, 40]\n";
    let check = |extra: &str| {
        format!("  minRequests: 0\n  checks:\n    - {{name: ok, metric: successRate, min: 0.99{extra}}}\n")
    };
    let (f, r) = reject(&replicas(steps, &check("")));
    assert_eq!(f, "analysis.checks[0].metric");
    assert!(r.starts_with("reads Traefik's metrics, which in replicas mode count the canary's answers as stable's"), "{r}");
    assert!(
        r.contains("set analysis.taskMetrics") && r.contains("or mark the check dryRun: true"),
        "{r}"
    );
    // The request gate counts the canary's requests from Traefik too.
    let gate = "  checks:\n    - {name: ok, metric: successRate, min: 0.99}\n";
    let (f, r) = reject(&replicas(steps, gate).replace("analysis:\n", "analysis:\n  minRequests: 5\n").replace(
        "    - {name: ok, metric: successRate, min: 0.99}\n",
        "    - {name: q, metric: {query: \"sum(rate(x{s=\\\"{{swarmService}}\\\"}[1m]))\"}, max: 1}\n",
    ));
    assert_eq!(f, "analysis.minRequests");
    assert!(r.contains("or set minRequests: 0"), "{r}");
    // A dry run is allowed, but something must decide: here nothing does.
    let (f, r) = reject(&replicas(steps, &check(", dryRun: true")));
    assert_eq!(f, "analysis.checks");
    assert!(
        r.starts_with("nothing but the default check would decide"),
        "{r}"
    );
    // No checks at all: the default check is a built-in one.
    let (f, _) = reject(&replicas(steps, "  minRequests: 0\n"));
    assert_eq!(f, "analysis.checks");
    // Judge metrics likewise.
    let (f, _) = reject(&replicas(
        steps,
        "  minRequests: 0\n  judge:\n    metrics: [{name: e, metric: errorRate}]\n",
    ));
    assert_eq!(f, "analysis.judge.metrics[0].metric");
    // A query on Traefik's service metrics, or on {{service}}, is as blind.
    let q = |text: &str| {
        format!(
            "  minRequests: 0\n  checks:\n    - {{name: q, metric: {{query: '{text}'}}, max: 1}}\n"
        )
    };
    for text in [
        "sum(rate(traefik_service_requests_total[1m]))",
        "sum(up{s=\"{{ service }}\"})",
    ] {
        assert_eq!(
            reject(&replicas(steps, &q(text))).0,
            "analysis.checks[0].metric",
            "{text}"
        );
    }
    // Accepted: a dry run beside a query on the apps' own metrics; task metrics; skipAnalysis.
    let ok = format!(
        "{}    - {{name: own, metric: {{query: 'sum(rate(x{{s=\"{{{{swarmService}}}}\"}}[1m]))'}}, max: 1}}\n",
        check(", dryRun: true")
    );
    Spec::from_yaml(&replicas(steps, &ok)).unwrap();
    Spec::from_yaml(&replicas(steps, &format!("{TASKS}{}", check("")))).unwrap();
    Spec::from_yaml(&format!(
        "{}skipAnalysis: true\n",
        replicas(steps, &check(""))
    ))
    .unwrap();
    // Weighted mode sees each track through its own Traefik service.
    Spec::from_yaml(&format!("{BASE}analysis:\n{}", check(""))).unwrap();
}

#[test]
fn task_metrics_are_checked() {
    let with = |tm: &str, checks: &str| format!("{BASE}analysis:\n  taskMetrics:\n{tm}{checks}");
    let (f, r) = reject(&with("    requests: \"http requests\"\n", ""));
    assert_eq!(f, "analysis.taskMetrics.requests");
    assert!(r.contains("not a Prometheus metric name"), "{r}");
    let (f, _) = reject(&with("    requests: x\n    serviceLabel: __name__\n", ""));
    assert_eq!(f, "analysis.taskMetrics.serviceLabel");
    let (f, _) = reject(&with("    requests: x\n    colour: 1\n", ""));
    assert_eq!(f, "analysis.taskMetrics.colour");
    let latency = "  checks:\n    - {name: p99, metric: {latency: 0.99}, max: 1}\n";
    let (f, r) = reject(&with("    requests: x\n", latency));
    assert_eq!(f, "analysis.checks[0].metric");
    assert!(r.contains("set analysis.taskMetrics.duration"), "{r}");
    let s = Spec::from_yaml(&with("    requests: x\n    duration: x_seconds\n", latency)).unwrap();
    let tm = s.analysis.task_metrics.unwrap();
    assert_eq!(
        (tm.code_label.as_str(), tm.service_label.as_str()),
        ("code", "swarm_service")
    );
}

/// A spec with one check whose metric is `web:` followed by `body` (indented by 8 spaces).
fn web_check(body: &str) -> String {
    format!("{BASE}analysis:\n  checks:\n    - name: errors\n      max: 0.05\n      metric:\n        web:\n{body}")
}

#[test]
fn web_metrics_read_in_every_form() {
    use canary_core::spec::{WebHeader, WebMethod};
    let s = Spec::from_yaml(&web_check(
        "          url: \"https://metrics.example/v1/errors?app={{app}}&track={{track}}&w={{window}}\"
          method: POST
          body: '{\"service\": \"{{service}}\", \"seconds\": {{windowSeconds}}}'
          headers:
            Authorization: {env: METRICS_TOKEN}
            Accept: application/json
            X-Version: 2
          jsonPath: $.data.errorRate
          timeout: 2s
",
    ))
    .unwrap();
    let MetricKind::Web(w) = &s.analysis.checks[0].metric else {
        panic!("{:?}", s.analysis.checks[0].metric)
    };
    assert_eq!(w.method, WebMethod::Post);
    assert_eq!(w.json_path, "$.data.errorRate");
    assert_eq!(
        w.headers["Authorization"],
        WebHeader::Env {
            env: "METRICS_TOKEN".into()
        }
    );
    assert_eq!(w.headers["X-Version"], WebHeader::Value("2".into()));
    assert_eq!(w.timeout.unwrap().get(), std::time::Duration::from_secs(2));
    assert_eq!(s.analysis.checks[0].metric.label(), "web");
    // The YAML tag form, and JSON; GET is the default method.
    let tagged = Spec::from_yaml(&format!(
        "{BASE}analysis:\n  checks:\n    - name: errors\n      max: 0.05\n      metric: !web {{url: \"http://127.0.0.1:9/x\", jsonPath: $.v}}\n"
    ))
    .unwrap();
    let MetricKind::Web(t) = &tagged.analysis.checks[0].metric else {
        panic!()
    };
    assert_eq!(
        (t.method, t.url.as_str()),
        (WebMethod::Get, "http://127.0.0.1:9/x")
    );
    let json = r#"{"group":"shop","apps":[{"name":"api","image":"api:v2","port":8080,"rule":"Host(`a`)"}],
        "analysis":{"checks":[{"name":"e","max":1,"dryRun":true,"metric":{"web":{"url":"http://h/x","jsonPath":"$.v","headers":{"X-Key":{"env":"KEY"}}}}}]}}"#;
    let j = Spec::from_json(json).unwrap();
    assert!(j.analysis.checks[0].dry_run);
    let MetricKind::Web(jw) = &j.analysis.checks[0].metric else {
        panic!()
    };
    assert_eq!(jw.headers["X-Key"], WebHeader::Env { env: "KEY".into() });
    // It writes back to the same spec (the saved state and `canary spec` print it).
    let back = serde_json::to_value(&j).unwrap();
    assert_eq!(
        back["analysis"]["checks"][0]["metric"]["web"]["headers"]["X-Key"]["env"],
        "KEY"
    );
    assert_eq!(Spec::from_value(back).unwrap(), j);
    // The schema takes it.
    let schema = Spec::json_schema();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let value: serde_json::Value = serde_json::from_str(json).unwrap();
    assert!(validator.is_valid(&value));
    let bad: serde_json::Value =
        serde_json::from_str(&json.replace(r#"{"env":"KEY"}"#, r#"{"env":"KEY","x":1}"#)).unwrap();
    assert!(!validator.is_valid(&bad));
}

#[test]
fn every_bad_web_field_is_named() {
    let web = |lines: &str| web_check(lines);
    let ok_url = "          url: http://127.0.0.1:9/x?app={{app}}\n";
    let ok_path = "          jsonPath: $.v\n";
    let cases: Vec<(String, &str, &str)> = vec![
        (web(&format!("          url: ftp://h/x\n{ok_path}")), "analysis.checks[0].metric.web.url", "not an http(s) URL"),
        (web(&format!("          url: nowhere\n{ok_path}")), "analysis.checks[0].metric.web.url", "not a URL"),
        (web(&format!("          url: \"http://{{{{app}}}}.example/x\"\n{ok_path}")), "analysis.checks[0].metric.web.url", "not its host"),
        (web(&format!("          url: \"http://h/x?a={{{{nope}}}}\"\n{ok_path}")), "analysis.checks[0].metric.web.url", "unknown placeholder {{nope}}"),
        (web(&format!("          url: http://user:pw@h/x\n{ok_path}")), "analysis.checks[0].metric.web.url", "not in the URL"),
        (web(&format!("          url: \"http://h/{}\"\n{ok_path}", "x".repeat(2100))), "analysis.checks[0].metric.web.url", "above the limit of 2048"),
        (web(&format!("{ok_url}{ok_path}          method: DELETE\n")), "analysis.checks[0].metric.web.method", "unknown variant"),
        (web(&format!("{ok_url}{ok_path}          body: '{{}}'\n")), "analysis.checks[0].metric.web.body", "needs method: POST"),
        (web(&format!("{ok_url}{ok_path}          method: POST\n          body: \"{}\"\n", "x".repeat(17 * 1024))), "analysis.checks[0].metric.web.body", "above the limit of 16384"),
        (web(&format!("{ok_url}{ok_path}          headers:\n            Authorization: Bearer s3cret\n")), "analysis.checks[0].metric.web.headers.Authorization", "{env: VARIABLE}"),
        (web(&format!("{ok_url}{ok_path}          headers:\n            Host: evil\n")), "analysis.checks[0].metric.web.headers.Host", "set by the HTTP client"),
        (web(&format!("{ok_url}{ok_path}          headers:\n            \"X Bad\": v\n")), "analysis.checks[0].metric.web.headers.X Bad", "not a header name"),
        (web(&format!("{ok_url}{ok_path}          headers:\n            X-Key: {{env: \"not a var\"}}\n")), "analysis.checks[0].metric.web.headers.X-Key", "not an environment variable name"),
        (web(&format!("{ok_url}{ok_path}          headers:\n            X-Key: {{vault: x}}\n")), "analysis.checks[0].metric.web.headers.X-Key", "unknown field `vault`"),
        (web(&format!("{ok_url}{ok_path}          headers:\n{}", (0..33).map(|i| format!("            X-H{i}: v\n")).collect::<String>())), "analysis.checks[0].metric.web.headers", "33 headers is above the limit of 32"),
        (web(&format!("{ok_url}          jsonPath: \"$.a[\"\n")), "analysis.checks[0].metric.web.jsonPath", "not a JSONPath"),
        (web(&format!("{ok_url}          jsonPath: data.value\n")), "analysis.checks[0].metric.web.jsonPath", "not a JSONPath"),
        (web(&format!("{ok_url}          jsonPath: \"$.{}\"\n", "a".repeat(520))), "analysis.checks[0].metric.web.jsonPath", "above the limit of 512"),
        (web(ok_url), "analysis.checks[0].metric.web", "missing field `jsonPath`"),
        (web(&format!("{ok_url}{ok_path}          timeout: 50ms\n")), "analysis.checks[0].metric.web.timeout", "not between 100ms and 1m"),
        (web(&format!("{ok_url}{ok_path}          timeout: 2m\n")), "analysis.checks[0].metric.web.timeout", "not between 100ms and 1m"),
        (format!("{}timeouts:\n  call: 5s\n", web(&format!("{ok_url}{ok_path}          timeout: 10s\n"))), "analysis.checks[0].metric.web.timeout", "above timeouts.call 5s"),
        (web(&format!("{ok_url}{ok_path}          jsonpath: $.v\n")), "analysis.checks[0].metric.web.jsonpath", "unknown field `jsonpath`"),
        (format!("{BASE}analysis:\n  judge:\n    metrics:\n      - name: e\n        metric: {{web: {{url: \"http://h/x\", jsonPath: \"$[\"}}}}\n"), "analysis.judge.metrics[0].metric.web.jsonPath", "not a JSONPath"),
    ];
    for (yaml, field, reason) in cases {
        let (f, r) = reject(&yaml);
        assert_eq!(f, field, "field for {reason:?} (got reason {r:?})");
        assert!(
            r.contains(reason),
            "reason for {field}: expected {reason:?} in {r:?}"
        );
        assert!(!r.contains("s3cret"), "{r}");
    }
}

#[test]
fn dry_run_is_read_on_checks_and_judge_metrics() {
    let s = Spec::from_yaml(&format!(
        "{BASE}analysis:\n  checks:\n    - name: p99\n      metric: {{latency: 0.99}}\n      max: 0.25\n      dryRun: true\n  judge:\n    metrics:\n      - name: e\n        metric: errorRate\n        dryRun: true\n"
    ))
    .unwrap();
    assert!(s.analysis.checks[0].dry_run);
    assert!(s.analysis.judge.as_ref().unwrap().metrics[0].dry_run);
    let plain = Spec::from_yaml(BASE).unwrap();
    let v = serde_json::to_value(&plain).unwrap();
    assert!(!v.to_string().contains("dryRun"), "false is not written");
}
