//! Links the module the way Node expects a native addon to be linked.
fn main() {
    napi_build::setup();
}
