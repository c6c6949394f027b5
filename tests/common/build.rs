//! The static builds of drainit (and of fixtures to run beside it in a
//! `FROM scratch` image): the one place that knows how drainit is built
//! statically. Shared with the benchmark.

use std::path::PathBuf;
use std::process::Command;

/// Which static build of drainit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Build {
    /// The one the README builds: static glibc.
    Shipped,
    /// The musl build (see `musl_available`).
    Musl,
}

const GLIBC: &str = "x86_64-unknown-linux-gnu";
const MUSL: &str = "x86_64-unknown-linux-musl";

/// Builds drainit and the `examples` (fixtures, by name) statically, as
/// the README says (`--target` keeps the flags away from the debug build
/// and from proc-macros); returns drainit's path (the examples are in
/// `examples/` next to it). Cargo is incremental, so this is quick when
/// nothing changed.
pub fn static_binary(build: Build, examples: &[&str]) -> PathBuf {
    let target = match build {
        Build::Shipped => GLIBC,
        Build::Musl => MUSL,
    };
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env(
            "RUSTFLAGS",
            "-C target-feature=+crt-static -C relocation-model=static",
        )
        .args(["build", "--release", "--target", target, "--bin", "drainit"]);
    for example in examples {
        cmd.args(["--example", example]);
    }
    let status = cmd.status().expect("run cargo");
    assert!(status.success(), "the static build for {target} failed");
    target_dir().join(target).join("release").join("drainit")
}

/// Whether rustup has the musl target (the musl build is optional).
pub fn musl_available() -> bool {
    Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .is_ok_and(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l == MUSL)
        })
}

/// Cargo's target directory (`CARGO_TARGET_DIR` too, and with or without
/// `--target`): the nearest ancestor of this executable that cargo marked
/// with its `CACHEDIR.TAG`.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors()
        .find(|dir| dir.join("CACHEDIR.TAG").exists())
        .unwrap_or_else(|| panic!("no cargo target directory above {}", exe.display()))
        .to_path_buf()
}
