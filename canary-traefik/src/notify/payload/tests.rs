//! The payload builders against the services' documented shapes (JSON Schemas in
//! `tests/fixtures/notify`) and limits.

use super::*;
use crate::testutil::fixture;
use canary_core::analysis::JudgedMetric;
use canary_core::{Phase, Spec};

const SPEC: &str = r#"
group: shop
apps:
  - name: api
    image: api:v2
    port: 8080
    rule: "Host(`api.localhost`)"
analysis:
  minRequests: 50
  checks:
    - name: errors
      metric: errorRate
      max: 0.01
      critical: true
    - name: latency
      metric: {latency: 0.99}
      relative: {tolerance: 0.05}
    - name: success
      metric: successRate
      min: 0.99
"#;

fn limits() -> Limits {
    Limits::new(&Spec::from_yaml(SPEC).unwrap().analysis)
}

fn check(name: &str, canary: Option<f64>, stable: Option<f64>, v: Verdict) -> CheckResult {
    CheckResult {
        dry_run: false,
        name: name.into(),
        app: "api".into(),
        metric: name.into(),
        canary,
        stable,
        verdict: v,
        critical: name == "errors",
        reason: String::new(),
    }
}

fn report() -> AnalysisReport {
    AnalysisReport {
        verdict: Verdict::Fail,
        critical_failure: true,
        checks: vec![
            check("minRequests", Some(1520.0), None, Verdict::Pass),
            check("errors", Some(0.031), None, Verdict::Fail),
            check("latency", Some(0.21), Some(0.18), Verdict::Pass),
            check("success", None, None, Verdict::Inconclusive),
        ],
        judges: vec![JudgeReport {
            dry_run: false,
            app: "api".into(),
            metrics: vec![JudgedMetric {
                dry_run: false,
                name: "p99".into(),
                classification: Classification::High,
                passed: false,
                u: Some(3.0),
                p_value: Some(0.001),
                canary_median: Some(0.3),
                stable_median: Some(0.1),
                samples: (20, 20),
                weight: 1.0,
                critical: false,
                reason: String::new(),
            }],
            score: 0.0,
            verdict: Verdict::Fail,
            reason: String::new(),
            critical_failure: false,
        }],
        summary: "errors 0.031 > max 0.01".into(),
    }
}

fn event(kind: EventKind, message: &str, analysis: Option<AnalysisReport>) -> Event {
    Event {
        at_ms: 1_700_000_000_000,
        group: "shop".into(),
        kind,
        phase: Phase::Progressing,
        step: 1,
        steps: 3,
        weight: 30,
        message: message.into(),
        analysis,
    }
}

fn validator(name: &str) -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(&fixture(&format!("notify/{name}"))).unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

fn assert_valid(v: &jsonschema::Validator, body: &Value) {
    let errors: Vec<String> = v
        .iter_errors(body)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}\n{body:#}");
}

/// Every string of a JSON value, concatenated.
fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone() + "\n",
        Value::Array(a) => a.iter().map(text_of).collect(),
        Value::Object(m) => m.values().map(text_of).collect(),
        _ => String::new(),
    }
}

#[test]
fn check_lines_show_value_limit_and_verdict() {
    let l = limits();
    let lines = l.report_lines(&report());
    assert_eq!(
        lines,
        vec![
            "minRequests api: canary 1520 vs min 50 (pass)",
            "errors api: canary 0.031 vs max 0.010 (fail, critical)",
            "latency api: canary 0.210 vs stable 0.180 + 0.050 (pass)",
            "success api: canary no data vs min 0.990 (inconclusive)",
            "p99 api: canary median 0.300 vs stable median 0.100 (higher, fail)",
        ]
    );
    // A check the limits do not know (another spec) still shows stable's value.
    let other = check("other", Some(2.0), Some(1.0), Verdict::Pass);
    assert_eq!(
        l.check_line(&other),
        "other api: canary 2.000 vs stable 1.000 (pass)"
    );
}

