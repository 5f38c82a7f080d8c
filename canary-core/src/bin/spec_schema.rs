//! Prints the JSON Schema of the canary spec (checked in as `schema/canary-spec.schema.json`).
fn main() {
    let schema = canary_core::Spec::json_schema();
    println!(
        "{}",
        serde_json::to_string_pretty(&schema).expect("serializes")
    );
}
