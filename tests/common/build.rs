//! The static builds of drainit, through scripts/build-static.sh, the one
//! place that decides how drainit is built. Shared with the benchmark.

use std::path::PathBuf;
use std::process::{Command, Stdio};

/// Which static build of drainit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Build {
    /// The one that ships: musl, or static glibc when the musl target
    /// cannot be had.
    Shipped,
    /// The static glibc build (`DRAINIT_BUILD_FORCE_GLIBC=1`).
    Glibc,
    /// The arm64 build (aarch64-unknown-linux-musl).
    Arm64,
}

/// Builds drainit and the `examples` statically with
/// scripts/build-static.sh, the one place that decides how; returns
/// drainit's path (the examples are in `examples/` next to it).
pub fn static_binary(build: Build, examples: &[&str]) -> PathBuf {
    let mut cmd = Command::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scripts/build-static.sh"
    ));
    for example in examples {
        cmd.args(["--example", example]);
    }
    match build {
        Build::Shipped => {}
        Build::Glibc => {
            cmd.env("DRAINIT_BUILD_FORCE_GLIBC", "1");
        }
        Build::Arm64 => {
            cmd.env("DRAINIT_BUILD_TARGET", "aarch64-unknown-linux-musl");
        }
    }
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .expect("run scripts/build-static.sh");
    assert!(out.status.success(), "the static build failed");
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}