#[test]
fn a_spec_without_checks_is_held_to_the_default_ones() {
    // SPEC without its analysis section.
    let spec = Spec::from_yaml(SPEC.split("analysis:").next().unwrap()).unwrap();
    let l = Limits::new(&spec.analysis);
    let c = check("successRate", Some(0.5), None, Verdict::Fail);
    assert_eq!(
        l.check_line(&c),
        "successRate api: canary 0.500 vs min 0.990 (fail)"
    );
}

#[test]
fn every_format_matches_its_documented_shape_and_carries_the_figures() {
    let note = Note::new(event(
        EventKind::Analysis,
        "analysis failed at weight 30: errors 0.031 > max 0.01 <@everyone> & co",
        Some(report()),
    ));
    let l = limits();
    let slack = slack(&note, &l);
    assert_valid(&validator("slack-webhook.schema.json"), &slack);
    let teams = teams(&note, &l);
    assert_valid(&validator("teams-adaptive-card.schema.json"), &teams);
    let discord = discord(&note, &l);
    assert_valid(&validator("discord-webhook.schema.json"), &discord);
    for (name, body) in [("slack", &slack), ("teams", &teams), ("discord", &discord)] {
        let t = text_of(body);
        for want in [
            "canary shop: analysis",
            "shop",
            "progressing",
            "2/3",
            "30%",
            "0.031",
            "max 0.010",
            "(fail, critical)",
            "stable 0.180",
            "canary 1520 vs min 50",
            "p99",
        ] {
            assert!(t.contains(want), "{name} lacks {want:?}:\n{t}");
        }
    }
    // Slack: mrkdwn's three special characters escaped.
    let msg = slack["blocks"][1]["text"]["text"].as_str().unwrap();
    assert!(msg.contains("&lt;@everyone&gt; &amp; co"), "{msg}");
    assert_eq!(slack["blocks"][2]["fields"][3]["text"], "*Weight*\n30%");
    // Teams: an Adaptive Card whose facts hold the checks.
    let card = &teams["attachments"][0]["content"];
    assert_eq!(card["version"], "1.2");
    assert_eq!(card["body"][0]["color"], "Attention");
    assert_eq!(card["body"][4]["facts"][1]["title"], "errors api");
    assert_eq!(
        card["body"][4]["facts"][1]["value"],
        "canary 0.031 vs max 0.010 (fail, critical)"
    );
    // Discord: red, nobody pinged, the facts inline and the checks below.
    assert_eq!(discord["embeds"][0]["color"], 0xE01E5A);
    assert_eq!(discord["allowed_mentions"], json!({"parse": []}));
    assert_eq!(
        discord["embeds"][0]["fields"][1],
        json!({"name": "Phase", "value": "progressing", "inline": true})
    );
    assert_eq!(discord["embeds"][0]["fields"][5]["name"], "errors api");
}

#[test]
fn events_without_analysis_carry_the_last_one() {
    let mut note = Note::new(event(
        EventKind::RolledBack,
        "rolled back: analysis failed",
        None,
    ));
    note.last_analysis = Some((report(), 30));
    let l = limits();
    let t = text_of(&slack(&note, &l));
    assert!(t.contains("Last analysis, at weight 30%: fail"), "{t}");
    assert!(t.contains("errors api: canary 0.031 vs max 0.010"), "{t}");
    let j = json_body("audit", &note);
    assert_eq!(j["lastAnalysis"]["weight"], 30);
    assert_eq!(j["lastAnalysis"]["report"]["checks"][1]["canary"], 0.031);
    // Nothing known: no analysis part at all.
    let plain = Note::new(event(EventKind::Started, "rollout of api", None));
    assert_eq!(slack(&plain, &l)["blocks"].as_array().unwrap().len(), 3);
    assert_eq!(discord(&plain, &l)["embeds"][0]["color"], 0x36C5F0);
    assert!(json_body("audit", &plain).get("lastAnalysis").is_none());
}

