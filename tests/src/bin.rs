//! The `canary` binary under test.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// The path of the `canary` binary: `CANARY_BIN` when set, else `target/<profile>/canary` built
/// once per test process with `cargo build -p canary-cli --bin canary` (the profile of this test
/// binary, so `cargo test --release` tests a release build).
pub fn canary_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("CANARY_BIN").filter(|p| !p.is_empty()) {
            return PathBuf::from(p);
        }
        // This test binary is target/<profile>/deps/<name>-<hash>.
        let exe = std::env::current_exe().expect("the test binary's path");
        let profile_dir = exe
            .parent()
            .and_then(|d| d.parent())
            .expect("target/<profile>")
            .to_path_buf();
        let profile = profile_dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("debug")
            .to_string();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "--quiet", "-p", "canary-cli", "--bin", "canary"])
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        if profile == "release" {
            cmd.arg("--release");
        } else if profile != "debug" {
            cmd.args(["--profile", &profile]);
        }
        if let Some(target) = profile_dir.parent() {
            cmd.env("CARGO_TARGET_DIR", target);
        }
        let status = cmd.status().expect("cargo runs");
        assert!(status.success(), "cargo build -p canary-cli failed");
        let bin = profile_dir.join("canary");
        assert!(bin.is_file(), "{} was not built", bin.display());
        bin
    })
    .clone()
}
