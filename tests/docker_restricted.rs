//! drainit under the "restricted" Pod Security Standard, in real containers:
//! `--user 65534`, `--read-only`, `--cap-drop ALL`, `--security-opt
//! no-new-privileges` and Docker's default seccomp profile, what
//! docker/kubernetes/pod.yaml's securityContext asks of a pod. The stop
//! sequence with its drain hook, forwarding, the readiness endpoint on a
//! port of 1024 or more, liveness (with a name looked up in a forked
//! child), `--probe` as the HEALTHCHECK, and the exit codes all work there;
//! a ready port below 1024 fails, saying why and what to do.
//!
//! The image is docker/Dockerfile.prebuilt (busybox for the hook's shell)
//! with tests/fixtures/legacy_app.rs as /app. Skips without a Docker
//! daemon, except in CI (`CI=true`); the last test needs none.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use common::docker::{Container, Image, STOP_TIMEOUT, poll_docker, require_docker, run_to_end};
use common::{Build, REPO, static_binary};

/// The restricted profile, as `docker run` flags. No `--security-opt
/// seccomp=...`: Docker's default profile applies. The sysctl is the
/// kernel's own limit for unprivileged ports, as on a node whose runtime
/// leaves it alone (Docker sets 0 in each container's network namespace,
/// where any user may then bind any port).
const RESTRICTED: [&str; 9] = [
    "--user",
    "65534:65534",
    "--read-only",
    "--cap-drop",
    "ALL",
    "--security-opt",
    "no-new-privileges",
    "--sysctl",
    "net.ipv4.ip_unprivileged_port_start=1024",
];

/// The restricted flags and then `args`.
fn restricted(args: &[&str]) -> Vec<String> {
    RESTRICTED
        .iter()
        .chain(args)
        .map(|a| a.to_string())
        .collect()
}

/// The image: Dockerfile.prebuilt with busybox, drainit and legacy_app.
fn image() -> &'static str {
    static IMAGE: OnceLock<Image> = OnceLock::new();
    &IMAGE
        .get_or_init(|| {
            let drainit = static_binary(Build::Shipped, &["legacy_app"]);
            let app = drainit.with_file_name("examples").join("legacy_app");
            Image::build(
                "restricted",
                &Path::new(REPO).join("docker/Dockerfile.prebuilt"),
                &[
                    (&drainit, "drainit"),
                    (&app, "app"),
                    (Path::new("/bin/busybox"), "busybox"),
                ],
            )
        })
        .0
}

fn run(name: &str, args: &[&str]) -> Container {
    let all = restricted(args);
    Container::run(name, &all.iter().map(String::as_str).collect::<Vec<_>>())
}

/// `docker exec NAME /drainit --probe URL`'s exit code.
fn probe(c: &Container, url: &str) -> i32 {
    let out = c.docker(&["exec", &c.name, "/drainit", "--probe", url]);
    out.status.code().unwrap_or(-1)
}

/// The line of PID 1's /proc status that starts with `field:`.
fn pid1_status(c: &Container, field: &str) -> String {
    let status = c.exec(&["cat", "/proc/1/status"]);
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in /proc/1/status:\n{status}"))
        .trim()
        .to_string()
}

