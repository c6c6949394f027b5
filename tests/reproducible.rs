//! The release is reproducible: scripts/release.sh, run in two copies of
//! the source in different directories, each built from clean (its own
//! target directory) and with another CARGO_HOME, gives byte-identical
//! binaries for x86_64 and aarch64, and the same SHA256SUMS. Four LTO
//! release builds: the slowest test of the builds (its time is printed as
//! `reproducible-build-time`).

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use common::{REPO, say};

/// Copies the source as git sees it (tracked and new files, working tree
/// contents, nothing ignored: no target/, no dist/) into `to`.
fn copy_source(to: &Path) {
    fs::create_dir_all(to).unwrap();
    let files = Command::new("git")
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .current_dir(REPO)
        .output()
        .unwrap();
    assert!(files.status.success(), "git ls-files: {files:?}");
    let mut tar = Command::new("tar")
        .args(["--null", "-T", "-", "-cf", "-"])
        .current_dir(REPO)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = tar.stdin.take().unwrap();
    let names = files.stdout;
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        stdin.write_all(&names).unwrap();
    });
    let unpack = Command::new("tar")
        .arg("-xf")
        .arg("-")
        .arg("-C")
        .arg(to)
        .stdin(tar.stdout.take().unwrap())
        .status()
        .unwrap();
    writer.join().unwrap();
    assert!(tar.wait().unwrap().success() && unpack.success());
}

/// Runs the copy's scripts/release.sh from clean, with `cargo_home` as
/// CARGO_HOME when given; returns its dist/.
fn release(source: &Path, image: &str, cargo_home: Option<&Path>) -> PathBuf {
    let mut cmd = Command::new(source.join("scripts/release.sh"));
    if let Some(home) = cargo_home {
        cmd.env("CARGO_HOME", home);
    }
    let out = cmd
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("DRAINIT_DIST")
        .env("DRAINIT_RELEASE_IMAGE", image)
        .output()
        .unwrap();
    let _ = Command::new("docker").args(["rmi", image]).output();
    assert!(
        out.status.success(),
        "release.sh in {source:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    source.join("dist")
}

/// A directory removed when dropped, also when the test fails: the two
/// copies hold their own target directories.
struct Removed(PathBuf);

impl Drop for Removed {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[test]
fn two_clean_release_builds_in_different_directories_are_byte_identical() {
    let base =
        Removed(std::env::temp_dir().join(format!("drainit-reproducible-{}", std::process::id())));
    let base = &base.0;
    let _ = fs::remove_dir_all(base);
    // Different names and depths, so that no path can cancel out.
    let one = base.join("one/drainit");
    let two = base.join("second/copy/of-the-source");
    copy_source(&one);
    copy_source(&two);

    let start = Instant::now();
    let tag = |n: &str| format!("drainit-test-reproducible-{n}-{}:test", std::process::id());
    // The second build reads the crates' sources through another
    // CARGO_HOME (its registry a link to the same one, already filled by
    // this test's own build), as on a machine with another home directory.
    let home = std::env::var_os("CARGO_HOME").map_or_else(
        || Path::new(&std::env::var_os("HOME").unwrap()).join(".cargo"),
        PathBuf::from,
    );
    let other_home = base.join("another/cargo-home");
    fs::create_dir_all(&other_home).unwrap();
    std::os::unix::fs::symlink(home.join("registry"), other_home.join("registry")).unwrap();
    let dist_one = release(&one, &tag("one"), None);
    let dist_two = release(&two, &tag("two"), Some(&other_home));
    say(&format!(
        "reproducible-build-time {:.0}s (two releases, x86_64 and aarch64 each)",
        start.elapsed().as_secs_f64()
    ));

    let sums = fs::read_to_string(dist_one.join("SHA256SUMS")).unwrap();
    say(&format!("reproducible-SHA256SUMS\n{sums}"));
    for name in ["drainit-x86_64", "drainit-aarch64"] {
        let (a, b) = (
            fs::read(dist_one.join(name)).unwrap(),
            fs::read(dist_two.join(name)).unwrap(),
        );
        assert!(a == b, "{name} differs between {one:?} and {two:?}");
    }
    assert_eq!(
        sums,
        fs::read_to_string(dist_two.join("SHA256SUMS")).unwrap()
    );
}
