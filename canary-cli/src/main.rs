//! The `canary` binary; everything is in the `canary_cli` library.

fn main() -> std::process::ExitCode {
    canary_cli::main()
}
