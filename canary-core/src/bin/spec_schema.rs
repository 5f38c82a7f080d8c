//! Prints the JSON Schema of the canary spec (checked in as `schema/canary-spec.schema.json`),
//! or with `--compose` the schema of a compose file's `x-canary` blocks (checked in as
//! `schema/compose-x-canary.schema.json`).
fn main() {
    let schema = match std::env::args().nth(1).as_deref() {
        None => canary_core::Spec::json_schema(),
        Some("--compose") => canary_core::compose::json_schema(),
        Some(other) => {
            eprintln!("usage: canary-spec-schema [--compose]  (unknown argument {other:?})");
            std::process::exit(2);
        }
    };
    println!(
        "{}",
        serde_json::to_string_pretty(&schema).expect("serializes")
    );
}
