//! The crate as a user gets it: `cargo package` holds the sources, the
//! licenses, the README and the changelog and none of the tests' files;
//! `cargo install` builds the packaged crate, and the binary runs; and the
//! crate builds with the toolchain its `rust-version` names (scripts/test.sh
//! installs that toolchain).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::REPO;

/// Runs `cmd` in the repository; it must succeed. Returns its stdout.
fn run(cmd: &mut Command) -> String {
    let out = cmd.current_dir(REPO).output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `cargo ARGS` with the toolchain running this test. `--allow-dirty`
/// lets a developer run it before committing; CI's clone is clean.
fn cargo(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args(args);
    cmd
}

/// A directory kept between runs under cargo's target directory, so that
/// the dependencies are built once.
fn kept(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(name)
}

#[test]
fn the_package_holds_what_a_user_needs_and_no_test_files() {
    let list = run(&mut cargo(&[
        "package",
        "--locked",
        "--allow-dirty",
        "--list",
    ]));
    let files: Vec<&str> = list.lines().collect();
    let top = [
        "Cargo.toml",
        "Cargo.toml.orig",
        "Cargo.lock",
        "LICENSE-MIT",
        "LICENSE-APACHE",
        "README.md",
        "CHANGELOG.md",
        "build.rs",
    ];
    for needed in top.iter().chain(&["src/main.rs", "src/entry.rs"]) {
        assert!(
            files.contains(needed),
            "{needed} not in the package:\n{list}"
        );
    }
    // cargo's record of the commit packaged, and the sources: nothing else.
    let stray: Vec<&&str> = files
        .iter()
        .filter(|f| !f.starts_with("src/") && !top.contains(f) && **f != ".cargo_vcs_info.json")
        .collect();
    assert!(stray.is_empty(), "not for users: {stray:?}");
}

#[test]
fn the_packaged_crate_installs_with_cargo_install_and_runs() {
    let target = kept("package");
    let target_arg = target.to_str().unwrap();
    run(&mut cargo(&[
        "package",
        "--locked",
        "--allow-dirty",
        "--no-verify",
        "--target-dir",
        target_arg,
    ]));
    let name = concat!("drainit-", env!("CARGO_PKG_VERSION"));
    let unpacked = common::temp_dir("package");
    run(Command::new("tar")
        .arg("-xzf")
        .arg(target.join("package").join(format!("{name}.crate")))
        .arg("-C")
        .arg(&unpacked));
    let root = unpacked.join("root");
    run(cargo(&["install", "--locked", "--path"])
        .arg(unpacked.join(name))
        .arg("--root")
        .arg(&root)
        .env("CARGO_TARGET_DIR", &target));

    let drainit = root.join("bin/drainit");
    let version = run(Command::new(&drainit).arg("--version"));
    assert_eq!(
        version,
        concat!("drainit ", env!("CARGO_PKG_VERSION"), "\n")
    );
    let status = Command::new(&drainit)
        .args(["--", "sh", "-c", "exit 3"])
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(3));
    let _ = std::fs::remove_dir_all(&unpacked);
}

#[test]
fn builds_with_the_declared_rust_version() {
    let version = env!("CARGO_PKG_RUST_VERSION");
    assert!(!version.is_empty(), "Cargo.toml has no rust-version");
    let installed = run(Command::new("rustup").args(["toolchain", "list"]));
    assert!(
        installed
            .lines()
            .any(|l| l.starts_with(&format!("{version}-"))),
        "the {version} toolchain is not installed: scripts/test.sh installs it \
         (rustup toolchain install {version} --profile minimal)\n{installed}"
    );
    // `rustup run` picks the toolchain; the outer cargo's variables would
    // point the inner one back at this test's toolchain.
    let target = kept("msrv");
    run(Command::new("rustup")
        .args([
            "run", version, "cargo", "build", "--locked", "--bin", "drainit",
        ])
        .arg("--target-dir")
        .arg(&target)
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("CARGO")
        .env_remove("RUSTC")
        .env_remove("RUSTC_WRAPPER"));
    let rustc = run(Command::new("rustup").args(["run", version, "rustc", "--version"]));
    assert!(rustc.starts_with(&format!("rustc {version}")), "{rustc}");
    let built = run(Command::new(target.join("debug/drainit")).arg("--version"));
    assert_eq!(built, concat!("drainit ", env!("CARGO_PKG_VERSION"), "\n"));
}