#[test]
fn json_is_the_event_as_serde_writes_it_with_the_notification() {
    let e = event(EventKind::Analysis, "analysis", Some(report()));
    let mut want = serde_json::to_value(&e).unwrap();
    want["notification"] = json!("audit");
    let got = json_body("audit", &Note::new(e.clone()));
    assert_eq!(got, want);
    assert_eq!(got["group"], "shop");
    assert_eq!(got["kind"], "analysis");
    let back: Event = serde_json::from_value(got).unwrap();
    assert_eq!(back, e);
    let test = Note {
        test: true,
        ..Note::new(e)
    };
    assert_eq!(json_body("audit", &test)["test"], true);
    assert!(text_of(&slack(&test, &limits())).contains("canary shop: test notification"));
}

#[test]
fn huge_events_are_cut_to_every_limit() {
    // 300 checks with long names, a 20,000-character message of emoji (two UTF-16 units
    // each) and markup that grows when escaped.
    let mut r = report();
    r.checks = (0..300)
        .map(|i| {
            check(
                &format!("check-{i}-{}", "é".repeat(400)),
                Some(i as f64),
                None,
                Verdict::Pass,
            )
        })
        .collect();
    let message = "🐤<&>".repeat(5000);
    let note = Note::new(event(EventKind::Analysis, &message, Some(r)));
    let l = limits();
    let slack = slack(&note, &l);
    assert_valid(&validator("slack-webhook.schema.json"), &slack);
    let analysis = slack["blocks"][3]["text"]["text"].as_str().unwrap();
    assert!(units(analysis) <= SLACK_TEXT_MAX);
    assert!(analysis.contains("more"), "{analysis}");
    let teams = teams(&note, &l);
    assert_valid(&validator("teams-adaptive-card.schema.json"), &teams);
    let size = serde_json::to_vec(&teams).unwrap().len();
    assert!(size < 28 * 1024, "a Teams message of {size} bytes");
    let facts = teams["attachments"][0]["content"]["body"][4]["facts"]
        .as_array()
        .unwrap();
    assert_eq!(facts.len(), TEAMS_MAX_FACTS + 1);
    // 300 checks and the judge's metric: 301 lines.
    assert_eq!(facts[TEAMS_MAX_FACTS]["value"], "and 261 more");
    let discord = discord(&note, &l);
    assert_valid(&validator("discord-webhook.schema.json"), &discord);
    let embed = &discord["embeds"][0];
    let fields = embed["fields"].as_array().unwrap();
    assert!(fields.len() <= discord_limits::FIELDS);
    let total = units(embed["title"].as_str().unwrap())
        + units(embed["description"].as_str().unwrap())
        + fields
            .iter()
            .map(|f| units(f["name"].as_str().unwrap()) + units(f["value"].as_str().unwrap()))
            .sum::<usize>();
    assert!(total <= discord_limits::TOTAL, "{total} units in the embed");
    let last = fields.last().unwrap();
    assert_eq!(last["name"], "…");
    assert!(
        last["value"].as_str().unwrap().starts_with("and "),
        "{last}"
    );
    // No text was cut inside a character or an escape.
    for body in [&slack, &teams, &discord] {
        let t = text_of(body);
        assert!(!t.contains('\u{FFFD}'));
    }
    assert!(!slack["text"].as_str().unwrap().contains("&a…"));
}

#[test]
fn cut_counts_utf16_units_and_never_splits_a_character() {
    assert_eq!(cut("abc", 3), "abc");
    assert_eq!(cut("abcd", 3), "ab…");
    assert_eq!(cut("🐤🐤🐤", 4), "🐤…");
    assert_eq!(units(&cut(&"🐤".repeat(100), 7)), 7);
    assert_eq!(cut("", 5), "");
    assert_eq!(slack_text("a<b", 4), "a…");
    assert_eq!(slack_text("a<b", 6), "a&lt;b");
    assert_eq!(slack_text("", 6), "-");
    assert_eq!(kind_words(EventKind::RollingBack), "rolling back");
    assert_eq!(kind_words(EventKind::CanaryLost), "canary lost");
}
