//! scripts/release.sh: static binaries for x86_64 and aarch64 with their
//! checksums, and a FROM scratch image holding only /drainit. Needs a
//! Docker daemon (docker/ensure-dockerd.sh).

mod common;

use std::process::Command;

use common::elf::elf;

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{cmd:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn release_builds_both_architectures_with_checksums_and_a_scratch_image() {
    let dist = common::temp_dir("release-dist");
    let image = format!("drainit-test-release-{}:test", std::process::id());
    run(
        Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/release.sh"))
            .env("DRAINIT_DIST", &dist)
            .env("DRAINIT_RELEASE_IMAGE", &image),
    );

    assert_eq!(elf(&dist.join("drainit-x86_64")).machine, 62);
    assert_eq!(elf(&dist.join("drainit-aarch64")).machine, 183);
    let sums = run(Command::new("sha256sum")
        .current_dir(&dist)
        .args(["--check", "SHA256SUMS"]));
    assert_eq!(sums, "drainit-x86_64: OK\ndrainit-aarch64: OK\n");

    // One layer, and the binary in it is the x86_64 one.
    let layers = run(Command::new("docker").args([
        "image",
        "inspect",
        "-f",
        "{{len .RootFS.Layers}}",
        &image,
    ]));
    let container = run(Command::new("docker").args(["create", &image]));
    let container = container.trim();
    let copy = dist.join("from-image");
    let copied = Command::new("docker")
        .args(["cp", &format!("{container}:/drainit")])
        .arg(&copy)
        .status();
    let version = Command::new("docker")
        .args(["run", "--rm", &image, "--version"])
        .output();
    let _ = Command::new("docker").args(["rm", container]).output();
    let _ = Command::new("docker").args(["rmi", &image]).output();
    assert_eq!(layers.trim(), "1");
    assert!(copied.unwrap().success());
    assert_eq!(
        std::fs::read(&copy).unwrap(),
        std::fs::read(dist.join("drainit-x86_64")).unwrap()
    );
    let version = version.unwrap();
    assert_eq!(
        String::from_utf8_lossy(&version.stdout),
        concat!("drainit ", env!("CARGO_PKG_VERSION"), "\n")
    );
}
