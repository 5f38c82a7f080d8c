//! Any bytes as a spec: YAML or JSON text, a compose file, overrides, a JSON value. Every path
//! must return a value or a typed error; a panic is a bug.
#![no_main]

use canary_core::spec::overrides::Override;
use canary_core::{HumanDuration, Spec};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = Spec::from_yaml(text);
    let _ = Spec::from_json(text);
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(text) {
        let _ = Spec::from_value(value);
    }
    // The text split as `path=value` overrides over a known-good spec.
    if let Some((path, value)) = text.split_once('=') {
        let o = Override::set(path, serde_json::Value::String(value.to_string()));
        let _ = Spec::from_text(BASE, &[o]);
    }
    let _ = HumanDuration::parse(text);
});

const BASE: &str = "group: shop\napps:\n  - name: api\n    image: api:v2\n    port: 8080\n    rule: \"Host(`a`)\"\n";
