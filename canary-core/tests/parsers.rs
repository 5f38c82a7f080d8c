//! Property tests of the parsers every outside value goes through: no input panics them, and
//! what they accept is within its bounds.

use canary_core::spec::overrides::Override;
use canary_core::{HumanDuration, Spec, Weight};
use proptest::prelude::*;

const BASE: &str = "group: shop\napps:\n  - name: api\n    image: api:v2\n    port: 8080\n    rule: \"Host(`a`)\"\n";

/// Arbitrary JSON values, a few levels deep.
fn json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(|n| serde_json::json!(n)),
        any::<u64>().prop_map(|n| serde_json::json!(n)),
        any::<f64>().prop_map(|f| serde_json::json!(f)),
        ".{0,40}".prop_map(serde_json::Value::String),
        prop_oneof![
            Just("30s"),
            Just("99999999999999999999s"),
            Just("1e309s"),
            Just("4000000000"),
            Just("weighted"),
            Just("replicas"),
            Just("successRate"),
            Just("Host(`x`)"),
        ]
        .prop_map(|s| serde_json::Value::String(s.into())),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("group".to_string()),
                    Just("apps".to_string()),
                    Just("name".to_string()),
                    Just("image".to_string()),
                    Just("port".to_string()),
                    Just("rule".to_string()),
                    Just("traffic".to_string()),
                    Just("steps".to_string()),
                    Just("interval".to_string()),
                    Just("analysis".to_string()),
                    Just("checks".to_string()),
                    Just("metric".to_string()),
                    Just("canaryReplicas".to_string()),
                    Just("limits".to_string()),
                    Just("maxReplicas".to_string()),
                    ".{0,8}",
                ],
                inner,
                0..6
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn durations_never_panic_and_stay_within_seven_days(s in ".{0,40}") {
        if let Ok(d) = HumanDuration::parse(&s) {
            prop_assert!(d.get() <= HumanDuration::MAX);
        }
    }

    #[test]
    fn durations_of_digits_and_units(n in "[0-9]{0,25}(\\.[0-9]{0,5})?", unit in "(ms|s|m|h|d|x|)") {
        let text = format!("{n}{unit}");
        if let Ok(d) = HumanDuration::parse(&text) {
            prop_assert!(d.get() <= HumanDuration::MAX);
        }
    }

    #[test]
    fn weights_are_0_to_100(n in any::<i64>()) {
        match serde_json::from_value::<Weight>(serde_json::json!(n)) {
            Ok(w) => prop_assert!((0..=100).contains(&n) && i64::from(w.get()) == n),
            Err(_) => prop_assert!(!(0..=100).contains(&n)),
        }
    }

    #[test]
    fn spec_text_never_panics(s in ".{0,400}") {
        let _ = Spec::from_yaml(&s);
        let _ = Spec::from_json(&s);
    }

    #[test]
    fn spec_values_never_panic_and_accepted_numbers_are_bounded(v in json()) {
        if let Ok(spec) = Spec::from_value(v) {
            for a in &spec.apps {
                prop_assert!(a.canary_replicas.most(spec.limits.max_replicas) <= spec.limits.max_replicas);
                prop_assert!(a.stable_replicas <= spec.limits.max_replicas);
            }
            prop_assert!(spec.limits.max_replicas <= canary_core::spec::MAX_REPLICAS_CEILING);
            prop_assert!(spec.traffic.interval.get() <= HumanDuration::MAX);
        }
    }

    #[test]
    fn overrides_never_panic(path in "[a-zA-Z.*\\[\\]0-9!]{0,30}", value in json()) {
        let _ = Spec::from_text(BASE, &[Override { path, value }]);
    }

    #[test]
    fn replica_overrides_are_bounded(n in any::<u64>()) {
        let r = Spec::from_text(BASE, &[Override::set("apps.*.canaryReplicas", n)]);
        match r {
            Ok((spec, _)) => prop_assert!(spec.apps[0].canary_replicas.most(1000) <= 1000 && n <= 1000),
            Err(e) => prop_assert!(n == 0 || n > 1000, "{n}: {e}"),
        }
    }
}
