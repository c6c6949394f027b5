//! The programs under test: drainit as cargo built it for the tests, the
//! fixture programs (tests/fixtures/, built as cargo examples), and the
//! static release build that runs `FROM scratch` and in the benchmark.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, Once, OnceLock};

/// The checkout, whose docker/ and tests/fixtures/ hold files under test.
pub const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// The drainit binary cargo built for this test run.
pub fn drainit_bin() -> &'static str {
    env!("CARGO_BIN_EXE_drainit")
}

/// The test fixture (tests/fixtures/fixture.rs), next to this test run's
/// build. A plain `cargo test` builds it; `cargo test --test NAME` does
/// not, so it is built here then.
pub fn fixture() -> String {
    static BUILD: Once = Once::new();
    let exe = std::env::current_exe().unwrap();
    // <target>[/<triple>]/<profile>/deps/<test>
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    let path = profile_dir.join("examples").join("fixture");
    BUILD.call_once(|| {
        if !path.exists() {
            let ok = cargo()
                .args(["build", "--example", "fixture"])
                .status()
                .unwrap();
            assert!(ok.success(), "building the fixture failed");
        }
    });
    path.to_string_lossy().into_owned()
}

/// The target triple of the static build the Docker tests and the
/// zero-downtime proof use.
pub const STATIC_TARGET: &str = "x86_64-unknown-linux-gnu";

/// A program of the static build for `STATIC_TARGET`: `drainit`, or a
/// fixture by name (`fixture`, `http_app`, `load_client`). Built once per
/// run.
pub fn static_binary(name: &str) -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| static_build(STATIC_TARGET));
    match name {
        "drainit" => dir.join("drainit"),
        fixture => dir.join("examples").join(fixture),
    }
}

/// Builds drainit and every fixture statically for `target`, as the
/// README builds drainit (`--target` keeps the flags away from the debug
/// build and from proc-macros); returns the directory of the binaries
/// (fixtures under `examples/`). Cargo is incremental, so this is quick
/// when nothing changed. The one place that knows how the static build is
/// made.
pub fn static_build(target: &str) -> PathBuf {
    // Parallel tests would wait on cargo's lock anyway.
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let status = cargo()
        .env(
            "RUSTFLAGS",
            "-C target-feature=+crt-static -C relocation-model=static",
        )
        .args(["build", "--release", "--target", target])
        .args(["--bin", "drainit", "--examples"])
        .status()
        .expect("run cargo");
    assert!(status.success(), "the static build for {target} failed");
    target_dir().join(target).join("release")
}

/// Whether rustup has `target` installed (the musl build is optional).
pub fn target_installed(target: &str) -> bool {
    Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .is_ok_and(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l == target)
        })
}

/// Cargo's target directory (`CARGO_TARGET_DIR` too, and with or without
/// `--target`): the nearest ancestor of this executable that cargo marked
/// with its `CACHEDIR.TAG`.
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors()
        .find(|dir| dir.join("CACHEDIR.TAG").exists())
        .unwrap_or_else(|| panic!("no cargo target directory above {}", exe.display()))
        .to_path_buf()
}

/// `cargo` (the one running the tests), in the checkout.
fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(Path::new(REPO));
    cmd
}
