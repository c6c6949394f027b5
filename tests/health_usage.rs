//! Bad values of the health and liveness options: each is a usage error
//! (exit 2, a first line `drainit: ...` naming the flag, or the `DRAINIT_*`
//! variable when the value came from it) and starts nothing; `https://`
//! says to use `--drain-exec`; a ready port already in use exits 1 naming
//! the address, before the child starts.

mod common;

use std::net::TcpListener;
use std::path::Path;

use common::health::*;
use common::*;

/// Runs drainit with `args` and `env` and `touch MARKER` as the command:
/// its exit code, its stderr, and whether the command ran.
fn run(mode: Mode, args: &[&str], env: &[(&str, &str)], marker: &Path) -> (i32, String, bool) {
    let mut all = words(args);
    all.extend(words(&["touch", marker.to_str().unwrap()]));
    let d = Drainit::start_with(
        mode,
        &all,
        Start {
            env: env.to_vec(),
            ..Start::default()
        },
    );
    let (status, stderr) = d.wait();
    let started = marker.exists();
    (status.code().expect("an exit code"), stderr, started)
}

/// A valid liveness URL, so that the liveness-* options are used.
const LIVE: [&str; 2] = ["--liveness", "tcp://127.0.0.1:1"];

/// (flag, bad value, the variable it also comes from).
const BAD: &[(&str, &str, &str)] = &[
    ("--ready-listen", "127.0.0.1", "DRAINIT_READY_LISTEN"),
    ("--ready-listen", "127.0.0.1:", "DRAINIT_READY_LISTEN"),
    ("--ready-listen", "127.0.0.1:65536", "DRAINIT_READY_LISTEN"),
    ("--ready-listen", "127.0.0.1:http", "DRAINIT_READY_LISTEN"),
    ("--ready-listen", "[::1:8080", "DRAINIT_READY_LISTEN"),
    (
        "--ready-listen",
        "http://127.0.0.1:8080",
        "DRAINIT_READY_LISTEN",
    ),
    (
        "--drain-http",
        "ftp://127.0.0.1/drain",
        "DRAINIT_DRAIN_HTTP",
    ),
    (
        "--drain-http",
        "FETCH http://127.0.0.1/drain",
        "DRAINIT_DRAIN_HTTP",
    ),
    ("--drain-http", "POST", "DRAINIT_DRAIN_HTTP"),
    ("--drain-http", "127.0.0.1:80/drain", "DRAINIT_DRAIN_HTTP"),
    (
        "--drain-http",
        "http://127.0.0.1:99999/",
        "DRAINIT_DRAIN_HTTP",
    ),
    ("--drain-http", "http://127.0.0.1:x/", "DRAINIT_DRAIN_HTTP"),
    ("--drain-http", "http:///drain", "DRAINIT_DRAIN_HTTP"),
    ("--liveness", "udp://127.0.0.1:53", "DRAINIT_LIVENESS"),
    ("--liveness", "tcp://127.0.0.1", "DRAINIT_LIVENESS"),
    ("--liveness", "tcp://127.0.0.1:0x50", "DRAINIT_LIVENESS"),
    ("--liveness", "127.0.0.1:80", "DRAINIT_LIVENESS"),
    ("--liveness", "http://[::1/", "DRAINIT_LIVENESS"),
    ("--liveness-interval", "5 s", "DRAINIT_LIVENESS_INTERVAL"),
    ("--liveness-interval", "-1", "DRAINIT_LIVENESS_INTERVAL"),
    ("--liveness-timeout", "1m30", "DRAINIT_LIVENESS_TIMEOUT"),
    ("--liveness-failures", "0", "DRAINIT_LIVENESS_FAILURES"),
    ("--liveness-failures", "-1", "DRAINIT_LIVENESS_FAILURES"),
    ("--liveness-failures", "1.5", "DRAINIT_LIVENESS_FAILURES"),
    ("--liveness-start", "soon", "DRAINIT_LIVENESS_START"),
];

/// The checks common to every bad value: exit 2, one named culprit,
/// nothing started.
fn assert_usage_error(what: &str, got: (i32, String, bool), named: &str, not_named: &str) {
    let (code, stderr, started) = got;
    assert_eq!(code, 2, "{what}: {stderr}");
    assert!(!started, "{what}: the command ran");
    let first = stderr.lines().next().unwrap_or_default();
    assert!(first.starts_with("drainit:"), "{what}: {stderr}");
    assert!(stderr.contains(named), "{what}: {named} not in {stderr}");
    assert!(
        !stderr.contains(not_named),
        "{what}: {not_named} in {stderr}"
    );
}

#[test]
fn every_bad_address_url_or_number_is_a_usage_error_naming_the_flag_or_variable() {
    let dir = temp_dir("health-usage");
    let marker = dir.join("started");
    for &(flag, value, var) in BAD {
        let mut args = if flag.starts_with("--liveness-") {
            LIVE.to_vec()
        } else {
            vec![]
        };
        args.extend([flag, value]);
        let what = format!("{flag} {value:?}");
        let got = run(Mode::Subreaper, &args, &[], &marker);
        assert_usage_error(&what, got, flag, var);

        let args = if flag.starts_with("--liveness-") {
            LIVE.to_vec()
        } else {
            vec![]
        };
        let what = format!("{var}={value:?}");
        let got = run(Mode::Subreaper, &args, &[(var, value)], &marker);
        assert_usage_error(&what, got, var, &format!("{flag} "));
    }
}

#[test]
fn https_is_a_usage_error_pointing_to_drain_exec() {
    let dir = temp_dir("health-https");
    let marker = dir.join("started");
    for flag in ["--drain-http", "--liveness", "--probe"] {
        for value in ["https://127.0.0.1/drain", "PUT https://127.0.0.1:8443/x"] {
            if flag != "--drain-http" && value.starts_with("PUT") {
                continue;
            }
            let got = run(Mode::Subreaper, &[flag, value], &[], &marker);
            let what = format!("{flag} {value}");
            let stderr = got.1.clone();
            assert_usage_error(&what, got, flag, "DRAINIT_");
            assert!(stderr.contains("--drain-exec"), "{what}: {stderr}");
        }
    }
}

/// The ready port is taken: exit 1 naming the address; the child is not
/// started.
fn a_ready_port_in_use_exits_1_naming_the_address(mode: Mode) {
    let dir = temp_dir(&format!("health-in-use-{mode:?}"));
    let marker = dir.join("started");
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (code, stderr, started) = run(mode, &["--ready-listen", &addr], &[], &marker);
    assert_eq!(code, 1, "{stderr}");
    assert!(!started, "the child ran");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("drainit:"), "{stderr}");
    assert!(stderr.contains(&addr), "{addr}: {stderr}");
}

both_modes!(a_ready_port_in_use_exits_1_naming_the_address);
