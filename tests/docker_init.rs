//! drainit as Docker's own init: a second dockerd with `--init-path`
//! pointing at drainit (named `docker-init`) parses its version, runs it as
//! PID 1 with `docker run --init`, and the app behind it drains.

mod common;

use std::time::Duration;

use common::docker::*;
use common::{Build, static_binary};

#[test]
fn drainit_as_dockers_init_with_init_path() {
    require_docker!();
    let base = base_image();
    let daemon = Dockerd::start(&static_binary(Build::Shipped, &[]));
    let archive = daemon.dir.join("base.tar");
    let archive = archive.to_str().unwrap();
    docker_ok(&["save", "-o", archive, base]);
    daemon.docker(&["load", "-i", archive]);

    // `docker info`: dockerd parsed drainit's version, without a warning.
    let info = docker_at(Some(&daemon.host), &["info"]);
    let info_out = checked(info.clone(), &["info"]);
    let info_err = String::from_utf8_lossy(&info.stderr);
    let version_line = info_out
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("init version:"))
        .unwrap_or_else(|| panic!("no init version in docker info:\n{info_out}"));
    eprintln!("docker-info {version_line}");
    assert_eq!(version_line, "init version: drainit", "{info_out}");
    assert!(
        info_out.contains("Init Binary: ") && info_out.contains("/bin/docker-init"),
        "{info_out}"
    );
    assert!(
        !info_err.to_lowercase().contains("init"),
        "a warning about the init: {info_err}"
    );
    let log = daemon.log_text();
    assert!(
        !log.contains("docker-init version") && !log.contains("unknown output format"),
        "dockerd could not read the init's version:\n{log}"
    );

    // `docker run --init`: drainit is PID 1, in front of the entrypoint.
    let guard = Container::guard(Some(&daemon.host), "init-pid1");
    let script = r#"tr '\0' ' ' </proc/1/cmdline; echo; /sbin/docker-init --version"#;
    let out = daemon.docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--init",
        "--name",
        &guard.name,
        "--entrypoint",
        "/bin/sh",
        base,
        "-c",
        script,
    ]);
    drop(guard);
    eprintln!("docker-run-init {out:?}");
    let mut lines = out.lines();
    assert_eq!(
        lines.next().map(str::trim_end),
        Some(format!("/sbin/docker-init -- /bin/sh -c {script}").as_str())
    );
    let version = lines.next().unwrap_or_default();
    assert!(
        version.starts_with("drainit ") && version.ends_with(" - git.drainit"),
        "PID 1 is not drainit: {version}"
    );

    // And it drains: the app behind `sh -c` (no exec) gets TERM and ends.
    let app = Container::run_at(
        Some(&daemon.host),
        "init-drain",
        &[
            "--init",
            "--entrypoint",
            "/bin/sh",
            base,
            "-c",
            "/app child --drain-on 15=2000; echo sh: app exited",
        ],
    );
    app.wait_ready();
    let stopped = app.stop(10);
    stopped.assert_line("drained");
    // 2s of drain; 10s would be Docker's own kill.
    stopped.assert_took(Duration::from_secs(2), Duration::from_secs(8));
}