#[test]
fn restricted_container_runs_the_stop_sequence_hook_probe_readiness_and_liveness() {
    require_docker!();
    let c = run(
        "restricted",
        &[
            "--health-cmd",
            "/drainit --probe http://127.0.0.1:8080/",
            "--health-interval",
            "1s",
            "-e",
            "DRAINIT_READY_LISTEN=:8081",
            "-e",
            "DRAINIT_LIVENESS=http://localhost:8080/",
            "-e",
            "DRAINIT_LIVENESS_INTERVAL=1s",
            // The first probe goes out as the app starts, maybe before it
            // listens: failures until the first pass do not count.
            "-e",
            "DRAINIT_LIVENESS_START=60s",
            "-e",
            "DRAINIT_DRAIN_EXEC=sh -c 'echo hook: uid $(id -u) after $DRAINIT_SIGNAL'",
            "-e",
            "DRAINIT_PRESTOP_SLEEP=1s",
            "-e",
            "DRAINIT_GRACE=10s",
            "-e",
            "DRAINIT_LOG=debug",
            image(),
            "/app",
            "8080",
            "--log-term",
        ],
    );
    c.wait_line("listening", |l| l.starts_with("listening on"));

    // The restrictions hold for drainit itself (PID 1): user 65534, no
    // capability, no new privileges, a seccomp filter; the root is read-only.
    assert_eq!(pid1_status(&c, "Uid"), "65534\t65534\t65534\t65534");
    assert_eq!(pid1_status(&c, "CapEff"), "0000000000000000");
    assert_eq!(pid1_status(&c, "CapPrm"), "0000000000000000");
    assert_eq!(pid1_status(&c, "NoNewPrivs"), "1");
    assert_eq!(pid1_status(&c, "Seccomp"), "2", "no seccomp filter");
    let seccomp = c.inspect("{{.HostConfig.SecurityOpt}}");
    assert!(
        !seccomp.contains("seccomp"),
        "not the default profile: {seccomp}"
    );
    let write = c.docker(&["exec", &c.name, "touch", "/written"]);
    assert!(!write.status.success(), "the root file system is writable");

    // --probe as the HEALTHCHECK; the readiness endpoint on 8081; liveness
    // probes by name (the lookup in a forked child) pass.
    let health = poll_docker("healthy", || {
        let status = c.inspect("{{.State.Health.Status}}");
        (status == "healthy").then_some(status)
    });
    assert_eq!(health, "healthy");
    assert_eq!(probe(&c, "http://127.0.0.1:8081/"), 0, "ready endpoint");
    poll_docker("a liveness probe passing", || {
        c.logs().1.contains("liveness probe passed").then_some(())
    });

    // docker stop: the hook runs as 65534, then the sleep, then SIGTERM is
    // forwarded and the app's exit 0 is drainit's.
    let stopped = c.stop(STOP_TIMEOUT);
    assert_eq!(stopped.code, 0, "{}", stopped.stderr);
    let hook = "hook: uid 65534 after SIGTERM";
    stopped.assert_line(hook);
    stopped.assert_line("SIGTERM");
    let at = |line: &str| stopped.stdout.lines().position(|l| l == line);
    assert!(at(hook) < at("SIGTERM"), "{}", stopped.stdout);
    for line in [
        "received SIGTERM: starting the shutdown sequence",
        "drain hook finished",
        "sleeping 1s before sending SIGTERM",
        "forwarded SIGTERM",
        "exiting with 0",
    ] {
        assert!(
            stopped.stderr.contains(line),
            "no {line:?}:\n{}",
            stopped.stderr
        );
    }
    // The stop itself warns of nothing (a probe that ran before the app
    // listened may have, within the start period).
    let stop = &stopped.stderr[stopped.stderr.find("received SIGTERM").unwrap()..];
    assert!(!stop.contains("warning"), "{}", stopped.stderr);
    stopped.assert_took(Duration::from_secs(1), Duration::from_secs(STOP_TIMEOUT));
}

#[test]
fn restricted_container_passes_exit_codes_forwarded_signals_and_liveness_75() {
    require_docker!();
    // A forwarded HUP kills the app (no handler): 128 + 1.
    let killed = run("restricted-hup", &[image(), "/app", "8080"]);
    killed.wait_line("listening", |l| l.starts_with("listening on"));
    killed.docker(&["kill", "-s", "HUP", &killed.name]);
    let code = killed.docker(&["wait", &killed.name]);
    assert_eq!(
        String::from_utf8_lossy(&code.stdout).trim(),
        "129",
        "{}",
        killed.describe()
    );

    // The app's own exit code.
    let (code, _, stderr) = run_to_end(
        &restricted(&[image(), "sh", "-c", "exit 3"])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert_eq!(code, 3, "{stderr}");

    // A hung app: liveness stops it and drainit exits 75.
    let hung = run(
        "restricted-hung",
        &[
            "-e",
            "DRAINIT_LIVENESS=http://localhost:8080/",
            "-e",
            "DRAINIT_LIVENESS_INTERVAL=1s",
            "-e",
            "DRAINIT_LIVENESS_TIMEOUT=500ms",
            "-e",
            "DRAINIT_LIVENESS_FAILURES=2",
            image(),
            "/app",
            "8080",
            "--hang-after",
            "1",
        ],
    );
    let code = hung.docker(&["wait", &hung.name]);
    let (_, stderr) = hung.logs();
    assert_eq!(
        String::from_utf8_lossy(&code.stdout).trim(),
        "75",
        "{stderr}"
    );
    assert!(
        stderr.contains("liveness: 2 probes failed in a row: stopping"),
        "{stderr}"
    );
}

/// The message for a port below 1024 refused to a non-root drainit.
fn assert_says_why_and_what_to_do(stderr: &str, addr: &str) {
    assert_eq!(
        stderr,
        format!(
            "drainit: failed to listen on {addr}: Permission denied (ports below 1024 need \
             root or the NET_BIND_SERVICE capability): use a port of 1024 or more, or grant \
             NET_BIND_SERVICE\n"
        )
    );
}

#[test]
fn restricted_container_with_a_ready_port_below_1024_fails_saying_what_to_do() {
    require_docker!();
    let args = restricted(&["-e", "DRAINIT_READY_LISTEN=:80", image(), "/app", "8080"]);
    let (code, stdout, stderr) = run_to_end(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(stdout, "", "the app started");
    assert_says_why_and_what_to_do(&stderr, "0.0.0.0:80");
}

/// The same message outside Docker: as user 65534 in a new network
/// namespace (where the kernel's limit is 1024).
#[test]
fn as_non_root_a_ready_port_below_1024_fails_saying_what_to_do() {
    let out = Command::new("unshare")
        .args(["--net", "setpriv", "--reuid", "65534", "--regid", "65534"])
        .args(["--clear-groups"])
        .arg(common::drainit_bin())
        .args(["--ready-listen", ":443", "--", "true"])
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_says_why_and_what_to_do(&String::from_utf8_lossy(&out.stderr), "0.0.0.0:443");
}
